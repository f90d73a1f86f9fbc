// Seed 004 (/work/shared/seeds/004_9bfe49e858cf084d.txt, "Deploy Profile Bundles in Air-Gapped Environments"):
// its commands run literally in bash with the tool name swapped (`paletteai mirror` → `kubectl mirror`, found by
// the real kubectl as the `kubectl-mirror` plugin on PATH), placeholders filled in, then the document's own
// validation steps (its curls piped to jq, kubectl get secret zot-ca) asserting what the document shows.
//
// The world, as the document's user has it:
//   - the internal Zot: a registry with htpasswd basic auth over TLS with a private CA nobody trusts (hence the
//     seed's --dest-insecure and curl --insecure); its admin credentials in the Secret zot-system/zot-secret
//   - upstream: an HTTPS Helm repository (like https://clearml.github.io/clearml-helm-charts) and a public-style
//     image registry (token auth, anonymous pull, several repositories), both trusted by the machine's CA bundle
//     (SSL_CERT_FILE, as for Go tools) — no extra flag on the seed's command line
//   - the hub/spoke clusters: the fake kube-apiserver (test/support/kube-apiserver.ts) driven by real kubectl
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startChartRepo, type ChartRepo } from "../support/chart-repo.ts";
import { startFakeApiServer, type FakeApiServer } from "../support/kube-apiserver.ts";
import { createCA, type TestCA } from "../support/pki.ts";
import { HELM3, HELM4, makeChart } from "../support/helm.ts";
import { run } from "../support/images.ts";
import { BUN, KUBECTL, ROOT } from "../support/cli.ts";
import { pushArtifact } from "../../shared/oci/artifact.ts";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";

setDefaultTimeout(180_000);

const CHART = "clearml";
const VERSION = "7.14.7";
const ZOT_USER = "admin";
const ZOT_PASS = "Zot-Admin-Pass-1";
const IMAGES = ["allegroai/clearml:1.16.2", "allegroai/clearml-agent-services:1.9.2", "library/redis:7.2.5", "bitnami/mongodb:6.0.13", "elastic/elasticsearch:8.12.2"];

let tmp: string, bin: string;
let upstreamCA: TestCA;
let zot: TestRegistry, upstream: TestRegistry;
let repo: ChartRepo;
let hub: FakeApiServer;
let env: Record<string, string>;
let VIP: string, PORT: string, REPO_URL: string;

/** Run a seed snippet in bash (set -euo pipefail) with the seed user's environment (async: the fake apiserver
 *  lives in this process). */
async function sh(script: string, extraEnv: Record<string, string> = {}) {
  const r = await run("bash", ["-c", `set -euo pipefail\n${script}`], { env: { ...env, ...extraEnv }, timeoutMs: 170_000, cwd: tmp });
  return { code: r.code ?? -1, stdout: r.stdout.toString("utf8"), stderr: r.stderr };
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "ka-seed-004-"));
  mkdirSync(join(tmp, "upstream-ca"));
  upstreamCA = createCA(join(tmp, "upstream-ca"), "public-like upstream CA");
  [zot, upstream, hub] = await Promise.all([
    startRegistry({ users: { [ZOT_USER]: ZOT_PASS } }), // TLS, private CA, htpasswd: the internal Zot
    startRegistry({ tls: upstreamCA, auth: "token", anonymous: ["pull"] }), // docker.io-like upstream
    startFakeApiServer({ tls: true, namespaces: ["zot-system", "mural-system"] }),
  ]);
  [VIP, PORT] = zot.host.split(":") as [string, string];
  // upstream images in several repositories (two share a base layer)
  const push = staticCredentials({ username: "writer", password: upstream.users.writer! });
  for (const [i, img] of IMAGES.entries()) {
    await pushArtifact(`${upstream.host}/${img}`, {
      config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", img })) },
      layers: [
        { mediaType: "application/vnd.oci.image.layer.v1.tar", bytes: Buffer.alloc(30_000, 7) },
        { mediaType: "application/vnd.oci.image.layer.v1.tar", bytes: Buffer.alloc(10_000 + i * 1000, i + 1) },
      ],
    }, { caFiles: [{ file: upstreamCA.cert }], credentials: push });
  }
  // the upstream chart: images in values and templates, like clearml's
  const ref = (img: string) => `${upstream.host}/${img}`;
  const tgz = await makeChart(join(tmp, "chart-src"), {
    name: CHART, version: VERSION, appVersion: "1.16.2", helmBin: HELM3,
    values: {
      apiserver: { image: { repository: `${upstream.host}/allegroai/clearml`, tag: "1.16.2" } },
      agentservices: { image: ref("allegroai/clearml-agent-services:1.9.2") },
      redis: { image: { registry: upstream.host, repository: "library/redis", tag: "7.2.5" } },
      mongodb: { image: ref("bitnami/mongodb:6.0.13") },
      elasticsearch: { image: ref("elastic/elasticsearch:8.12.2") },
    },
    templates: {
      "deploy.yaml": [
        "{{- range $name, $img := dict \"apiserver\" (printf \"%s:%s\" .Values.apiserver.image.repository .Values.apiserver.image.tag) \"agentservices\" .Values.agentservices.image \"redis\" (printf \"%s/%s:%s\" .Values.redis.image.registry .Values.redis.image.repository .Values.redis.image.tag) \"mongodb\" .Values.mongodb.image \"elasticsearch\" .Values.elasticsearch.image }}",
        "---",
        "apiVersion: apps/v1",
        "kind: Deployment",
        "metadata:",
        "  name: {{ $.Release.Name }}-{{ $name }}",
        "spec:",
        "  selector: {matchLabels: {app: {{ $name }}}}",
        "  template:",
        "    metadata: {labels: {app: {{ $name }}}}",
        "    spec:",
        "      containers:",
        "        - name: {{ $name }}",
        "          image: {{ $img }}",
        "{{- end }}",
        "",
      ].join("\n"),
    },
  });
  repo = await startChartRepo({ charts: [tgz], tls: upstreamCA.server("charts-upstream") });
  REPO_URL = repo.url;
  // the Zot admin secret on the hub, as the seed reads it
  hub.put({ apiVersion: "v1", kind: "Secret", metadata: { name: "zot-secret", namespace: "zot-system" }, type: "Opaque", data: { registryUsername: Buffer.from(ZOT_USER).toString("base64"), registryPassword: Buffer.from(ZOT_PASS).toString("base64") } });
  // the spoke's registry CA secret, as the Compute Pool creates it
  hub.put({ apiVersion: "v1", kind: "Secret", metadata: { name: "zot-ca", namespace: "mural-system" }, type: "Opaque", data: { "ca.crt": Buffer.from(readFileSync(zot.caFile!)).toString("base64") } });
  // `paletteai mirror` → `kubectl mirror`: the plugin on PATH, found by the real kubectl
  bin = join(tmp, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "kubectl-mirror"), `#!/bin/sh\nexec "${BUN}" "${join(ROOT, "plugins/kubectl-mirror/main.ts")}" "$@"\n`);
  chmodSync(join(bin, "kubectl-mirror"), 0o755);
  // Helm 4: Helm 3.17 talks plain HTTP to loopback registries whatever the flags (test/harness/helm.test.ts)
  for (const [name, target] of [["kubectl", KUBECTL], ["helm", HELM4]]) {
    writeFileSync(join(bin, name), `#!/bin/sh\nexec "${target}" "$@"\n`);
    chmodSync(join(bin, name), 0o755);
  }
  const home = join(tmp, "home");
  mkdirSync(home);
  env = {
    PATH: `${bin}:/usr/local/bin:/usr/bin:/bin`,
    HOME: home,
    KUBECONFIG: hub.kubeconfig(),
    SSL_CERT_FILE: upstreamCA.cert, // the machine trusts the upstream CA (as it would a public one)
    HELM_CONFIG_HOME: join(home, ".config/helm"),
    HELM_CACHE_HOME: join(home, ".cache/helm"),
    HELM_DATA_HOME: join(home, ".local/share/helm"),
    NO_COLOR: "1",
    TERM: "dumb",
  };
}, 180_000);

afterAll(async () => {
  await Promise.all([zot?.stop(), upstream?.stop(), repo?.stop(), hub?.stop()]);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// "Set shell variables for the Zot admin credentials" (step 3), verbatim
const CREDS = `zot_admin_username=$(kubectl --namespace zot-system get secret zot-secret --output jsonpath='{.data.registryUsername}' | base64 --decode)
zot_admin_password=$(kubectl --namespace zot-system get secret zot-secret --output jsonpath='{.data.registryPassword}' | base64 --decode)`;

// "Run paletteai mirror sync" (step 4): the ClearML example, placeholders filled in
const SYNC = () => `kubectl mirror sync \\
--chart-url clearml/clearml \\
--chart-version ${VERSION} \\
--release-name clearml \\
--repo-url ${REPO_URL} \\
--dest-registry ${VIP}:${PORT}/spectro-content \\
--dest-username "$zot_admin_username" \\
--dest-password "$zot_admin_password" \\
--dest-insecure`;

describe("seed 004: mirror the Helm chart and images to Zot", () => {
  let sync: Awaited<ReturnType<typeof sh>>;

  test("the seed's sync command line runs verbatim, default concurrency, and mirrors everything", async () => {
    sync = await sh(`${CREDS}\n${SYNC()}`);
    if (sync.code !== 0) console.error(sync.stderr);
    expect(sync.code).toBe(0);
    // the password on the command line: one warning, and the password itself never printed
    expect(sync.stderr.match(/password on the command line/g)).toHaveLength(1);
    expect(sync.stdout + sync.stderr).not.toContain(ZOT_PASS);
    expect(sync.stderr).toMatch(/1 chart\(s\), 5 image\(s\) → .*spectro-content/);
    expect(sync.stderr).not.toMatch(/FAILED|error:/);
  });

  test("Validate: Zot lists the mirrored repositories (curl …/v2/_catalog | jq)", async () => {
    const r = await sh(`${CREDS}\ncurl --silent --insecure --user "$zot_admin_username":"$zot_admin_password" https://${VIP}:${PORT}/v2/_catalog | jq`);
    expect(r.code).toBe(0);
    const repos: string[] = JSON.parse(r.stdout).repositories;
    // the document's example shows "spectro-content/charts/<chart-name>" and "spectro-content/images/<image-name>"
    expect(repos.every((x) => x.startsWith("spectro-content/charts/") || x.startsWith("spectro-content/images/"))).toBe(true);
    expect(repos.filter((x) => x.startsWith(`spectro-content/charts/${CHART}`))).toEqual([`spectro-content/charts/${CHART}/${CHART}`]);
    expect(repos.filter((x) => x.startsWith("spectro-content/images/")).sort()).toEqual(IMAGES.map((i) => `spectro-content/images/${i.replace(/:.*/, "")}`).sort());
  });

  test("Validate: the chart version is present (curl …/v2/spectro-content/charts/<chart>/<chart>/tags/list | jq)", async () => {
    const r = await sh(`${CREDS}\ncurl --silent --insecure --user "$zot_admin_username":"$zot_admin_password" \\
https://${VIP}:${PORT}/v2/spectro-content/charts/${CHART}/${CHART}/tags/list | jq`);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    // the document shows { "name": "spectro-content/charts/<chart-name>", "tags": ["<chart-version>"] }; a registry
    // answers with the repository it was asked about, which for the URL the document uses is …/<chart>/<chart>
    expect(j.tags).toEqual([VERSION]);
    expect(j.name).toBe(`spectro-content/charts/${CHART}/${CHART}`);
  });

  test("helm pulls the mirrored chart from Zot, and every image it renders is in Zot", async () => {
    const r = await sh(`${CREDS}
mkdir -p pulled
# trust Zot through the CA the cluster holds for it (the zot-ca secret)
kubectl get secret zot-ca --namespace mural-system --output jsonpath='{.data.ca\\.crt}' | base64 --decode > zot-ca.crt
echo "$zot_admin_password" | helm registry login ${VIP}:${PORT} --username "$zot_admin_username" --password-stdin --ca-file zot-ca.crt
helm pull oci://${VIP}:${PORT}/spectro-content/charts/${CHART}/${CHART} --version ${VERSION} --ca-file zot-ca.crt --destination pulled
# grep reads the whole listing (--quiet stops at the first match: tar then dies of SIGPIPE, exit 141 under pipefail)
tar -tzf pulled/${CHART}-${VERSION}.tgz | grep "^${CHART}/Chart.yaml$" >/dev/null
for img in ${IMAGES.join(" ")}; do
  repo=\${img%%:*}; tag=\${img##*:}
  curl --silent --fail --insecure --user "$zot_admin_username":"$zot_admin_password" https://${VIP}:${PORT}/v2/spectro-content/images/$repo/tags/list | jq --exit-status --arg t "$tag" '.tags | index($t)' >/dev/null
done
echo ok`);
    if (r.code !== 0) console.error(r.stderr);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n").pop()).toBe("ok");
  });

  test("a second run of the same command copies nothing and still succeeds", async () => {
    const again = await sh(`${CREDS}\n${SYNC()}`);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/0 B copied/);
  });

  test("a Helm repo alias from repositories.yaml works in --repo-url / --chart-url (step 2: choose a local alias)", async () => {
    const r = await sh(`helm repo add clearml ${REPO_URL} >/dev/null
${CREDS}
kubectl mirror sync --chart-url clearml/clearml --chart-version ${VERSION} --release-name clearml --repo-url clearml \\
--dest-registry ${VIP}:${PORT}/alias-repo --dest-username "$zot_admin_username" --dest-password "$zot_admin_password" --dest-insecure -o json > alias1.json
kubectl mirror sync --chart-url clearml/clearml --chart-version ${VERSION} --release-name clearml \\
--dest-registry ${VIP}:${PORT}/alias-chart --dest-username "$zot_admin_username" --dest-password "$zot_admin_password" --dest-insecure -o json > alias2.json
jq -r '.charts[0].destination' alias1.json alias2.json`);
    if (r.code !== 0) console.error(r.stderr);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual([`${VIP}:${PORT}/alias-repo/charts/${CHART}/${CHART}:${VERSION}`, `${VIP}:${PORT}/alias-chart/charts/${CHART}/${CHART}:${VERSION}`]);
  });

  test("the mural-variables values of the seed's patch are printed (-o json: muralVariables) for a Zot destination", async () => {
    // our test Zot is distribution without the Zot discover extension: --zot says what auto-detection would
    const r = await sh(`${CREDS}\n${SYNC()} --zot -o json`);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).muralVariables).toEqual({
      "internal-zot-url": `${VIP}:${PORT}`, // "<VIP>:<zot-nodeport>"
      "zot-auth-secret": `${VIP.replace(/\./g, "-")}-${PORT}-pull-secret`, // "<vip-dashed>-<zot-nodeport>-pull-secret"
      "zot-cert-secret": "zot-ca",
    });
  });
});

describe("seed 004: copy the Zot CA to the workload namespace", () => {
  test("the document's kubectl/jq commands, then its validation: kubectl get secret zot-ca --namespace <workload-namespace>", async () => {
    const r = await sh(`until kubectl get secret zot-ca --namespace mural-system >/dev/null 2>&1 \\
|| kubectl get secret oci-tls-hub --namespace mural-system >/dev/null 2>&1; do
sleep 5
done

kubectl create namespace clearml

if kubectl get secret zot-ca --namespace mural-system >/dev/null 2>&1; then
kubectl get secret zot-ca --namespace mural-system --output json \\
| jq '{apiVersion, kind, type, data, metadata: {name: .metadata.name, namespace: "clearml"}}' \\
| kubectl apply --filename -
else
kubectl get secret oci-tls-hub --namespace mural-system --output jsonpath='{.data.ca\\.crt}' \\
| base64 --decode > /tmp/ca.crt

kubectl create secret generic zot-ca --namespace clearml \\
--from-file=ca.crt=/tmp/ca.crt \\
--dry-run=client --output yaml \\
| kubectl apply --filename -
fi
kubectl get secret zot-ca --namespace clearml`);
    if (r.code !== 0) console.error(r.stderr);
    expect(r.code).toBe(0);
    // Example Output: NAME TYPE DATA AGE / zot-ca Opaque 1 1m
    const lines = r.stdout.trim().split("\n");
    expect(lines[lines.length - 2]!.split(/\s+/).slice(0, 4)).toEqual(["NAME", "TYPE", "DATA", "AGE"]);
    expect(lines[lines.length - 1]!.split(/\s+/).slice(0, 3)).toEqual(["zot-ca", "Opaque", "1"]);
  });

  describe("the same step with kubectl mirror copy-ca", () => {
    // A fresh spoke: the Compute Pool cluster just came up, mural-system exists, its registry CA secret not yet.
    let spoke: FakeApiServer;
    beforeAll(async () => {
      spoke = await startFakeApiServer({ tls: true, namespaces: ["mural-system"] });
    });
    afterAll(async () => {
      await spoke?.stop();
    });

    test("new Compute Pool: waits until oci-tls-hub appears, creates the namespace and zot-ca (ca.crt only); the document's validation, then the CA really trusts Zot", async () => {
      // steps 1-4 of the document in one command: `export KUBECONFIG=<spoke-kubeconfig>`, the until-loop, `kubectl
      // create namespace`, and the copy (the destination is always zot-ca, even from oci-tls-hub)
      const pending = sh(`export KUBECONFIG=${spoke.kubeconfig()}
kubectl mirror copy-ca --namespace clearml --create-namespace --wait 10m
kubectl get secret zot-ca --namespace clearml
kubectl get secret zot-ca --namespace clearml --output jsonpath='{.data.ca\\.crt}' | base64 --decode > spoke-zot-ca.crt
${CREDS.replace(/kubectl /g, `kubectl --kubeconfig ${hub.kubeconfig()} `)}
curl --silent --fail --cacert spoke-zot-ca.crt --user "$zot_admin_username":"$zot_admin_password" https://${VIP}:${PORT}/v2/_catalog | jq --exit-status '.repositories | type == "array"' >/dev/null
echo trusted`);
      await Bun.sleep(2500);
      // …the Compute Pool provisions the hub registry's TLS secret (with a private key that must not be copied)
      spoke.put({ apiVersion: "v1", kind: "Secret", metadata: { name: "oci-tls-hub", namespace: "mural-system" }, type: "kubernetes.io/tls", data: { "ca.crt": Buffer.from(readFileSync(zot.caFile!)).toString("base64"), "tls.crt": Buffer.from("CERT").toString("base64"), "tls.key": Buffer.from("KEY").toString("base64") } });
      const r = await pending;
      if (r.code !== 0) console.error(r.stderr);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain("waiting up to 10m for secret mural-system/zot-ca or mural-system/oci-tls-hub with ca.crt");
      const lines = r.stdout.trim().split("\n");
      expect(r.stdout).toMatch(/^(\S+:)?mural-system\/oci-tls-hub\s+(\S+:)?clearml\/zot-ca\s+ca\.crt\s+created \(namespace created\)$/m);
      // Example Output: NAME TYPE DATA AGE / zot-ca Opaque 1 1m
      const at = lines.findIndex((l) => /^NAME\s/.test(l));
      expect(lines[at]!.split(/\s+/).slice(0, 4)).toEqual(["NAME", "TYPE", "DATA", "AGE"]);
      expect(lines[at + 1]!.split(/\s+/).slice(0, 3)).toEqual(["zot-ca", "Opaque", "1"]);
      expect(lines[lines.length - 1]).toBe("trusted");
      expect(spoke.get("v1", "Secret", "zot-ca", "clearml")?.data).toEqual({ "ca.crt": Buffer.from(readFileSync(zot.caFile!)).toString("base64") });
    });

    test("the document's order: kubectl create namespace, then the copy; zot-ca is preferred over oci-tls-hub and a rerun changes nothing", async () => {
      spoke.put({ apiVersion: "v1", kind: "Secret", metadata: { name: "zot-ca", namespace: "mural-system" }, type: "Opaque", data: { "ca.crt": Buffer.from(readFileSync(zot.caFile!)).toString("base64") } });
      const r = await sh(`export KUBECONFIG=${spoke.kubeconfig()}
kubectl create namespace ml-apps
kubectl mirror copy-ca --namespace ml-apps --wait 10m --output json > copy.json
kubectl mirror copy-ca --namespace ml-apps --output json > again.json
jq -r '.source, .target, .action, (.namespaceCreated|tostring)' copy.json
jq -r .action again.json
kubectl get secret zot-ca --namespace ml-apps`);
      if (r.code !== 0) console.error(r.stderr);
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split("\n");
      expect(lines.slice(0, 5)).toEqual(["namespace/ml-apps created", "mural-system/zot-ca", "ml-apps/zot-ca", "created", "false"]);
      expect(lines[5]).toBe("unchanged");
      expect(lines[6]!.split(/\s+/).slice(0, 4)).toEqual(["NAME", "TYPE", "DATA", "AGE"]);
      expect(lines[7]!.split(/\s+/).slice(0, 3)).toEqual(["zot-ca", "Opaque", "1"]);
    });
  });
});

describe("seed 004: packs from Artifact Studio (<pack-name>.zst + <pack-name>.sig.bin) → export-pack → push → Zot", () => {
  // The document's pack set for the ClearML example, as Artifact Studio downloads it (one .zst + .sig.bin each);
  // the images they need are upstream, the MetalLB pack carries its Helm chart in charts/.
  const PACKS: { name: string; version: string; images: string[]; chart?: boolean }[] = [
    { name: "edge-native-byoi", version: "2.1.0", images: [] },
    { name: "edge-k8s", version: "1.33.5", images: ["spectrocloud/kube-apiserver:v1.33.5"] },
    { name: "cni-cilium-oss", version: "1.17.4", images: ["cilium/cilium:v1.17.4", "cilium/operator-generic:v1.17.4"] },
    { name: "csi-local-path-provisioner", version: "0.0.32", images: ["rancher/local-path-provisioner:v0.0.32"] },
    { name: "registry-connect", version: "0.1.0", images: ["spectrocloud/registry-connect:0.1.0"] },
    { name: "lb-metallb-helm", version: "0.15.2", images: [], chart: true },
  ];
  const CHART_IMAGES = ["metallb/controller:v0.15.2", "metallb/speaker:v0.15.2"];
  let studio: string, gnupg: string;
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  const gpg = (args: string[]) => execFileSync("gpg", ["--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "", ...args], { env: { ...process.env, GNUPGHOME: gnupg }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

  beforeAll(async () => {
    studio = join(tmp, "artifact-studio");
    gnupg = join(tmp, "gnupg");
    mkdirSync(studio, { recursive: true });
    mkdirSync(gnupg, { recursive: true, mode: 0o700 });
    gpg(["--quick-gen-key", "Artifact Studio <studio@example.com>", "rsa2048", "sign", "never"]);
    const push = staticCredentials({ username: "writer", password: upstream.users.writer! });
    for (const [i, img] of [...PACKS.flatMap((p) => p.images), ...CHART_IMAGES].entries()) {
      await pushArtifact(`${upstream.host}/${img}`, {
        config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", img })) },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", bytes: Buffer.alloc(5_000 + i * 100, 40 + i) }],
      }, { caFiles: [{ file: upstreamCA.cert }], credentials: push });
    }
    for (const p of PACKS) {
      const root = join(tmp, "pack-src", p.name);
      mkdirSync(root, { recursive: true });
      writeFileSync(join(root, "pack.json"), JSON.stringify({ name: p.name, version: p.version, layer: p.chart ? "addon" : "k8s" }));
      writeFileSync(join(root, "values.yaml"), `pack:\n  content:\n    images:\n${p.images.map((i) => `      - image: ${upstream.host}/${i}\n`).join("") || "      []\n"}`);
      if (p.chart) {
        mkdirSync(join(root, "charts"));
        await makeChart(join(tmp, "pack-chart-src"), {
          name: "metallb", version: p.version, helmBin: HELM3,
          values: { controller: { image: { repository: `${upstream.host}/metallb/controller`, tag: "v0.15.2" } }, speaker: { image: { repository: `${upstream.host}/metallb/speaker`, tag: "v0.15.2" } } },
          templates: { "ds.yaml": ["{{- range $c := list \"controller\" \"speaker\" }}", "---", "apiVersion: apps/v1", "kind: DaemonSet", "metadata: {name: {{ $c }}}", "spec:", "  template:", "    spec:", "      containers:", "        - name: {{ $c }}", "          image: {{ (index $.Values $c).image.repository }}:{{ (index $.Values $c).image.tag }}", "{{- end }}", ""].join("\n") },
        }).then((tgz) => execFileSync("cp", [tgz, join(root, "charts/")]));
      }
      const zst = join(studio, `${p.name}-${p.version}.zst`);
      execFileSync("sh", ["-c", `tar -cf - -C '${root}' . | zstd -q -c > '${zst}'`]);
      gpg(["--detach-sign", "--output", join(studio, `${p.name}-${p.version}.sig.bin`), zst]);
    }
  }, 180_000);

  test("connected phase: kubectl mirror export-pack over the download (both .zst and .sig.bin); signatures carried and said NOT verified", async () => {
    const r = await sh(`cd ${studio}
kubectl mirror export-pack ./*.zst ./*.sig.bin -O ../packs.tar.zst`);
    if (r.code !== 0) console.error(r.stderr);
    expect(r.code).toBe(0);
    for (const p of PACKS) expect(r.stderr).toContain(`pack ${p.name} ${p.version}: signature ${p.name}-${p.version}.sig.bin carried with the pack but NOT verified`);
    expect(r.stderr).not.toMatch(/error:|FAILED|not a pack|no pack\.json/);
  });

  test("air-gap phase: kubectl mirror push into Zot with the sync's destination flags; the document's curls list the packs, their charts and images", async () => {
    const r = await sh(`${CREDS}
kubectl mirror push packs.tar.zst \\
--dest-registry ${VIP}:${PORT}/spectro-content \\
--dest-username "$zot_admin_username" \\
--dest-password "$zot_admin_password" \\
--dest-insecure
curl --silent --insecure --user "$zot_admin_username":"$zot_admin_password" https://${VIP}:${PORT}/v2/_catalog | jq -c .
${PACKS.map((p) => `curl --silent --insecure --user "$zot_admin_username":"$zot_admin_password" https://${VIP}:${PORT}/v2/spectro-content/packs/${p.name}/tags/list | jq -c .`).join("\n")}`);
    if (r.code !== 0) console.error(r.stderr);
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(ZOT_PASS);
    expect(r.stderr).not.toMatch(/FAILED|error:/);
    const out = r.stdout.trim().split("\n").filter((l) => l.startsWith("{"));
    const repos: string[] = JSON.parse(out[0]!).repositories;
    for (const p of PACKS) expect(repos).toContain(`spectro-content/packs/${p.name}`);
    for (const img of [...PACKS.flatMap((p) => p.images), ...CHART_IMAGES]) expect(repos).toContain(`spectro-content/images/${img.replace(/:.*/, "")}`);
    expect(repos.filter((x) => x.startsWith("spectro-content/charts/metallb"))).toHaveLength(1);
    expect(out.slice(1).map((l) => JSON.parse(l))).toEqual(PACKS.map((p) => ({ name: `spectro-content/packs/${p.name}`, tags: [p.version] })));
  });

  test("the pack and its .sig.bin come back out of Zot byte for byte, and the signature verifies the pack", async () => {
    const p = PACKS[2]!;
    const base = `https://${VIP}:${PORT}/v2/spectro-content/packs/${p.name}`;
    const r = await sh(`${CREDS}
mkdir -p back && cd back
curl --silent --fail --insecure --user "$zot_admin_username":"$zot_admin_password" -H 'Accept: application/vnd.oci.image.manifest.v1+json' ${base}/manifests/${p.version} > manifest.json
for i in 0 1; do
  d=$(jq -r --argjson i $i '.layers[$i].digest' manifest.json); t=$(jq -r --argjson i $i '.layers[$i].annotations["org.opencontainers.image.title"]' manifest.json)
  curl --silent --fail --location --insecure --user "$zot_admin_username":"$zot_admin_password" ${base}/blobs/$d > "$t"
done
ls`);
    if (r.code !== 0) console.error(r.stderr);
    expect(r.code).toBe(0);
    const file = `${p.name}-${p.version}`;
    expect(r.stdout.trim().split("\n").sort()).toEqual([`${file}.sig.bin`, `${file}.zst`, "manifest.json"]);
    for (const ext of [".zst", ".sig.bin"]) expect(sha(readFileSync(join(tmp, "back", file + ext)))).toBe(sha(readFileSync(join(studio, file + ext))));
    // gpg prints "Good signature" on stderr and fails on a bad one
    expect(() => gpg(["--verify", join(tmp, "back", `${file}.sig.bin`), join(tmp, "back", `${file}.zst`)])).not.toThrow();
  });
});
