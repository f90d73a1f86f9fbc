// issue 21 point 2: push never replaces a registry tag silently, and checks the whole package before the first
// byte moves. Real registries (TLS + htpasswd), skopeo as the judge of what the destination holds.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeApiServer, type FakeApiServer } from "../support/kube-apiserver.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { violetCrds } from "../support/violet-fixtures.ts";
import { validReport } from "../support/schema.ts";
import { ok, startWorld, violet, type World } from "./world.ts";

let w: World;
let dst: TestRegistry;
let api: FakeApiServer;
const pkgs = { all: "", amd64: "", plugin: "" };
const APP = "app.alauda.io/v1alpha1";
const env = () => ({ KUBECONFIG: api.kubeconfig("admin") });
const writes = () => api.requests.filter((r) => r.method !== "GET").length;
let destArgs: string[];

function skopeoDigest(ref: string): string | undefined {
  try {
    const raw = execFileSync("skopeo", ["inspect", "--raw", "--cert-dir", dst.certDir!, "--creds", `${dst.username}:${dst.password}`, `docker://${ref}`], { stdio: ["ignore", "pipe", "ignore"] });
    return "sha256:" + createHash("sha256").update(raw).digest("hex");
  } catch {
    return undefined;
  }
}

/** Unpack a package, let `edit` change the files, and tar it again in the original entry order (minus removed files). */
function rewrite(pkg: string, name: string, edit: (dir: string) => void): string {
  const dir = join(w.dir, `${name}-x`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync("tar", ["xzf", pkg, "-C", dir]);
  const order = execFileSync("tar", ["tzf", pkg], { encoding: "utf8" }).trim().split("\n");
  edit(dir);
  const listed = new Set(order);
  const added = execFileSync("find", [".", "-type", "f"], { cwd: dir, encoding: "utf8" }).trim().split("\n").map((f) => f.replace(/^\.\//, "")).filter((f) => !listed.has(f) && !listed.has(`./${f}`));
  const keep = [...order.filter((e) => e.endsWith("/") || execFileSync("sh", ["-c", `test -f "$1" && echo y || true`, "sh", join(dir, e)], { encoding: "utf8" }).trim() === "y"), ...added];
  writeFileSync(join(w.dir, `${name}.list`), keep.join("\n") + "\n");
  const out = join(w.dir, name, pkg.split("/").pop()!);
  mkdirSync(join(w.dir, name), { recursive: true });
  execFileSync("tar", ["czf", out, "-C", dir, "--no-recursion", "-T", join(w.dir, `${name}.list`)]);
  return out;
}

const blob = (dir: string, digest: string) => join(dir, "blobs", "sha256", digest.slice(7));

beforeAll(async () => {
  [w, dst] = await Promise.all([startWorld(), startRegistry()]);
  api = await startFakeApiServer({ tls: true, crds: violetCrds, namespaces: ["cpaas-system"] });
  destArgs = ["--dest-repo", dst.host, ...w.regArgs(dst)];
  const build = async (name: string, platforms: string, artifact = w.bundle.ref) => {
    ok(await violet(["create", join(w.dir, name), "--artifact", artifact, "--platforms", platforms, ...w.regArgs()]));
    const out = join(w.dir, `${name}-pkg`);
    mkdirSync(out, { recursive: true });
    return ok(await violet(["package", join(w.dir, name), ...w.regArgs()], { cwd: out })).stdout.trim();
  };
  [pkgs.all, pkgs.amd64, pkgs.plugin] = await Promise.all([build("foo-all", "linux/amd64,linux/arm64"), build("foo-amd64", "linux/amd64"), build("log-center", "linux/amd64", w.pluginChart.ref)]);
}, 120_000);

afterAll(async () => {
  await Promise.all([w?.stop(), dst?.stop(), api?.stop()]);
});

// issue 21 point 4: --dry-run=server sends every write push makes as a server-side dry run
describe("--dry-run=server", () => {
  const dryRuns = (from: number) => api.requests.slice(from).filter((q) => q.method !== "GET");
  test("operator and cluster plugin: every create goes to the API server with dryRun=All; nothing is stored or pushed", async () => {
    const from = api.requests.length;
    const r = ok(await violet(["push", pkgs.all, ...destArgs, "--dry-run=server"], { env: env() }));
    expect(r.stdout).toContain("artifactversion cpaas-system/foo-operator.v1.2.0 would be created on global (server dry run: accepted by the API server)");
    const p = ok(await violet(["push", pkgs.plugin, ...destArgs, "--dry-run=server"], { env: env() }));
    expect(p.stdout).toContain("moduleconfig log-center-v1.2.0 would be created on global (server dry run");
    const writes = dryRuns(from);
    expect(writes.map((q) => `${q.method} ${q.path.split("/").pop()}`).sort()).toEqual(["POST artifacts", "POST artifactversions", "POST moduleconfigs", "POST moduleplugins"]);
    expect(writes.every((q) => q.query.dryRun === "All" && q.status! < 300)).toBe(true);
    expect(api.list(APP, "Artifact", "cpaas-system")).toHaveLength(0);
    expect(api.list("cluster.alauda.io/v1alpha1", "ModulePlugin")).toHaveLength(0);
    expect(skopeoDigest(`${dst.host}/acp/foo-operator:v1.2.0`)).toBeUndefined();
  }, 90_000);
});

describe("tags are never replaced silently", () => {
  test("an amd64-only re-push of a version pushed multi-arch stops before any upload, naming both digests and what --force does", async () => {
    ok(await violet(["push", pkgs.all, ...destArgs], { env: env() }));
    const index = w.images.operator.digest;
    expect(skopeoDigest(`${dst.host}/acp/foo-operator:v1.2.0`)).toBe(index);
    const before = writes();
    const r = await violet(["push", pkgs.amd64, ...destArgs], { env: env() });
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain("skipped");
    const err = r.stderr.split("\n").find((l) => l.startsWith("error: ")) ?? "";
    expect(err).toContain(`${dst.host}/acp/foo-operator:v1.2.0 is ${index} (index for linux/amd64, linux/arm64), the package has sha256:`);
    expect(err).toContain("(index for linux/amd64)");
    expect(err).toContain("nothing was pushed");
    expect(r.stderr).toContain("--force would point");
    expect(r.stderr).toContain("nodes of the platforms it lacks could no longer pull the image");
    // the registry still has the index; nothing was written to the cluster
    expect(skopeoDigest(`${dst.host}/acp/foo-operator:v1.2.0`)).toBe(index);
    expect(skopeoDigest(`${dst.host}/acp/kube-rbac-proxy:v0.15.0`)).toBe(w.images.proxy.digest);
    expect(writes()).toBe(before);
    // a dry run says the same
    const d = await violet(["push", pkgs.amd64, ...destArgs, "--dry-run"], { env: env() });
    expect(d.code).toBe(1);
    expect(d.stderr).toContain(`${dst.host}/acp/foo-operator:v1.2.0 is ${index}`);
  }, 90_000);

  test("--force replaces the tags, says so, and records the old digest", async () => {
    const r = ok(await violet(["push", pkgs.amd64, ...destArgs, "--force", "-o", "json"], { env: env() }));
    expect(r.stderr).toContain(`--force: ${dst.host}/acp/foo-operator:v1.2.0 now holds ${w.images.operator.digest}`);
    const res = validReport(r.stdout, "PackagePushReport").items[0];
    const op = res.images.find((i: any) => i.destination === `${dst.host}/acp/foo-operator:v1.2.0`);
    expect(op.replaced).toBe(w.images.operator.digest);
    expect(skopeoDigest(`${dst.host}/acp/foo-operator:v1.2.0`)).toBe(op.digest);
    expect(op.digest).not.toBe(w.images.operator.digest);
    expect(api.get(APP, "ArtifactVersion", "foo-operator.v1.2.0", "cpaas-system")).toBeDefined();
  }, 90_000);

  test("--dry-run=server --force: the updates go as dry runs (PUT dryRun=All), nothing changes", async () => {
    const rv = api.get(APP, "ArtifactVersion", "foo-operator.v1.2.0", "cpaas-system")!.metadata.resourceVersion;
    const from = api.requests.length;
    ok(await violet(["push", pkgs.amd64, ...destArgs, "--force", "--dry-run=server"], { env: env() }));
    const writes = api.requests.slice(from).filter((q) => q.method !== "GET");
    expect(writes.map((q) => `${q.method} ${q.path.split("/").slice(-2).join("/")} ${q.query.dryRun}`).sort()).toEqual(["PUT artifacts/foo-operator All", "PUT artifactversions/foo-operator.v1.2.0 All"]);
    expect(api.get(APP, "ArtifactVersion", "foo-operator.v1.2.0", "cpaas-system")!.metadata.resourceVersion).toBe(rv);
  }, 90_000);
});

describe("the whole package is checked before the first byte moves", () => {
  test("one image's layer missing: refused naming it, no image and no resource anywhere", async () => {
    const arm = w.images.proxy.manifests["linux/arm64"]!;
    let layer = "";
    const broken = rewrite(pkgs.all, "missing", (dir) => {
      layer = JSON.parse(readFileSync(blob(dir, arm), "utf8")).layers[0].digest;
      rmSync(blob(dir, layer));
    });
    const before = writes();
    const r = await violet(["push", broken, "--skip-verify", "--dest-repo", `${dst.host}/missing`, ...w.regArgs(dst)], { env: env() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${w.images.proxy.ref}: layer ${layer} is not in the package`);
    expect(r.stderr).toContain("nothing was pushed");
    for (const ref of ["acp/foo-operator-bundle:v1.2.0", "acp/foo-operator:v1.2.0", "acp/kube-rbac-proxy:v0.15.0"]) expect(skopeoDigest(`${dst.host}/missing/${ref}`)).toBeUndefined();
    expect(writes()).toBe(before);
  }, 90_000);

  test("a 6 MiB manifest: refused naming its image and size, before the other images are pushed", async () => {
    let huge = "";
    const broken = rewrite(pkgs.all, "huge", (dir) => {
      // a manifest reusing the bundle's config and layer, made 6 MiB by an annotation
      const bundle = JSON.parse(readFileSync(blob(dir, w.bundle.digest), "utf8"));
      const bytes = Buffer.from(JSON.stringify({ ...bundle, annotations: { padding: "x".repeat(6 << 20) } }));
      huge = "sha256:" + createHash("sha256").update(bytes).digest("hex");
      writeFileSync(blob(dir, huge), bytes);
      const ref = `${w.reg.host}/acp/huge:v1`;
      const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
      index.manifests.push({ mediaType: bundle.mediaType ?? "application/vnd.oci.image.manifest.v1+json", digest: huge, size: bytes.length, annotations: { "org.opencontainers.image.ref.name": ref } });
      writeFileSync(join(dir, "index.json"), JSON.stringify(index));
      const meta = readFileSync(join(dir, "violet-package.yaml"), "utf8");
      writeFileSync(join(dir, "violet-package.yaml"), meta.replace(/^relatedImages:\n/m, `relatedImages:\n  - ref: ${ref}\n    digest: ${huge}\n    mediaType: application/vnd.oci.image.manifest.v1+json\n`));
    });
    const before = writes();
    const r = await violet(["push", broken, "--skip-verify", "--dest-repo", `${dst.host}/huge`, ...w.regArgs(dst)], { env: env() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${w.reg.host}/acp/huge:v1: manifest ${huge} is 6.0 MiB, more than the 4.0 MiB registries accept`);
    for (const ref of ["acp/foo-operator-bundle:v1.2.0", "acp/foo-operator:v1.2.0", "acp/kube-rbac-proxy:v0.15.0"]) expect(skopeoDigest(`${dst.host}/huge/${ref}`)).toBeUndefined();
    expect(writes()).toBe(before);
  }, 90_000);
});
