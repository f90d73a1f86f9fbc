// Regression test for the Bun TLS trap (shared/kube/README.md: client-node 2.x loses private CAs under Bun): a private openssl CA, an HTTPS server
// that REQUIRES a client certificate, and a bearer-token server on the same CA, reached through KubeClient
// under `bun run`, a `bun build --compile` binary and `deno run -A`. Negative cases prove the checks bite:
// an untrusted CA and a missing client certificate must fail on every runtime.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCA, type TestCA } from "../support/pki.ts";

// generous: the suite shares 2 cores with other test files (openssl key generation, subprocesses)
setDefaultTimeout(60_000);

const root = join(import.meta.dir, "../..");
const bun = join(root, "node_modules/.bin/bun");
const deno = join(root, "node_modules/.bin/deno");
const probe = join(import.meta.dir, "fixtures/tls-probe.ts");

let dir: string;
let ca: TestCA;
let otherCa: TestCA;
let mtls: tls.Server;
const peerCN = new WeakMap<object, string | undefined>();
let proxy: net.Server;
const tunnels: string[] = [];
let tokenSrv: https.Server;
const kc: Record<string, string> = {};
let compiled: string;

function listen(s: https.Server | tls.Server): Promise<number> {
  return new Promise((r) => s.listen(0, "127.0.0.1", () => r((s.address() as any).port)));
}

function kubeconfig(name: string, server: string, caFile: string | undefined, user: Record<string, string>, extra: Record<string, string | boolean> = {}): string {
  const f = join(dir, `${name}.yaml`);
  const cluster = (caFile ? `    certificate-authority: ${caFile}\n` : "") + Object.entries(extra).map(([k, v]) => `    ${k}: ${v}\n`).join("");
  const u = Object.entries(user).map(([k, v]) => `    ${k}: ${v}\n`).join("");
  writeFileSync(f, `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: ${server}\n${cluster}users:\n- name: u\n  user:\n${u || "    {}\n"}contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n`);
  return f;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ka-tls-"));
  ca = createCA(mkdtempSync(join(dir, "ca-")));
  otherCa = createCA(mkdtempSync(join(dir, "other-")), "some other CA");
  const srv = ca.server("apiserver");
  const client = ca.client("alice", ["devs"]);
  // node:tls (not node:https): under Bun only tls sockets expose the peer certificate; the TLS layer rejects
  // clients without a certificate from our CA (rejectUnauthorized), then a plain http.Server answers.
  const inner = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    const groups = req.rawHeaders.filter((_, i) => i % 2 === 0 && req.rawHeaders[i]!.toLowerCase() === "impersonate-group").length;
    res.end(JSON.stringify({ user: peerCN.get(req.socket) ?? null, via: "client-certificate", groupLines: groups }));
  });
  mtls = tls.createServer({ key: srv.keyPem, cert: srv.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (t) => {
    peerCN.set(t, t.authorized ? String(t.getPeerCertificate()?.subject?.CN) : undefined);
    inner.emit("connection", t);
  });
  tokenSrv = https.createServer({ key: srv.keyPem, cert: srv.certPem }, (req, res) => {
    const ok = req.headers.authorization === "Bearer s3cret-token";
    res.writeHead(ok ? 200 : 401, { "content-type": "application/json" });
    res.end(JSON.stringify(ok ? { user: "token-user", via: "token" } : { kind: "Status", code: 401, reason: "Unauthorized", message: "Unauthorized" }));
  });
  const mport = await listen(mtls);
  const tport = await listen(tokenSrv);
  kc.cert = kubeconfig("cert", `https://127.0.0.1:${mport}`, ca.cert, { "client-certificate": client.cert, "client-key": client.key });
  kc.token = kubeconfig("token", `https://localhost:${tport}`, ca.cert, { token: "s3cret-token" });
  kc.wrongCa = kubeconfig("wrong-ca", `https://127.0.0.1:${tport}`, otherCa.cert, { token: "s3cret-token" });
  kc.noCert = kubeconfig("no-cert", `https://127.0.0.1:${mport}`, ca.cert, {});
  kc.insecure = kubeconfig("insecure", `https://127.0.0.1:${tport}`, otherCa.cert, { token: "s3cret-token" }, { "insecure-skip-tls-verify": true });
  // a CONNECT proxy that records the tunnels it opened
  proxy = net.createServer((client) => {
    client.once("data", (head) => {
      const m = /^CONNECT ([^ ]+) HTTP/.exec(head.toString());
      if (!m) return client.destroy();
      tunnels.push(m[1]!);
      const [h, p] = m[1]!.split(":");
      const up = net.connect(Number(p), h!, () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        up.pipe(client);
        client.pipe(up);
      });
      up.on("error", () => client.destroy());
      client.on("error", () => up.destroy());
    });
  });
  const pport = await new Promise<number>((r) => proxy.listen(0, "127.0.0.1", () => r((proxy.address() as any).port)));
  kc.proxy = kubeconfig("proxy", `https://localhost:${tport}`, ca.cert, { token: "s3cret-token" }, { "proxy-url": `http://127.0.0.1:${pport}` });
  compiled = join(dir, "tls-probe");
  execFileSync(bun, ["build", "--compile", "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig", probe, "--outfile", compiled], { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
}, 120_000);

afterAll(() => {
  mtls?.close();
  proxy?.close();
  tokenSrv?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
})

function run(cmd: string, args: string[], extraEnv: Record<string, string> = {}): Promise<any[]> {
  // async: the servers live in this process and must keep answering while the child runs
  return new Promise((resolve, reject) => {
    const { spawn } = require("node:child_process") as typeof import("node:child_process");
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${cmd} exited ${code}: ${err}`));
      resolve(out.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)));
    });
  });
}

function kcPort(file: string): string {
  return /server: https:\/\/[^:]+:(\d+)/.exec(require("node:fs").readFileSync(file, "utf8"))![1]!;
}

const runtimes: [string, () => [string, string[]], string][] = [
  ["bun run", () => [bun, ["run", probe]], "bun-fetch"],
  ["bun build --compile", () => [compiled, []], "bun-fetch"],
  ["deno run -A", () => [deno, ["run", "-A", probe]], "node-https"],
];

describe.each(runtimes)("KubeClient TLS under %s", (_name, cmd, impl) => {
  test("private CA + client certificate, private CA + bearer token, skip-verify, proxy-url; wrong CA and missing client cert fail", async () => {
    const [c, a] = cmd();
    const before = tunnels.length;
    const res = await run(c, [...a, "/whoami", kc.cert!, kc.token!, kc.wrongCa!, kc.noCert!, kc.insecure!, kc.proxy!]);
    expect(res).toHaveLength(6);
    const [cert, token, wrongCa, noCert, insecure, viaProxy] = res;
    expect(insecure).toMatchObject({ ok: true, body: { user: "token-user" } });
    expect(viaProxy).toMatchObject({ ok: true, body: { user: "token-user" } });
    expect(tunnels.slice(before)).toEqual([`localhost:${kcPort(kc.proxy!)}`]);
    expect(cert.impl).toBe(impl);
    expect(cert).toMatchObject({ ok: true, body: { user: "alice", via: "client-certificate", groupLines: 0 } });
    expect(token).toMatchObject({ ok: true, body: { user: "token-user", via: "token" } });
    expect(wrongCa.ok).toBe(false);
    expect(wrongCa.error).toMatch(/KubeConnectionError: cannot connect to the API server https:\/\/127\.0\.0\.1:\d+/);
    expect(noCert.ok).toBe(false);
    expect(JSON.stringify(res)).not.toContain("s3cret-token");
    // repeated Impersonate-Group headers stay separate lines over mTLS (Bun switches to node:https for these)
    const [grouped] = await run(c, [...a, "/whoami", kc.cert!], { PROBE_GROUPS: "g1,g2" });
    expect(grouped).toMatchObject({ ok: true, body: { user: "alice", groupLines: 2 } });
  }, 60_000);
});
