// gc never deletes what may still be needed: an ArtifactVersion newer than (or not comparable with) what is
// installed, or one installed on another cluster. Two clusters behind a fake platform, each with its own store.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startAcpPlatform, type AcpPlatform } from "../support/acp-platform.ts";
import { ok, violet } from "./world.ts";

let p: AcpPlatform;
const APP = "app.alauda.io/v1alpha1";
const CL = "cluster.alauda.io/v1alpha1";

function operatorView(cluster: string, artifact: string, phase: string, csv: string) {
  return {
    apiVersion: APP,
    kind: "OperatorView",
    metadata: { name: artifact, namespace: cluster },
    status: { operatorStatus: { phase, installation: { artifactName: artifact, subscription: { installedCSV: csv } } }, packageManifestStatus: { channels: [{ name: "stable", currentCSVDesc: { displayName: "Demo" } }] } },
  };
}
function av(artifact: string, tag: string, csv?: string) {
  return {
    apiVersion: APP,
    kind: "ArtifactVersion",
    metadata: { name: `${artifact}.${tag}`, namespace: "cpaas-system", labels: { "cpaas.io/artifact-version": artifact }, annotations: csv ? { "cpaas.io/csv-name": csv } : {} },
    spec: { present: true, tag },
  };
}
const artifact = (name: string) => ({ apiVersion: APP, kind: "Artifact", metadata: { name, namespace: "cpaas-system" }, spec: { type: "bundle", present: true, registry: "r", repository: `acp/${name}-bundle` } });

beforeAll(async () => {
  p = await startAcpPlatform({ clusters: ["global", "region1"] });
  const g = p.cluster("global");
  // demo-operator: v1.2.0 installed on global, v1.1.0 on region1; v1.3.0 uploaded for the upgrade; v1.0.0 stale
  g.put(operatorView("global", "demo-operator", "Installed", "demo-operator.v1.2.0"));
  g.put(operatorView("region1", "demo-operator", "Installed", "demo-operator.v1.1.0"));
  for (const c of ["global", "region1"]) {
    const k = p.cluster(c);
    k.put(artifact("demo-operator"));
    for (const v of ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]) k.put(av("demo-operator", `v${v}`, `demo-operator.v${v}`));
    k.put(av("demo-operator", "latest")); // no CSV, tag not a version: not comparable
  }
  // log-center: v1.2.0 installed; v1.3.0 uploaded (newer, stays); v1.1.0 stale
  g.put({ apiVersion: CL, kind: "ModulePlugin", metadata: { name: "log-center", labels: { "cpaas.io/module-name": "log-center" } }, spec: { name: "log-center", version: "v1.3.0" } });
  g.put({ apiVersion: "app.alauda.io/v1alpha2", kind: "ModulePluginView", metadata: { name: "log-center", labels: { "cpaas.io/module-name": "log-center" } }, status: { installed: [{ cluster: "region1", version: "v1.2.0" }] } });
  for (const v of ["v1.1.0", "v1.2.0", "v1.3.0", "v1.4.0-rc.1"]) g.put({ apiVersion: CL, kind: "ModuleConfig", metadata: { name: `log-center-${v}`, labels: { "cpaas.io/module-name": "log-center" } }, spec: { name: "log-center", version: v } });
});

afterAll(async () => {
  await p?.stop();
});

const env = () => ({ KUBECONFIG: p.kubeconfig("global") });

describe("gc keeps what is installed or newer", () => {
  test("--dry-run -v: only v1.0.0 (and the stale ModuleConfig) would go; every kept one says why", async () => {
    const r = ok(await violet(["gc", "--dry-run", "-v"], { env: env() }));
    const lines = r.stdout.split("\n");
    const summary = lines.slice(0, lines.indexOf(""));
    expect(summary[0]).toBe("GC Summary (dry run, nothing deleted):");
    const rows = summary.slice(3).map((l) => l.split(/\s+/).slice(0, 3).join(" ")).sort();
    expect(rows).toEqual(["ArtifactVersion demo-operator.v1.0.0 global", "ArtifactVersion demo-operator.v1.0.0 region1", "ModuleConfig log-center-v1.1.0 global"]);
    const kept = lines.slice(lines.indexOf("Kept:"));
    const reason = (name: string, cluster: string) => kept.find((l) => l.split(/\s+/)[1] === name && l.split(/\s+/)[2] === cluster) ?? "";
    expect(reason("demo-operator.v1.3.0", "global")).toContain("newer than 1.2.0 installed on global");
    expect(reason("demo-operator.v1.1.0", "global")).toContain("installed on region1");
    expect(reason("demo-operator.v1.2.0", "region1")).toContain("installed on global");
    expect(reason("demo-operator.latest", "region1")).toContain("cannot be compared");
    expect(reason("log-center-v1.4.0-rc.1", "global")).toContain("newer than v1.2.0 installed on region1");
    expect(p.cluster("global").get(APP, "ArtifactVersion", "demo-operator.v1.0.0", "cpaas-system")).toBeDefined();
  });

  test("gc deletes only v1.0.0 on both clusters; v1.1.0, v1.2.0, v1.3.0 and the unversioned one stay", async () => {
    const r = ok(await violet(["gc", "-o", "json"], { env: env() }));
    const j = JSON.parse(r.stdout);
    expect(j.deleted.map((d: any) => `${d.type} ${d.name} ${d.cluster}`).sort()).toEqual(["ArtifactVersion demo-operator.v1.0.0 global", "ArtifactVersion demo-operator.v1.0.0 region1", "ModuleConfig log-center-v1.1.0 global"]);
    for (const c of ["global", "region1"]) {
      const names = p.cluster(c).list(APP, "ArtifactVersion", "cpaas-system").map((o) => o.metadata.name).sort();
      expect(names).toEqual(["demo-operator.latest", "demo-operator.v1.1.0", "demo-operator.v1.2.0", "demo-operator.v1.3.0"]);
    }
    expect(p.cluster("global").list(CL, "ModuleConfig").map((o) => o.metadata.name).sort()).toEqual(["log-center-v1.2.0", "log-center-v1.3.0", "log-center-v1.4.0-rc.1"]);
  });

  test("--clusters region1 still counts what global has installed", async () => {
    p.cluster("region1").put(av("demo-operator", "v1.1.5", "demo-operator.v1.1.5"));
    const r = ok(await violet(["gc", "--clusters", "region1", "--dry-run", "-o", "json"], { env: env() }));
    expect(JSON.parse(r.stdout).deleted).toEqual([]);
  });

  test("a ModulePlugin with no ModulePluginView yet (just uploaded) is kept, with its ModuleConfig", async () => {
    const g = p.cluster("global");
    g.put({ apiVersion: CL, kind: "ModulePlugin", metadata: { name: "cloudedge", labels: { "cpaas.io/module-name": "cloudedge" } }, spec: { name: "cloudedge", version: "v0.3.16" } });
    g.put({ apiVersion: CL, kind: "ModuleConfig", metadata: { name: "cloudedge-v0.3.16", labels: { "cpaas.io/module-name": "cloudedge" } }, spec: { name: "cloudedge", version: "v0.3.16" } });
    const r = ok(await violet(["gc", "--dry-run", "-v", "-o", "json"], { env: env() }));
    const j = JSON.parse(r.stdout);
    expect(j.deleted.filter((d: any) => d.name.startsWith("cloudedge"))).toEqual([]);
    expect(j.kept.find((k: any) => k.type === "ModulePlugin" && k.name === "cloudedge")?.reason).toContain("no ModulePluginView");
    ok(await violet(["gc"], { env: env() }));
    expect(g.get(CL, "ModulePlugin", "cloudedge")).toBeDefined();
    expect(g.get(CL, "ModuleConfig", "cloudedge-v0.3.16")).toBeDefined();
  });
});

// issue 21: bare versions were cut at their first dot (2.1.0 → "1.0"), so a freshly uploaded upgrade target was
// "older than every installed version" and deleted. Objects shaped as `violet push` writes them: the AV carries
// cpaas.io/bundle-version (bare) and cpaas.io/csv-name; ModuleConfigs carry spec.version.
describe("gc on real version histories (installed 1.2.0 and 1.10.0)", () => {
  let q: AcpPlatform;
  const uploaded = ["2.1.0", "2.0.0-rc.1", "1.10.0", "1.9.0", "1.2.0", "1.0.0"];
  beforeAll(async () => {
    q = await startAcpPlatform({ clusters: ["global", "region1"] });
    const g = q.cluster("global");
    g.put(operatorView("global", "acme-operator", "Installed", "acme-operator.v1.2.0"));
    g.put(operatorView("region1", "acme-operator", "Installed", "acme-operator.v1.10.0"));
    for (const c of ["global", "region1"]) {
      q.cluster(c).put(artifact("acme-operator"));
      for (const v of uploaded) {
        const o = av("acme-operator", `v${v}`, `acme-operator.v${v}`);
        (o.metadata.annotations as Record<string, string>)["cpaas.io/bundle-version"] = v;
        q.cluster(c).put(o);
      }
    }
    g.put({ apiVersion: CL, kind: "ModulePlugin", metadata: { name: "acme-plugin", labels: { "cpaas.io/module-name": "acme-plugin" } }, spec: { name: "acme-plugin", version: "v2.1.0" } });
    g.put({ apiVersion: "app.alauda.io/v1alpha2", kind: "ModulePluginView", metadata: { name: "acme-plugin", labels: { "cpaas.io/module-name": "acme-plugin" } }, status: { installed: [{ cluster: "global", version: "v1.2.0" }, { cluster: "region1", version: "v1.10.0" }] } });
    for (const v of uploaded) g.put({ apiVersion: CL, kind: "ModuleConfig", metadata: { name: `acme-plugin-v${v}`, labels: { "cpaas.io/module-name": "acme-plugin" } }, spec: { name: "acme-plugin", version: `v${v}` } });
  });
  afterAll(async () => {
    await q?.stop();
  });

  test("only the versions below both installed ones go; -v shows each comparison", async () => {
    const r = ok(await violet(["gc", "--dry-run", "-v", "-o", "json"], { env: { KUBECONFIG: q.kubeconfig("global") } }));
    const j = JSON.parse(r.stdout);
    expect(j.deleted.map((d: any) => `${d.type} ${d.name} ${d.cluster}`).sort()).toEqual(["ArtifactVersion acme-operator.v1.0.0 global", "ArtifactVersion acme-operator.v1.0.0 region1", "ModuleConfig acme-plugin-v1.0.0 global"]);
    const why = (type: string, name: string) => [...j.kept, ...j.deleted].find((k: any) => k.type === type && k.name === name && k.cluster === "global")?.reason ?? "";
    expect(why("ArtifactVersion", "acme-operator.v1.0.0")).toBe("older than every installed version: 1.0.0 is older than 1.2.0 installed on global; 1.0.0 is older than 1.10.0 installed on region1");
    expect(why("ArtifactVersion", "acme-operator.v2.1.0")).toBe("2.1.0 is newer than 1.2.0 installed on global; 2.1.0 is newer than 1.10.0 installed on region1");
    expect(why("ArtifactVersion", "acme-operator.v2.0.0-rc.1")).toContain("2.0.0-rc.1 is newer than 1.10.0 installed on region1");
    expect(why("ArtifactVersion", "acme-operator.v1.9.0")).toBe("1.9.0 is newer than 1.2.0 installed on global; 1.9.0 is older than 1.10.0 installed on region1");
    expect(why("ModuleConfig", "acme-plugin-v1.9.0")).toBe("1.9.0 is newer than v1.2.0 installed on global; 1.9.0 is older than v1.10.0 installed on region1");
    expect(why("ModuleConfig", "acme-plugin-v2.0.0-rc.1")).toContain("is newer than v1.10.0 installed on region1");
  });

  test("gc deletes exactly those", async () => {
    ok(await violet(["gc"], { env: { KUBECONFIG: q.kubeconfig("global") } }));
    for (const c of ["global", "region1"]) expect(q.cluster(c).list(APP, "ArtifactVersion", "cpaas-system").map((o) => o.metadata.name).sort()).toEqual(["acme-operator.v1.10.0", "acme-operator.v1.2.0", "acme-operator.v1.9.0", "acme-operator.v2.0.0-rc.1", "acme-operator.v2.1.0"]);
    expect(q.cluster("global").list(CL, "ModuleConfig").map((o) => o.metadata.name).sort()).toEqual(["acme-plugin-v1.10.0", "acme-plugin-v1.2.0", "acme-plugin-v1.9.0", "acme-plugin-v2.0.0-rc.1", "acme-plugin-v2.1.0"]);
  });
});
