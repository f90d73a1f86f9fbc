// End to end: create + package each package type from a real registry, then push to another real registry and
// the fake API server (violet CRDs registered) and a ChartMuseum; assert the objects field by field, the images
// with skopeo, idempotent re-push, --force, --dry-run, flag errors; real kubectl sees the Artifacts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeApiServer, type FakeApiServer } from "../support/kube-apiserver.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startChartMuseum, type ChartMuseumServer } from "../support/chartmuseum.ts";
import { violetCrds } from "../support/violet-fixtures.ts";
import { KUBECTL } from "../support/cli.ts";
import { validReport } from "../support/schema.ts";
import { ok, startWorld, violet, type World } from "./world.ts";

let w: World;
let dst: TestRegistry;
let api: FakeApiServer;
let cm: ChartMuseumServer;
let kubeconfig: string;
const pkgs: Record<"bundle" | "plugin" | "chart", string> = { bundle: "", plugin: "", chart: "" };
const APP = "app.alauda.io/v1alpha1";
const CL = "cluster.alauda.io/v1alpha1";

// skopeo trusts the destination's CA (its cert dir) and logs in to it
const skopeoAt = () => ["--cert-dir", dst.certDir!, "--creds", `${dst.username}:${dst.password}`];
function skopeoRaw(ref: string): any {
  return JSON.parse(execFileSync("skopeo", ["inspect", "--raw", ...skopeoAt(), `docker://${ref}`], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
}
function skopeoDigest(ref: string): string {
  return "sha256:" + createHash("sha256").update(execFileSync("skopeo", ["inspect", "--raw", ...skopeoAt(), `docker://${ref}`])).digest("hex");
}
const writes = () => api.requests.filter((r) => r.method !== "GET").length;

beforeAll(async () => {
  [w, dst, cm] = await Promise.all([startWorld(), startRegistry(), startChartMuseum()]); // both registries TLS (private CA) + htpasswd
  api = await startFakeApiServer({ tls: true, crds: violetCrds, namespaces: ["cpaas-system"] });
  kubeconfig = api.kubeconfig("admin");
  api.put({ apiVersion: "product.alauda.io/v1alpha2", kind: "ProductBase", metadata: { name: "base" }, spec: { registry: { address: dst.host } } });
  api.put({ apiVersion: "app.alauda.io/v1beta1", kind: "ChartRepo", metadata: { name: "public-charts", namespace: "cpaas-system", labels: { "project.cpaas.io/catalog": "true" } }, spec: { type: "Local", url: cm.url } });
  const reg = w.regArgs();
  destArgs = ["--dest-repo", dst.host, ...w.regArgs(dst)];
  const build = async (name: string, ref: string, extra: string[] = []) => {
    ok(await violet(["create", join(w.dir, name), "--artifact", ref, ...reg, ...extra]));
    const r = ok(await violet(["package", join(w.dir, name), ...reg], { cwd: w.dir }));
    return r.stdout.trim();
  };
  [pkgs.bundle, pkgs.plugin, pkgs.chart] = await Promise.all([
    build("foo", w.bundle.ref, ["--platforms", "linux/amd64,linux/arm64", "--default-catalog-source", "platform"]),
    build("log-center", w.pluginChart.ref),
    build("web", w.plainChart.ref),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([w?.stop(), dst?.stop(), api?.stop(), cm?.stop()]);
});

const env = () => ({ KUBECONFIG: kubeconfig });
let destArgs: string[];
const pushArgs = () => destArgs;

describe("package files", () => {
  test("names follow <name>.<channel>.<arch>.<version>.tgz / <name>.<arch>.<version>.tgz and get a .sha256", () => {
    expect(pkgs.bundle).toBe(join(w.dir, "foo-operator.stable.ALL.v1.2.0.tgz"));
    expect(pkgs.plugin).toBe(join(w.dir, "log-center.amd64.v1.2.0.tgz"));
    expect(pkgs.chart).toBe(join(w.dir, "web.amd64.2.0.0.tgz"));
    const sum = readFileSync(`${pkgs.bundle}.sha256`, "utf8");
    expect(sum).toBe(`${createHash("sha256").update(readFileSync(pkgs.bundle)).digest("hex")}  foo-operator.stable.ALL.v1.2.0.tgz\n`);
  });

  test("show prints violet's lines; --all adds Artifact and RelateImages; -o json has the metadata", async () => {
    const r = ok(await violet(["show", pkgs.bundle]));
    expect(r.stdout).toBe("Name: Foo Operator\nType: bundle\nArch: [linux/amd64 linux/arm64]\nVersion: 1.2.0\n");
    const all = ok(await violet(["show", pkgs.bundle, "--all"]));
    expect(all.stdout).toContain(`Artifact: ${w.bundle.ref}\n`);
    expect(all.stdout).toContain(`RelateImages: [${w.images.operator.ref} ${w.images.proxy.ref}]\n`);
    const j = validReport(ok(await violet(["show", pkgs.plugin, "-o", "json"])).stdout, "PackageInfo");
    expect(j.file).toBe(pkgs.plugin);
    expect(j.type).toBe("moduleplugin");
    expect(j.name).toBe("log-center");
    expect(j.displayName).toBe("Log Center");
    expect(j.relatedImages.map((i: any) => i.ref)).toEqual([w.images.plugin.ref]);
    expect(j.resources).toEqual(["resources/module-plugin.yaml"]);
    const c = ok(await violet(["show", pkgs.chart, "-o", "yaml"]));
    validReport(c.stdout, "PackageInfo", "yaml");
    expect(c.stdout).toContain("type: chart\n");
    expect(c.stdout).toContain(`- ref: ${w.images.web.ref}\n`);
  });

  test("the package is an OCI archive: multi-arch images are kept whole", async () => {
    const j = validReport(ok(await violet(["show", pkgs.bundle, "-o", "json"])).stdout, "PackageInfo");
    const op = j.relatedImages.find((i: any) => i.ref === w.images.operator.ref);
    expect(op.digest).toBe(w.images.operator.digest); // index unchanged: both platforms were requested
    expect(j.artifact.digest).toBe(w.bundle.digest);
  });

  test("create -o yaml and package -o json print versioned reports (PackageInfo names the directory, PackageReport the file)", async () => {
    const dir = join(w.dir, "web-report");
    const c = ok(await violet(["create", dir, "--artifact", w.plainChart.ref, ...w.regArgs(), "-o", "yaml"]));
    const info = validReport(c.stdout, "PackageInfo", "yaml");
    expect(info).toMatchObject({ directory: dir, type: "chart", name: "web" });
    expect(info.file).toBeUndefined();
    // not in w.dir: "a directory pushes every package" pushes what is there
    mkdirSync(join(w.dir, "reports"));
    const p = ok(await violet(["package", dir, "-O", join(w.dir, "reports", "web-report.tgz"), ...w.regArgs(), "-o", "json"], { cwd: w.dir }));
    expect(validReport(p.stdout, "PackageReport").file).toBe(join(w.dir, "reports", "web-report.tgz"));
  }, 60_000);

  test("show of a non-package fails with one clear line", async () => {
    const r = await violet(["show", `${pkgs.bundle}.sha256`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("not a package");
  });
});

describe("push", () => {
  test("--skip-crs with --skip-push is a usage error", async () => {
    const r = await violet(["push", pkgs.bundle, "--skip-crs", "--skip-push"], { env: env() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--skip-crs and --skip-push cannot be used together");
  });

  test("--dest-repo without credentials or --no-auth is refused", async () => {
    const r = await violet(["push", pkgs.bundle, "--dest-repo", dst.host, "--ca-file", `${dst.host}=${dst.caFile}`], { env: env() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--no-auth");
  });

  test("--dry-run lists every image and resource and writes nothing", async () => {
    const before = writes();
    const r = ok(await violet(["push", pkgs.bundle, ...pushArgs(), "--dry-run"], { env: env() }));
    expect(r.stdout).toContain(`image ${w.bundle.ref} -> ${dst.host}/acp/foo-operator-bundle:v1.2.0 (dry run)`);
    expect(r.stdout).toContain(`image ${w.images.operator.ref} -> ${dst.host}/acp/foo-operator:v1.2.0 (dry run)`);
    expect(r.stdout).toContain("artifact cpaas-system/foo-operator would be created on global");
    expect(r.stdout).toContain("artifactversion cpaas-system/foo-operator.v1.2.0 would be created on global");
    expect(writes()).toBe(before);
    expect(api.list(APP, "Artifact", "cpaas-system")).toHaveLength(0);
    expect(() => skopeoRaw(`${dst.host}/acp/foo-operator:v1.2.0`)).toThrow();
  });

  test("operator: images in the registry, Artifact + ArtifactVersion exactly as documented", async () => {
    const r = ok(await violet(["push", pkgs.bundle, ...pushArgs()], { env: env() }));
    expect(r.stdout).toContain("artifact cpaas-system/foo-operator created on global");
    // images: multi-arch index kept, same digests
    expect(skopeoDigest(`${dst.host}/acp/foo-operator:v1.2.0`)).toBe(w.images.operator.digest);
    expect(skopeoRaw(`${dst.host}/acp/kube-rbac-proxy:v0.15.0`).manifests.map((m: any) => m.platform.architecture).sort()).toEqual(["amd64", "arm64"]);
    expect(skopeoDigest(`${dst.host}/acp/foo-operator-bundle:v1.2.0`)).toBe(w.bundle.digest);

    const a = api.get(APP, "Artifact", "foo-operator", "cpaas-system")!;
    expect(a.metadata.labels).toEqual({ "cpaas.io/library": "platform", "cpaas.io/builtin": "true", "cpaas.io/present": "true", "cpaas.io/type": "bundle", "cpaas.io/managed-by": "violet" });
    expect(a.spec).toEqual({
      type: "bundle",
      present: true,
      registry: dst.host,
      repository: "acp/foo-operator-bundle",
      displayName: "Foo Operator",
      description: "Foo Operator operator",
      artifactVersionSelector: { matchLabels: { "cpaas.io/artifact-version": "foo-operator" } },
    });
    const av = api.get(APP, "ArtifactVersion", "foo-operator.v1.2.0", "cpaas-system")!;
    expect(av.spec).toEqual({ present: true, tag: "v1.2.0" });
    expect(av.metadata.labels).toEqual({
      "cpaas.io/artifact-version": "foo-operator",
      "cpaas.io/library": "platform",
      "cpaas.io/builtin": "true",
      "cpaas.io/present": "true",
      "cpaas.io/type": "bundle",
      "cpaas.io/bundle-version": "1.2.0",
      "cpaas.io/managed-by": "violet",
    });
    expect(av.metadata.annotations).toEqual({
      "cpaas.io/bundle-version": "1.2.0",
      "cpaas.io/channels": "stable,alpha",
      "cpaas.io/default-channel": "stable",
      "cpaas.io/csv-name": "foo-operator.v1.2.0",
      "cpaas.io/replaces": "foo-operator.v1.1.0",
      "olm.skipRange": ">=1.0.0 <1.2.0",
    });
    expect(av.metadata.ownerReferences).toEqual([{ apiVersion: APP, kind: "Artifact", name: "foo-operator", uid: a.metadata.uid, controller: true, blockOwnerDeletion: true }]);
  }, 60_000);

  test("re-push without --force changes nothing; --force updates", async () => {
    const rv = api.get(APP, "ArtifactVersion", "foo-operator.v1.2.0", "cpaas-system")!.metadata.resourceVersion;
    const arv = api.get(APP, "Artifact", "foo-operator", "cpaas-system")!.metadata.resourceVersion;
    const before = writes();
    const r = ok(await violet(["push", pkgs.bundle, ...pushArgs()], { env: env() }));
    expect(r.stdout).toContain("artifactversion cpaas-system/foo-operator.v1.2.0 already exists on global, skipped");
    expect(writes()).toBe(before);
    expect(api.get(APP, "ArtifactVersion", "foo-operator.v1.2.0", "cpaas-system")!.metadata.resourceVersion).toBe(rv);
    expect(api.get(APP, "Artifact", "foo-operator", "cpaas-system")!.metadata.resourceVersion).toBe(arv);

    const f = ok(await violet(["push", pkgs.bundle, "--skip-push", "--force", "--target-catalog-source", "my-catalog"], { env: env() }));
    expect(f.stdout).toContain("artifactversion cpaas-system/foo-operator.v1.2.0 updated on global");
    const av = api.get(APP, "ArtifactVersion", "foo-operator.v1.2.0", "cpaas-system")!;
    expect(av.metadata.resourceVersion).not.toBe(rv);
    expect(av.metadata.labels["cpaas.io/library"]).toBe("my-catalog");
    expect(av.metadata.labels["cpaas.io/builtin"]).toBe("false");
  }, 60_000);

  test("an Absent package (present: false, stale registry) becomes present after a plain push; a present one is skipped", async () => {
    const avObj = api.get(APP, "ArtifactVersion", "foo-operator.v1.2.0", "cpaas-system")!;
    api.put({ ...avObj, metadata: { ...avObj.metadata, labels: { ...avObj.metadata.labels, "cpaas.io/present": "false" } }, spec: { ...avObj.spec, present: false } });
    const aObj = api.get(APP, "Artifact", "foo-operator", "cpaas-system")!;
    api.put({ ...aObj, spec: { ...aObj.spec, present: false, registry: "old-registry.example.com" } });
    const r = ok(await violet(["push", pkgs.bundle, ...pushArgs()], { env: env() }));
    expect(r.stdout).not.toContain("skipped");
    expect(r.stdout).toContain("artifactversion cpaas-system/foo-operator.v1.2.0 updated on global (was absent, now present)");
    const av = api.get(APP, "ArtifactVersion", "foo-operator.v1.2.0", "cpaas-system")!;
    expect(av.spec.present).toBe(true);
    expect(av.metadata.labels["cpaas.io/present"]).toBe("true");
    const a = api.get(APP, "Artifact", "foo-operator", "cpaas-system")!;
    expect(a.spec.present).toBe(true);
    expect(a.spec.registry).toBe(dst.host);
    const before = writes();
    const again = ok(await violet(["push", pkgs.bundle, ...pushArgs()], { env: env() }));
    expect(again.stdout).toContain("artifactversion cpaas-system/foo-operator.v1.2.0 already exists on global, skipped");
    expect(writes()).toBe(before);
  }, 60_000);

  test("cluster plugin: ModulePlugin + ModuleConfig on global and the success line", async () => {
    const r = ok(await violet(["push", pkgs.plugin, ...pushArgs()], { env: env() }));
    expect(r.stdout).toContain("moduleplugin log-center has been updated successfully\n");
    expect(skopeoDigest(`${dst.host}/acp/log-agent:v1.2.0`)).toBe(w.images.plugin.digest);
    expect(skopeoDigest(`${dst.host}/acp/chart-log-center:v1.2.0`)).toBe(w.pluginChart.digest);
    const mp = api.get(CL, "ModulePlugin", "log-center")!;
    expect(mp.metadata.labels).toEqual({ "cpaas.io/module-name": "log-center", "cpaas.io/module-type": "plugin", "cpaas.io/lifecycle-type": "aligned" });
    expect(JSON.parse(mp.metadata.annotations["cpaas.io/display-name"]).en).toBe("Log Center");
    expect(mp.spec.name).toBe("log-center");
    expect(mp.spec.version).toBe("v1.2.0");
    expect(mp.spec.mainChart).toBe("acp/chart-log-center");
    const mc = api.get(CL, "ModuleConfig", "log-center-v1.2.0")!;
    expect(mc.metadata.labels).toEqual({ "cpaas.io/module-name": "log-center", "cpaas.io/module-type": "plugin", "cpaas.io/lifecycle-type": "aligned", "cpaas.io/managed-by": "violet" });
    expect(mc.spec).toEqual(mp.spec);
    // again: skipped, nothing written
    const before = writes();
    const again = ok(await violet(["push", pkgs.plugin, "--skip-push"], { env: env() }));
    expect(again.stdout).toContain("moduleplugin log-center version v1.2.0 already exists, skipped");
    expect(writes()).toBe(before);
  }, 60_000);

  test("chart: uploaded to the ChartRepo's ChartMuseum, images pushed; re-push skipped", async () => {
    const r = ok(await violet(["push", pkgs.chart, ...pushArgs()], { env: env() }));
    expect(r.stdout).toContain("chart web 2.0.0 has been uploaded to chartrepo public-charts");
    const stored = cm.get("web", "2.0.0");
    expect(stored?.metadata.appVersion).toBe("2.0");
    expect(skopeoDigest(`${dst.host}/library/web:2.0`)).toBe(w.images.web.digest);
    const again = ok(await violet(["push", pkgs.chart, "--skip-push"], { env: env() }));
    expect(again.stdout).toContain("chart web 2.0.0 already exists in chartrepo public-charts, skipped");
    const missing = await violet(["push", pkgs.chart, "--skip-push", "--target-chartrepo", "nope"], { env: env() });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("ChartRepo cpaas-system/nope not found");
  }, 60_000);

  test("a directory pushes every package", async () => {
    const r = ok(await violet(["push", w.dir, "--skip-push", "-o", "json"], { env: env() }));
    const rep = validReport(r.stdout, "PackagePushReport");
    expect(rep.summary).toEqual({ total: 3, failed: 0 });
    const res = rep.items;
    expect(res.map((x: any) => x.name).sort()).toEqual(["foo-operator", "log-center", "web"]);
    expect(res.every((x: any) => x.verified === "checksum" && !x.error)).toBe(true);
  }, 60_000);

  test("several package files (as `push *.tgz` gives them) push every one, none silently left out", async () => {
    const r = ok(await violet(["push", pkgs.bundle, pkgs.plugin, pkgs.chart, "--skip-push", "-o", "yaml"], { env: env() }));
    const res = validReport(r.stdout, "PackagePushReport", "yaml").items;
    expect(res.map((x: any) => x.name).sort()).toEqual(["foo-operator", "log-center", "web"]);
    expect(res.every((x: any) => !x.error)).toBe(true);
    const bad = await violet(["push", pkgs.bundle, join(w.dir, "missing.tgz"), "--skip-push"], { env: env() });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("missing.tgz");
  }, 60_000);

  test("a package with a flipped byte is not pushed; the others are; exit non-zero", async () => {
    const dir = join(w.dir, "mixed");
    mkdirSync(dir);
    for (const f of [pkgs.chart, `${pkgs.chart}.sha256`]) copyFileSync(f, join(dir, f.split("/").pop()!));
    const bad = join(dir, "bad.amd64.1.0.0.tgz");
    const bytes = readFileSync(pkgs.bundle);
    writeFileSync(`${bad}.sha256`, readFileSync(`${pkgs.bundle}.sha256`, "utf8").replace(/  .*$/m, "  bad.amd64.1.0.0.tgz"));
    bytes[bytes.length - 100] ^= 0xff;
    writeFileSync(bad, bytes);
    const before = writes();
    const r = await violet(["push", dir, "--skip-push", "--force"], { env: env() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${bad} failed verification: checksum mismatch`);
    expect(r.stderr).toContain("1 of 2 package(s) failed");
    expect(r.stdout).toContain("chart web 2.0.0");
    // the bad bundle wrote nothing (only the chart upload happened, which is not a kube write)
    expect(writes()).toBe(before);
  }, 60_000);

  test("real kubectl sees the Artifacts", async () => {
    const run = promisify(execFile);
    const { stdout: out } = await run(KUBECTL, ["--kubeconfig", kubeconfig, "get", "artifacts", "-n", "cpaas-system", "-o", "name"]);
    expect(out.trim()).toBe("artifact.app.alauda.io/foo-operator");
    const { stdout: avs } = await run(KUBECTL, ["--kubeconfig", kubeconfig, "get", "artifactversions", "-n", "cpaas-system", "-o", "jsonpath={.items[*].spec.tag}"]);
    expect(avs).toBe("v1.2.0");
  }, 30_000);
});
