// Every HTTP path through a REAL proxy (Debian's squid, test/support/squid.ts) that requires Basic proxy
// credentials and is the only one able to resolve the `*.airgap.test` names, as in a network whose egress goes
// through a corporate proxy: registries (TLS with a private CA + htpasswd, reached through CONNECT tunnels),
// a chart repository (plain HTTP: absolute-form requests to the proxy), NO_PROXY, proxy credentials sent to the
// proxy only and masked everywhere, and kubectl's -v=6 tracing every registry request. Runs the CLI from source
// under bun and deno, and as a `bun build --compile` binary.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSquid, type Squid } from "../support/squid.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startChartRepo, type ChartRepo } from "../support/chart-repo.ts";
import { startChartMuseum, type ChartMuseumServer } from "../support/chartmuseum.ts";
import { createCA, type TestCA } from "../support/pki.ts";
import { BUN, HELM3, ROOT, runCli } from "../support/cli.ts";
import { pushArtifact } from "../../shared/oci/artifact.ts";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";
import { createTlsFetch } from "../../shared/runtime/tls-fetch.ts";

setDefaultTimeout(120_000);

const SRC = "registry.airgap.test";
const DST = "mirror.airgap.test";
const CHARTS = "charts.airgap.test";
const MUSEUM = "museum.airgap.test";
const PLAIN = "plain.airgap.test";
const PROXY_USER = "corp-user";
const PROXY_PASS = "Pr0xy:p@ss/w0rd";

let tmp: string;
let squid: Squid;
let src: TestRegistry;
let dst: TestRegistry;
let repo: ChartRepo;
let museum: ChartMuseumServer;
let museumCa: TestCA;
let digest: string;

const srcRef = (repoPath = "team/app:v1") => `${SRC}:${src.port}/${repoPath}`;
const dstRef = (repoPath = "mirror/app:v1") => `${DST}:${dst.port}/${repoPath}`;

/** both registries' credentials in a docker config.json, under the names only the proxy resolves */
function copyArgs(from: string, to: string): string[] {
  const cfg = join(tmp, "config.json");
  const auth = (r: TestRegistry) => ({ auth: Buffer.from(`${r.username}:${r.password}`).toString("base64") });
  writeFileSync(cfg, JSON.stringify({ auths: { [`${SRC}:${src.port}`]: auth(src), [`${DST}:${dst.port}`]: auth(dst) } }));
  return ["copy", from, to, "--ca-file", `${SRC}:${src.port}=${src.caFile}`, "--ca-file", `${DST}:${dst.port}=${dst.caFile}`, "--registry-config", cfg];
}

/** every spelling of a secret that must never show: as is, URL-encoded, inside Basic credentials */
function forms(user: string, pass: string): string[] {
  return [pass, encodeURIComponent(pass), Buffer.from(`${user}:${pass}`).toString("base64")];
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "ka-proxy-"));
  [squid, src, dst] = await Promise.all([
    startSquid({ hosts: { [SRC]: "127.0.0.1", [DST]: "127.0.0.1", [CHARTS]: "127.0.0.1", [MUSEUM]: "127.0.0.1" }, users: { [PROXY_USER]: PROXY_PASS } }),
    startRegistry({ serverNames: [SRC] }),
    startRegistry({ serverNames: [DST] }),
  ]);
  const spec = {
    config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux" })) },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", bytes: Buffer.alloc(300_000, 7) }],
  };
  // seeded directly (loopback is never proxied)
  digest = (await pushArtifact(`${src.host}/team/app:v1`, spec, { caFiles: [{ file: src.caFile! }], credentials: staticCredentials({ username: src.username, password: src.password }) })).digest;
  // a chart repository on plain HTTP, reachable by its name through the proxy only
  const chart = join(tmp, "app");
  mkdirSync(join(chart, "templates"), { recursive: true });
  writeFileSync(join(chart, "Chart.yaml"), "apiVersion: v2\nname: app\nversion: 1.0.0\n");
  writeFileSync(join(chart, "templates", "deploy.yaml"), "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers:\n      - name: app\n        image: quay.io/example/app:1.0.0\n");
  execFileSync(HELM3, ["package", chart, "--destination", tmp], { stdio: "pipe" });
  repo = await startChartRepo({ charts: [join(tmp, "app-1.0.0.tgz")], auth: { username: "repo-user", password: "Repo-S3cret-pw" } });
  museumCa = createCA(mkdtempSync(join(tmp, "pki-")));
  const cert = museumCa.server("museum", [MUSEUM]);
  museum = await startChartMuseum({ tls: { cert: cert.cert, key: cert.key }, basicAuth: { username: "admin", password: "Museum-S3cret-pw" } });
});

afterAll(async () => {
  await Promise.all([squid?.stop(), src?.stop(), dst?.stop(), repo?.stop(), museum?.stop()]);
  rmSync(tmp, { recursive: true, force: true });
});

const proxyEnv = (extra: Record<string, string> = {}) => ({ HTTPS_PROXY: squid.urlWith(PROXY_USER), HTTP_PROXY: squid.urlWith(PROXY_USER), ...extra });

function skopeoDigest(r: TestRegistry, repoPath: string): string {
  const raw = execFileSync("skopeo", ["inspect", "--raw", "--cert-dir", r.certDir!, "--creds", `${r.username}:${r.password}`, `docker://${r.host}/${repoPath}`]);
  return "sha256:" + require("node:crypto").createHash("sha256").update(raw).digest("hex");
}

describe("registries through the proxy (CONNECT, TLS with a private CA, htpasswd)", () => {
  test("the names resolve through the proxy only", async () => {
    const r = await runCli("kubectl-mirror", copyArgs(srcRef(), dstRef("mirror/direct:v1")), { env: { HTTPS_PROXY: "", https_proxy: "" } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/cannot resolve registry host (registry|mirror)\.airgap\.test:\d+/);
  });

  test("copy through the proxy with -v=6: every registry request traced, no secret anywhere", async () => {
    const before = squid.log().length;
    const r = await runCli("kubectl-mirror", [...copyArgs(srcRef(), dstRef()), "-v=6"], { env: proxyEnv() });
    expect(r.stderr).not.toContain("error:");
    expect(r.code).toBe(0);
    expect(skopeoDigest(dst, "mirror/app:v1")).toBe(digest);
    // the proxy carried both registries, as the user it authenticated
    const tunnels = squid.log().slice(before).filter((e) => e.method === "CONNECT");
    expect(tunnels.map((e) => e.url)).toEqual(expect.arrayContaining([`${SRC}:${src.port}`, `${DST}:${dst.port}`]));
    expect(tunnels.every((e) => e.user === PROXY_USER && /TCP_TUNNEL\/200/.test(e.status))).toBe(true);
    // -v=6: method, URL, proxy, status, duration of each registry request (reads, uploads, manifest)
    const via = `(via proxy ${squid.url})`;
    expect(r.stderr).toMatch(new RegExp(`http: GET https://${SRC.replace(/\./g, "\\.")}:${src.port}/v2/team/app/manifests/v1 \\(via proxy [^)]+\\) → 200 \\(\\d+ ms\\)`));
    expect(r.stderr).toMatch(/http: HEAD https:\/\/mirror\.airgap\.test:\d+\/v2\/mirror\/app\/blobs\/sha256:[0-9a-f]{64} \(via proxy [^)]+\) → (200|404)/);
    expect(r.stderr).toMatch(/http: PUT https:\/\/mirror\.airgap\.test:\d+\/v2\/mirror\/app\/manifests\/v1 \(via proxy [^)]+\) → 201/);
    expect(r.stderr).toMatch(/http: (POST|PUT|PATCH) https:\/\/mirror\.airgap\.test:\d+\/v2\/mirror\/app\/blobs\/uploads\//);
    expect(r.stderr).toContain(via);
    // upload locations carry distribution's _state token in the query: printed masked
    expect(r.stderr).not.toMatch(/_state=(?!\*\*\*)/);
    for (const secret of [...forms(PROXY_USER, PROXY_PASS), ...forms(src.username, src.password), ...forms(dst.username, dst.password)]) {
      expect(r.stdout + r.stderr).not.toContain(secret);
    }
  });

  test("wrong proxy credentials: one clear line naming the proxy (not its password), no retries", async () => {
    const bad = squid.url.replace("http://", `http://${PROXY_USER}:${encodeURIComponent("Wr0ng-Proxy-pw")}@`);
    const r = await runCli("kubectl-mirror", [...copyArgs(srcRef(), dstRef("mirror/bad:v1")), "--debug"], { env: { HTTPS_PROXY: bad } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`error: .*proxy ${squid.url} refused CONNECT to (registry|mirror)\\.airgap\\.test:\\d+: HTTP 407 Proxy Authentication Required \\(the proxy refused the USER:PASSWORD given in HTTPS_PROXY/HTTP_PROXY: check them`));
    // not retried: the first requests to a host (a tag copy sends the source's HEAD and its tag list together) each
    // meet one refused tunnel, then the host is given up; a retry would double these
    for (const host of [SRC, DST]) {
      const refused = r.stderr.split("\n").filter((l) => l.includes(`→ failed: proxy ${squid.url} refused CONNECT to ${host}`));
      expect(refused.length).toBeLessThanOrEqual(2);
      // …and no request went out twice (the trace line starts with its method and URL)
      const requests = refused.map((l) => /http: (\S+ \S+)/.exec(l)?.[1]);
      expect(new Set(requests).size).toBe(requests.length);
    }
    expect(r.stdout + r.stderr).not.toContain("Wr0ng-Proxy-pw");
    expect(r.stdout + r.stderr).not.toContain(Buffer.from(`${PROXY_USER}:Wr0ng-Proxy-pw`).toString("base64"));
    // no credentials at all: told where to put them
    const none = await runCli("kubectl-mirror", copyArgs(srcRef(), dstRef("mirror/bad:v1")), { env: { HTTPS_PROXY: squid.url } });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("HTTP 407 Proxy Authentication Required (the proxy wants credentials: put USER:PASSWORD@ before the proxy host");
  });

  test("NO_PROXY excludes a host (it is then reached directly); the other still goes through the proxy", async () => {
    const before = squid.log().length;
    // -v 4: debug logs, not the request lines (those start at 6)
    const r = await runCli("kubectl-mirror", [...copyArgs(srcRef(), dstRef("mirror/np:v1")), "-v", "4"], { env: proxyEnv({ NO_PROXY: `example.org,.airgap.test:${src.port}` }) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).not.toContain("http: ");
    expect(r.stderr).toContain(`cannot resolve registry host ${SRC}:${src.port}`);
    const tunnels = squid.log().slice(before).filter((e) => e.method === "CONNECT").map((e) => e.url);
    expect(tunnels).toContain(`${DST}:${dst.port}`);
    expect(tunnels).not.toContain(`${SRC}:${src.port}`);
  });

  test("deno run and a bun --compile binary go through the proxy too", async () => {
    const viaDeno = await runCli("kubectl-mirror", copyArgs(srcRef(), dstRef("mirror/deno:v1")), { env: proxyEnv(), runtime: "deno" });
    expect(viaDeno.stderr).toBe(viaDeno.code === 0 ? viaDeno.stderr : "<see above>");
    expect(viaDeno.code).toBe(0);
    expect(skopeoDigest(dst, "mirror/deno:v1")).toBe(digest);
    const bin = join(tmp, "kubectl-mirror");
    execFileSync(BUN, ["build", "--compile", join(ROOT, "plugins/kubectl-mirror/main.ts"), "--outfile", bin], { stdio: "pipe" });
    const out = execFileSync(bin, copyArgs(srcRef(), dstRef("mirror/compiled:v1")), { env: { ...process.env, ...proxyEnv(), NO_COLOR: "1" }, stdio: ["pipe", "pipe", "pipe"] });
    expect(out).toBeDefined();
    expect(skopeoDigest(dst, "mirror/compiled:v1")).toBe(digest);
  });
});

describe("a plain-HTTP registry through the proxy (absolute-form requests)", () => {
  test("copy to it with --plain-http-host; uploads and the manifest go through the proxy", async () => {
    const plain = await startRegistry({ auth: "none", tls: false });
    const proxy = await startSquid({ hosts: { [SRC]: "127.0.0.1", [PLAIN]: "127.0.0.1" } });
    try {
      const to = `${PLAIN}:${plain.port}/mirror/app:v1`;
      const r = await runCli("kubectl-mirror", [...copyArgs(srcRef(), to), "--plain-http-host", `${PLAIN}:${plain.port}`, "-v=6"], { env: { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url } });
      expect(r.stderr).toBe(r.code === 0 ? r.stderr : "<see above>");
      const raw = execFileSync("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${plain.host}/mirror/app:v1`]);
      expect("sha256:" + require("node:crypto").createHash("sha256").update(raw).digest("hex")).toBe(digest);
      const methods = proxy.log().filter((e) => e.url.startsWith(`http://${PLAIN}:${plain.port}/v2/`)).map((e) => e.method);
      expect(methods).toEqual(expect.arrayContaining(["HEAD", "POST", "PUT"]));
      expect(r.stderr).toMatch(/http: PUT http:\/\/plain\.airgap\.test:\d+\/v2\/mirror\/app\/manifests\/v1 \(via proxy [^)]+\) → 201/);
    } finally {
      await Promise.all([proxy.stop(), plain.stop()]);
    }
  });
});

describe("an https:// proxy (TLS to the proxy, then TLS to the registry inside the tunnel)", () => {
  test("copy through it; its CA from NODE_EXTRA_CA_CERTS, the registries' from --ca-file", async () => {
    const cert = museumCa.server("proxy");
    const tlsProxy = await startSquid({ hosts: { [SRC]: "127.0.0.1", [DST]: "127.0.0.1" }, users: { [PROXY_USER]: PROXY_PASS }, tls: { cert: cert.cert, key: cert.key } });
    try {
      const env = { HTTPS_PROXY: tlsProxy.urlWith(PROXY_USER), NODE_EXTRA_CA_CERTS: museumCa.cert };
      const r = await runCli("kubectl-mirror", [...copyArgs(srcRef(), dstRef("mirror/tls-proxy:v1")), "--debug"], { env });
      expect(r.stderr).toBe(r.code === 0 ? r.stderr : "<see above>");
      expect(skopeoDigest(dst, "mirror/tls-proxy:v1")).toBe(digest);
      expect(r.stderr).toContain(`(via proxy ${tlsProxy.url})`);
      for (const secret of forms(PROXY_USER, PROXY_PASS)) expect(r.stdout + r.stderr).not.toContain(secret);
      // without its CA the proxy is not trusted, and the error says it is the proxy
      const untrusted = await runCli("kubectl-mirror", copyArgs(srcRef(), dstRef("mirror/tls-proxy2:v1")), { env: { HTTPS_PROXY: tlsProxy.urlWith(PROXY_USER) } });
      expect(untrusted.code).toBe(1);
      expect(untrusted.stderr).toMatch(new RegExp(`cannot reach proxy ${tlsProxy.url} \\(for (registry|mirror)\\.airgap\\.test:\\d+\\): .*certificate`));
    } finally {
      await tlsProxy.stop();
    }
  });
});

describe("chart repositories through the proxy (plain HTTP: absolute-form)", () => {
  test("index and archive fetched via the proxy; proxy credentials never reach the repository", async () => {
    const before = squid.log().length;
    const url = `http://${CHARTS}:${repo.port}`;
    const r = await runCli("kubectl-mirror", ["images", "--repo-url", url, "--chart-url", "r/app", "--no-render", "-u", "repo-user", "--password-stdin", "-o", "json", "--debug"], { stdin: "Repo-S3cret-pw\n", env: proxyEnv() });
    expect(r.stderr).toBe(r.code === 0 ? r.stderr : "<see above>");
    expect(JSON.parse(r.stdout).images.map((i: { image: string }) => i.image)).toContain("quay.io/example/app:1.0.0");
    const gets = squid.log().slice(before).filter((e) => e.method === "GET").map((e) => e.url);
    expect(gets).toEqual(expect.arrayContaining([`${url}/index.yaml`, `${url}/app-1.0.0.tgz`]));
    for (const q of repo.requests) {
      expect(q.headers["proxy-authorization"]).toBeUndefined();
      expect(JSON.stringify(q.headers)).not.toContain(Buffer.from(`${PROXY_USER}:${PROXY_PASS}`).toString("base64"));
    }
    expect(r.stderr).toMatch(/http: GET http:\/\/charts\.airgap\.test:\d+\/index\.yaml \(via proxy [^)]+\) → 200/);
    for (const secret of [...forms(PROXY_USER, PROXY_PASS), ...forms("repo-user", "Repo-S3cret-pw")]) expect(r.stdout + r.stderr).not.toContain(secret);
  });

  test("loopback is never proxied and gets no Proxy-Authorization", async () => {
    const n = repo.requests.length;
    const before = squid.log().length;
    const r = await runCli("kubectl-mirror", ["images", "--repo-url", repo.url, "--chart-url", "r/app", "--no-render", "-u", "repo-user", "--password-stdin", "-o", "json"], { stdin: "Repo-S3cret-pw\n", env: proxyEnv() });
    expect(r.code).toBe(0);
    expect(repo.requests.length).toBeGreaterThan(n);
    expect(squid.log().length).toBe(before);
    for (const q of repo.requests.slice(n)) expect(q.headers["proxy-authorization"]).toBeUndefined();
  });
});

describe("ChartMuseum through the proxy (CONNECT: streamed upload and JSON API)", () => {
  test("helm addon-push --v=6 to an HTTPS ChartMuseum only the proxy reaches", async () => {
    const before = squid.log().length;
    const url = `https://${MUSEUM}:${museum.port}`;
    const r = await runCli("helm-addon-push", [join(tmp, "app-1.0.0.tgz"), url, "--ca-file", museumCa.cert, "-u", "admin", "--password-stdin", "--v=6"], { stdin: "Museum-S3cret-pw\n", env: proxyEnv() });
    expect(r.stderr).toBe(r.code === 0 ? r.stderr : "<see above>");
    expect(museum.get("app", "1.0.0")).toBeDefined();
    expect(squid.log().slice(before).filter((e) => e.method === "CONNECT").map((e) => e.url)).toContain(`${MUSEUM}:${museum.port}`);
    expect(r.stderr).toMatch(/http: POST https:\/\/museum\.airgap\.test:\d+\/api\/charts \(via proxy [^)]+\) → 201/);
    for (const secret of [...forms(PROXY_USER, PROXY_PASS), ...forms("admin", "Museum-S3cret-pw")]) expect(r.stdout + r.stderr).not.toContain(secret);
  });
});

describe("the JSON transports (Kubernetes, Palette, Dex, login, token realms, ChartMuseum's API): createTlsFetch", () => {
  test("Bun's fetch and the node:https path both follow the environment, with Go's NO_PROXY rules", async () => {
    const saved = { HTTPS_PROXY: process.env.HTTPS_PROXY, NO_PROXY: process.env.NO_PROXY };
    const url = `https://${MUSEUM}:${museum.port}/index.yaml`;
    const auth = `Basic ${Buffer.from("admin:Museum-S3cret-pw").toString("base64")}`;
    const f = createTlsFetch({ ca: museumCa.certPem });
    // a repeated header sends the request through node:https even under Bun (see tls-fetch.ts)
    const viaBun = () => f(url, { headers: { authorization: auth } });
    const viaNode = () => f(url, { headers: [["authorization", auth], ["x-probe", "1"], ["x-probe", "2"]] });
    try {
      process.env.HTTPS_PROXY = squid.urlWith(PROXY_USER);
      delete process.env.NO_PROXY;
      // the name resolves through the proxy only: an answer proves the tunnel (squid logs a CONNECT when it ends)
      expect((await viaBun()).status).toBe(200);
      expect((await viaNode()).status).toBe(200);
      // a CIDR or suffix entry sends it direct, where the name does not resolve
      process.env.NO_PROXY = "10.0.0.0/8,.airgap.test";
      await expect(viaBun()).rejects.toThrow();
      await expect(viaNode()).rejects.toThrow();
    } finally {
      for (const [k, v] of Object.entries(saved)) v === undefined ? delete process.env[k] : (process.env[k] = v);
    }
  });
});
