// The REAL registry for tests: Debian's docker-registry (distribution 2.8.2, /usr/bin/docker-registry)
// started on a free 127.0.0.1 port with a temp config and filesystem storage, per test file.
//
//   import { startRegistry } from "../support/registry.ts";
//   let reg: TestRegistry;
//   beforeAll(async () => { reg = await startRegistry(); });   // TLS (private CA) + htpasswd: the realistic default
//   afterAll(() => reg.stop());
//
//   reg.host      "127.0.0.1:PORT" (use in references: `${reg.host}/library/app:1.0`)
//   reg.url       "http://127.0.0.1:PORT" ("https://…" with tls)
//   reg.username / reg.password   credentials that may push ("" with auth "none")
//   reg.users     every user → password (token mode: reader (pull only), writer (pull,push), admin (all))
//   reg.caFile    (tls) PEM of the CA that signed the registry's certificate; reg.certDir holds it as
//                 `ca.crt` (for skopeo --dest-cert-dir / docker certs.d layout); reg.ca is the TestCA
//   reg.tokenServer  (auth "token") the TokenServer (token-server.ts): calls log, setExpiresIn, mint …
//   reg.skopeo    ready-made options for pushWithSkopeo/skopeoCopy/skopeoInspectRaw (images.ts)
//   reg.dataDir   storage root (inspect `docker/registry/v2/…` on disk); reg.configFile; reg.logs()
//   reg.dockerConfig(user?)  a docker config.json object with `auths[host]` for that user
//   await reg.stop()  kills the registry (and its token server) and removes the temp dir; idempotent.
//
// Options: auth "htpasswd" (default; Basic, bcrypt entries computed in TS) | "token" (Bearer via our token
// server, RS256 JWT with x5c) | "none"; tls true (default: fresh private CA), a TestCA from pki.ts, or false.
// The default is the realistic registry (TLS with a private CA + basic auth, like Zot/Harbor in the field):
// ask for `{ auth: "none", tls: false }` explicitly only where a test is about plain HTTP / anonymous access; users (htpasswd/token;
// default htpasswd `{ tester: random }`, token `{ reader, writer, admin }`); grants/anonymous/tokenExpiresIn/
// strictExpiry (token mode, see token-server.ts); deleteEnabled (default true); relativeUrls (registry
// answers Location headers relative instead of absolute); keepData (leave the temp dir for debugging); serverNames
// (extra DNS names in the TLS certificate, e.g. a name only a proxy resolves: test/support/squid.ts).
// Registries that are not stopped are killed when the test process exits.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCA, type TestCA } from "./pki.ts";
import { freePort } from "./ports.ts";
import { startTokenServer, type Grant, type TokenServer } from "./token-server.ts";

export const REGISTRY_BIN = process.env.KA_REGISTRY_BIN ?? "/usr/bin/docker-registry";

export type RegistryAuth = "none" | "htpasswd" | "token";

export interface RegistryOptions {
  auth?: RegistryAuth;
  tls?: boolean | TestCA;
  users?: Record<string, string>;
  deleteEnabled?: boolean;
  /** token mode: per-user grants (default reader: pull, writer: pull,push, admin: *) */
  grants?: Record<string, Grant>;
  /** token mode: grant for anonymous token requests (default none) */
  anonymous?: Grant;
  /** token mode: seconds (default 300) */
  tokenExpiresIn?: number;
  /** token mode: registry enforces tokenExpiresIn exactly (no 60 s leeway) */
  strictExpiry?: boolean;
  relativeUrls?: boolean;
  keepData?: boolean;
  /** log level written to the log file (default "warn"; "info"/"debug" to see auth decisions) */
  logLevel?: "error" | "warn" | "info" | "debug";
  /** (tls) extra DNS names in the server certificate, e.g. a name only a proxy resolves (squid.ts) */
  serverNames?: string[];
}

export interface SkopeoRegistryOpts {
  creds?: string;
  tlsVerify: boolean;
  certDir?: string;
}

export interface TestRegistry {
  host: string;
  url: string;
  port: number;
  auth: RegistryAuth;
  tls: boolean;
  caFile?: string;
  certDir?: string;
  ca?: TestCA;
  username: string;
  password: string;
  users: Record<string, string>;
  dataDir: string;
  configFile: string;
  tokenServer?: TokenServer;
  skopeo: SkopeoRegistryOpts;
  /** `{ auths: { [host]: { auth: base64(user:pass) } } }` for `user` (default reg.username) */
  dockerConfig(user?: string): { auths: Record<string, { auth: string }> };
  logs(): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const c of live) {
      try {
        c.kill("SIGKILL");
      } catch {}
    }
    for (const d of liveDirs) {
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {}
    }
  });
}

/** bcrypt (cost 4 — the registry checks it on every request) in a form Go's x/crypto/bcrypt accepts. */
export function bcryptHash(password: string): string {
  // test/support runs under bun only (bun test), so Bun.password is fine here.
  return Bun.password.hashSync(password, { algorithm: "bcrypt", cost: 4 });
}

function yamlStr(s: string): string {
  return JSON.stringify(s);
}

function probe(url: string, ca?: string): Promise<number> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const req = (u.protocol === "https:" ? httpsRequest : httpRequest)(
      { host: u.hostname, port: u.port, path: u.pathname, method: "GET", ca, timeout: 1000, agent: false },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", () => resolve(0));
    req.on("timeout", () => {
      req.destroy();
      resolve(0);
    });
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  installExitHook();
  const auth = opts.auth ?? "htpasswd";
  opts = { ...opts, tls: opts.tls ?? true };
  const dir = mkdtempSync(join(tmpdir(), "ka-registry-"));
  if (!opts.keepData) liveDirs.add(dir);
  const dataDir = join(dir, "data");
  mkdirSync(dataDir);
  const logFile = join(dir, "registry.log");
  const configFile = join(dir, "config.yml");

  let ca: TestCA | undefined;
  let certLines: string[] = [];
  let certDir: string | undefined;
  if (opts.tls) {
    ca = opts.tls === true ? createCA(mkdtempSync(join(dir, "pki-"))) : opts.tls;
    const server = ca.server(`registry-${randomBytes(4).toString("hex")}`, opts.serverNames);
    certDir = join(dir, "certs.d");
    mkdirSync(certDir);
    copyFileSync(ca.cert, join(certDir, "ca.crt"));
    certLines = ["  tls:", `    certificate: ${yamlStr(server.cert)}`, `    key: ${yamlStr(server.key)}`];
  }

  let users: Record<string, string> = {};
  let username = "";
  let tokenServer: TokenServer | undefined;
  let authLines: string[] = [];
  if (auth === "htpasswd") {
    users = opts.users ?? { tester: randomBytes(9).toString("base64url") };
    const htpasswd = join(dir, "htpasswd");
    writeFileSync(htpasswd, Object.entries(users).map(([u, p]) => `${u}:${bcryptHash(p)}\n`).join(""));
    username = Object.keys(users)[0] ?? "";
    authLines = ["auth:", "  htpasswd:", "    realm: kube-airgap-test", `    path: ${yamlStr(htpasswd)}`];
  } else if (auth === "token") {
    tokenServer = await startTokenServer({
      users: opts.users, grants: opts.grants, anonymous: opts.anonymous, expiresIn: opts.tokenExpiresIn, strictExpiry: opts.strictExpiry,
    });
    users = tokenServer.users;
    username = "writer" in users ? "writer" : (Object.keys(users)[0] ?? "");
    authLines = ["auth:", "  token:", `    realm: ${yamlStr(tokenServer.realm)}`, `    service: ${yamlStr(tokenServer.service)}`,
      `    issuer: ${yamlStr(tokenServer.issuer)}`, `    rootcertbundle: ${yamlStr(tokenServer.certFile)}`];
  }
  const password = users[username] ?? "";

  const writeConfig = (port: number) =>
    writeFileSync(configFile, [
      "version: 0.1",
      "log:",
      `  level: ${opts.logLevel ?? "warn"}`,
      "  formatter: text",
      "  accesslog:",
      "    disabled: true",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${yamlStr(dataDir)}`,
      "  delete:",
      `    enabled: ${opts.deleteEnabled ?? true}`,
      "  maintenance:",
      "    uploadpurging:",
      "      enabled: false",
      "http:",
      `  addr: 127.0.0.1:${port}`,
      `  secret: ${randomBytes(16).toString("hex")}`,
      `  relativeurls: ${opts.relativeUrls ?? false}`,
      ...certLines,
      ...authLines,
      "health:",
      "  storagedriver:",
      "    enabled: false",
      "",
    ].join("\n"));

  const scheme = opts.tls ? "https" : "http";
  let child: ChildProcess | undefined;
  let port = 0;
  let lastErr = "";
  for (let attempt = 0; attempt < 4 && !child; attempt++) {
    port = await freePort();
    writeConfig(port);
    const fd = openSync(logFile, "a");
    const c = spawn(REGISTRY_BIN, ["serve", configFile], { stdio: ["ignore", fd, fd], env: { ...process.env, OTEL_TRACES_EXPORTER: "none" } });
    closeSync(fd);
    live.add(c);
    let exited = false;
    c.once("exit", () => {
      exited = true;
      live.delete(c);
    });
    c.once("error", (e) => {
      exited = true;
      lastErr = String(e);
      live.delete(c);
    });
    const deadline = Date.now() + 15000;
    let up = false;
    while (!exited && Date.now() < deadline) {
      const status = await probe(`${scheme}://127.0.0.1:${port}/v2/`, ca?.certPem);
      if (status === 200 || status === 401) {
        up = true;
        break;
      }
      await sleep(15);
    }
    if (up) child = c;
    else {
      if (!exited) c.kill("SIGKILL");
      const log = readFileSync(logFile, "utf8");
      lastErr = lastErr || log.split("\n").slice(-5).join("\n");
      if (!/address already in use/.test(log)) break;
    }
  }
  if (!child) {
    await tokenServer?.stop();
    if (!opts.keepData) rmSync(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
    throw new Error(`docker-registry did not start (${REGISTRY_BIN}): ${lastErr}`);
  }

  const host = `127.0.0.1:${port}`;
  const proc = child;
  let stopped = false;
  return {
    host, url: `${scheme}://${host}`, port, auth, tls: !!opts.tls, caFile: ca?.cert, certDir, ca,
    username, password, users, dataDir, configFile, tokenServer,
    skopeo: { creds: username ? `${username}:${password}` : undefined, tlsVerify: !!opts.tls, certDir },
    dockerConfig(user = username) {
      const pw = users[user] ?? "";
      return { auths: { [host]: { auth: Buffer.from(`${user}:${pw}`).toString("base64") } } };
    },
    logs: () => {
      try {
        return readFileSync(logFile, "utf8");
      } catch {
        return "";
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise<void>((r) => proc.once("exit", () => r()));
        proc.kill("SIGTERM");
        const t = setTimeout(() => proc.kill("SIGKILL"), 3000);
        await gone;
        clearTimeout(t);
      }
      live.delete(proc);
      await tokenServer?.stop();
      if (!opts.keepData) rmSync(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
    },
  };
}
