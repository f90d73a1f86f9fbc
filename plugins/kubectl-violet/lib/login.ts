// Username/password login to an Alauda platform: the Dex authorization-code flow the platform documents
// (acp-docs "Obtain an API Access Token"; reference/violet.md §4). Five calls sharing one cookie jar:
//   1. GET  /console-platform/api/v1/token/login?client_id&redirect_uri=<platform>/dex/callback&response_type=code&scope
//   2. GET  /dex/api/v1/authorize?<query of auth_url>          → {req}; sets cpaas_oidc_auth_flow (PKCE lives there)
//   3. GET  /dex/pubkey                                        → {ts, pubkey}
//   4. POST /dex/api/v1/authorize/local?req=                   {account, password: b64(RSA-PKCS1v1.5({ts,password}))}
//   5. GET  /console-platform/api/v1/token/callback?code&state → {access_token, …}
// Only the platform's local users can log in this way (idp "local"); LDAP/OIDC users need --platform-token.
import { constants, publicEncrypt } from "node:crypto";
import { createTlsFetch, type TlsFetch } from "../../../shared/runtime/tls-fetch.ts";
import { registerSecret } from "../../../shared/runtime/redact.ts";

export const SCOPE = "openid profile offline_access email groups ext";

export class LoginError extends Error {
  override name = "LoginError";
  exitCode = 1;
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

export interface LoginOptions {
  username: string;
  password: string;
  clientId?: string;
  tls?: { ca?: string; insecureSkipVerify?: boolean };
  /** identity provider (default local) */
  idp?: string;
  fetch?: TlsFetch;
}

/** Log in and return the platform access token. */
export async function platformLogin(address: string, o: LoginOptions): Promise<string> {
  const base = address.replace(/\/+$/, "");
  const f = o.fetch ?? createTlsFetch({ ca: o.tls?.ca, insecureSkipVerify: o.tls?.insecureSkipVerify });
  const clientId = o.clientId ?? "alauda-auth";
  const idp = o.idp ?? "local";
  const jar = new Map<string, string>();
  const call = async (step: string, path: string, init: { method?: string; body?: string } = {}): Promise<any> => {
    const headers: Record<string, string> = { accept: "application/json" };
    if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
    if (init.body) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await f(`${base}${path}`, { method: init.method ?? "GET", headers, body: init.body });
    } catch (e) {
      const m = `${(e as any)?.code ?? ""} ${(e as Error).message}`;
      if (base.startsWith("https:") && /EPROTO|wrong.version.number|packet length too long|speak TLS/i.test(m)) {
        throw new LoginError(`platform login at ${base} failed (${step}): the server does not speak TLS on this port`, `is it ${base.replace(/^https:/, "http:")}? check --platform-address`);
      }
      throw new LoginError(`platform login at ${base} failed (${step}): ${(e as Error).message}`, "check --platform-address (and --certificate-authority for a private CA)");
    }
    for (const c of res.headers.getSetCookie?.() ?? (res.headers.get("set-cookie") ? [res.headers.get("set-cookie")!] : [])) {
      const m = /^\s*([^=;\s]+)=([^;]*)/.exec(c);
      if (m) jar.set(m[1]!, m[2]!);
    }
    const text = await res.text();
    let body: any;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = undefined;
    }
    if (!res.ok) return { __status: res.status, __error: String(body?.error ?? body?.message ?? text.slice(0, 200)).replace(/\s+/g, " ").trim() };
    if (body === undefined) throw new LoginError(`platform login at ${base} failed (${step}): the answer is not JSON (HTTP ${res.status})`, "is --platform-address the platform's address?");
    return body;
  };
  const fail = (step: string, r: any): never => {
    if (r.__status === 404) throw new LoginError(`platform login at ${base} failed (${step}): HTTP 404`, "is --platform-address the platform's address? older platforms may need --platform-token");
    throw new LoginError(`platform login at ${base} failed (${step}): ${r.__error || `HTTP ${r.__status}`}`);
  };
  const redirect = `${base}/dex/callback`;
  const q = new URLSearchParams({ client_id: clientId, redirect_uri: redirect, response_type: "code", scope: SCOPE });
  const s1 = await call("login metadata", `/console-platform/api/v1/token/login?${q}`);
  if (s1.__status) {
    if (s1.__status === 400 && /client/i.test(s1.__error)) throw new LoginError(`platform login at ${base}: the platform does not know OAuth client "${clientId}" (${s1.__error})`, "check --client-id (default alauda-auth)");
    fail("login metadata", s1);
  }
  const authUrl = String(s1.auth_url ?? "");
  const query = authUrl.includes("?") ? authUrl.slice(authUrl.indexOf("?") + 1) : "";
  if (!query) throw new LoginError(`platform login at ${base} failed (login metadata): no auth_url in the answer`);
  const s2 = await call("authorize", `/dex/api/v1/authorize?${query}`);
  if (s2.__status || !s2.req) fail("authorize", s2.__status ? s2 : { __error: "no req in the answer" });
  const encrypt = async (): Promise<{ ok: true; body: any } | { ok: false; r: any }> => {
    const s3 = await call("public key", "/dex/pubkey");
    if (s3.__status) fail("public key", s3);
    const pem = s3.pubkey ? String(s3.pubkey) : Buffer.from(String(s3.pubkey_encode ?? ""), "base64").toString("utf8");
    if (!s3.ts || !pem.includes("PUBLIC KEY")) throw new LoginError(`platform login at ${base} failed (public key): no ts/pubkey in the answer`);
    let secret: string;
    try {
      secret = publicEncrypt({ key: pem, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(JSON.stringify({ ts: String(s3.ts), password: o.password }))).toString("base64");
    } catch (e) {
      throw new LoginError(`platform login at ${base} failed (public key): ${(e as Error).message}`);
    }
    registerSecret(secret);
    const s4 = await call("credentials", `/dex/api/v1/authorize/${encodeURIComponent(idp)}?req=${encodeURIComponent(s2.req)}`, { method: "POST", body: JSON.stringify({ account: o.username, password: secret }) });
    return s4.__status ? { ok: false, r: s4 } : { ok: true, body: s4 };
  };
  let s4 = await encrypt();
  // a timestamp that expired between steps 3 and 4 (slow link, clock skew): one more try with a fresh one
  if (!s4.ok && /expired|timestamp/i.test(s4.r.__error)) s4 = await encrypt();
  if (!s4.ok) {
    if (s4.r.__status === 401 || s4.r.__status === 403) {
      throw new LoginError(`platform login at ${base}: user ${o.username} was refused (${s4.r.__error || `HTTP ${s4.r.__status}`})`, "check --platform-username and the password; the username/password login only knows the platform's local users, users from LDAP/OIDC need --platform-token");
    }
    fail("credentials", s4.r);
  }
  const redirectUrl = String((s4 as { body: any }).body.redirect_url ?? "");
  let code: string | null = null;
  let state: string | null = null;
  try {
    const u = new URL(redirectUrl);
    code = u.searchParams.get("code");
    state = u.searchParams.get("state");
  } catch {}
  if (!code || !state) throw new LoginError(`platform login at ${base} failed (credentials): no code/state in redirect_url`);
  const s5 = await call("token", `/console-platform/api/v1/token/callback?${new URLSearchParams({ code, state })}`);
  if (s5.__status) fail("token", s5);
  if (!s5.access_token) throw new LoginError(`platform login at ${base} failed (token): no access_token in the answer`);
  const token = String(s5.access_token);
  registerSecret(token);
  for (const k of ["id_token", "refresh_token"]) if (s5[k]) registerSecret(String(s5[k]));
  return token;
}
