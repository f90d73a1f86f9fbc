// issue 21 point 3: `list` never leaves a cluster out silently. When the platform's cluster list
// (GET /auth/v1/clusters) cannot be read, the clusters come from the platform's Cluster objects on global
// (clusters.platform.tkestack.io); when neither can be read, list fails naming both and how to pass --clusters,
// and writes no apps.yaml. A chart Application on a cluster that no OperatorView/ModulePluginView mentions is the
// case that was dropped.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { startAcpPlatform, type AcpPlatform } from "../support/acp-platform.ts";
import { ok, violet } from "./world.ts";

const dir = mkdtempSync(join(tmpdir(), "violet-list-"));
const started: AcpPlatform[] = [];
afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
  rmSync(dir, { recursive: true, force: true });
});

/** global + region1 (an operator there) + edge1 (only a chart Application: no view mentions it) */
async function platform(opts: Parameters<typeof startAcpPlatform>[0]): Promise<AcpPlatform> {
  const p = await startAcpPlatform({ clusters: ["global", "region1", "edge1"], namespaces: ["apps"], ...opts });
  started.push(p);
  p.cluster("global").put({
    apiVersion: "app.alauda.io/v1alpha1",
    kind: "OperatorView",
    metadata: { name: "acme-operator", namespace: "region1" },
    status: { operatorStatus: { phase: "Installed", installation: { artifactName: "acme-operator", subscription: { installedCSV: "acme-operator.v1.2.0" } } } },
  });
  p.cluster("edge1").put({ apiVersion: "app.k8s.io/v1beta1", kind: "Application", metadata: { name: "web", namespace: "apps", annotations: { "app.cpaas.io/chart.source": "public-charts/web", "app.cpaas.io/chart.version": "2.0.0" } } });
  return p;
}

describe("list enumerates clusters the way the platform does", () => {
  // one platform; what /auth/v1/clusters answers is read per request
  const opts: { clustersApi?: number } = {};
  let shared: AcpPlatform | undefined;
  for (const status of [404, 403, 500]) {
    test(`/auth/v1/clusters answers ${status}: the Cluster objects on global name every cluster; edge1's chart is listed`, async () => {
      opts.clustersApi = status;
      const p = (shared ??= await platform(opts));
      const file = join(dir, `apps-${status}.yaml`);
      const seen = p.cluster("edge1").requests.length;
      const r = ok(await violet(["list", "--output-file", file], { env: { KUBECONFIG: p.kubeconfig("global") } }));
      const apps = parse(r.stdout).applications;
      expect(apps.web).toEqual({ displayName: "web", type: "Chart", installed: [{ clusterName: "edge1", version: "2.0.0" }] });
      expect(apps["acme-operator"].installed).toEqual([{ clusterName: "region1", version: "1.2.0" }]);
      expect(p.cluster("edge1").requests.slice(seen).some((q) => q.method === "GET" && q.path.includes("/applications"))).toBe(true);
    }, 60_000);
  }

  test("neither can be read: exit 1 naming both sources and --clusters; no apps.yaml", async () => {
    const p = await platform({ clustersApi: 500, clusterObjects: false });
    const file = join(dir, "none.yaml");
    const r = await violet(["list", "--output-file", file], { env: { KUBECONFIG: p.kubeconfig("global") } });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("cannot enumerate the platform's clusters");
    expect(r.stderr).toContain(`GET ${p.url}/auth/v1/clusters answered 500`);
    expect(r.stderr).toContain("clusters.platform.tkestack.io on the global cluster answered 404");
    expect(r.stderr).toContain("--clusters global,region1,<cluster>");
    expect(existsSync(file)).toBe(false);
    // naming them works
    const named = ok(await violet(["list", "--clusters", "global,region1,edge1", "--output-file", file], { env: { KUBECONFIG: p.kubeconfig("global") } }));
    expect(parse(named.stdout).applications.web.installed).toEqual([{ clusterName: "edge1", version: "2.0.0" }]);
  }, 60_000);
});
