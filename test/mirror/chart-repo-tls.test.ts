// Issue 20.3/20.4: the registry TLS flags (--plain-http, --plain-http-host, --insecure*, --ca-file HOST=) are the
// registries', per host (as in skopeo/crane); an http(s):// chart repository keeps its URL's scheme, so its Basic
// credential never crosses the wire in clear. And a chart repository's 401 names the flags that set the chart
// source's credential, not the destination's.
//
// The chart repository is a TLS server with Basic auth reached through a recording TCP relay: every byte the client
// sends on the repository's port is kept, so a request downgraded to plain HTTP (today's defect: the whole GET with
// its Authorization header) shows up in the capture. A second plain TCP listener stands for the "other" registry
// named by --plain-http-host: nothing may reach it. (The repository's --ca-file comes last: the code before this
// fix used the last --ca-file for every host, so each test fails there for its own reason, not for the CA.)
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { runCli } from "../support/cli.ts";
import { startChartRepo, type ChartRepo } from "../support/chart-repo.ts";
import { HELM4, makeChart } from "../support/helm.ts";
import { createCA, type TestCA } from "../support/pki.ts";
import { freePort } from "../support/ports.ts";

setDefaultTimeout(120_000);

const USER = "repo-user";
const PASS = "Repo-Pass-Tls-91";
const BASIC = Buffer.from(`${USER}:${PASS}`).toString("base64");

interface Capture {
  port: number;
  /** bytes received from clients, per connection */
  chunks: Buffer[];
  bytes(): Buffer;
  stop(): Promise<void>;
}

/** A plain TCP listener that records what clients send; with `forward`, relays both ways to 127.0.0.1:forward. */
async function startCapture(forward?: number): Promise<Capture> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((c) => {
    sockets.add(c);
    c.on("close", () => sockets.delete(c));
    c.on("error", () => {});
    c.on("data", (d) => chunks.push(Buffer.from(d)));
    if (forward === undefined) return;
    const up = connect(forward, "127.0.0.1");
    sockets.add(up);
    up.on("error", () => c.destroy());
    c.on("error", () => up.destroy());
    c.pipe(up).pipe(c);
  });
  const port = await freePort();
  await new Promise<void>((res) => server.listen(port, "127.0.0.1", res));
  return {
    port,
    chunks,
    bytes: () => Buffer.concat(chunks),
    stop: () => new Promise<void>((res) => {
      for (const s of sockets) s.destroy();
      server.close(() => res());
    }),
  };
}

let tmp: string, ca: TestCA, repo: ChartRepo, relay: Capture, other: Capture, dst: TestRegistry, plainDst: TestRegistry;
let repoUrl: string;

const mirror = (args: string[], stdin?: string) =>
  runCli("kubectl-mirror", args, { stdin, env: { HOME: tmp, DOCKER_CONFIG: join(tmp, "docker"), HELM_REPOSITORY_CONFIG: join(tmp, "repositories.yaml"), REGISTRY_USERNAME: undefined, REGISTRY_PASSWORD: undefined, SSL_CERT_FILE: undefined } });

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "ka-chart-tls-"));
  ca = createCA(mkdtempSync(join(tmp, "pki-")));
  const tgz = await makeChart(join(tmp, "chart"), { name: "app", version: "1.0.0", helmBin: HELM4 });
  [repo, dst, plainDst] = await Promise.all([
    startChartRepo({ charts: [tgz], auth: { username: USER, password: PASS }, tls: ca.server("charts") }),
    startRegistry(),
    startRegistry({ auth: "none", tls: false }),
  ]);
  relay = await startCapture(repo.port);
  other = await startCapture();
  repoUrl = `https://127.0.0.1:${relay.port}`;
});

afterAll(async () => {
  await Promise.all([repo?.stop(), relay?.stop(), other?.stop(), dst?.stop(), plainDst?.stop()]);
  rmSync(tmp, { recursive: true, force: true });
});

/** Every byte sent on the repository's port was TLS (records start 0x16 handshake / 0x17 data…), none of it HTTP. */
function expectOnlyTls(from: number) {
  const conns = relay.chunks.slice(from);
  expect(conns.length).toBeGreaterThan(0);
  const all = Buffer.concat(conns);
  expect(all[0]).toBe(0x16);
  expect(all.includes("HTTP/1.1")).toBe(false);
  expect(all.includes(BASIC)).toBe(false);
  expect(all.includes(PASS)).toBe(false);
}

const repoFlags = () => ["--repo-url", repoUrl, "--chart-url", "r/app", "--chart-version", "1.0.0", "--helm", HELM4, "--ca-file", `127.0.0.1:${relay.port}=${ca.cert}`];

describe("TLS scope: registry flags never downgrade an https:// chart repository (20.3)", () => {
  test("--plain-http-host OTHER: the chart repository is fetched over TLS with its credential; OTHER receives nothing", async () => {
    const from = relay.chunks.length;
    const seen = repo.requests.length;
    const r = await mirror(["sync", "--ca-file", `${dst.host}=${dst.caFile}`, ...repoFlags(), "--dest", `${dst.host}/tls1`, "--plain-http-host", `127.0.0.1:${other.port}`,
      "--src-username", USER, "--src-password-stdin", "--dest-username", dst.username, "--dest-password", dst.password, "-o", "json"], PASS);
    expectOnlyTls(from); // before this fix: the capture held "GET /index.yaml HTTP/1.1 … Authorization: Basic …"
    if (r.code !== 0) console.error(r.stderr);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain(PASS);
    // the TLS server itself saw the authorized index and archive requests
    expect(repo.requests.slice(seen).filter((q) => q.authorized).map((q) => q.path)).toEqual(["/index.yaml", "/app-1.0.0.tgz"]);
    expect(other.bytes().length).toBe(0);
  });

  test("--plain-http (every registry plain): the destination is reached over HTTP, the https:// chart repository still over TLS", async () => {
    const from = relay.chunks.length;
    const seen = repo.requests.length;
    const r = await mirror(["sync", ...repoFlags(), "--dest", `${plainDst.host}/tls2`, "--plain-http", "--src-username", USER, "--src-password-stdin", "-o", "json"], PASS);
    expectOnlyTls(from);
    if (r.code !== 0) console.error(r.stderr);
    expect(r.code).toBe(0);
    expect(repo.requests.slice(seen).filter((q) => q.authorized).map((q) => q.path)).toEqual(["/index.yaml", "/app-1.0.0.tgz"]);
    const tags = await fetch(`${plainDst.url}/v2/tls2/charts/app/app/tags/list`).then((x) => x.json() as Promise<{ tags?: string[] }>);
    expect(tags.tags).toContain("1.0.0");
    expect(other.bytes().length).toBe(0);
  });

  test("--ca-file HOST=FILE and --insecure-host HOST apply to that host only", async () => {
    const base = ["images", "--repo-url", repoUrl, "--chart-url", "r/app", "--chart-version", "1.0.0", "--helm", HELM4, "-u", USER, "--password-stdin"];
    // the CA given for another host is not trusted for the repository; --insecure-host of another host skips nothing
    const wrongHost = await mirror([...base, "--ca-file", `127.0.0.1:${other.port}=${ca.cert}`, "--insecure-host", `127.0.0.1:${other.port}`], PASS);
    expect(wrongHost.code).not.toBe(0);
    expect(wrongHost.stderr).toMatch(/certificate/i);
    expect(wrongHost.stderr).toContain(`--ca-file 127.0.0.1:${relay.port}=`);
    // the repository's own host: --insecure-host, or --ca-file HOST=FILE (by host without port too)
    const insecure = await mirror([...base, "--insecure-host", `127.0.0.1:${relay.port}`], PASS);
    expect(insecure.code).toBe(0);
    const byHost = await mirror([...base, "--ca-file", `127.0.0.1=${ca.cert}`], PASS);
    expect(byHost.code).toBe(0);
    expect(other.bytes().length).toBe(0);
  });
});

describe("a chart repository's 401 names the chart source's credential flags (20.4)", () => {
  test("sync without the repository's credential: the hint names --src-*/repositories.yaml, not the destination's flags", async () => {
    const r = await mirror(["sync", "--ca-file", `${dst.host}=${dst.caFile}`, ...repoFlags(), "--dest", `${dst.host}/h401`, "-u", dst.username, "--password-stdin"], dst.password);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("HTTP 401");
    expect(r.stderr).toContain("--src-username/--src-password-stdin");
    expect(r.stderr).toContain("repositories.yaml");
    expect(r.stderr).not.toMatch(/check --username\/--password-stdin/);
    expect(r.stderr).not.toContain(dst.password);
  });

  test("sync with a wrong --src-password: the refused credential is the --src-* one", async () => {
    const r = await mirror(["sync", "--ca-file", `${dst.host}=${dst.caFile}`, ...repoFlags(), "--dest", `${dst.host}/h401`, "--src-username", USER, "--src-password-stdin", "--dest-username", dst.username, "--dest-password", dst.password], "wrong-pass");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("HTTP 401");
    expect(r.stderr).toMatch(/refused the credential from --src-username\/--src-password-stdin/);
    expect(r.stderr).not.toContain("wrong-pass");
  });

  test("images (no destination): -u/--password-stdin are the chart source's, and the hint says so", async () => {
    const r = await mirror(["images", "--repo-url", repoUrl, "--chart-url", "r/app", "--chart-version", "1.0.0", "--helm", HELM4, "--ca-file", `127.0.0.1=${ca.cert}`, "-u", USER, "--password-stdin"], "wrong-pass");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refused the credential from -u\/--password-stdin/);
  });
});
