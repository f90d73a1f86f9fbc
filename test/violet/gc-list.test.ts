// list and gc against the fake API server with OperatorView / ModulePluginView / ModulePlugin / ModuleConfig /
// Artifact / ArtifactVersion / Application objects seeded directly.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { startFakeApiServer, type FakeApiServer } from "../support/kube-apiserver.ts";
import { createCA } from "../support/pki.ts";
import { PLATFORM_CLUSTER_CRD } from "../support/acp-platform.ts";
import { modulePlugin, violetCrds } from "../support/violet-fixtures.ts";
import { validReport } from "../support/schema.ts";
import { ok, violet } from "./world.ts";

let api: FakeApiServer; // the global cluster
let region1: FakeApiServer;
let proxy: http.Server;
let kubeconfig: string;
let dir: string;
const APP = "app.alauda.io/v1alpha1";
const CL = "cluster.alauda.io/v1alpha1";
const env = () => ({ KUBECONFIG: kubeconfig });

/** The platform: <proxy>/kubernetes/<cluster>/… → that cluster's API server (as ACP's proxy does). */
function startPlatform(clusters: Record<string, FakeApiServer>, ca: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const m = /^\/kubernetes\/([^/]+)(\/.*)?$/.exec(req.url ?? "");
    const up = m && clusters[m[1]!];
    if (!up) return void res.writeHead(404).end("no such cluster");
    const u = new URL(up.url);
    const fwd = https.request({ host: u.hostname, port: u.port, path: m![2] ?? "/", method: req.method, headers: req.headers, ca }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    fwd.on("error", () => res.writeHead(502).end());
    req.pipe(fwd);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

function operatorView(cluster: string, artifact: string, phase: string, csv: string, displayName: string, labels: Record<string, string> = {}) {
  return {
    apiVersion: APP,
    kind: "OperatorView",
    metadata: { name: artifact, namespace: cluster, labels },
    status: {
      operatorStatus: { phase, installation: { artifactName: artifact, subscription: { installedCSV: csv } } },
      packageManifestStatus: { channels: [{ name: "stable", currentCSVDesc: { displayName } }] },
    },
  };
}
function artifact(name: string) {
  return { apiVersion: APP, kind: "Artifact", metadata: { name, namespace: "cpaas-system", labels: { "cpaas.io/managed-by": "violet" } }, spec: { type: "bundle", present: true, registry: "r", repository: `acp/${name}-bundle` } };
}
function av(artifactName: string, version: string) {
  return {
    apiVersion: APP,
    kind: "ArtifactVersion",
    metadata: { name: `${artifactName}.v${version}`, namespace: "cpaas-system", labels: { "cpaas.io/artifact-version": artifactName }, annotations: { "cpaas.io/csv-name": `${artifactName}.v${version}` } },
    spec: { present: true, tag: `v${version}` },
  };
}
function mconfig(module: string, version: string) {
  return { apiVersion: CL, kind: "ModuleConfig", metadata: { name: `${module}-${version}`, labels: { "cpaas.io/module-name": module } }, spec: { name: module, version } };
}
function mpview(module: string, installed: { cluster: string; version: string }[], lifecycle = "agnostic") {
  return { apiVersion: "app.alauda.io/v1alpha2", kind: "ModulePluginView", metadata: { name: module, labels: { "cpaas.io/module-name": module, "cpaas.io/lifecycle-type": lifecycle } }, status: { installed } };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "violet-gc-"));
  const ca = createCA(mkdtempSync(join(dir, "pki-")));
  // this platform has no /auth/v1/clusters (404): its clusters are the Cluster objects on global
  api = await startFakeApiServer({ tls: true, ca, crds: [...violetCrds, PLATFORM_CLUSTER_CRD], namespaces: ["cpaas-system", "global", "region1", "apps"] });
  for (const n of ["global", "region1"]) api.put({ apiVersion: "platform.tkestack.io/v1", kind: "Cluster", metadata: { name: n }, spec: {} });
  region1 = await startFakeApiServer({ tls: true, ca, crds: violetCrds, namespaces: ["cpaas-system"] });
  proxy = await startPlatform({ global: api, region1 }, readFileSync(ca.cert, "utf8"));
  const port = (proxy.address() as { port: number }).port;
  kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
clusters: [{name: global, cluster: {server: "http://127.0.0.1:${port}/kubernetes/global"}}]
users: [{name: admin, user: {token: admin-token}}]
contexts: [{name: acp, context: {cluster: global, user: admin}}]
current-context: acp
`);
  // region1 holds the topolvm Artifact: v2.3.0 is installed there, v2.2.0 is stale
  region1.put(artifact("topolvm-operator"));
  region1.put(av("topolvm-operator", "2.2.0"));
  region1.put(av("topolvm-operator", "2.3.0"));
  // operators: opensearch installed on global (v2.9.0, with an older AV), redis uninstalled on global, core one uninstalled
  api.put(operatorView("global", "opensearch-operator", "Installed", "opensearch-operator.v2.9.0", "OpenSearch"));
  api.put(operatorView("global", "redis-operator", "Uninstalled", "", "Redis"));
  api.put(operatorView("global", "core-operator", "Uninstalled", "", "Core", { "cpaas.io/lifecycle-type": "core" }));
  api.put(operatorView("region1", "topolvm-operator", "Installed", "topolvm-operator.v2.3.0", "NativeStor"));
  for (const a of ["opensearch-operator", "redis-operator", "core-operator", "never-installed-operator"]) api.put(artifact(a));
  api.put(av("opensearch-operator", "2.8.0"));
  api.put(av("opensearch-operator", "2.9.0"));
  api.put(av("redis-operator", "1.0.0"));
  // plugins: log-center installed (v1.2.0) with an obsolete v1.1.0 config; web-cli uninstalled; core plugin uninstalled
  for (const [name, lifecycle] of [["log-center", "aligned"], ["web-cli", "agnostic"], ["core-plugin", "core"]] as const) {
    const mp: any = modulePlugin(name, "v1.2.0", { lifecycle, displayName: name === "log-center" ? "Log Center" : name });
    api.put(mp);
  }
  api.put(mpview("log-center", [{ cluster: "region1", version: "v1.2.0" }], "aligned"));
  api.put(mpview("web-cli", []));
  api.put(mpview("core-plugin", [], "core"));
  api.put(mconfig("log-center", "v1.1.0"));
  api.put(mconfig("log-center", "v1.2.0"));
  api.put(mconfig("web-cli", "v4.0.4"));
  api.put(mconfig("gone-plugin", "v1.0.0"));
  // a chart application on the current (global) cluster
  api.put({ apiVersion: "app.k8s.io/v1beta1", kind: "Application", metadata: { name: "web", namespace: "apps", annotations: { "app.cpaas.io/chart.source": "public-charts/web", "app.cpaas.io/chart.version": "2.0.0" } } });
  api.put({ apiVersion: "app.k8s.io/v1beta1", kind: "Application", metadata: { name: "plain", namespace: "apps" } });
});

afterAll(async () => {
  await new Promise((r) => (proxy ? proxy.close(r) : r(undefined)));
  await Promise.all([api?.stop(), region1?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe("list", () => {
  test("prints the documented applications: YAML and writes the same to --output-file", async () => {
    const file = join(dir, "apps.yaml");
    const r = ok(await violet(["list", "--output-file", file], { env: env() }));
    const want = {
      applications: {
        "log-center": { displayName: "Log Center", type: "ModulePlugin", installed: [{ clusterName: "region1", version: "v1.2.0" }] },
        "opensearch-operator": { displayName: "OpenSearch", type: "OperatorBundle", installed: [{ clusterName: "global", version: "2.9.0" }] },
        "topolvm-operator": { displayName: "NativeStor", type: "OperatorBundle", installed: [{ clusterName: "region1", version: "2.3.0" }] },
        web: { displayName: "web", type: "Chart", installed: [{ clusterName: "global", version: "2.0.0" }] },
      },
    };
    expect(parse(r.stdout)).toEqual(want);
    expect(r.stdout.startsWith("applications:\n")).toBe(true);
    expect(parse(readFileSync(file, "utf8"))).toEqual(want);
  });

  test("--clusters filters; -o json|yaml print the versioned report, the file keeps violet's applications: document", async () => {
    const r = ok(await violet(["list", "--clusters", "region1", "--output-file", join(dir, "r1.json"), "-o", "json"], { env: env() }));
    const rep = validReport(r.stdout, "InstalledApplications");
    expect(Object.keys(rep.applications).sort()).toEqual(["log-center", "topolvm-operator"]);
    expect(JSON.parse(readFileSync(join(dir, "r1.json"), "utf8"))).toEqual({ applications: rep.applications });
    const y = ok(await violet(["list", "--clusters", "region1", "--output-file", join(dir, "r1.yaml"), "-o", "yaml"], { env: env() }));
    expect(validReport(y.stdout, "InstalledApplications", "yaml").applications).toEqual(rep.applications);
    const file = readFileSync(join(dir, "r1.yaml"), "utf8");
    expect(file.startsWith("applications:\n")).toBe(true);
    expect(parse(file)).toEqual({ applications: rep.applications });
  });
});

describe("gc", () => {
  const expected = [
    ["Artifact", "redis-operator", "global"],
    ["ArtifactVersion", "opensearch-operator.v2.8.0", "global"],
    ["ArtifactVersion", "topolvm-operator.v2.2.0", "region1"],
    ["ModulePlugin", "web-cli", "global"],
    ["ModuleConfig", "log-center-v1.1.0", "global"],
    ["ModuleConfig", "web-cli-v4.0.4", "global"],
    ["ModuleConfig", "gone-plugin-v1.0.0", "global"],
  ];
  const sortRows = (rows: string[][]) => rows.map((r) => r.join(" ")).sort();

  test("--dry-run lists exactly the stale objects and deletes none", async () => {
    const before = api.requests.filter((r) => r.method === "DELETE").length;
    const r = ok(await violet(["gc", "--dry-run", "-o", "json"], { env: env() }));
    const j = validReport(r.stdout, "GCReport");
    expect(j.dryRun).toBe(true);
    expect(sortRows(j.deleted.map((d: any) => [d.type, d.name, d.cluster]))).toEqual(sortRows(expected));
    expect(api.requests.filter((r) => r.method === "DELETE").length).toBe(before);
    expect(api.get(APP, "Artifact", "redis-operator", "cpaas-system")).toBeDefined();
  });

  test("deletes exactly the stale objects and prints the GC Summary table; a second run deletes nothing", async () => {
    const r = ok(await violet(["gc"], { env: env() }));
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("GC Summary:");
    expect(lines[1]).toMatch(/^TYPE\s+NAME\s+CLUSTER$/);
    expect(lines[2]).toMatch(/^-+$/);
    expect(sortRows(lines.slice(3).map((l) => l.split(/\s+/)))).toEqual(sortRows(expected));
    // gone
    expect(api.get(APP, "Artifact", "redis-operator", "cpaas-system")).toBeUndefined();
    expect(api.get(APP, "ArtifactVersion", "opensearch-operator.v2.8.0", "cpaas-system")).toBeUndefined();
    expect(api.get(CL, "ModulePlugin", "web-cli")).toBeUndefined();
    expect(api.get(CL, "ModuleConfig", "log-center-v1.1.0")).toBeUndefined();
    // kept
    expect(api.get(APP, "Artifact", "opensearch-operator", "cpaas-system")).toBeDefined();
    expect(api.get(APP, "Artifact", "core-operator", "cpaas-system")).toBeDefined();
    expect(api.get(APP, "Artifact", "never-installed-operator", "cpaas-system")).toBeDefined();
    expect(api.get(APP, "ArtifactVersion", "opensearch-operator.v2.9.0", "cpaas-system")).toBeDefined();
    expect(region1.get(APP, "ArtifactVersion", "topolvm-operator.v2.2.0", "cpaas-system")).toBeUndefined();
    expect(region1.get(APP, "ArtifactVersion", "topolvm-operator.v2.3.0", "cpaas-system")).toBeDefined();
    expect(region1.get(APP, "Artifact", "topolvm-operator", "cpaas-system")).toBeDefined();
    expect(api.get(CL, "ModulePlugin", "log-center")).toBeDefined();
    expect(api.get(CL, "ModulePlugin", "core-plugin")).toBeDefined();
    expect(api.get(CL, "ModuleConfig", "log-center-v1.2.0")).toBeDefined();
    const again = ok(await violet(["gc"], { env: env() }));
    expect(again.stdout).toBe("No resources were deleted.\n");
  });

  test("marking an operator uninstalled makes its Artifact stale", async () => {
    api.put(operatorView("global", "opensearch-operator", "Uninstalled", "", "OpenSearch"));
    const r = ok(await violet(["gc", "--clusters", "global", "-o", "json"], { env: env() }));
    expect(JSON.parse(r.stdout).deleted.map((d: any) => `${d.type} ${d.name}`)).toEqual(["Artifact opensearch-operator"]);
    expect(api.get(APP, "Artifact", "opensearch-operator", "cpaas-system")).toBeUndefined();
  });
});
