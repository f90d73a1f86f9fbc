// Errors are one line: no stack traces, no raw errno codes, each file named once, hints that name violet's own
// flags; and packages re-tarred with plain `tar czf` (any entry order) still push.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { startChartMuseum, type ChartMuseumServer } from "../support/chartmuseum.ts";
import { BUN, ROOT } from "../support/cli.ts";
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

describe("mistakes a user makes", () => {
  test("a typo in -o (show, verify, push, gc, package) is refused before anything is done, exit 2", async () => {
    for (const args of [["show", pkgs.chart], ["verify", pkgs.chart], ["push", pkgs.bundle, "--dest-repo", `${dst.host}/typo`, "--username", dst.username, "--password-stdin", "--ca-file", dst.caFile!], ["gc", "--dry-run"], ["package", join(w.dir, "foo"), ...w.regArgs()]]) {
      const r = await violet([...args, "-o", "jsno"], { env: env(), stdin: dst.password + "\n", cwd: w.dir });
      expect(r.code).toBe(2);
      expect(oneLine(r.stderr)).toMatch(new RegExp(`^error: unsupported output format "jsno" for "kubectl violet ${args[0]}": use json, yaml`));
      expect(r.stdout).toBe("");
    }
    expect(existsSync(join(dst.dataDir, "docker/registry/v2/repositories/typo"))).toBe(false); // nothing pushed
  });

  test("push of a directory without packages (or a missing path) is refused before the platform is contacted", async () => {
    const empty = join(w.dir, "no-packages");
    mkdirSync(empty, { recursive: true });
    for (const path of [empty, join(w.dir, "missing.tgz")]) {
      const before = api.requests.length;
      const r = await violet(["push", path], { env: env() });
      expect(r.code).toBe(2);
      expect(oneLine(r.stderr)).toContain(path);
      expect(api.requests.length).toBe(before);
    }
  });

  test("push without --platform-address and without a kubeconfig names the platform flags", async () => {
    const r = await violet(["push", pkgs.bundle], { env: { KUBECONFIG: join(w.dir, "no-kubeconfig") } });
    expect(r.code).not.toBe(0);
    expect(oneLine(r.stderr)).toContain("--platform-address");
  });

  test("--help of push, list and gc: --platform-address goes with a token or the username/password login", async () => {
    for (const cmd of ["push", "list", "gc"]) {
      const h = ok(await violet([cmd, "--help"])).stdout;
      const line = h.split("\n").find((l) => l.includes("--platform-address"))!;
      expect(line).toContain("--platform-token");
      expect(line).toContain("--platform-username");
    }
  });

  test("https:// to a platform that speaks plain HTTP: one line saying so, no errno code, no certificate advice", async () => {
    const { createServer } = await import("node:http");
    const srv = createServer((_, res) => res.writeHead(404).end("404 page not found"));
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    const port = (srv.address() as { port: number }).port;
    try {
      for (const auth of [["--platform-token", "t0ken-value"], ["--platform-username", "admin", "--platform-password-stdin"]]) {
        const r = await violet(["gc", "--platform-address", `https://127.0.0.1:${port}`, ...auth], { stdin: "pw\n" });
        expect(r.code).toBe(1);
        const line = oneLine(r.stderr);
        expect(line).toContain("does not speak TLS");
        expect(line).toContain(`http://127.0.0.1:${port}`);
        expect(line).not.toContain("certificate");
      }
    } finally {
      srv.close();
    }
  });

  test("a wrong registry password: one reason per package (not one per image), and no hint to another plugin", async () => {
    const r = await violet(["push", pkgs.bundle, "--dest-repo", dst.host, "--username", dst.username, "--password-stdin", "--ca-file", dst.caFile!, "--skip-crs"], { env: env(), stdin: "wrong-password\n" });
    expect(r.code).toBe(1);
    const line = oneLine(r.stderr);
    expect(line).toContain(`authentication to ${dst.host} failed`);
    expect(line.split(`authentication to ${dst.host} failed`).length - 1).toBe(1);
    expect(line).not.toContain("kubectl mirror");
  });
});

// issue 21 point 4: a ProductBase served at a version we do not know is found through API discovery; when there is
// none, the error names the versions tried and what the cluster serves
describe("the platform registry (no --dest-repo)", () => {
  test("ProductBase served only at product.alauda.io/v1beta1 is found; none at all names the versions tried", async () => {
    const crds = [...violetCrds.filter((c) => c.kind !== "ProductBase"), { group: "product.alauda.io", version: "v1beta1", kind: "ProductBase", plural: "productbases", namespaced: false, status: true }];
    const other = await startFakeApiServer({ tls: true, crds, namespaces: ["cpaas-system"] });
    try {
      const e = { KUBECONFIG: other.kubeconfig("admin") };
      const none = await violet(["push", pkgs.bundle, "--skip-push", "--dry-run"], { env: e });
      expect(none.code).toBe(1);
      expect(oneLine(none.stderr)).toContain("ProductBase base not found on the global cluster (tried product.alauda.io/v1beta1, product.alauda.io/v1alpha2, product.alauda.io/v1alpha1; the cluster serves product.alauda.io/v1beta1)");
      other.put({ apiVersion: "product.alauda.io/v1beta1", kind: "ProductBase", metadata: { name: "base" }, spec: { registry: { address: dst.host } } });
      const r = ok(await violet(["push", pkgs.bundle, "--skip-push", "--dry-run"], { env: e }));
      expect(r.stderr).toContain(`using the platform registry ${dst.host} (from ProductBase base (product.alauda.io/v1beta1) on the global cluster)`);
      expect(r.stdout).toContain("artifact cpaas-system/foo-operator would be created on global");
    } finally {
      await other.stop();
    }
  }, 60_000);
});

describe("Ctrl-C", () => {
  test("package interrupted while writing the .tgz: exit 130, the partial file removed, nothing left next to it", async () => {
    const huge = await pushImage(w.reg, "acp/huge-operator:v0.1.0", { layerBytes: 96 << 20 });
    const hugeBundle = await pushBundle(w.reg, "acp/huge-operator-bundle:v0.1.0", { packageName: "huge-operator", version: "0.1.0", channels: ["stable"], defaultChannel: "stable", relatedImages: [huge.ref] });
    const work = join(w.dir, "huge");
    ok(await violet(["create", work, "--artifact", hugeBundle.ref, ...w.regArgs()]));
    const outDir = join(w.dir, "huge-out");
    mkdirSync(outDir, { recursive: true });
    const child = spawn(BUN, [join(ROOT, "plugins/kubectl-violet/main.ts"), "package", work, "--output", join(outDir, "huge.tgz"), ...w.regArgs()], { env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    // wait until the package file is being written (after the images are in the working directory)
    for (let i = 0; i < 600 && !readdirSync(outDir).some((f) => f.includes(".partial")); i++) await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(outDir).some((f) => f.includes(".partial"))).toBe(true);
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(stderr).toContain("interrupted (SIGINT)");
    expect(stderr).toContain("temporary files removed");
    expect(readdirSync(outDir)).toEqual([]);
  }, 120_000);
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
