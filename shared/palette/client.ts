// Palette system API client (the part the SCAR migration needs): syslogin (?setCookie=true, as the documented
// script does), the raw JWT sent both as the `Authorization` header and as the `Authorization` cookie (some
// Palette deployments only read the cookie), GET/PUT /v1/system/config/scar, the internal sync jobs. ofetch over
// the runtime's TLS-aware fetch (shared/runtime/json-http.ts) with a private CA (added to the public roots) or
// "skip verify"; every call has one deadline (timeoutMs, default 60 s) covering connect, TLS and the whole answer.
//
//   const p = new PaletteClient({ url: "https://palette.local", username: "admin", password, caFile });
//   await p.login();                         // or { token } (passkey admins: the browser's token)
//   const before = await p.getScarConfig();
//   await p.putScarConfig({ endpoint: SPECMAN_ENDPOINT, username: "", password: "" });   // expects 204
//   await p.runJob("syncCloudInstanceTypesData");                                       // expects 204
//
// A 401 on any call re-logs in once (syslogin tokens last ~15 minutes) when a username/password is known.
import type { IncomingHttpHeaders } from "node:http";
import { readFileSync } from "node:fs";
import type { FetchResponse } from "ofetch";
import { fetchCause, jsonFetch, type JsonFetch } from "../runtime/json-http.ts";
import { registerSecret } from "../runtime/redact.ts";
import { createTlsFetch } from "../runtime/tls-fetch.ts";
import { trustedCAs } from "../runtime/trust.ts";

/** v1SystemScarSpec */
export interface ScarSpec {
  endpoint?: string;
  username?: string;
  password?: string;
  caCert?: string;
  insecureVerify?: boolean;
  baseContentPath?: string;
  [k: string]: unknown;
}

export interface PaletteOptions {
  /** https://palette.example.com (a trailing / or /v1 is dropped) */
  url: string;
  username?: string;
  password?: string;
  /** a JWT to use as is (no syslogin) */
  token?: string;
  /** skip TLS verification */
  insecure?: boolean;
  /** PEM file of a CA to trust (in addition to the public roots) */
  caFile?: string;
  /** deadline of each request, ms: connect + TLS + answer (default DEFAULT_PALETTE_TIMEOUT_MS) */
  timeoutMs?: number;
}

/** Base class of Palette errors; one-line message naming the URL and what to do. */
export class PaletteError extends Error {
  override name = "PaletteError";
  exitCode = 1;
  constructor(
    message: string,
    public hint?: string,
    public status?: number,
  ) {
    super(message);
  }
}

/** Login failed or the token was rejected. */
export class PaletteAuthError extends PaletteError {
  override name = "PaletteAuthError";
}

/** The Palette API could not be reached (DNS, refused, TLS, timeout). */
export class PaletteConnectionError extends PaletteError {
  override name = "PaletteConnectionError";
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** default deadline of each Palette request */
export const DEFAULT_PALETTE_TIMEOUT_MS = 60_000;

export const SCAR_CONFIG_PATH = "/v1/system/config/scar";
export const SYSLOGIN_PATH = "/v1/auth/syslogin";

export class PaletteClient {
  readonly base: URL;
  #token?: string;
  #ca?: string[];
  #fromToken: boolean;
  #http: JsonFetch;
  /** number of syslogin calls made (for tests and logs) */
  logins = 0;

  constructor(readonly opts: PaletteOptions) {
    let u: URL;
    try {
      u = new URL(opts.url.replace(/\/+$/, "").replace(/\/v1$/, ""));
    } catch {
      throw new PaletteError(`invalid Palette URL "${opts.url}"`, "give it as https://HOST[:PORT]");
    }
    if (u.protocol !== "https:" && u.protocol !== "http:") throw new PaletteError(`invalid Palette URL "${opts.url}": use https:// (or http://)`);
    this.base = u;
    if (opts.password) registerSecret(opts.password);
    if (opts.token) registerSecret(opts.token);
    this.#token = opts.token;
    this.#fromToken = !!opts.token;
    if (opts.caFile) {
      let pem: string;
      try {
        pem = readFileSync(opts.caFile, "utf8");
      } catch (e) {
        throw new PaletteError(`cannot read the Palette CA file ${opts.caFile}: ${(e as Error).message}`, "check --palette-ca-file");
      }
      this.#ca = trustedCAs(pem);
    }
    this.#http = jsonFetch(createTlsFetch({ ca: this.#ca?.join("\n"), insecureSkipVerify: !!opts.insecure }), {
      baseURL: u.origin,
      timeout: opts.timeoutMs ?? DEFAULT_PALETTE_TIMEOUT_MS,
      responseType: "text", // bodies are parsed where they are used (errors quote them)
      headers: { accept: "application/json", "user-agent": "kube-airgap" },
    });
  }

  get url(): string {
    return this.base.origin;
  }

  get hasToken(): boolean {
    return !!this.#token;
  }

  /** kept for callers; connections are pooled by the runtime's fetch */
  close(): void {}

  #lastPath?: string;

  async #send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
    const url = new URL(path, this.base);
    this.#lastPath = `${method} ${url.pathname}`;
    let res: FetchResponse<string>;
    try {
      // ofetch serialises the body as JSON with content-type application/json
      res = await this.#http.raw<string, "text">(url.pathname + url.search, { method, headers, body: body as Record<string, unknown> | undefined });
    } catch (e) {
      throw this.#connectionError(fetchCause(e));
    }
    const h: IncomingHttpHeaders = {};
    res.headers.forEach((v, k) => (h[k] = v));
    return { status: res.status, headers: h, body: typeof res._data === "string" ? res._data : "" };
  }

  #connectionError(e: unknown): PaletteConnectionError {
    const err = e as { code?: string; message?: string; name?: string };
    const msg = err?.message ?? String(e);
    const code = err?.code ?? "";
    const name = err?.name ?? "";
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME|certificate/i.test(code + " " + msg)) {
      return new PaletteConnectionError(`TLS error talking to Palette at ${this.url}: ${msg}`, "trust its CA with --palette-ca-file, or skip verification with --palette-insecure");
    }
    if (/wrong version number|EPROTO|packet length/i.test(msg)) return new PaletteConnectionError(`TLS handshake with Palette at ${this.url} failed: ${msg}`, "does it speak plain HTTP? use an http:// --palette URL");
    if (this.base.protocol === "http:" && /ECONNRESET|socket hang up|closed unexpectedly|EPIPE/i.test(code + " " + msg)) {
      const https = new URL(this.base.href);
      https.protocol = "https:";
      return new PaletteConnectionError(`Palette at ${this.url} closed the connection: ${msg}`, `does it speak HTTPS? use ${https.origin} for --palette`);
    }
    if (code === "ETIMEDOUT" || name === "TimeoutError" || name === "AbortError") return new PaletteConnectionError(`Palette at ${this.url} did not answer ${this.#lastPath ?? "the request"} within ${(this.opts.timeoutMs ?? DEFAULT_PALETTE_TIMEOUT_MS) / 1000}s`, "check that --palette is the Palette API address and reachable; raise --request-timeout if it is just slow");
    if (code === "ECONNREFUSED" || code === "ConnectionRefused") return new PaletteConnectionError(`cannot connect to Palette at ${this.url}: connection refused`, "check --palette (host and port)");
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") return new PaletteConnectionError(`cannot resolve the Palette host ${this.base.hostname}`, "check --palette");
    return new PaletteConnectionError(`request to Palette at ${this.url} failed: ${msg}`, "check --palette and the network");
  }

  /** POST /v1/auth/syslogin with the username/password; keeps the returned JWT. */
  async login(): Promise<void> {
    if (!this.opts.username || this.opts.password === undefined) {
      if (this.#token) return;
      throw new PaletteAuthError("no Palette credentials", "give --palette-username with --palette-password-stdin (or PALETTE_PASSWORD), or --palette-token");
    }
    const res = await this.#send("POST", `${SYSLOGIN_PATH}?setCookie=true`, { username: this.opts.username, password: this.opts.password });
    this.logins++;
    if (res.status === 401 || res.status === 403) {
      throw new PaletteAuthError(`Palette system login as "${this.opts.username}" at ${this.url} failed: ${errorText(res) || `HTTP ${res.status}`}`, "check the system-admin username/password; admins with passkeys must use --palette-token", res.status);
    }
    if (res.status < 200 || res.status > 299) throw new PaletteError(`Palette system login at ${this.url} failed: HTTP ${res.status}${errorText(res) ? `: ${errorText(res)}` : ""}`, undefined, res.status);
    let token: string | undefined;
    try {
      token = (JSON.parse(res.body) as { Authorization?: string }).Authorization;
    } catch {}
    // ?setCookie=true: the server may (also) set the token as the Authorization cookie
    const cookies = res.headers["set-cookie"] ?? [];
    for (const c of Array.isArray(cookies) ? cookies : [cookies]) {
      const m = /^\s*Authorization=("?)([^;"]*)\1/.exec(c);
      if (m?.[2]) token ??= decodeURIComponent(m[2]);
    }
    if (!token) throw new PaletteAuthError(`Palette system login at ${this.url} returned no Authorization token`, "is --palette the system console's API address?");
    registerSecret(token);
    this.#token = token;
  }

  /** An authenticated request; a 401 re-logs in once (when credentials are known) and repeats the call. */
  async request(method: string, path: string, body?: unknown): Promise<RawResponse> {
    if (!this.#token) await this.login();
    let res = await this.#send(method, path, body, authHeaders(this.#token!));
    if (res.status === 401) {
      if (this.#fromToken && !this.opts.username) {
        throw new PaletteAuthError(`Palette rejected the token for ${method} ${path} (HTTP 401)`, "the token may have expired (about 15 minutes); get a new one, or log in with --palette-username and a password", 401);
      }
      await this.login();
      res = await this.#send(method, path, body, authHeaders(this.#token!));
      if (res.status === 401) throw new PaletteAuthError(`Palette rejected a fresh token for ${method} ${path} (HTTP 401)`, "the system admin may use passkeys: use --palette-token", 401);
    }
    if (res.status === 403) throw new PaletteAuthError(`Palette denied ${method} ${path} (HTTP 403)${errorText(res) ? `: ${errorText(res)}` : ""}`, "log in as a system administrator", 403);
    return res;
  }

  /** Check that the credentials work (login, or a token that reads the SCAR config). */
  async check(): Promise<ScarSpec> {
    if (!this.#token) await this.login();
    return this.getScarConfig();
  }

  async getScarConfig(): Promise<ScarSpec> {
    const res = await this.request("GET", SCAR_CONFIG_PATH);
    expectStatus(res, [200], "GET", SCAR_CONFIG_PATH, this.url);
    try {
      const spec = (res.body ? JSON.parse(res.body) : {}) as ScarSpec;
      if (typeof spec.password === "string") registerSecret(spec.password);
      return spec;
    } catch {
      throw new PaletteError(`GET ${SCAR_CONFIG_PATH} at ${this.url} returned no JSON`, "is --palette the Palette API address?");
    }
  }

  /** PUT /v1/system/config/scar; Palette answers 204. */
  async putScarConfig(spec: ScarSpec): Promise<void> {
    const res = await this.request("PUT", SCAR_CONFIG_PATH, spec);
    expectStatus(res, [204], "PUT", SCAR_CONFIG_PATH, this.url);
  }

  /** GET /v1/jobs/internal/<job>/run; Palette answers 204. */
  async runJob(job: string): Promise<void> {
    const path = `/v1/jobs/internal/${encodeURIComponent(job)}/run`;
    const res = await this.request("GET", path);
    expectStatus(res, [204], "GET", path, this.url);
  }
}

/** The token as the documented curl sends it (Cookie: Authorization=…) and as the SDKs do (Authorization: …). */
function authHeaders(token: string): Record<string, string> {
  return { authorization: token, cookie: `Authorization=${token}` };
}

function errorText(res: RawResponse): string {
  if (!res.body) return "";
  try {
    const j = JSON.parse(res.body) as { message?: string; code?: string };
    if (j && typeof j === "object" && (j.message || j.code)) return [j.code, j.message].filter(Boolean).join(": ");
  } catch {}
  return res.body.slice(0, 200).replace(/\s+/g, " ").trim();
}

export function expectStatus(res: RawResponse, ok: number[], method: string, path: string, url: string): void {
  if (ok.includes(res.status)) return;
  const detail = errorText(res);
  throw new PaletteError(`${method} ${path} at ${url} answered HTTP ${res.status} (expected ${ok.join(" or ")})${detail ? `: ${detail}` : ""}`, res.status >= 500 ? "Palette had a server error; try again (the migration resumes where it stopped)" : undefined, res.status);
}
