// Errors are one line: no stack traces, no raw errno codes, each file named once, hints that name violet's own
// flags; and packages re-tarred with plain `tar czf` (any entry order) still push.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { startChartMuseum, type ChartMuseumServer } from "../support/chartmuseum.ts";
import { startFakeApiServer, type FakeApiServer } from "../support/kube-apiserver.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { pushBundle, pushImage, violetCrds } from "../support/violet-fixtures.ts";
import { ok, startWorld, violet, type World } from "./world.ts";

let w: World;
let api: FakeApiServer;
let cm: ChartMuseumServer;
let dst: TestRegistry;
const pkgs = { bundle: "", chart: "", big: "" };
const env = () => ({ KUBECONFIG: api.kubeconfig("admin") });
const APP = "app.alauda.io/v1alpha1";

/** The one error line (stderr holds nothing else but warnings/info). */
function oneLine(stderr: string): string {
  const errs = stderr.split("\n").filter((l) => l.startsWith("error: "));
  expect(errs).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(stderr).not.toMatch(/\bE[A-Z]{3,}\b: /);
  return errs[0]!;
}

beforeAll(async () => {
  [w, cm, dst] = await Promise.all([startWorld(), startChartMuseum({ basicAuth: { username: "chart", password: "right-pw" } }), startRegistry({ auth: "htpasswd", tls: true })]);
  api = await startFakeApiServer({ tls: true, crds: violetCrds, namespaces: ["cpaas-system"] });
  api.put({ apiVersion: "product.alauda.io/v1alpha2", kind: "ProductBase", metadata: { name: "base" }, spec: { registry: { address: dst.host } } });
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  api.put({ apiVersion: "v1", kind: "Secret", metadata: { name: "chartmuseum-auth", namespace: "cpaas-system" }, data: { username: b64("chart"), password: b64("wrong-pw") } });
  api.put({ apiVersion: "app.alauda.io/v1beta1", kind: "ChartRepo", metadata: { name: "public-charts", namespace: "cpaas-system" }, spec: { type: "Local", url: cm.url, secret: { name: "chartmuseum-auth" } } });
  const build = async (name: string, ref: string) => {
    ok(await violet(["create", join(w.dir, name), "--artifact", ref, ...w.regArgs()]));
    return ok(await violet(["package", join(w.dir, name), ...w.regArgs()], { cwd: w.dir })).stdout.trim();
  };
  // a bundle whose image has a 1 MiB layer: too large to be buffered when it comes before index.json
  const big = await pushImage(w.reg, "acp/big-operator:v0.1.0", { layerBytes: 1 << 20 });
  const bigBundle = await pushBundle(w.reg, "acp/big-operator-bundle:v0.1.0", { packageName: "big-operator", version: "0.1.0", channels: ["stable"], defaultChannel: "stable", relatedImages: [big.ref] });
  [pkgs.bundle, pkgs.chart, pkgs.big] = await Promise.all([build("foo", w.bundle.ref), build("web", w.plainChart.ref), build("big", bigBundle.ref)]);
}, 120_000);

afterAll(async () => {
  await Promise.all([w?.stop(), api?.stop(), cm?.stop(), dst?.stop()]);
});

const pushTo = () => ["--dest-repo", dst.host, "--username", dst.username, "--password-stdin", "--ca-file", dst.caFile!];

describe("one-line errors", () => {
  test("a corrupt blob with --skip-verify: one line naming the package once, no stack trace, no hang", async () => {
    const dir = join(w.dir, "corrupt");
    mkdirSync(dir, { recursive: true });
    const tar = gunzipSync(readFileSync(pkgs.bundle));
    tar[Math.floor(tar.length * 0.8)] ^= 0xff; // inside a layer, the gzip stream stays valid
    const bad = join(dir, "foo-operator.stable.ALL.v1.2.0.tgz");
    writeFileSync(bad, gzipSync(tar));
    const r = await violet(["push", bad, "--skip-verify", "--skip-crs", ...pushTo()], { env: env(), stdin: dst.password, timeoutMs: 20000 });
    expect(r.code).toBe(1);
    const line = oneLine(r.stderr);
    expect(line.split(bad).length - 1).toBeLessThanOrEqual(1);
    expect(line).toMatch(/digest|corrupt|mismatch/i);
    // a flipped byte in the compressed stream
    const raw = readFileSync(pkgs.bundle);
    raw[Math.floor(raw.length * 0.8)] ^= 0xff;
    writeFileSync(bad, raw);
    const g = await violet(["push", bad, "--skip-verify", "--skip-crs", ...pushTo()], { env: env(), stdin: dst.password });
    expect(g.code).toBe(1);
    oneLine(g.stderr);
  }, 60_000);

  test("show DIR says it is a directory, without EISDIR", async () => {
    const r = await violet(["show", w.dir]);
    expect(r.code).not.toBe(0);
    expect(oneLine(r.stderr)).toContain(`${w.dir} is a directory`);
  });

  test("a failed package in a directory names its file once", async () => {
    const dir = join(w.dir, "mixed");
    mkdirSync(dir, { recursive: true });
    const bad = join(dir, "bad.amd64.1.0.0.tgz");
    copyFileSync(pkgs.chart, bad);
    writeFileSync(`${bad}.sha256`, `${"0".repeat(64)}  bad.amd64.1.0.0.tgz\n`);
    const r = await violet(["push", dir, "--skip-push"], { env: env() });
    expect(r.code).toBe(1);
    const line = r.stderr.split("\n").find((l) => l.includes("failed verification"))!;
    expect(line.split(bad).length - 1 - (line.split(`${bad}.sha256`).length - 1)).toBe(1);
  });

  test("a refused chart repository names the ChartRepo's Secret, not --access-token", async () => {
    const r = await violet(["push", pkgs.chart, "--skip-push"], { env: env() });
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain("--access-token");
    expect(r.stderr).toContain("Secret cpaas-system/chartmuseum-auth");
    expect(r.stderr).not.toContain("wrong-pw");
  });
});

describe("package entry order", () => {
  test("a package re-tarred with plain tar czf (layers first, index.json and metadata last) shows and pushes", async () => {
    const x = join(w.dir, "retar");
    mkdirSync(x, { recursive: true });
    execFileSync("tar", ["xzf", pkgs.big, "-C", x]);
    mkdirSync(join(w.dir, "retarred"), { recursive: true });
    const out = join(w.dir, "retarred", "big-operator.stable.amd64.v0.1.0.tgz");
    // blobs/ first, then index.json, oci-layout, violet-package.yaml: the order kubectl violet package never writes
    const entries = execFileSync("find", [".", "-type", "f"], { cwd: x, encoding: "utf8" }).trim().split("\n").sort();
    expect(entries.at(-1)).toBe("./violet-package.yaml");
    execFileSync("tar", ["czf", out, "-C", x, ...entries]);
    const show = ok(await violet(["show", out]));
    expect(show.stdout).toContain("Version: 0.1.0");
    const r = ok(await violet(["push", out, "--skip-verify", ...pushTo()], { env: env(), stdin: dst.password }));
    expect(r.stdout).toContain("artifact cpaas-system/big-operator created on global");
    const m = JSON.parse(execFileSync("skopeo", ["inspect", "--raw", "--cert-dir", dst.certDir!, "--creds", `${dst.username}:${dst.password}`, `docker://${dst.host}/acp/big-operator:v0.1.0`], { encoding: "utf8" }));
    expect(m.layers[0].size).toBeGreaterThan(1 << 20);
    expect(api.get(APP, "ArtifactVersion", "big-operator.v0.1.0", "cpaas-system")).toBeDefined();
  }, 60_000);
});
