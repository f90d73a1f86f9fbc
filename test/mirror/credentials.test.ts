// Credentials belong to a host (issue 12.1), a refused/unreachable destination is one error (11.2), and the
// smaller CLI points of 11.10 — against realistic registries: the source is a token-auth TLS registry with
// anonymous pull (like Docker Hub), the destination the harness default (TLS with a private CA + htpasswd).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { freePort } from "../support/ports.ts";
import { runCli } from "../support/cli.ts";
import { pushArtifact } from "../../shared/oci/artifact.ts";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";
import { startFaultProxy } from "../support/fault-proxy.ts";
import { muralVariables } from "../../plugins/kubectl-mirror/lib/report/zot.ts";
import { startChartRepo } from "../support/chart-repo.ts";
import { HELM4, makeChart } from "../support/helm.ts";

setDefaultTimeout(120_000);

const N = 8;
let src: TestRegistry, dst: TestRegistry, plain: TestRegistry;
let tmp: string;
let pairs: string;

const mirror = (args: string[], opts: { stdin?: string; env?: Record<string, string | undefined> } = {}) =>
  runCli("kubectl-mirror", args, { ...opts, env: { HOME: tmp, DOCKER_CONFIG: join(tmp, "docker"), REGISTRY_USERNAME: undefined, REGISTRY_PASSWORD: undefined, ...opts.env } });
const errorLines = (stderr: string) => stderr.split("\n").filter((l) => l.trim() && !/^warning:/.test(l));

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "ka-mirror-creds-"));
  [src, dst, plain] = await Promise.all([
    startRegistry({ auth: "token", anonymous: ["pull"] }),
    startRegistry(),
    startRegistry({ auth: "none", tls: false }), // for the plain-HTTP hint only
  ]);
  const creds = staticCredentials({ username: "writer", password: src.users.writer! });
  for (let i = 0; i < N; i++) {
    await pushArtifact(`${src.host}/library/app${i}:v1`, {
      config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", i })) },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", bytes: Buffer.alloc(20_000 + i, i) }],
    }, { caFiles: [{ file: src.caFile! }], credentials: creds });
  }
  pairs = join(tmp, "pairs.txt");
  writeFileSync(pairs, Array.from({ length: N }, (_, i) => `${src.host}/library/app${i}:v1 ${dst.host}/mirror/app${i}:v1`).join("\n") + "\n");
});

afterAll(async () => {
  await Promise.all([src?.stop(), dst?.stop(), plain?.stop()]);
  rmSync(tmp, { recursive: true, force: true });
});

const cas = () => ["--ca-file", src.caFile!, "--ca-file", dst.caFile!];
const srcCalls = (since: number) => src.tokenServer!.calls.slice(since);

describe("credentials stay with their registry (12.1)", () => {
  test("-u/--password-stdin go to the destination only: the source's token service sees anonymous requests", async () => {
    const before = src.tokenServer!.calls.length;
    const r = await mirror(["copy", "--from-file", pairs, ...cas(), "-u", dst.username, "--password-stdin", "-o", "json"], { stdin: dst.password + "\n" });
    expect(r.stderr).not.toContain(dst.password);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.summary).toMatchObject({ total: N, failed: 0 });
    const calls = srcCalls(before);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.map((c) => c.grantType)).toEqual(calls.map(() => "anonymous"));
    expect(calls.filter((c) => c.user !== undefined)).toEqual([]);
  });

  test("REGISTRY_USERNAME/REGISTRY_PASSWORD are the destination's too", async () => {
    const before = src.tokenServer!.calls.length;
    const r = await mirror(["copy", `${src.host}/library/app0:v1`, `${dst.host}/env/app0:v1`, ...cas()], { env: { REGISTRY_USERNAME: dst.username, REGISTRY_PASSWORD: dst.password } });
    expect(r.code).toBe(0);
    const calls = srcCalls(before);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((c) => c.grantType === "anonymous" && c.user === undefined)).toBe(true);
  });

  test("--src-username/--src-password-stdin go to the source only; --dest-username/--dest-password to the destination (one warning)", async () => {
    const before = src.tokenServer!.calls.length;
    const r = await mirror(["copy", `${src.host}/library/app1:v1`, `${dst.host}/split/app1:v1`, ...cas(), "--src-username", "reader", "--src-password-stdin", "--dest-username", dst.username, "--dest-password", dst.password], { stdin: src.users.reader! });
    expect(r.code).toBe(0);
    const calls = srcCalls(before);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((c) => c.user === "reader" && c.status === 200)).toBe(true);
    expect(r.stderr.match(/password on the command line/g)?.length).toBe(1);
    expect(r.stderr).not.toContain(dst.password);
  });

  test("docker config credentials apply to the host they are stored for", async () => {
    const cfgDir = join(tmp, "cfg1");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(cfgDir, { recursive: true });
    writeFileSync(join(cfgDir, "config.json"), JSON.stringify(dst.dockerConfig()));
    const before = src.tokenServer!.calls.length;
    const r = await mirror(["copy", `${src.host}/library/app2:v1`, `${dst.host}/cfg/app2:v1`, ...cas()], { env: { DOCKER_CONFIG: cfgDir } });
    expect(r.code).toBe(0);
    expect(srcCalls(before).every((c) => c.user === undefined)).toBe(true);
  });

  test("sync: the chart repository gets --src-* credentials, never -u/--password-stdin (the destination's)", async () => {
    const tgz = await makeChart(join(tmp, "chart-src"), { name: "app", version: "1.0.0", helmBin: HELM4, values: { image: `${src.host}/library/app0:v1` }, templates: { "pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: c, image: {{ .Values.image }}}]}\n" } });
    const repo = await startChartRepo({ charts: [tgz], auth: { username: "repo-user", password: "Repo-Pass-77" } });
    try {
      const base = ["sync", "--repo-url", repo.url, "--chart-url", "r/app", "--chart-version", "1.0.0", "--helm", HELM4, "--dest", `${dst.host}/chartcreds`, ...cas()];
      const destOnly = await mirror([...base, "-u", dst.username, "--password-stdin"], { stdin: dst.password });
      expect(destOnly.code).toBe(1);
      expect(destOnly.stderr).toContain("HTTP 401");
      expect(repo.requests.filter((q) => q.authorized)).toEqual([]);
      const ok = await mirror([...base, "--src-username", "repo-user", "--src-password-stdin", "--dest-username", dst.username, "--dest-password", dst.password], { stdin: "Repo-Pass-77" });
      expect(ok.stderr).not.toContain("Repo-Pass-77");
      if (ok.code !== 0) console.error(ok.stderr);
      expect(ok.code).toBe(0);
      expect(repo.requests.some((q) => q.authorized)).toBe(true);
    } finally {
      await repo.stop();
    }
  });

  test("--help of the transfer commands documents which credential goes where", async () => {
    for (const cmd of ["copy", "sync", "push", "export", "verify"]) {
      const r = await mirror([cmd, "--help"]);
      expect(r.stdout).toContain("CREDENTIALS");
      expect(r.stdout).toMatch(/--src-username/);
    }
  });
});

describe("a refused or unreachable destination is one error, at once (11.2)", () => {
  test("wrong password against 8 images: one error line, exit 1, the password tried once or twice (not per image, no retries), nothing pushed", async () => {
    const refusals = () => (dst.logs().match(/error authenticating user/g) ?? []).length;
    const before = refusals();
    const r = await mirror(["copy", "--from-file", pairs, ...cas(), "--dest-username", dst.username, "--dest-password-stdin"], { stdin: "not-the-password\n" });
    expect(r.code).toBe(1);
    const lines = errorLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^error: authentication to ${dst.host.replace(/\./g, "\\.")} failed: username or password rejected`));
    expect(r.stdout).toBe("");
    // the registry's own log counts the refused attempts (a wall-clock bound failed under CI load at 2.7 s)
    const tried = refusals() - before;
    expect(tried).toBeGreaterThanOrEqual(1);
    expect(tried).toBeLessThanOrEqual(2);
  });

  test("unreachable destination: one error line, exit 1, under 2 s (no retry storm)", async () => {
    const port = await freePort();
    const list = join(tmp, "pairs-down.txt");
    writeFileSync(list, Array.from({ length: N }, (_, i) => `${src.host}/library/app${i}:v1 127.0.0.1:${port}/m/app${i}:v1`).join("\n"));
    const t0 = Date.now();
    const r = await mirror(["copy", "--from-file", list, ...cas()]);
    const ms = Date.now() - t0;
    expect(r.code).toBe(1);
    const lines = errorLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`cannot connect to 127.0.0.1:${port}`);
    expect(ms).toBeLessThan(2000);
  });

  test("verify against a destination with a wrong password: one error line, not one row per image", async () => {
    const imgs = Array.from({ length: N }, (_, i) => ["--image", `${src.host}/library/app${i}:v1`]).flat();
    const r = await mirror(["verify", ...imgs, "--dest", `${dst.host}/mirror`, ...cas(), "--dest-username", dst.username, "--dest-password-stdin"], { stdin: "wrong-password-9\n" });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const lines = errorLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: authentication to .* failed: username or password rejected/);
  });

  test("sync into a destination with a wrong password: one error line, no chart or image tagged", async () => {
    const r = await mirror(["sync", "--image", `${src.host}/library/app3:v1`, "--image", `${src.host}/library/app4:v1`, "--dest-registry", `${dst.host}/wrongpw`, ...cas(), "--dest-username", dst.username, "--dest-password-stdin"], { stdin: "nope-nope\n" });
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(errorLines(r.stderr)[0]).toMatch(/rejected/);
  });
});

describe("smaller CLI points (11.3, 11.10)", () => {
  test("--dest-insecure skips TLS verification for the destination only", async () => {
    const ok = await mirror(["copy", `${src.host}/library/app5:v1`, `${dst.host}/insecure/app5:v1`, "--ca-file", `${src.host}=${src.caFile}`, "--dest-insecure", "-u", dst.username, "--password-stdin"], { stdin: dst.password });
    expect(ok.stderr).not.toMatch(/error|warning/);
    expect(ok.code).toBe(0);
    // the source is not covered by --dest-insecure: without its CA it fails verification
    const bad = await mirror(["copy", `${src.host}/library/app5:v1`, `${dst.host}/insecure/app5b:v1`, "--dest-insecure", "-u", dst.username, "--password-stdin"], { stdin: dst.password });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`TLS error talking to ${src.host}`);
    expect(bad.stderr).toContain(`--ca-file ${src.host}=`);
    expect(bad.stderr).toContain(`--insecure-host ${src.host}`);
  });

  test("help lists long aliases with two dashes; single-dash long spellings are unknown flags", async () => {
    const h = await mirror(["sync", "--help"]);
    expect(h.stdout).toContain("--dest-registry, --dest");
    expect(h.stdout).not.toMatch(/(^|[\s,])-dest-registry/m);
    const r = await mirror(["sync", "--image", "a/b:1", "-dest-registry", dst.host]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`error: unknown flag -dest-registry for "kubectl mirror sync" (long flags take two dashes: --dest-registry)`);
  });

  test("an HTTP-only registry: the hint names --plain-http-host HOST", async () => {
    const r = await mirror(["copy", `${src.host}/library/app6:v1`, `${plain.host}/p/app6:v1`, "--ca-file", `${src.host}=${src.caFile}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`--plain-http-host ${plain.host}`);
  });

  test("export's DESTINATION column says where each item goes, not the source again", async () => {
    const img = `${src.host}/library/app0:v1`;
    const out = join(tmp, "exp.tar");
    const r = await mirror(["export", "--image", img, "-O", out, "--ca-file", `${src.host}=${src.caFile}`]);
    expect(r.code).toBe(0);
    const row = r.stdout.split("\n").find((l) => l.includes(img))!;
    expect(row.split(/\s+/).filter((c) => c === img)).toHaveLength(1);
    expect(row).toContain("exp.tar");
    const p = await mirror(["export", "--image", img, "-O", join(tmp, "exp2.tar"), "--dest", "zot.local:30003/spectro-content", "--ca-file", `${src.host}=${src.caFile}`]);
    expect(p.stdout.split("\n").find((l) => l.includes(img))).toContain("zot.local:30003/spectro-content/images/library/app0:v1");
  });

  test("a failed login does not suggest running login", async () => {
    const r = await mirror(["login", dst.host, "-u", dst.username, "--password-stdin", "--ca-file", dst.caFile!], { stdin: "wrong-password-123" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/login to .* failed/);
    expect(r.stderr).not.toMatch(/mirror login/);
    const ok = await mirror(["login", dst.host, "-u", dst.username, "--password-stdin", "--ca-file", dst.caFile!, "--registry-config", join(tmp, "login.json")], { stdin: dst.password });
    expect(ok.code).toBe(0);
  });
});

describe("PaletteAI Zot: mural-variables values after sync/push (11.9)", () => {
  test("the values derive from the destination as the seed says (10.10.233.0:30003 → 10-10-233-0-30003-pull-secret)", () => {
    expect(muralVariables("10.10.233.0:30003/spectro-content")).toEqual({ "internal-zot-url": "10.10.233.0:30003", "zot-auth-secret": "10-10-233-0-30003-pull-secret", "zot-cert-secret": "zot-ca" });
  });

  test("sync --zot prints them after the table, and -o json includes them", async () => {
    const args = ["sync", "--image", `${src.host}/library/app7:v1`, "--dest-registry", `${dst.host}/spectro-content`, ...cas(), "--dest-username", dst.username, "--dest-password-stdin", "--zot"];
    const human = await mirror(args, { stdin: dst.password });
    expect(human.code).toBe(0);
    const [h, p] = dst.host.split(":");
    expect(human.stdout).toContain("MURAL-VARIABLES");
    expect(human.stdout).toContain(`internal-zot-url  ${dst.host}`);
    expect(human.stdout).toContain(`zot-auth-secret   ${h!.replace(/\./g, "-")}-${p}-pull-secret`);
    expect(human.stdout).toContain("zot-cert-secret   zot-ca");
    const json = await mirror([...args, "-o", "json"], { stdin: dst.password });
    expect(JSON.parse(json.stdout).muralVariables).toEqual({ "internal-zot-url": dst.host, "zot-auth-secret": `${h!.replace(/\./g, "-")}-${p}-pull-secret`, "zot-cert-secret": "zot-ca" });
  });

  test("found without --zot when the registry announces Zot; absent for other registries", async () => {
    const proxy = await startFaultProxy(plain.url);
    try {
      proxy.setRules([{ method: "GET", path: /\/v2\/_zot\/ext\/discover/, fault: "status", status: 200, times: Infinity }]);
      const z = await mirror(["sync", "--image", `${src.host}/library/app7:v1`, "--dest", proxy.host, "--plain-http-host", proxy.host, "--ca-file", `${src.host}=${src.caFile}`, "-o", "json"]);
      expect(z.code).toBe(0);
      expect(JSON.parse(z.stdout).muralVariables?.["internal-zot-url"]).toBe(proxy.host);
      const other = await mirror(["sync", "--image", `${src.host}/library/app7:v1`, "--dest", plain.host, "--plain-http-host", plain.host, "--ca-file", `${src.host}=${src.caFile}`, "-o", "json"]);
      expect(other.code).toBe(0);
      expect(JSON.parse(other.stdout).muralVariables).toBeUndefined();
    } finally {
      await proxy.stop();
    }
  });
});
