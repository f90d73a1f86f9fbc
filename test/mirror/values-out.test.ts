// Issue 11.6: `--map-out` is a registry map, not Helm values; `--values-out` writes the Helm values override
// that points every values-sourced image at the mirror, so `helm template -f mirror-values.yaml` renders only
// mirrored images (checked here with real helm 3 and helm 4), and lists what values cannot reach (hard-coded in
// templates: --rewrite-chart). Fixture: a parent chart with plain "repo:tag" strings, repository+tag with the
// tag from appVersion, a list of extra containers, RELATED_IMAGE_* env; a Bitnami-style subchart with
// {registry, repository, tag, digest} and global.imageRegistry; a nested subchart (subchart of a subchart);
// a disabled subchart; one image hard-coded in a template. End to end with sync into a TLS + htpasswd registry.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parse } from "yaml";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { HELM3, HELM4, runCli } from "../support/cli.ts";
import { run } from "../support/images.ts";
import { pushArtifact } from "../../shared/oci/artifact.ts";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";
import { discoverImages, scanManifests } from "../../shared/helm/discover.ts";
import { tryNormalizeImage } from "../../shared/helm/image-ref.ts";
import { mirrorValues } from "../../shared/helm/mirror-values.ts";

const OS_SHELL_DIGEST_PLACEHOLDER = "sha256:" + "0".repeat(64);

function write(root: string, files: Record<string, string>): void {
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text.replace(/^\n/, ""));
  }
}

function makeChart(root: string): string {
  const dir = join(root, "shop");
  write(dir, {
    "Chart.yaml": `
apiVersion: v2
name: shop
version: 0.1.0
appVersion: "1.4.0"
dependencies:
  - {name: db, version: 1.0.0, condition: db.enabled}
  - {name: cache, version: 0.2.0}
  - {name: legacy, version: 0.0.1, condition: legacy.enabled}
`,
    "values.yaml": `
global:
  imageRegistry: docker.io
image:
  repository: ghcr.io/acme/shop
  tag: ""
  pullPolicy: IfNotPresent
proxy:
  image: nginx:1.27
sidecar:
  image: "quay.io/acme/sidecar:2.1"
extraContainers:
  - name: extra
    image: quay.io/acme/extra:1.0
    args: ["--serve"]
operator:
  env:
    - name: LOG_LEVEL
      value: debug
    - name: RELATED_IMAGE_AGENT
      value: quay.io/acme/agent:0.9.0
db:
  enabled: true
legacy:
  enabled: false
`,
    "templates/deploy.yaml": `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-shop
spec:
  template:
    spec:
      containers:
        - name: shop
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
          env:
            {{- toYaml .Values.operator.env | nindent 12 }}
        - name: proxy
          image: {{ .Values.proxy.image | quote }}
        - {name: sidecar, image: {{ .Values.sidecar.image | quote }}}
        - {name: hard, image: "quay.io/acme/hardcoded:3.0"}
        {{- toYaml .Values.extraContainers | nindent 8 }}
`,
    "charts/db/Chart.yaml": "apiVersion: v2\nname: db\nversion: 1.0.0\nappVersion: '16.3.0'\n",
    "charts/db/values.yaml": `
global:
  imageRegistry: ""
image:
  registry: registry-1.docker.io
  repository: bitnami/postgresql
  tag: 16.3.0-debian-12-r0
  digest: ""
metrics:
  image:
    registry: docker.io
    repository: bitnami/postgres-exporter
    tag: 0.15.0
volumePermissions:
  image:
    registry: docker.io
    repository: bitnami/os-shell
    tag: 12-debian-12-r20
    digest: ${OS_SHELL_DIGEST_PLACEHOLDER}
`,
    "charts/db/templates/_images.tpl": `
{{- define "db.image" -}}
{{- $registry := .image.registry -}}
{{- if .global.imageRegistry }}{{ $registry = .global.imageRegistry }}{{ end -}}
{{- if .image.digest -}}
{{ printf "%s/%s@%s" $registry .image.repository .image.digest }}
{{- else -}}
{{ printf "%s/%s:%s" $registry .image.repository .image.tag }}
{{- end -}}
{{- end -}}
`,
    "charts/db/templates/sts.yaml": `
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .Release.Name }}-db
spec:
  template:
    spec:
      initContainers:
        - name: perms
          image: {{ include "db.image" (dict "image" .Values.volumePermissions.image "global" .Values.global) }}
      containers:
        - name: db
          image: {{ include "db.image" (dict "image" .Values.image "global" .Values.global) }}
        - name: metrics
          image: {{ include "db.image" (dict "image" .Values.metrics.image "global" .Values.global) }}
`,
    "charts/cache/Chart.yaml": "apiVersion: v2\nname: cache\nversion: 0.2.0\ndependencies:\n  - {name: exporter, version: 0.3.0}\n",
    "charts/cache/values.yaml": "image:\n  repository: valkey/valkey\n  tag: '8.0'\n",
    "charts/cache/templates/deploy.yaml": `
apiVersion: apps/v1
kind: Deployment
metadata: {name: cache}
spec:
  template:
    spec:
      containers:
        - name: cache
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
`,
    "charts/cache/charts/exporter/Chart.yaml": "apiVersion: v2\nname: exporter\nversion: 0.3.0\n",
    "charts/cache/charts/exporter/values.yaml": "image:\n  repository: quay.io/acme/exporter\n  tag: '0.3'\n",
    "charts/cache/charts/exporter/templates/deploy.yaml": `
apiVersion: apps/v1
kind: Deployment
metadata: {name: exporter}
spec:
  template:
    spec:
      containers:
        - name: exporter
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
`,
    "charts/legacy/Chart.yaml": "apiVersion: v2\nname: legacy\nversion: 0.0.1\n",
    "charts/legacy/values.yaml": "image: quay.io/acme/legacy:0.1\n",
    "charts/legacy/templates/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: legacy}\nspec:\n  containers:\n    - {name: l, image: {{ .Values.image | quote }}}\n",
  });
  return dir;
}

const SOURCE_IMAGES = [
  "docker.io/bitnami/os-shell:12-debian-12-r20",
  "docker.io/bitnami/postgres-exporter:0.15.0",
  "docker.io/bitnami/postgresql:16.3.0-debian-12-r0",
  "docker.io/library/nginx:1.27",
  "docker.io/valkey/valkey:8.0",
  "ghcr.io/acme/shop:1.4.0",
  "quay.io/acme/agent:0.9.0",
  "quay.io/acme/exporter:0.3",
  "quay.io/acme/extra:1.0",
  "quay.io/acme/hardcoded:3.0",
  "quay.io/acme/sidecar:2.1",
];

let reg: TestRegistry;
let tmp: string;
let chart: string;
let osShellDigest: string;
let helmEnv: Record<string, string>;

async function rendered(helm: string, args: string[]): Promise<string[]> {
  const r = await run(helm, ["template", "rel", chart, ...args], { env: { ...process.env, ...helmEnv } });
  if (r.code !== 0) throw new Error(`helm template: ${r.stderr}`);
  const found = new Set<string>();
  scanManifests(r.stdout.toString("utf8"), { add: (raw: string) => { const n = tryNormalizeImage(raw); if (n) found.add(n); return n; } }, []);
  return [...found].sort();
}

function mirror(args: string[], env: Record<string, string> = {}) {
  // the registry is the images' source and the destination: credentials stored for its host (as after
  // `kubectl mirror login`) serve both; -u/--password-stdin would be the destination's (or the chart source's) only
  mkdirSync(join(tmp, "home/.docker"), { recursive: true });
  writeFileSync(join(tmp, "home/.docker/config.json"), JSON.stringify(reg.dockerConfig()));
  return runCli("kubectl-mirror", [...args, "--ca-file", reg.caFile!], {
    env: { HOME: join(tmp, "home"), DOCKER_CONFIG: join(tmp, "home/.docker"), KUBE_AIRGAP_NO_CACHE: "1", HELM_BIN: HELM3, ...helmEnv, ...env },
  });
}

async function catalog(): Promise<string[]> {
  const r = await fetch(`${reg.url}/v2/_catalog?n=1000`, {
    headers: { authorization: `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString("base64")}` },
    tls: { ca: readFileSync(reg.caFile!, "utf8") },
  } as RequestInit);
  return ((await r.json()) as { repositories: string[] }).repositories ?? [];
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "ka-values-out-"));
  helmEnv = { HELM_CACHE_HOME: join(tmp, "helm/cache"), HELM_CONFIG_HOME: join(tmp, "helm/config"), HELM_DATA_HOME: join(tmp, "helm/data") };
  chart = makeChart(tmp);
  reg = await startRegistry({ auth: "htpasswd", tls: true });
  // every source image, under <reg>/src/<host>/<path> (reached through --source-mirror)
  const creds = staticCredentials({ username: reg.username, password: reg.password });
  for (const img of SOURCE_IMAGES) {
    const [host, ...rest] = img.split("/");
    const pushed = await pushArtifact(`${reg.host}/src/${host}/${rest.join("/")}`, {
      config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", img })) },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", bytes: Buffer.alloc(1024, img) }],
    }, { caFiles: [{ file: reg.caFile! }], credentials: creds });
    if (img.includes("os-shell")) osShellDigest = pushed.digest;
  }
  // the chart pins os-shell by digest: make it the real one
  const vf = join(chart, "charts/db/values.yaml");
  writeFileSync(vf, readFileSync(vf, "utf8").replace(OS_SHELL_DIGEST_PLACEHOLDER, osShellDigest));
}, 60_000);

afterAll(async () => {
  await reg?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const DEST = () => `${reg.host}/mirror`;
const SOURCES = () => ["docker.io", "ghcr.io", "quay.io"].flatMap((h) => ["--source-mirror", `${h}=${reg.host}/src/${h}`]);
// os-shell is pinned: values say tag + digest, the template renders the digest only (both are mirrored)
const withDigest = (imgs: string[], form: "both" | "rendered" = "rendered") =>
  imgs.flatMap((i) => (i.includes("os-shell") ? [...(form === "both" ? [`${i}@${osShellDigest}`] : []), `docker.io/bitnami/os-shell@${osShellDigest}`] : [i])).sort();

describe("--values-out", () => {
  let values: any;
  let report: any;
  const file = () => join(tmp, "mirror-values.yaml");

  test("sync writes Helm values next to the registry map; the chart and images land in the TLS + htpasswd registry", async () => {
    const r = await mirror(["sync", chart, "--dest", DEST(), ...SOURCES(), "--map-out", join(tmp, "map.yaml"), "--values-out", file(), "-o", "json"]);
    // everything is mirrored, but the values file cannot move the hard-coded image: exit 3, the image named (20.2)
    if (r.code !== 3) throw new Error(r.stderr);
    expect(r.stderr).toContain(`error: 1 image(s) cannot be pointed at the mirror through values: shop 0.1.0: quay.io/acme/hardcoded:3.0 still renders from its source with ${file()}`);
    report = JSON.parse(r.stdout);
    expect(report.summary.failed).toBe(0);
    expect(report.items.filter((i: any) => i.kind === "image").map((i: any) => i.source).sort()).toEqual(withDigest(SOURCE_IMAGES, "both"));
    values = parse(readFileSync(file(), "utf8"));
    // --map-out keeps the registry map (backwards compatible), which is not values
    expect(parse(readFileSync(join(tmp, "map.yaml"), "utf8"))["quay.io/acme/sidecar"]).toBe(`${DEST()}/images/acme/sidecar`);
    expect(report.values).toEqual([{
      chart: "shop",
      version: "0.1.0",
      file: file(),
      overridden: 11,
      notOverridable: [{ image: "quay.io/acme/hardcoded:3.0", destination: `${DEST()}/images/acme/hardcoded:3.0`, reason: "written into the chart's templates (templates/deploy.yaml), not taken from values: use --rewrite-chart", from: ["shop/templates/deploy.yaml Deployment/shop-shop"] }],
      check: "rendered",
    }]);
    expect(r.stderr).toContain(`mirror values for shop 0.1.0 written to ${file()}: 11 image(s) pointed at the mirror, 1 NOT overridable through values (use --rewrite-chart): quay.io/acme/hardcoded:3.0 (checked with helm template)`);
  }, 120_000);

  test("the values file: plain strings, repository, registry+repository, global.imageRegistry, lists, nested subcharts", () => {
    const host = reg.host;
    expect(values).toEqual({
      global: { imageRegistry: host },
      image: { repository: `${host}/mirror/images/acme/shop` },
      proxy: { image: `${host}/mirror/images/library/nginx:1.27` },
      sidecar: { image: `${host}/mirror/images/acme/sidecar:2.1` },
      extraContainers: [{ name: "extra", image: `${host}/mirror/images/acme/extra:1.0`, args: ["--serve"] }],
      operator: { env: [{ name: "LOG_LEVEL", value: "debug" }, { name: "RELATED_IMAGE_AGENT", value: `${host}/mirror/images/acme/agent:0.9.0` }] },
      db: {
        image: { registry: host, repository: "mirror/images/bitnami/postgresql" },
        metrics: { image: { registry: host, repository: "mirror/images/bitnami/postgres-exporter" } },
        volumePermissions: { image: { registry: host, repository: "mirror/images/bitnami/os-shell" } },
      },
      cache: { image: { repository: `${host}/mirror/images/valkey/valkey` }, exporter: { image: { repository: `${host}/mirror/images/acme/exporter` } } },
    });
    const text = readFileSync(file(), "utf8");
    expect(text).toContain("# 11 image(s) overridden. Checked with helm template: 1 image(s) still render from their source (below).");
    expect(text).toContain("#   quay.io/acme/hardcoded:3.0  written into the chart's templates (templates/deploy.yaml), not taken from values [shop/templates/deploy.yaml Deployment/shop-shop]");
  });

  for (const [name, helm] of [["helm 3", HELM3], ["helm 4", HELM4]] as const) {
    test(`${name}: helm template -f mirror-values.yaml renders only mirrored images (but the hard-coded one), and they are in the registry`, async () => {
      const before = await rendered(helm, []);
      expect(before).toEqual(withDigest(SOURCE_IMAGES));
      const after = await rendered(helm, ["-f", file()]);
      const notMirrored = after.filter((i) => !i.startsWith(`${DEST()}/`));
      expect(notMirrored).toEqual(["quay.io/acme/hardcoded:3.0"]);
      const cat = await catalog();
      for (const img of after.filter((i) => i.startsWith(`${DEST()}/`))) {
        expect(cat).toContain(img.slice(reg.host.length + 1).replace(/[:@].*$/, ""));
      }
      expect(after).toContain(`${DEST()}/images/bitnami/os-shell@${osShellDigest}`);
      expect(after).toContain(`${DEST()}/images/acme/shop:1.4.0`);
      // the registry map written by --map-out changes nothing when used as values (why --values-out exists)
      expect(await rendered(helm, ["-f", join(tmp, "map.yaml")])).toEqual(before);
    }, 60_000);
  }

  test("images --values-out with user values: a subchart the user enables is covered; a file per chart for a directory", async () => {
    const user = join(tmp, "prod.yaml");
    writeFileSync(user, "legacy:\n  enabled: true\n");
    const dir = join(tmp, "values-dir") + "/";
    const r = await mirror(["images", chart, "-f", user, "--dest", DEST(), "--values-out", dir, "-o", "json"]);
    if (r.code !== 3) throw new Error(r.stderr);
    const out = JSON.parse(r.stdout);
    expect(out.valueSites).toBeUndefined();
    const f = join(dir, "shop-0.1.0.mirror-values.yaml");
    expect(out.values[0].file).toBe(f);
    const v = parse(readFileSync(f, "utf8"));
    expect(v.legacy).toEqual({ image: `${DEST()}/images/acme/legacy:0.1` });
    const after = await rendered(HELM4, ["-f", user, "-f", f]);
    expect(after.filter((i) => !i.startsWith(`${DEST()}/`))).toEqual(["quay.io/acme/hardcoded:3.0"]);
  }, 60_000);

  test("export → push --values-out: the archive carries the discovery, push writes values for the real destination", async () => {
    const archive = join(tmp, "shop.tar");
    const e = await mirror(["export", chart, "-O", archive, ...SOURCES()]);
    if (e.code !== 0) throw new Error(e.stderr);
    const out = join(tmp, "airgap-values.yaml");
    const p = await mirror(["push", archive, "--dest", `${reg.host}/airgap`, "--values-out", out, "-o", "json"]);
    if (p.code !== 3) throw new Error(p.stderr);
    expect(p.stderr).toContain("quay.io/acme/hardcoded:3.0 is not set through values");
    const rep = JSON.parse(p.stdout);
    expect(rep.values[0]).toMatchObject({ chart: "shop", version: "0.1.0", file: out, overridden: 11 });
    expect(rep.values[0].notOverridable.map((n: any) => n.image)).toEqual(["quay.io/acme/hardcoded:3.0"]);
    expect(rep.values[0].check).toMatch(/^not checked: the chart was not rendered \(written from shop\.tar; check it with helm template -f\)$/);
    for (const helm of [HELM3, HELM4]) {
      const after = await rendered(helm, ["-f", out]);
      expect(after.filter((i) => !i.startsWith(`${reg.host}/airgap/`))).toEqual(["quay.io/acme/hardcoded:3.0"]);
    }
    const v = await mirror(["verify", chart, "--dest", `${reg.host}/airgap`, "--values-out", out]);
    expect(v.code).toBe(2);
    expect(v.stderr).toContain("verify writes no values");
  }, 120_000);

  test("usage: --values-out needs --dest; several charts need a directory", async () => {
    const a = await mirror(["images", chart, "--values-out", file()]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("--values-out needs --dest");
    const mf = join(tmp, "two.yaml");
    writeFileSync(mf, `apiVersion: mirror.kube-airgap.io/v1\nkind: MirrorSet\ncharts:\n  - chart: ${chart}\n  - chart: ${join(chart, "charts/cache")}\n`);
    const b = await mirror(["export", "--mirror-file", mf, "-O", join(tmp, "x.tar"), "--dest", DEST(), "--values-out", join(tmp, "one.yaml"), "--dry-run"]);
    expect(b.stderr).toMatch(/--values-out .*one\.yaml: 2 charts need one values file each/);
    expect(b.code).toBe(1);
  }, 60_000);
});

describe("static discovery", () => {
  test("only Bitnami-style maps (with a registry key) take global.imageRegistry; {repository, tag} maps keep their own host", async () => {
    const r = await discoverImages({ chartDir: chart, helm: false });
    expect(r.images.map((i) => i.image)).toEqual(SOURCE_IMAGES.map((i) => (i.includes("os-shell") ? `${i}@${osShellDigest}` : i)));
    expect(r.images.some((i) => i.image.startsWith("docker.io/ghcr.io/"))).toBe(false);
  });
});

describe("mirrorValues (pure)", () => {
  test("global.imageRegistry with images mirrored to two registries: the minority cannot be overridden", () => {
    const sites = [
      { image: "docker.io/bitnami/a:1", chart: "c", path: ["a", "image"], form: "registry" as const, globalRegistry: true },
      { image: "docker.io/bitnami/b:1", chart: "c", path: ["b", "image"], form: "registry" as const, globalRegistry: true },
      { image: "docker.io/bitnami/c:1", chart: "c", path: ["c", "image"], form: "registry" as const, globalRegistry: true },
    ];
    const images = sites.map((s) => ({ image: s.image, sources: [{ type: "values" as const, chart: "c", path: s.path.join("."), value: s.image }] }));
    const dests = new Map([["docker.io/bitnami/a:1", "m1.local/a:1"], ["docker.io/bitnami/b:1", "m1.local/b:1"], ["docker.io/bitnami/c:1", "m2.local/c:1"]]);
    const mv = mirrorValues({ images, valueSites: sites }, dests);
    expect(mv.values).toEqual({ global: { imageRegistry: "m1.local" }, a: { image: { registry: "m1.local", repository: "a" } }, b: { image: { registry: "m1.local", repository: "b" } } });
    expect(mv.notOverridable.map((n) => [n.image, n.reason])).toEqual([["docker.io/bitnami/c:1", "global.imageRegistry sets one registry for every image, and this one is mirrored to m2.local, not m1.local"]]);
  });
});

describe("values shapes of public charts (20.2 classes)", () => {
  test("{image, tag} without any registry is written whole (not registry + path: `repo:latest:TAG` / a path without host before); a repository site whose tag the templates choose still moves the rendered tag; an image built from keys no override reaches is named, never 'written into the templates'", async () => {
    const dir = join(tmp, "classes", "cls");
    write(dir, {
      "Chart.yaml": "apiVersion: v2\nname: cls\nversion: 0.1.0\nappVersion: \"1.12.1\"\n",
      "values.yaml": `
exporter:
  image: acme/exporter
  tag: v1.75.0
node:
  image:
    repository: quay.io/acme/node
    tag: ""
job:
  image:
    name: acme/job
    tag: "3.1"
`,
      "templates/pod.yaml": `
apiVersion: v1
kind: Pod
metadata: {name: cls}
spec:
  containers:
    - name: exporter
      image: "{{ .Values.exporter.image }}:{{ .Values.exporter.tag }}"
    - name: node
      image: "{{ .Values.node.image.repository }}:{{ .Values.node.image.tag | default (printf "v%s-distroless" .Chart.AppVersion) }}"
    - name: job
      image: "{{ .Values.job.image.name }}:{{ .Values.job.image.tag }}"
`,
    });
    const out = join(tmp, "classes", "cls-values.yaml");
    const r = await mirror(["images", dir, "--dest", DEST(), "--values-out", out, "-o", "json"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("docker.io/acme/job:3.1 still renders from its source");
    const rep = JSON.parse(r.stdout).values[0];
    expect(rep.notOverridable.map((n: any) => n.image)).toEqual(["docker.io/acme/job:3.1"]);
    expect(rep.notOverridable[0].reason).not.toContain("written into the chart's templates");
    // the oracle: real helm with the file
    const t = await run(HELM3, ["template", "rel", dir, "-f", out], { env: { ...process.env, ...helmEnv } });
    expect(t.code).toBe(0);
    const imgs = [...t.stdout.toString("utf8").matchAll(/image: "?([^"\s]+)"?/g)].map((m) => m[1]).sort();
    expect(imgs).toEqual([`${DEST()}/images/acme/exporter:v1.75.0`, `${DEST()}/images/acme/node:v1.12.1-distroless`, "acme/job:3.1"]);

    // --rewrite-chart cannot reach the job image either: the pushed chart is checked, the image named (exit 3,
    // charts[].notRewritten), never a silent "rewritten"
    const creds = staticCredentials({ username: reg.username, password: reg.password });
    for (const img of ["docker.io/acme/exporter:v1.75.0", "quay.io/acme/node:v1.12.1-distroless", "docker.io/acme/job:3.1"]) {
      const [host, ...rest] = img.split("/");
      await pushArtifact(`${reg.host}/src/${host}/${rest.join("/")}`, {
        config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", img })) },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", bytes: Buffer.alloc(512, img) }],
      }, { caFiles: [{ file: reg.caFile! }], credentials: creds });
    }
    const rw = await mirror(["sync", dir, "--dest", `${reg.host}/cls`, ...SOURCES(), "--rewrite-chart", "-o", "json"]);
    expect(rw.code).toBe(3);
    expect(rw.stderr).toContain("--rewrite-chart: 1 image(s) still render from their source in the rewritten chart: cls 0.1.0: docker.io/acme/job:3.1");
    const charts = JSON.parse(rw.stdout).charts;
    expect(charts[0].rewritten).toBe(true);
    expect(charts[0].notRewritten.map((n: any) => n.image)).toEqual(["docker.io/acme/job:3.1"]);
  }, 120_000);

  test("a values file helm cannot render: sync exits 1 with Helm's whole error (was: exit 0, the error cut short)", async () => {
    const dir = join(tmp, "classes", "picky");
    write(dir, {
      "Chart.yaml": "apiVersion: v2\nname: picky\nversion: 0.1.0\n",
      "values.yaml": "image:\n  registry: docker.io\n  repository: library/nginx\n  tag: \"1.27\"\n",
      "templates/pod.yaml": `
{{- if ne .Values.image.registry "docker.io" }}{{ fail "images from docker.io only.\\nSecond line: the part a last-line excerpt loses" }}{{ end }}
apiVersion: v1
kind: Pod
metadata: {name: picky}
spec:
  containers:
    - name: web
      image: "{{ .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}"
`,
    });
    const out = join(tmp, "classes", "picky-values.yaml");
    const r = await mirror(["sync", dir, "--dest", `${reg.host}/picky`, ...SOURCES(), "--values-out", out, "-o", "json"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("images from docker.io only.");
    expect(r.stderr).toContain("Second line: the part a last-line excerpt loses");
    expect(r.stderr).toContain(`--values-out ${out}: helm template picky -f ${out} fails`);
    const rep = JSON.parse(r.stdout);
    expect(rep.values[0].error).toContain("Second line");
    expect(readFileSync(out, "utf8")).toContain("helm template -f this file FAILED");
  }, 60_000);
});
