// Registry authentication: anonymous, Basic, and the Bearer token flow (WWW-Authenticate realm/service/scope;
// GET with Basic credentials, or the OAuth2 POST with a refresh/identity token), tokens cached per host and
// scope set and re-challenged on 401. Token endpoints are JSON APIs: ofetch over the runtime's TLS-aware fetch
// (shared/runtime/json-http.ts) with the realm host's TLS settings, retried on 429/5xx and connection errors.
import { FetchError, type FetchResponse } from "ofetch";
import { fetchCause, jsonFetch, type JsonFetch } from "../../runtime/json-http.ts";
import { registerSecret } from "../../runtime/redact.ts";
import { createTlsFetch } from "../../runtime/tls-fetch.ts";
import { trustedCAs } from "../../runtime/trust.ts";
import { DeniedError, OciError, UnauthorizedError } from "../errors.ts";
import type { Credential, CredentialProvider } from "./credentials.ts";
import type { HttpRequest, HttpResponse, HttpTransport } from "./http.ts";

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parse a WWW-Authenticate header (one challenge; quoted and bare values, commas inside quotes). */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2]!))) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3]!;
  return { scheme: m[1]!.toLowerCase(), params };
}

export function pullScope(repo: string): string {
  return `repository:${repo}:pull`;
}
export function pushScope(repo: string): string {
  return `repository:${repo}:pull,push`;
}

interface HostState {
  scheme?: "basic" | "bearer";
  realm?: string;
  service?: string;
  tokens: Map<string, { token: string; expiresAt: number }>;
  /** token fetches in flight, per scope key (concurrent first requests share one) */
  pending: Map<string, Promise<string>>;
  cred?: Promise<Credential | undefined>;
  /** the credentials were refused (or are missing): later requests fail with this at once */
  refused?: UnauthorizedError;
  /** Basic credentials were accepted once / a request is checking them now (the others wait for it) */
  basicOk?: boolean;
  basicProbe?: Promise<void>;
}

export interface AuthRequest extends HttpRequest {
  /** registry host the request goes to (auth state key) */
  host: string;
  /** token scopes this request needs, e.g. repository:a/b:pull */
  scopes: string[];
}

export class AuthClient {
  private hosts = new Map<string, HostState>();
  private tokenApis = new Map<string, JsonFetch>();
  constructor(
    readonly transport: HttpTransport,
    private credentials: CredentialProvider = async () => undefined,
  ) {}

  private state(host: string): HostState {
    let s = this.hosts.get(host);
    if (!s) this.hosts.set(host, (s = { tokens: new Map(), pending: new Map() }));
    return s;
  }

  private credential(host: string): Promise<Credential | undefined> {
    const s = this.state(host);
    return (s.cred ??= this.credentials(host));
  }

  private static scopeKey(scopes: string[]): string {
    return [...new Set(scopes)].sort().join(" ");
  }

  private async authorization(host: string, scopes: string[]): Promise<string | undefined> {
    const s = this.state(host);
    if (s.scheme === "basic") {
      const c = await this.credential(host);
      return c?.username !== undefined ? basic(c) : undefined;
    }
    if (s.scheme === "bearer") return `Bearer ${await this.token(host, scopes)}`;
    return undefined;
  }

  /** A cached token for these scopes, or one fetch shared by every request that asks at the same time. */
  private token(host: string, scopes: string[], stale?: string): Promise<string> {
    const s = this.state(host);
    const key = AuthClient.scopeKey(scopes);
    const t = s.tokens.get(key);
    if (t && t.token !== stale && t.expiresAt > Date.now() + 5_000) return Promise.resolve(t.token);
    let p = s.pending.get(key);
    if (!p) {
      p = this.fetchToken(host, scopes).finally(() => s.pending.delete(key));
      s.pending.set(key, p);
    }
    return p;
  }

  /**
   * Send a request, answering auth challenges. A request sent without credentials (or before the host's scheme
   * was known) that gets a 401 is sent again with them; only credentials that were actually sent and refused
   * make an UnauthorizedError. 403 / insufficient_scope → DeniedError.
   */
  async request(req: AuthRequest): Promise<HttpResponse> {
    const s = this.state(req.host);
    // credentials refused once are not sent again in this run (one clear error, no lock-out by repetition)
    if (s.refused) throw s.refused;
    try {
      return await this.send(req, s);
    } catch (e) {
      // host-wide: Basic auth (one password for every repository), or credentials the token service refused
      if (e instanceof UnauthorizedError && e.host === req.host && (s.scheme === "basic" || /token service rejected/.test(e.message))) {
        e.hostWide = true;
        s.refused ??= e;
      }
      throw e;
    }
  }

  /**
   * Send with this Authorization. Basic credentials the host has not accepted yet go out one request at a time:
   * a wrong password is tried once, not once per concurrent request (and the others fail with that one error).
   */
  private async transmit(req: AuthRequest, s: HostState, auth: string | undefined): Promise<HttpResponse> {
    const send = () => this.transport.request({ ...req, headers: { ...req.headers, ...(auth ? { authorization: auth } : {}) } });
    if (!auth?.startsWith("Basic ") || s.basicOk) return send();
    if (s.refused) throw s.refused;
    while (s.basicProbe) {
      await s.basicProbe;
      if (s.refused) throw s.refused;
      if (s.basicOk) return send();
    }
    let done!: () => void;
    s.basicProbe = new Promise<void>((r) => (done = r));
    try {
      const res = await send();
      if (res.status !== 401) {
        s.basicOk = true;
        return res;
      }
      await res.drain();
      const e = new UnauthorizedError(req.host, "username or password rejected");
      e.hostWide = true;
      s.refused ??= e;
      throw e;
    } finally {
      s.basicProbe = undefined;
      done();
    }
  }

  private async send(req: AuthRequest, s: HostState): Promise<HttpResponse> {
    let auth = await this.authorization(req.host, req.scopes);
    let res = await this.transmit(req, s, auth);
    // Two rounds at most: the first learns the scheme (or refreshes an expired token), the second is final.
    for (let round = 0; res.status === 401 && round < 2; round++) {
      const header = res.header("www-authenticate");
      await res.drain();
      const ch = header ? parseChallenge(header) : undefined;
      const sent = auth;
      if (ch?.scheme === "bearer" && ch.params.realm) {
        if (sent?.startsWith("Bearer ") && ch.params.error === "insufficient_scope" && round > 0) {
          throw new DeniedError(req.host, req.scopes.map((x) => x.replace(/^repository:/, "")).join(", "));
        }
        s.scheme = "bearer";
        s.realm = ch.params.realm;
        s.service = ch.params.service;
        const scopes = [...req.scopes];
        if (ch.params.scope) for (const sc of ch.params.scope.split(" ")) if (!scopes.includes(sc)) scopes.push(sc);
        // A token that was sent and refused is stale (expired mid-run, revoked): fetch a fresh one, once.
        if (sent?.startsWith("Bearer ") && round > 0) {
          const c = await this.credential(req.host);
          throw new UnauthorizedError(req.host, c ? "credentials rejected" : "the registry requires credentials");
        }
        auth = `Bearer ${await this.token(req.host, scopes, sent?.slice(7))}`;
        if (AuthClient.scopeKey(scopes) !== AuthClient.scopeKey(req.scopes)) {
          const t = s.tokens.get(AuthClient.scopeKey(scopes));
          if (t) s.tokens.set(AuthClient.scopeKey(req.scopes), t);
        }
      } else if (ch?.scheme === "basic") {
        const c = await this.credential(req.host);
        s.scheme = "basic";
        if (!c?.username) throw new UnauthorizedError(req.host, "the registry requires a username and password");
        if (sent?.startsWith("Basic ")) throw new UnauthorizedError(req.host, "username or password rejected");
        auth = basic(c);
      } else {
        throw new UnauthorizedError(req.host, header ? `unsupported challenge "${header.split(" ")[0]}"` : "no WWW-Authenticate challenge");
      }
      res = await this.transmit(req, s, auth);
    }
    if (res.status === 401) {
      await res.drain();
      throw new UnauthorizedError(req.host, (await this.credential(req.host)) ? "credentials rejected" : "the registry requires credentials");
    }
    return res;
  }

  /** ofetch for a token realm host: its CA / skip-verify from the transport's host config, retries set once. */
  private tokenApi(realmHost: string): JsonFetch {
    let api = this.tokenApis.get(realmHost);
    if (!api) {
      const cfg = this.transport.hostConfig(realmHost);
      api = jsonFetch(createTlsFetch({ ca: cfg.ca ? trustedCAs(cfg.ca).join("\n") : undefined, insecureSkipVerify: cfg.insecure }), {
        ignoreResponseError: false,
        retry: 3,
        retryDelay: 250,
        retryStatusCodes: [408, 429, 500, 502, 503, 504],
        timeout: 60_000,
        responseType: "text",
        headers: { "user-agent": "kube-airgap" },
      });
      this.tokenApis.set(realmHost, api);
    }
    return api;
  }

  /** A token request: the response whatever its status (after retries), or a transport error. */
  private async tokenRequest(realm: URL, init: { method: "GET" | "POST"; headers: Record<string, string>; body?: string }): Promise<FetchResponse<string>> {
    try {
      return await this.tokenApi(realm.host).raw<string, "text">(realm.toString(), init);
    } catch (e) {
      if (e instanceof FetchError && e.response) return e.response as FetchResponse<string>;
      const cause = fetchCause(e) as Error;
      throw new OciError(`token request to ${realm.host} failed: ${cause?.message ?? String(cause)}`, "AUTH");
    }
  }

  private async fetchToken(host: string, scopes: string[]): Promise<string> {
    const s = this.state(host);
    const cred = await this.credential(host);
    if (cred?.registryToken) return cred.registryToken;
    if (!s.realm) throw new OciError(`no token realm known for ${host}`, "AUTH");
    const realm = new URL(s.realm);
    const uniq = [...new Set(scopes)];
    let res: FetchResponse<string>;
    if (cred?.identityToken) {
      const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: cred.identityToken, client_id: "kube-airgap", ...(s.service ? { service: s.service } : {}), ...(uniq.length ? { scope: uniq.join(" ") } : {}) });
      res = await this.tokenRequest(realm, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form.toString() });
    } else {
      if (s.service) realm.searchParams.set("service", s.service);
      for (const sc of uniq) realm.searchParams.append("scope", sc);
      if (cred?.username) realm.searchParams.set("account", cred.username);
      res = await this.tokenRequest(realm, { method: "GET", headers: cred?.username !== undefined ? { authorization: basic(cred) } : {} });
    }
    if (res.status === 401 || res.status === 403) {
      throw new UnauthorizedError(host, cred ? "the token service rejected the credentials" : "the registry requires credentials");
    }
    const text = typeof res._data === "string" ? res._data : "";
    if (res.status < 200 || res.status > 299) {
      throw new OciError(`token request to ${realm.host} failed with HTTP ${res.status}: ${text.slice(0, 200)}`, "AUTH");
    }
    let j: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      j = JSON.parse(text);
    } catch {
      throw new OciError(`token service ${realm.host} returned no JSON`, "AUTH");
    }
    const token = j.token || j.access_token;
    if (!token) throw new OciError(`token service ${realm.host} returned no token`, "AUTH");
    registerSecret(token);
    const issued = j.issued_at ? Date.parse(j.issued_at) : Date.now();
    const expiresAt = (Number.isNaN(issued) ? Date.now() : Math.min(issued, Date.now())) + (j.expires_in && j.expires_in > 0 ? j.expires_in : 60) * 1000;
    s.tokens.set(AuthClient.scopeKey(scopes), { token, expiresAt });
    return token;
  }
}

function basic(c: Credential): string {
  return `Basic ${Buffer.from(`${c.username ?? ""}:${c.password ?? ""}`).toString("base64")}`;
}
