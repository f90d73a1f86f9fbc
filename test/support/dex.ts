// A Dex-like login server for tests: the five-step username/password flow of an Alauda platform
// (acp-docs security/users_and_roles/user/howto/get_api_token.md, reference/violet.md §4), with the checks the
// real one makes at each step, so a client that skips or fakes a step fails:
//
//   1. GET  /console-platform/api/v1/token/login?client_id&redirect_uri&response_type=code&scope  → {auth_url, state}
//      (client must be registered, redirect_uri must be <platform>/dex/callback, scope must contain openid)
//   2. GET  /dex/api/v1/authorize?<auth_url query>  → {req}, sets the cpaas_oidc_auth_flow cookie
//      (PKCE S256 challenge, state and client must be the ones step 1 issued)
//   3. GET  /dex/pubkey  → {ts, pubkey, pubkey_encode}
//   4. POST /dex/api/v1/authorize/{idp}?req=  {account, password: base64(RSA-PKCS#1-v1.5({"ts","password"}))}
//      → {redirect_url: <platform>/dex/callback?code&state}
//      (cookie of step 2, a ts from step 3 not expired and not used before, the user in THAT idp, right password)
//   5. GET  /console-platform/api/v1/token/callback?code&state  → {access_token, id_token, refresh_token, expire_at, …}
//      (same cookie; code single-use; state of the flow; PKCE verifier matches the challenge)
//
//   const dex = createDex({ users: { admin: { password: "pw" }, ldapuser: { password: "pw", idp: "ldap" } } });
//   dex.handle(req, res, platformUrl)   // true when it answered the request
//   dex.tokens                          // access token → user, for the platform's bearer check
//   dex.steps                           // every step with its outcome, for assertions
//   dex.pubkeyTtlMs = 0                 // every ts is already expired at step 4; dex.expireNext = 1: only the next one
import { createHash, generateKeyPairSync, privateDecrypt, randomBytes, constants } from "node:crypto";
import type http from "node:http";

export interface DexUser {
  password: string;
  /** connector the user lives in (default "local") */
  idp?: string;
}

export interface DexOptions {
  users: Record<string, DexUser>;
  clientIds?: string[];
  pubkeyTtlMs?: number;
}

export interface DexStep {
  step: 1 | 2 | 3 | 4 | 5;
  status: number;
  error?: string;
  account?: string;
  idp?: string;
}

export interface Dex {
  handle(req: http.IncomingMessage, res: http.ServerResponse, platformUrl: string): boolean;
  tokens: Map<string, string>;
  steps: DexStep[];
  pubkeyTtlMs: number;
  expireNext: number;
}

const b64url = (b: Buffer) => b.toString("base64url");
const rand = () => b64url(randomBytes(24));

/** RSA PKCS#1 v1.5 (type 2) decryption via a raw private operation (Node refuses PKCS#1 v1.5 private decrypt). */
function pkcs1Decrypt(privateKey: string, data: Buffer): Buffer {
  const raw = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, data);
  if (raw[0] !== 0 || raw[1] !== 2) throw new Error("bad padding");
  const sep = raw.indexOf(0, 2);
  if (sep < 10) throw new Error("bad padding");
  return raw.subarray(sep + 1);
}

export function createDex(opts: DexOptions): Dex {
  const clientIds = opts.clientIds ?? ["alauda-auth"];
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, publicKeyEncoding: { type: "spki", format: "pem" }, privateKeyEncoding: { type: "pkcs8", format: "pem" } });
  const flows = new Map<string, { verifier: string; clientId: string }>(); // state → flow (server side of PKCE)
  const reqs = new Map<string, { state: string; challenge: string; cookie: string }>();
  const cookies = new Map<string, string>(); // cookie → state
  const stamps = new Map<string, { at: number; used: boolean; expired: boolean }>();
  const codes = new Map<string, { user: string; state: string; challenge: string; used: boolean }>();
  let seq = 0;
  const dex: Dex = {
    tokens: new Map(),
    steps: [],
    pubkeyTtlMs: opts.pubkeyTtlMs ?? 60_000,
    expireNext: 0,
    handle(req, res, platformUrl) {
      const url = new URL(req.url ?? "/", "http://x");
      const send = (step: DexStep["step"], status: number, body: Record<string, unknown>, extra: Partial<DexStep> = {}, headers: Record<string, string> = {}) => {
        dex.steps.push({ step, status, ...(status >= 400 ? { error: String(body.error ?? body.message) } : {}), ...extra });
        res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
      };
      const cookieOf = () => /(?:^|;\s*)cpaas_oidc_auth_flow=([^;]+)/.exec(req.headers.cookie ?? "")?.[1];
      const redirectUri = `${platformUrl}/dex/callback`;
      const q = url.searchParams;
      if (req.method === "GET" && url.pathname === "/console-platform/api/v1/token/login") {
        if (!clientIds.includes(q.get("client_id") ?? "")) return send(1, 400, { error: `invalid client_id "${q.get("client_id")}"` }), true;
        if (q.get("redirect_uri") !== redirectUri) return send(1, 400, { error: "invalid redirect_uri" }), true;
        if (q.get("response_type") !== "code" || !(q.get("scope") ?? "").split(" ").includes("openid")) return send(1, 400, { error: "invalid response_type or scope" }), true;
        const state = rand();
        const verifier = rand();
        flows.set(state, { verifier, clientId: q.get("client_id")! });
        const challenge = b64url(createHash("sha256").update(verifier).digest());
        const auth = new URLSearchParams({ access_type: "offline", client_id: q.get("client_id")!, code_challenge: challenge, code_challenge_method: "S256", nonce: rand(), redirect_uri: redirectUri, response_type: "code", scope: q.get("scope")!, state });
        return send(1, 200, { auth_url: `${platformUrl}/console-dex/auth?${auth}`, state, logout_url: `${platformUrl}/dex/logout` }), true;
      }
      if (req.method === "GET" && url.pathname === "/dex/api/v1/authorize") {
        const flow = flows.get(q.get("state") ?? "");
        if (!flow || flow.clientId !== q.get("client_id") || q.get("redirect_uri") !== redirectUri) return send(2, 400, { error: "invalid authorization request" }), true;
        if (q.get("code_challenge_method") !== "S256" || !q.get("code_challenge")) return send(2, 400, { error: "PKCE S256 code_challenge required" }), true;
        const id = rand();
        const cookie = rand();
        reqs.set(id, { state: q.get("state")!, challenge: q.get("code_challenge")!, cookie });
        cookies.set(cookie, q.get("state")!);
        return send(2, 200, { req: id }, {}, { "set-cookie": `cpaas_oidc_auth_flow=${cookie}; Path=/; HttpOnly` }), true;
      }
      if (req.method === "GET" && url.pathname === "/dex/pubkey") {
        const ts = `${Math.floor(Date.now() / 1000)}${String(++seq).padStart(4, "0")}`;
        stamps.set(ts, { at: Date.now(), used: false, expired: dex.expireNext > 0 ? (dex.expireNext--, true) : false });
        return send(3, 200, { ts, pubkey: publicKey, pubkey_encode: Buffer.from(publicKey).toString("base64") }), true;
      }
      const m4 = /^\/dex\/api\/v1\/authorize\/([^/]+)$/.exec(url.pathname);
      if (req.method === "POST" && m4) {
        const idp = decodeURIComponent(m4[1]!);
        const chunks: Buffer[] = [];
        req.on("data", (c) => chunks.push(c));
        req.on("end", () => {
          const r = reqs.get(q.get("req") ?? "");
          const cookie = cookieOf();
          if (!r) return send(4, 400, { error: "invalid req" }, { idp });
          if (!cookie || cookie !== r.cookie) return send(4, 400, { error: "invalid authentication session" }, { idp });
          let body: { account?: string; password?: string };
          try {
            body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          } catch {
            return send(4, 400, { error: "invalid body" }, { idp });
          }
          let inner: { ts?: string; password?: string };
          try {
            inner = JSON.parse(pkcs1Decrypt(privateKey, Buffer.from(String(body.password ?? ""), "base64")).toString("utf8"));
          } catch {
            return send(4, 400, { error: "password is not encrypted with the platform key" }, { idp, account: body.account });
          }
          const stamp = stamps.get(String(inner.ts ?? ""));
          if (!stamp) return send(4, 401, { error: "invalid timestamp" }, { idp, account: body.account });
          if (stamp.used) return send(4, 401, { error: "timestamp already used" }, { idp, account: body.account });
          stamp.used = true;
          if (stamp.expired || Date.now() - stamp.at > dex.pubkeyTtlMs) return send(4, 401, { error: "timestamp expired" }, { idp, account: body.account });
          const user = opts.users[String(body.account ?? "")];
          if (!user || (user.idp ?? "local") !== idp || user.password !== inner.password) return send(4, 401, { error: "Invalid username or password" }, { idp, account: body.account });
          const code = rand();
          codes.set(code, { user: body.account!, state: r.state, challenge: r.challenge, used: false });
          reqs.delete(q.get("req")!);
          send(4, 200, { session_state: "", redirect_url: `${redirectUri}?code=${code}&state=${encodeURIComponent(r.state)}` }, { idp, account: body.account });
        });
        return true;
      }
      if (req.method === "GET" && url.pathname === "/console-platform/api/v1/token/callback") {
        const state = cookies.get(cookieOf() ?? "");
        if (!state) return send(5, 400, { error: "invalid authentication session" }), true;
        const c = codes.get(q.get("code") ?? "");
        if (!c || c.used || c.state !== q.get("state") || c.state !== state) return send(5, 400, { error: "invalid code or state" }), true;
        c.used = true;
        const flow = flows.get(state)!;
        if (b64url(createHash("sha256").update(flow.verifier).digest()) !== c.challenge) return send(5, 400, { error: "PKCE verification failed" }), true;
        const token = `acp-${rand()}`;
        dex.tokens.set(token, c.user);
        const now = new Date();
        return send(5, 200, { token_type: "bearer", access_token: token, id_token: `id-${rand()}`, refresh_token: rand(), expire_at: new Date(now.getTime() + 3600_000).toISOString(), issued_at: now.toISOString(), token_storage: "local" }, { account: c.user }), true;
      }
      return false;
    },
  };
  return dex;
}
