// Pieces of kubectl mirror that need no registry: credential files, mirror files, source mirrors, sizes,
// chart rewriting, destination collisions; and copy-ca against fake API servers (wait, cross-context, keys).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, parseDocument, stringify } from "yaml";
import { startFakeApiServer, type FakeApiServer } from "../support/kube-apiserver.ts";
import { runCli } from "../support/cli.ts";
import { credFileProvider, credForChartUrl, endpointHost, parseCredFile } from "../../plugins/kubectl-mirror/lib/inputs/credentials.ts";
import { parseMirrorFile } from "../../plugins/kubectl-mirror/lib/inputs/mirror-file.ts";
import { destinations, parseSourceMirrors, pullReference } from "../../plugins/kubectl-mirror/lib/inputs/targets.ts";
import { parseSize } from "../../plugins/kubectl-mirror/lib/transfer/archive.ts";
import { rewriteValuesDoc } from "../../plugins/kubectl-mirror/lib/plan/rewrite.ts";
import { redact } from "../../shared/runtime/redact.ts";
import type { PlannedArtifact } from "../../plugins/kubectl-mirror/lib/plan/plan.ts";

const defaults = { request: {}, discover: {} };

describe("--cred-file", () => {
  const text = JSON.stringify({
    helm: [{ endpoint: "https://charts.example.com/stable", username: "h", password: "helm-pass" }],
    image: [
      { endpoint: "https://gcr.io", username: "_json_key", password: { type: "service_account", private_key: "KEY-123" } },
      { endpoint: "registry-1.docker.io", username: "d", password: "hub-pass" },
      { endpoint: "harbor.local:8443/v2/", username: "robot$x", password: "harbor-pass" },
    ],
  });
  test("parses helm and image lists; GCR JSON key passwords become strings and are masked", async () => {
    const cf = parseCredFile(text, "c.json");
    expect(cf.helm).toHaveLength(1);
    const gcr = await credFileProvider(cf)("gcr.io");
    expect(gcr!.username).toBe("_json_key");
    expect(JSON.parse(gcr!.password!).private_key).toBe("KEY-123");
    expect(redact(`pw ${gcr!.password}`)).not.toContain("KEY-123");
    expect((await credFileProvider(cf)("docker.io"))!.password).toBe("hub-pass");
    expect((await credFileProvider(cf)("harbor.local:8443"))!.username).toBe("robot$x");
    expect(await credFileProvider(cf)("quay.io")).toBeUndefined();
    expect(credForChartUrl(cf, "https://charts.example.com/stable/")!.username).toBe("h");
    expect(endpointHost("https://index.docker.io/v1/")).toBe("docker.io");
  });
  test("bad files say what is wrong", () => {
    expect(() => parseCredFile("{", "c.json")).toThrow(/--cred-file c.json: not valid JSON/);
    expect(() => parseCredFile(JSON.stringify({ image: [{ endpoint: "x" }] }), "c.json")).toThrow(/needs username and password/);
    expect(() => parseCredFile(JSON.stringify({ image: {} }), "c.json")).toThrow(/expected a list/);
  });
});

describe("mirror files", () => {
  test("MirrorSet: repo charts, oci charts, local charts with values, images in both forms", () => {
    const m = parseMirrorFile(
      stringify({
        apiVersion: "mirror.kube-airgap.io/v1",
        kind: "MirrorSet",
        charts: [
          { name: "app", repoURL: "https://charts.example.com", version: "1.2.3" },
          { name: "db", repoURL: "oci://reg.example.com/charts", version: "2.0.0" },
          { chart: "./local/app", releaseName: "web", values: ["v.yaml"], set: ["a=b"], images: ["quay.io/x/side:1"], excludeImages: ["docker.io/bitnami/*"] },
        ],
        images: ["nginx:1.27", { name: "quay.io/acme/tool:2" }],
      }),
      "/work/m/mirror.yaml",
      defaults,
    );
    expect(m.charts[0]!.request).toMatchObject({ repoUrl: "https://charts.example.com", chart: "app", version: "1.2.3" });
    expect(m.charts[1]!.request.chart).toBe("oci://reg.example.com/charts/db");
    expect(m.charts[2]!.request.chart).toBe("/work/m/local/app");
    expect(m.charts[2]!.discover).toMatchObject({ releaseName: "web", valuesFiles: ["/work/m/v.yaml"], set: ["a=b"], excludeImages: ["docker.io/bitnami/*"] });
    expect(m.charts[2]!.extraImages).toEqual(["quay.io/x/side:1"]);
    expect(m.images).toEqual(["nginx:1.27", "quay.io/acme/tool:2"]);
  });
  test("Hauler manifests (multi-document)", () => {
    const text = `apiVersion: content.hauler.cattle.io/v1\nkind: Images\nspec:\n  images:\n    - name: busybox:1.36\n---\napiVersion: content.hauler.cattle.io/v1\nkind: Charts\nspec:\n  charts:\n    - name: rancher\n      repoURL: https://releases.rancher.com/server-charts/stable\n      version: 2.9.0\n`;
    const m = parseMirrorFile(text, "h.yaml", defaults);
    expect(m.images).toEqual(["busybox:1.36"]);
    expect(m.charts[0]!.request).toMatchObject({ repoUrl: "https://releases.rancher.com/server-charts/stable", chart: "rancher", version: "2.9.0" });
  });
  test("errors", () => {
    expect(() => parseMirrorFile("charts:\n  - version: 1\n", "m.yaml", defaults)).toThrow(/m.yaml: charts\[0\]: needs "chart"/);
    expect(() => parseMirrorFile("kind: Foo\n", "m.yaml", defaults)).toThrow(/unknown kind "Foo"/);
    expect(() => parseMirrorFile("{}\n", "m.yaml", defaults)).toThrow(/no charts and no images/);
  });
});

describe("source mirrors, sizes, destinations", () => {
  test("pullReference keeps the path and tag/digest", () => {
    const m = parseSourceMirrors(["docker.io=proxy.local:5000/hub", "quay.io/acme=q.local/acme-mirror"]);
    expect(pullReference("nginx:1.27", m)).toBe("proxy.local:5000/hub/library/nginx:1.27");
    expect(pullReference("quay.io/acme/app@sha256:" + "a".repeat(64), m)).toBe("q.local/acme-mirror/app@sha256:" + "a".repeat(64));
    expect(pullReference("quay.io/other/app:1", m)).toBe("quay.io/other/app:1");
    expect(() => parseSourceMirrors(["docker.io"])).toThrow(/expected SOURCE=MIRROR/);
  });
  test("parseSize", () => {
    expect(parseSize("4G")).toBe(4 * 1024 ** 3);
    expect(parseSize("500MiB")).toBe(500 * 1024 ** 2);
    expect(() => parseSize("10k")).toThrow(/smaller than 1 MiB/);
    expect(() => parseSize("lots")).toThrow(/bad size/);
  });
  test("an image may not land on a chart repository", () => {
    const art = { kind: "chart", name: "app", version: "1", tag: "1", repository: "charts/app", source: "", contentDigest: "", digest: "", images: [], warnings: [] } as PlannedArtifact;
    expect(() => destinations([art], ["quay.io/x/app:1"], { dest: "reg.local", imagePrefix: "charts", mode: "flat" })).toThrow(/chart repository/);
    const d = destinations([art], ["quay.io/x/app:1"], { dest: "reg.local/team" });
    expect(d.artifacts[0]!.destination).toBe("reg.local/team/charts/app:1");
    expect(d.images[0]!.destination).toBe("reg.local/team/images/x/app:1");
  });
  test("rewriteValuesDoc: registry+repository maps, plain references, comments kept", () => {
    const doc = parseDocument(`# top\nimage:\n  registry: docker.io\n  repository: bitnami/redis # the db\n  tag: 7.2.5\nsidecar: quay.io/acme/agent:0.9.0\nother:\n  repository: quay.io/acme/worker\n  tag: "1.10"\nuntouched: quay.io/nope/x:1\n`);
    const n = rewriteValuesDoc(doc, {
      byImage: new Map([["quay.io/acme/agent:0.9.0", "m.local/images/acme/agent:0.9.0"]]),
      byRepo: new Map([["docker.io/bitnami/redis", "m.local/images/bitnami/redis"], ["quay.io/acme/worker", "m.local/images/acme/worker"]]),
    });
    expect(n).toBe(3);
    const text = doc.toString();
    expect(text).toContain("# the db");
    const v = parse(text);
    expect(v.image).toEqual({ registry: "m.local", repository: "images/bitnami/redis", tag: "7.2.5" });
    expect(v.sidecar).toBe("m.local/images/acme/agent:0.9.0");
    expect(v.other.repository).toBe("m.local/images/acme/worker");
    expect(v.untouched).toBe("quay.io/nope/x:1");
  });
});

describe("copy-ca", () => {
  let hub: FakeApiServer;
  let spoke: FakeApiServer;
  let dir: string;
  let kubeconfig: string;
  const CA = Buffer.from("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").toString("base64");
  beforeAll(async () => {
    [hub, spoke] = await Promise.all([startFakeApiServer({ namespaces: ["zot-system", "mural-system"] }), startFakeApiServer({ namespaces: ["apps"] })]);
    dir = mkdtempSync(join(tmpdir(), "ka-copyca-"));
    // one kubeconfig with two contexts (distinct cluster/user names)
    const a = parse(readFileSync(hub.kubeconfig("admin"), "utf8"));
    const b = parse(readFileSync(spoke.kubeconfig("admin"), "utf8"));
    kubeconfig = join(dir, "config");
    writeFileSync(kubeconfig, stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "hub", cluster: a.clusters[0].cluster }, { name: "spoke", cluster: b.clusters[0].cluster }],
      users: [{ name: "hub-admin", user: a.users[0].user }, { name: "spoke-admin", user: b.users[0].user }],
      contexts: [{ name: "hub", context: { cluster: "hub", user: "hub-admin" } }, { name: "spoke", context: { cluster: "spoke", user: "spoke-admin" } }],
      "current-context": "hub",
    }));
  });
  afterAll(async () => {
    await Promise.all([hub?.stop(), spoke?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });
  const run = (args: string[]) => runCli("kubectl-mirror", ["copy-ca", ...args, "--kubeconfig", kubeconfig], { env: { NO_COLOR: "1" } });

  test("waits for the source, copies only ca.crt of a TLS secret across contexts; idempotent", async () => {
    const pending = run(["mural-system/oci-tls-hub", "--from-context", "hub", "--to-context", "spoke", "-n", "apps", "--to-name", "zot-ca", "--wait", "20s", "-o", "json"]);
    await Bun.sleep(1500);
    hub.put({ apiVersion: "v1", kind: "Secret", metadata: { name: "oci-tls-hub", namespace: "mural-system" }, type: "kubernetes.io/tls", data: { "ca.crt": CA, "tls.crt": CA, "tls.key": Buffer.from("PRIVATE").toString("base64") } });
    const r = await pending;
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ source: "mural-system/oci-tls-hub", target: "apps/zot-ca", keys: ["ca.crt"], action: "created", fromContext: "hub", toContext: "spoke" });
    expect(r.stderr).toContain("waiting up to 20s");
    const s = spoke.get("v1", "Secret", "zot-ca", "apps")!;
    expect(Object.keys(s.data)).toEqual(["ca.crt"]);
    expect(s.data["ca.crt"]).toBe(CA);
    expect(hub.get("v1", "Secret", "zot-ca", "apps")).toBeUndefined();
    const again = await run(["mural-system/oci-tls-hub", "--from-context", "hub", "--to-context", "spoke", "-n", "apps", "--to-name", "zot-ca", "-o", "json"]);
    expect(JSON.parse(again.stdout).action).toBe("unchanged");
  }, 30_000);

  test("same context, dry-run, and clear errors", async () => {
    hub.put({ apiVersion: "v1", kind: "Secret", metadata: { name: "zot-ca", namespace: "zot-system" }, data: { "ca.crt": CA } });
    const dry = await run(["zot-system/zot-ca", "-n", "mural-system", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("would-create");
    expect(hub.get("v1", "Secret", "zot-ca", "mural-system")).toBeUndefined();
    expect((await run(["zot-system/zot-ca", "-n", "mural-system"])).code).toBe(0);
    expect(hub.get("v1", "Secret", "zot-ca", "mural-system")!.data["ca.crt"]).toBe(CA);
    const missing = await run(["zot-system/none", "-n", "mural-system"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe("error: secret zot-system/none not found in context hub (add --wait 5m to wait for it)");
    const timeout = await run(["zot-system/none", "-n", "mural-system", "--wait", "1s"]);
    expect(timeout.code).toBe(1);
    expect(timeout.stderr).toContain("did not appear within 1s");
    const noNs = await run(["zot-system/zot-ca", "--to-context", "spoke", "-n", "nope"]);
    expect(noNs.code).toBe(1);
    expect(noNs.stderr).toContain("namespace nope does not exist in context spoke");
    const noKey = await run(["zot-system/zot-ca", "-n", "apps", "--key", "tls.crt"]);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain("has no tls.crt key");
    const usage = await run(["zot-system/zot-ca"]);
    expect(usage.code).toBe(2);
  }, 30_000);
});
