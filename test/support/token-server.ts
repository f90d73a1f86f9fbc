// A Docker/distribution token server for tests (node:http on 127.0.0.1), signing RS256 JWTs that the
// real docker-registry 2.8 (`auth.token`) accepts: the JWT header carries `x5c` = [the signing cert],
// and that self-signed cert is the registry's `rootcertbundle`.
//
// Usually you do not start it yourself: `startRegistry({ auth: "token" })` (registry.ts) starts one and
// returns it as `reg.tokenServer`. Start it directly when you need a token endpoint on its own:
//
//   const ts = await startTokenServer({
//     users: { reader: "r-pass", writer: "w-pass" },
//     grants: { reader: ["pull"], writer: ["pull", "push"] },   // default grants, see below
//     expiresIn: 300,
//   });
//   ts.realm            // "http://127.0.0.1:PORT/token"
//   ts.service, ts.issuer, ts.certFile   // → registry auth.token.{service,issuer,rootcertbundle}
//   ts.calls            // every token request: { method, grantType, user, scopes, granted, status, ... }
//   ts.setExpiresIn(2)  // later tokens expire sooner (see strictExpiry)
//   ts.mint("writer", [{ type: "repository", name: "a/b", actions: ["pull"] }])  // a token without HTTP
//   await ts.stop()
//
// Endpoints (both at `/token`):
// - `GET /token?service=S&scope=repository:a/b:pull,push&scope=…` with Basic credentials, or with none
//   (anonymous: gets `anonymous` grants, default none → a token with an empty access list, as Docker Hub
//   does). Wrong credentials → 401. Answer: `{ token, access_token, expires_in, issued_at }`.
// - `POST /token`, application/x-www-form-urlencoded (OAuth2, distribution docs/spec/auth/oauth.md):
//   `grant_type=password&username=&password=` or `grant_type=refresh_token&refresh_token=`, plus
//   `service`, `client_id`, `scope` (space-separated), `access_type=offline` → also a `refresh_token`.
//   Answer: `{ access_token, refresh_token?, expires_in, scope, issued_at, token_type }`. A refresh grant
//   always answers with a (the same) refresh_token. Bad credentials / unknown refresh token → 401
//   `{"error":"invalid_grant"}`; missing fields → 400 `{"error":"invalid_request"}`.
//
// Grants: `grants[user]` is either a list of actions for every repository, or an object mapping a
// repository glob (`*` = any characters) to actions. `"*"` in a list grants every requested action.
// The token holds the intersection of requested and granted actions; an insufficient token is not an
// error here — the registry refuses it (that is how real token servers behave).
// `registry:catalog:*` is granted to users whose grant list includes "catalog" or "*".
//
// Expiry: the registry allows 60 s of leeway after `exp`. With `strictExpiry: true` the `exp` claim is
// set 60 s early, so the registry itself starts refusing a token exactly `expiresIn` seconds after issue
// (use this to prove a client re-authenticates when the registry re-challenges).
import { createHash, createPrivateKey, randomBytes, randomUUID, sign, X509Certificate, type KeyObject } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ResourceAccess {
  type: string;
  name: string;
  actions: string[];
}

export type Grant = string[] | Record<string, string[]>;

export interface TokenServerOptions {
  /** username → password. Default `{ reader: random, writer: random, admin: random }`. */
  users?: Record<string, string>;
  /** username → grant. Default `reader: ["pull"]`, `writer: ["pull","push"]`, `admin: ["*"]`, others `["pull","push"]`. */
  grants?: Record<string, Grant>;
  /** grant for requests without credentials. Default none (empty access list). */
  anonymous?: Grant;
  /** `service` the registry is configured with (the token's audience). Default "kube-airgap-test-registry". */
  service?: string;
  /** `iss` claim. Default "kube-airgap-test-token-issuer". */
  issuer?: string;
  /** seconds; `expires_in` in answers. Default 300. */
  expiresIn?: number;
  /** make the registry enforce `expiresIn` exactly (exp claim minus the registry's 60 s leeway). */
  strictExpiry?: boolean;
  /** refuse a GET/POST whose `service` differs from ours with 400 (default true). */
  checkService?: boolean;
  port?: number;
}

export interface TokenCall {
  method: string;
  /** "basic" | "anonymous" for GET; "password" | "refresh_token" | other for POST */
  grantType: string;
  user?: string;
  clientId?: string;
  service?: string;
  scopes: string[];
  granted: ResourceAccess[];
  status: number;
  offline: boolean;
  time: number;
}

export interface TokenServer {
  url: string;
  /** the realm registry clients are sent to: `${url}/token` */
  realm: string;
  port: number;
  service: string;
  issuer: string;
  /** PEM file of the self-signed signing certificate (the registry's rootcertbundle) */
  certFile: string;
  keyFile: string;
  users: Record<string, string>;
  calls: TokenCall[];
  setExpiresIn(seconds: number, strict?: boolean): void;
  setGrant(user: string, grant: Grant): void;
  /** Sign a token directly (no HTTP, not logged). `ttl` overrides expiresIn; negative gives an expired token. */
  mint(user: string, access: ResourceAccess[], ttl?: number): string;
  /** Forget all refresh tokens issued so far (they now get 401 invalid_grant). */
  revokeRefreshTokens(): void;
  stop(): Promise<void>;
}

const liveDirs = new Set<string>();
let hooked = false;
function cleanupOnExit(dir: string) {
  liveDirs.add(dir);
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
  });
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

/** Parse a scope string `repository:name:pull,push` (name may contain ':' for ports? — not in repo names). */
export function parseScope(scope: string): ResourceAccess | undefined {
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first < 0 || last <= first) return undefined;
  const type = scope.slice(0, first);
  const name = scope.slice(first + 1, last);
  const actions = scope.slice(last + 1).split(",").map((a) => a.trim()).filter(Boolean);
  return { type, name, actions };
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
}

function allowedActions(grant: Grant | undefined, res: ResourceAccess): string[] {
  if (!grant) return [];
  let list: string[] = [];
  if (Array.isArray(grant)) {
    if (res.type === "registry") return res.name === "catalog" && (grant.includes("*") || grant.includes("catalog")) ? res.actions : [];
    if (res.type !== "repository") return [];
    list = grant;
  } else {
    if (res.type !== "repository") return [];
    for (const [glob, actions] of Object.entries(grant)) if (globToRegExp(glob).test(res.name)) list = [...list, ...actions];
  }
  return list.includes("*") ? [...res.actions] : res.actions.filter((a) => list.includes(a));
}

function defaultGrant(user: string): Grant {
  if (user === "reader") return ["pull"];
  if (user === "admin") return ["*"];
  return ["pull", "push"];
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function safeEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return ha.equals(hb);
}

export async function startTokenServer(opts: TokenServerOptions = {}): Promise<TokenServer> {
  const users = opts.users ?? { reader: randomBytes(9).toString("base64url"), writer: randomBytes(9).toString("base64url"), admin: randomBytes(9).toString("base64url") };
  const grants: Record<string, Grant> = {};
  for (const u of Object.keys(users)) grants[u] = opts.grants?.[u] ?? defaultGrant(u);
  const service = opts.service ?? "kube-airgap-test-registry";
  const issuer = opts.issuer ?? "kube-airgap-test-token-issuer";
  let expiresIn = opts.expiresIn ?? 300;
  let strict = opts.strictExpiry ?? false;
  const checkService = opts.checkService ?? true;

  const dir = mkdtempSync(join(tmpdir(), "ka-token-"));
  cleanupOnExit(dir);
  const keyFile = join(dir, "token.key");
  const certFile = join(dir, "token.crt");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", certFile, "-days", "2",
    "-subj", "/CN=kube-airgap test token signer"], { stdio: ["ignore", "ignore", "pipe"] });
  const key: KeyObject = createPrivateKey(readFileSync(keyFile));
  const certDer = new X509Certificate(readFileSync(certFile)).raw;
  const header = b64url(JSON.stringify({ typ: "JWT", alg: "RS256", x5c: [certDer.toString("base64")] }));

  const mint = (user: string, access: ResourceAccess[], ttl = expiresIn): string => {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: issuer, sub: user, aud: service,
      exp: now + ttl - (strict ? 60 : 0), nbf: now - 1, iat: now, jti: randomUUID(), access,
    };
    const data = `${header}.${b64url(JSON.stringify(claims))}`;
    return `${data}.${b64url(sign("sha256", Buffer.from(data), key))}`;
  };

  const refreshTokens = new Map<string, string>(); // token → user
  const calls: TokenCall[] = [];

  const grantFor = (user: string | undefined, scopes: string[]): ResourceAccess[] => {
    const grant = user === undefined ? opts.anonymous : grants[user];
    const out: ResourceAccess[] = [];
    for (const s of scopes) {
      const res = parseScope(s);
      if (!res) continue;
      const actions = allowedActions(grant, res);
      const existing = out.find((r) => r.type === res.type && r.name === res.name);
      if (existing) existing.actions = [...new Set([...existing.actions, ...actions])];
      else out.push({ ...res, actions });
    }
    return out;
  };

  const json = (res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...extra });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? "/", "http://x");
    const call: TokenCall = { method: req.method ?? "", grantType: "", scopes: [], granted: [], status: 0, offline: false, time: Date.now() };
    const done = (status: number, body: unknown, extra?: Record<string, string>) => {
      call.status = status;
      calls.push(call);
      json(res, status, body, extra);
    };
    if (u.pathname !== "/token") return done(404, { error: "not_found" });
    if (req.method === "GET") {
      call.service = u.searchParams.get("service") ?? undefined;
      call.scopes = u.searchParams.getAll("scope").flatMap((s) => s.split(" ")).filter(Boolean);
      call.offline = u.searchParams.get("offline_token") === "true";
      call.clientId = u.searchParams.get("client_id") ?? undefined;
      if (checkService && call.service !== undefined && call.service !== service) return done(400, { error: "invalid_request", error_description: "unknown service" });
      const auth = req.headers.authorization;
      let user: string | undefined;
      if (auth) {
        call.grantType = "basic";
        const m = /^Basic\s+(.+)$/i.exec(auth);
        if (!m) return done(401, { error: "invalid_client" }, { "www-authenticate": 'Basic realm="token"' });
        const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
        const i = decoded.indexOf(":");
        const name = i < 0 ? decoded : decoded.slice(0, i);
        const pass = i < 0 ? "" : decoded.slice(i + 1);
        call.user = name;
        if (!(name in users) || !safeEqual(users[name]!, pass)) return done(401, { error: "invalid_client", details: "bad username or password" }, { "www-authenticate": 'Basic realm="token"' });
        user = name;
      } else call.grantType = "anonymous";
      call.granted = grantFor(user, call.scopes);
      const token = mint(user ?? "", call.granted);
      const body: Record<string, unknown> = { token, access_token: token, expires_in: expiresIn, issued_at: new Date().toISOString() };
      if (user && call.offline) {
        const rt = randomBytes(24).toString("base64url");
        refreshTokens.set(rt, user);
        body.refresh_token = rt;
      }
      return done(200, body);
    }
    if (req.method === "POST") {
      const form = new URLSearchParams(await readBody(req));
      call.grantType = form.get("grant_type") ?? "";
      call.service = form.get("service") ?? undefined;
      call.clientId = form.get("client_id") ?? undefined;
      call.scopes = (form.get("scope") ?? "").split(" ").filter(Boolean);
      call.offline = form.get("access_type") === "offline";
      if (checkService && call.service !== undefined && call.service !== service) return done(400, { error: "invalid_request", error_description: "unknown service" });
      let user: string;
      let refresh: string | undefined;
      if (call.grantType === "password") {
        const name = form.get("username");
        const pass = form.get("password");
        if (name === null || pass === null) return done(400, { error: "invalid_request", error_description: "username and password required" });
        call.user = name;
        if (!(name in users) || !safeEqual(users[name]!, pass)) return done(401, { error: "invalid_grant", error_description: "bad username or password" });
        user = name;
        if (call.offline) {
          refresh = randomBytes(24).toString("base64url");
          refreshTokens.set(refresh, user);
        }
      } else if (call.grantType === "refresh_token") {
        const rt = form.get("refresh_token");
        if (!rt) return done(400, { error: "invalid_request", error_description: "refresh_token required" });
        const owner = refreshTokens.get(rt);
        if (!owner) return done(401, { error: "invalid_grant", error_description: "unknown refresh token" });
        call.user = owner;
        user = owner;
        refresh = rt;
      } else return done(400, { error: "unsupported_grant_type" });
      call.granted = grantFor(user, call.scopes);
      const token = mint(user, call.granted);
      const scope = call.granted.filter((g) => g.actions.length).map((g) => `${g.type}:${g.name}:${g.actions.join(",")}`).join(" ");
      const body: Record<string, unknown> = { access_token: token, token_type: "Bearer", expires_in: expiresIn, scope, issued_at: new Date().toISOString() };
      if (refresh) body.refresh_token = refresh;
      return done(200, body);
    }
    return done(405, { error: "method_not_allowed" });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) json(res, 500, { error: String(e) });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;
  let stopped = false;

  return {
    url, realm: `${url}/token`, port, service, issuer, certFile, keyFile, users, calls,
    setExpiresIn(seconds, s) {
      expiresIn = seconds;
      if (s !== undefined) strict = s;
    },
    setGrant(user, grant) {
      grants[user] = grant;
    },
    mint,
    revokeRefreshTokens() {
      refreshTokens.clear();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      rmSync(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
    },
  };
}
