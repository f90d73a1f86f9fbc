// Pushing to ChartMuseum-compatible repos with the real CLI, then reading back with real Helm 3.17 / 4.1.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:http";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { uploadChart, chartExists, deleteChart, ChartExistsError, ChartRepoAuthError } from "../../shared/chartmuseum/client.ts";
import { startChartMuseum, type ChartMuseumServer } from "../support/chartmuseum.ts";
import { createCA, type TestCA } from "../support/pki.ts";
import { freePort } from "../support/ports.ts";
import { prepareChart } from "../../plugins/helm-addon-push/lib/package.ts";
import { makeAddon, makeChart, tempDir } from "./fixtures.ts";
import { cli, HELM, helmEnv, run } from "./helpers.ts";

const PASSWORD = "s3cret-Pa55word";
let root: string;
let env: Record<string, string>;
let plain: ChartMuseumServer; // no auth, root repo
let ctxAuth: ChartMuseumServer; // context path /helm/v1 + basic auth
let tenants: ChartMuseumServer; // depth 1
let mtls: ChartMuseumServer; // HTTPS with client certificates
let ca: TestCA;
let client: { cert: string; key: string };
let addon: string;
let chart: string;

beforeAll(async () => {
  root = tempDir("ka-cm-");
  env = helmEnv(join(root, "helm"));
  ca = createCA(tempDir("ka-pki-"));
  const server = ca.server("cm");
  client = ca.client("pusher");
  [plain, ctxAuth, tenants, mtls] = await Promise.all([
    startChartMuseum(),
    startChartMuseum({ contextPath: "/helm/v1", basicAuth: { username: "admin", password: PASSWORD } }),
    startChartMuseum({ depth: 1 }),
    startChartMuseum({ tls: { cert: server.cert, key: server.key, clientCA: ca.cert } }),
  ]);
  addon = makeAddon(join(root, "src"));
  chart = makeChart(join(root, "src"));
});

afterAll(async () => {
  await Promise.all([plain, ctxAuth, tenants, mtls].map((s) => s?.stop()));
  rmSync(root, { recursive: true, force: true });
  if (ca) rmSync(ca.dir, { recursive: true, force: true });
});

function oneErrorLine(r: { code: number; stderr: string }): string {
  expect(r.code).not.toBe(0);
  // the warning about -p on the command line is expected (see the test below); nothing else besides the error
  const lines = r.stderr.trim().split("\n").filter((l) => !/a password on the command line \(--password\) is visible to other users/.test(l));
  expect(lines.length).toBe(1);
  expect(lines[0]).toMatch(/^error: /);
  return lines[0]!;
}

describe("push to ChartMuseum, pull with real helm", () => {
  test("context path from index.yaml, basic auth, multipart `chart`; helm 3 and 4 pull it back", async () => {
    const r = await cli([addon, ctxAuth.url, "-u", "admin", "-p", PASSWORD], { env });
    expect(r.stderr.split("\n").filter((l) => l && !/visible to other users/.test(l))).toEqual([]); // only the -p warning
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Pushing fluxcd-1.2.0.tgz to ${ctxAuth.url}... Done.\n`);
    const post = ctxAuth.requests.find((q) => q.method === "POST")!;
    expect(post.path).toBe("/helm/v1/api/charts");
    expect(post.contentType).toMatch(/^multipart\/form-data; boundary=/);
    expect(post.query).toBe("");
    const stored = ctxAuth.get("fluxcd", "1.2.0")!;
    expect(stored.metadata.type).toBe("library");

    for (const [i, helm] of [HELM.helm3, HELM.helm4].entries()) {
      const name = `cm${i}`;
      const add = await run(helm, ["repo", "add", name, ctxAuth.url, "--username", "admin", "--password", PASSWORD], { env });
      expect(add.code).toBe(0);
      const dest = join(root, `pulled-${i}`);
      mkdirSync(dest, { recursive: true });
      const pull = await run(helm, ["pull", `${name}/fluxcd`, "--version", "1.2.0", "-d", dest], { env });
      expect(pull.stderr).toBe("");
      expect(pull.code).toBe(0);
      const got = readFileSync(join(dest, "fluxcd-1.2.0.tgz"));
      expect(Buffer.from(stored.tgz).equals(got)).toBe(true);
      const show = await run(helm, ["show", "chart", join(dest, "fluxcd-1.2.0.tgz")], { env });
      const meta = parseYaml(show.stdout);
      expect(meta).toMatchObject({ apiVersion: "v2", name: "fluxcd", version: "1.2.0", appVersion: "1.2.0", home: "https://fluxcd.io", type: "library" });
      expect(meta.annotations).toEqual({ "addon.name": "fluxcd", "system.kubernetes": ">=1.19", "system.vela": ">=1.5.0-beta.3" });
      expect(meta.keywords).toEqual(["extended_workload", "gitops", "only_example"]);
    }
  });

  test("repo name from repositories.yaml: its credentials, Helm's cached index for the context path", async () => {
    const add = await run(HELM.helm3, ["repo", "add", "named", ctxAuth.url, "--username", "admin", "--password", PASSWORD], { env });
    expect(add.code).toBe(0);
    const gets = () => ctxAuth.requests.filter((q) => q.method === "GET" && q.path.endsWith("/index.yaml")).length;
    const before = gets();
    const r = await cli([chart, "named"], { env });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("Pushing web-0.3.1.tgz to named... Done.\n");
    expect(gets()).toBe(before); // context path came from $HELM_REPOSITORY_CACHE/named-index.yaml
    expect(ctxAuth.get("web", "0.3.1")).toBeDefined();
  });

  test("HELM_REPO_USERNAME/PASSWORD; wrong password → one line, no secret in output (even with --debug)", async () => {
    const ok = await cli([chart, ctxAuth.url, "--version", "0.3.2"], { env: { ...env, HELM_REPO_USERNAME: "admin", HELM_REPO_PASSWORD: PASSWORD } });
    expect(ok.code).toBe(0);
    expect(ctxAuth.get("web", "0.3.2")).toBeDefined();
    const bad = await cli([chart, ctxAuth.url, "-u", "admin", "-p", "wrong-password-123"], { env });
    const line = oneErrorLine(bad);
    expect(line).toMatch(/401/);
    expect(line).toMatch(/--username\/--password/);
    const dbg = await cli([chart, ctxAuth.url, "-u", "admin", "-p", "wrong-password-123", "--debug"], { env });
    expect(dbg.code).not.toBe(0);
    expect(dbg.stderr + dbg.stdout).not.toContain("wrong-password-123");
  });

  test("-p PASSWORD warns once that it is visible to other users, never echoing it; no warning without -p", async () => {
    const r = await cli([chart, ctxAuth.url, "-u", "admin", "-p", PASSWORD, "--version", "0.3.7"], { env });
    expect(r.code).toBe(0);
    expect(ctxAuth.get("web", "0.3.7")).toBeDefined();
    expect(r.stderr.match(/visible to other users/g)?.length).toBe(1);
    expect(r.stderr).toContain("--password-stdin");
    expect(r.stderr + r.stdout).not.toContain(PASSWORD);
    const quiet = await cli([chart, ctxAuth.url, "--version", "0.3.8"], { env: { ...env, HELM_REPO_USERNAME: "admin", HELM_REPO_PASSWORD: PASSWORD } });
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).not.toContain("visible to other users");
  });

  test("409 → already exists hint; --skip-existing succeeds; --force overwrites with ?force", async () => {
    const first = await cli([chart, plain.url, "--version", "1.0.0"], { env });
    expect(first.code).toBe(0);
    const again = await cli([chart, plain.url, "--version", "1.0.0"], { env });
    expect(oneErrorLine(again)).toContain("web-1.0.0.tgz already exists in " + plain.url + " — use --force or --skip-existing");
    const skip = await cli([chart, plain.url, "--version", "1.0.0", "--skip-existing"], { env });
    expect(skip.code).toBe(0);
    expect(skip.stdout).toContain("Skipped (already exists)");
    const digestBefore = plain.get("web", "1.0.0")!.digest;
    const forced = await cli([chart, plain.url, "--version", "1.0.0", "--app-version", "changed", "-f"], { env });
    expect(forced.code).toBe(0);
    expect(plain.requests.at(-1)!.query).toBe("?force");
    expect(plain.get("web", "1.0.0")!.digest).not.toBe(digestBefore);
    expect(plain.get("web", "1.0.0")!.metadata.appVersion).toBe("changed");
    const both = await cli([chart, plain.url, "-f", "--skip-existing"], { env });
    expect(oneErrorLine(both)).toContain("--force and --skip-existing");
  });

  test("a .tgz with <tgz>.prov uploads both (multipart chart + prov)", async () => {
    const out = join(root, "prov");
    const p = await prepareChart(makeChart(join(root, "provsrc"), "signed", "0.0.1"), out);
    const prov = `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\napiVersion: v2\nname: signed\nversion: 0.0.1\n\n...\nfiles:\n  signed-0.0.1.tgz: sha256:abc\n-----BEGIN PGP SIGNATURE-----\n\nxx\n-----END PGP SIGNATURE-----\n`;
    writeFileSync(`${p.file}.prov`, prov);
    const r = await cli([p.file, plain.url], { env });
    expect(r.code).toBe(0);
    const stored = plain.get("signed", "0.0.1")!;
    expect(new TextDecoder().decode(stored.prov)).toBe(prov);
    expect(Buffer.from(stored.tgz).equals(readFileSync(p.file))).toBe(true);
  });

  test("one level of multitenancy: URL path → /api/<repo>/charts; helm pulls from /<repo>", async () => {
    const r = await cli([addon, `${tenants.url}/org1`], { env });
    expect(r.code).toBe(0);
    expect(tenants.requests.find((q) => q.method === "POST")!.path).toBe("/api/org1/charts");
    expect(tenants.get("fluxcd", "1.2.0", "org1")).toBeDefined();
    expect(tenants.get("fluxcd", "1.2.0", "org2")).toBeUndefined();
    const add = await run(HELM.helm4, ["repo", "add", "org1", `${tenants.url}/org1`], { env });
    expect(add.code).toBe(0);
    const dest = join(root, "tenant-pull");
    mkdirSync(dest, { recursive: true });
    const pull = await run(HELM.helm4, ["pull", "org1/fluxcd", "-d", dest], { env });
    expect(pull.code).toBe(0);
    expect(readdirSync(dest)).toEqual(["fluxcd-1.2.0.tgz"]);
  });

  test("--context-path flag and --access-token / --auth-header", async () => {
    const r = await cli([chart, plain.url, "--context-path", "/", "--version", "3.0.0", "--access-token", "tok-abcdef"], { env });
    expect(r.code).toBe(0);
    const post = plain.requests.filter((q) => q.method === "POST").at(-1)!;
    expect(post.authorization).toBe("Bearer tok-abcdef");
    const h = await cli([chart, plain.url, "--version", "3.0.1", "--access-token", "tok-abcdef", "--auth-header", "x-token"], { env });
    expect(h.code).toBe(0);
    expect(plain.requests.filter((q) => q.method === "POST").at(-1)!.authorization).toBeUndefined();
  });

  test("--dry-run packages but uploads nothing", async () => {
    const posts = plain.requests.filter((q) => q.method === "POST").length;
    const r = await cli([addon, plain.url, "--version", "8.8.8", "--dry-run"], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("fluxcd-8.8.8.tgz");
    expect(plain.requests.filter((q) => q.method === "POST").length).toBe(posts);
    expect(plain.get("fluxcd", "8.8.8")).toBeUndefined();
  });
});

describe("TLS", () => {
  test("caFile/certFile/keyFile from repositories.yaml are used (mutual TLS)", async () => {
    const add = await run(HELM.helm3, ["repo", "add", "secure", mtls.url, "--ca-file", ca.cert, "--cert-file", client.cert, "--key-file", client.key], { env });
    expect(add.code).toBe(0);
    const r = await cli([addon, "secure"], { env });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("Pushing fluxcd-1.2.0.tgz to secure... Done.\n");
    expect(mtls.get("fluxcd", "1.2.0")).toBeDefined();
  });

  test("flags work too; without the CA → one clear TLS line", async () => {
    const r = await cli([chart, mtls.url, "--ca-file", ca.cert, "--cert-file", client.cert, "--key-file", client.key], { env });
    expect(r.code).toBe(0);
    const bad = await cli([chart, mtls.url, "--version", "9.9.9"], { env });
    expect(oneErrorLine(bad)).toMatch(/TLS error talking to https:\/\/127\.0\.0\.1:\d+.*--ca-file/);
  });

  test("insecure_skip_tls_verify from repositories.yaml", async () => {
    const add = await run(HELM.helm4, ["repo", "add", "skipverify", mtls.url, "--insecure-skip-tls-verify", "--cert-file", client.cert, "--key-file", client.key], { env });
    expect(add.code).toBe(0);
    const r = await cli([chart, "skipverify", "--version", "0.9.0"], { env });
    expect(r.stderr).toBe("");
    expect(mtls.get("web", "0.9.0")).toBeDefined();
  });
});

describe("many sources at once", () => {
  test("concurrent pushes, a line each, non-zero exit when one fails", async () => {
    const src = join(root, "batch");
    const a = makeAddon(src, "alpha", { version: "0.1.0" });
    const b = makeAddon(src, "beta", { version: "0.2.0" });
    const c = makeChart(src, "gamma", "0.3.0");
    const bad = makeAddon(src, "broken", { metadata: "name: broken\nversion: nope\n" });
    const r = await cli([a, b, c, bad, tenants.url + "/batch", "--concurrency", "3"], { env });
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split("\n").sort();
    const url = `${tenants.url}/batch`;
    expect(lines).toEqual([`Pushing alpha-0.1.0.tgz to ${url}... Done.`, `Pushing beta-0.2.0.tgz to ${url}... Done.`, `Pushing gamma-0.3.0.tgz to ${url}... Done.`]);
    expect(r.stderr).toContain('version "nope" in metadata.yaml is not valid semver');
    expect(r.stderr.trim().split("\n").at(-1)).toBe(`error: 1 of 4 pushes to ${url} failed`);
    expect(tenants.charts("batch").map((x) => x.name).sort()).toEqual(["alpha", "beta", "gamma"]);
  });
});

describe("bad input → one clear line, non-zero exit", () => {
  test("not an addon dir", async () => {
    const r = await cli([join(root, "src"), plain.url], { env });
    expect(oneErrorLine(r)).toContain("is not an addon dir or a chart dir");
  });
  test("unreachable repo", async () => {
    const port = await freePort();
    const r = await cli([addon, `http://127.0.0.1:${port}`], { env });
    expect(oneErrorLine(r)).toContain(`cannot reach http://127.0.0.1:${port}: connection refused`);
  });
  test("unknown repo name", async () => {
    const r = await cli([addon, "nosuchrepo"], { env });
    expect(oneErrorLine(r)).toContain('no repo named "nosuchrepo" found');
  });
  test("missing REPO", async () => {
    const r = await cli([addon], { env });
    expect(oneErrorLine(r)).toContain("needs at least 2 arguments");
  });
  test("a proxy's HTML error page is shown briefly", async () => {
    const srv: Server = createServer((req, res) => {
      res.writeHead(req.method === "POST" ? 502 : 404, { "content-type": "text/html" });
      res.end(`<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center>${" ".repeat(5000)}</body></html>`);
    });
    const port = await freePort();
    await new Promise<void>((r) => srv.listen(port, "127.0.0.1", () => r()));
    try {
      const r = await cli([chart, `http://127.0.0.1:${port}`], { env });
      const line = oneErrorLine(r);
      expect(line).toContain("502: 502 Bad Gateway 502 Bad Gateway nginx");
      expect(line.length).toBeLessThan(300);
    } finally {
      srv.close();
    }
  });
});

describe("shared client API (used by violet)", () => {
  test("uploadChart / chartExists / deleteChart and typed errors", async () => {
    const p = await prepareChart(makeChart(join(root, "api"), "apichart", "1.0.0"), join(root, "api-out"));
    const repo = { url: ctxAuth.url, name: "ctx" };
    const auth = { username: "admin", password: PASSWORD };
    expect(await chartExists(repo, "apichart", "1.0.0", { auth })).toBe(false);
    const res = await uploadChart(repo, p.file, { auth });
    expect(res).toMatchObject({ status: "pushed", prov: false });
    expect(res.url).toBe(`${ctxAuth.url}/api/charts`);
    expect(await chartExists(repo, "apichart", "1.0.0", { auth })).toBe(true);
    await expect(uploadChart(repo, p.file, { auth })).rejects.toBeInstanceOf(ChartExistsError);
    expect((await uploadChart(repo, p.file, { auth, skipExisting: true })).status).toBe("skipped");
    await expect(uploadChart(repo, p.file, { auth: { username: "admin", password: "nope-nope" } })).rejects.toBeInstanceOf(ChartRepoAuthError);
    expect(await deleteChart(repo, "apichart", "1.0.0", { auth })).toBe(true);
    expect(await deleteChart(repo, "apichart", "1.0.0", { auth })).toBe(false);
    // credentials in the URL work and never show up in messages
    const u = new URL(ctxAuth.url);
    const withCreds = `http://admin:${PASSWORD}@${u.host}${u.pathname}`;
    expect((await uploadChart({ url: withCreds }, p.file)).url).not.toContain(PASSWORD);
  });
});

describe("vela's --use-http", () => {
  test("cm://HOST with --use-http pushes over http:// (as `vela addon push DIR cm://… --use-http` does); without it https:// is tried", async () => {
    const repo = `cm://127.0.0.1:${plain.port}`;
    const a = makeAddon(tempDir("ka-usehttp-"), "usehttp", { version: "0.0.1" });
    const ok = await cli([a, repo, "--use-http"], { env });
    if (ok.code !== 0) console.error(ok.stderr);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`Pushing usehttp-0.0.1.tgz to http://127.0.0.1:${plain.port}... Done.`);
    expect(plain.get("usehttp", "0.0.1")).toBeDefined();
    const tls = await cli([a, repo, "-f"], { env });
    expect(tls.code).not.toBe(0);
    expect(tls.stderr).toContain(`https://127.0.0.1:${plain.port}`);
    // HELM_REPO_USE_HTTP (vela's and cm-push's environment spelling) does the same
    const envRun = await cli([a, repo, "-f"], { env: { ...env, HELM_REPO_USE_HTTP: "true" } });
    expect(envRun.code).toBe(0);
  });
});

// The stand-in is as strict as ChartMuseum: every upload goes through (a re-reading of) Helm's LoadArchive and
// Metadata.Validate; --bearer-auth checks the token's access claims; /api/prov reads the provenance like ChartMuseum.
describe("the ChartMuseum stand-in refuses what ChartMuseum refuses", () => {
  function tgz(files: Record<string, string>): Buffer {
    const d = tempDir("ka-cmstrict-");
    for (const [rel, text] of Object.entries(files)) {
      mkdirSync(join(d, rel, ".."), { recursive: true });
      writeFileSync(join(d, rel), text);
    }
    return execFileSync("tar", ["-czf", "-", "-C", d, ...Object.keys(files)]);
  }
  const post = (url: string, body: Buffer, headers: Record<string, string> = {}) => fetch(url, { method: "POST", body: new Uint8Array(body), headers });
  test("Helm's loader and validation messages, with ChartMuseum's status codes", async () => {
    const api = `${plain.url}/api/charts`;
    const cases: [Record<string, string>, RegExp][] = [
      // Helm checks the base directory before the name: a top-level Chart.yaml is "outside the base directory"
      [{ "Chart.yaml": "apiVersion: v2\nname: a\nversion: 1.0.0\n" }, /chart illegally contains content outside the base directory: "Chart\.yaml"/],
      [{ "a/values.yaml": "x: 1\n" }, /Chart\.yaml file is missing/],
      [{ "a/Chart.yaml": "apiVersion: v2\nname: a\nversion: 1.10\n" }, /cannot unmarshal number into Go struct field Metadata\.version of type string/],
      [{ "a/Chart.yaml": "apiVersion: v2\nname: a\nversion: v1beta2-1.3.8-3.1.1\n" }, /validation: chart\.metadata\.version "v1beta2-1\.3\.8-3\.1\.1" is invalid/],
      [{ "a/Chart.yaml": "apiVersion: v2\nname: a\nversion: 1.0.0-01\n" }, /validation: chart\.metadata\.version "1\.0\.0-01" is invalid/],
      [{ "a/Chart.yaml": "apiVersion: v2\nname: a\nversion: 1.0.0\ntype: app\n" }, /validation: chart\.metadata\.type must be application or library/],
      [{ "a/Chart.yaml": "apiVersion: v2\nversion: 1.0.0\n" }, /validation: chart\.metadata\.name is required/],
      [{ "a/Chart.yaml": "apiVersion: v2\nname: a\nversion: 1.0.0\n", "a/values.yaml": "x: [1\n" }, /cannot load values\.yaml/],
    ];
    for (const [files, re] of cases) {
      const r = await post(api, tgz(files));
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: string }).error).toMatch(re);
    }
    expect((await post(api, Buffer.from("not gzip"))).status).toBe(400);
    // no apiVersion: Helm's loader assumes v1 (Helm 2 charts), so ChartMuseum takes it
    expect((await post(api, tgz({ "legacy/Chart.yaml": "name: legacy\nversion: 0.1.0\n" }))).status).toBe(201);
    // /api/prov: a PGP signed message naming the chart; anything else is ChartMuseum's 500 "invalid provenance file"
    const bad = await post(`${plain.url}/api/prov`, Buffer.from("name: legacy\nversion: 0.1.0\n"));
    expect([bad.status, ((await bad.json()) as { error: string }).error]).toEqual([500, "invalid provenance file"]);
    const prov = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\napiVersion: v1\nname: legacy\nversion: 0.1.0\n...\nfiles:\n  legacy-0.1.0.tgz: sha256:00\n-----BEGIN PGP SIGNATURE-----\n\nx\n-----END PGP SIGNATURE-----\n";
    expect((await post(`${plain.url}/api/prov`, Buffer.from(prov))).status).toBe(201);
    expect((await post(`${plain.url}/api/prov`, Buffer.from(prov))).status).toBe(409);
    expect(plain.get("legacy", "0.1.0")?.prov).toBeDefined();
  });

  test("--bearer-auth: a signed token with push on the tenant; anything else is 401 with the Bearer challenge", async () => {
    const { generateKeyPairSync } = await import("node:crypto");
    const { chartMuseumBearerToken } = await import("../support/chartmuseum.ts");
    const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = (k: typeof keys.privateKey) => k.export({ type: "pkcs8", format: "pem" }).toString();
    const cm = await startChartMuseum({ depth: 1, bearerAuth: { publicKeyPem: keys.publicKey.export({ type: "spki", format: "pem" }).toString(), realm: "https://auth.example/token", service: "cm" } });
    try {
      const body = tgz({ "b/Chart.yaml": "apiVersion: v2\nname: b\nversion: 1.0.0\n" });
      const url = `${cm.url}/api/team/charts`;
      const tries: [string | undefined, number][] = [
        [undefined, 401],
        [chartMuseumBearerToken(pem(keys.privateKey), [{ name: "team", actions: ["pull"] }]), 401],
        [chartMuseumBearerToken(pem(keys.privateKey), [{ name: "other", actions: ["push"] }]), 401],
        [chartMuseumBearerToken(pem(other.privateKey), [{ name: "team", actions: ["push"] }]), 401],
        [chartMuseumBearerToken(pem(keys.privateKey), [{ name: "team", actions: ["push"] }], { expiresIn: -60 }), 401],
        [chartMuseumBearerToken(pem(keys.privateKey), [{ name: "team", actions: ["push"] }]), 201],
      ];
      for (const [token, status] of tries) {
        const r = await post(url, body, token ? { authorization: `Bearer ${token}` } : {});
        expect(r.status).toBe(status);
        if (status === 401) expect(r.headers.get("www-authenticate")).toBe('Bearer realm="https://auth.example/token",service="cm",scope="artifact-repository:team:push"');
      }
      // the real CLI with --access-token (cm-push's and vela's flag) against it
      const a = makeAddon(tempDir("ka-bearer-"), "bearer", { version: "0.2.0" });
      const token = chartMuseumBearerToken(pem(keys.privateKey), [{ name: "team", actions: ["pull", "push"] }]);
      const r = await cli([a, `${cm.url}/team`, "--access-token", token], { env });
      expect(r.code).toBe(0);
      expect(r.stdout + r.stderr).not.toContain(token);
      expect(cm.get("bearer", "0.2.0", "team")).toBeDefined();
    } finally {
      await cm.stop();
    }
  });
});
