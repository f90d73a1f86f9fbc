// HTTP transport on node:http/node:https (works the same under Bun, Deno and Node, and takes a private CA or
// "skip verify" per host without any runtime-specific API). Keep-alive agents per host cap the sockets per
// registry; an idle timeout (no bytes for N ms) rather than a whole-request timeout, so big blobs never time out
// while they move; retries with backoff honouring Retry-After on 429/5xx/connection errors for replayable requests.
import http from "node:http";
import https from "node:https";
import { rootCertificates } from "node:tls";
import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { TransportError } from "../errors.ts";

export interface HostConfig {
  plainHttp: boolean;
  insecure: boolean;
  /** PEM text of extra CAs to trust */
  ca?: string;
}

export interface TransportOptions {
  hostConfig?: (host: string) => HostConfig;
  /** idle timeout per request, ms (default 60 s) */
  timeoutMs?: number;
  /** retries for replayable requests (default 5) */
  retries?: number;
  /** base backoff, ms (default 250) */
  backoffMs?: number;
  /** max parallel connections per registry host (default 8) */
  maxSocketsPerHost?: number;
  userAgent?: string;
  /** called on each retry (for logs) */
  onRetry?: (info: { method: string; url: string; attempt: number; delayMs: number; reason: string }) => void;
}

export type Body = Buffer | Uint8Array | string | (() => Readable | Promise<Readable>);

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** a Buffer/string is replayable; a function is called again for each attempt (replayable too) */
  body?: Body;
  /** retry on failure; default: true for GET/HEAD and for replayable bodies */
  retry?: boolean;
  /** statuses to return to the caller instead of retrying (e.g. 404 is never retried anyway) */
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  url: string;
  body: http.IncomingMessage;
  header(name: string): string | undefined;
  text(): Promise<string>;
  bytes(): Promise<Buffer>;
  json<T = unknown>(): Promise<T>;
  /** discard the body (frees the socket for keep-alive) */
  drain(): Promise<void>;
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const RETRY_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "ENOTFOUND_TEMP", "EAI_AGAIN", "ECONNABORTED", "UND_ERR_SOCKET", "ERR_STREAM_PREMATURE_CLOSE", "IDLE_TIMEOUT"]);

export function isRetryableError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e?.code && RETRY_CODES.has(e.code)) return true;
  return /socket hang up|ECONNRESET|premature close|aborted|terminated|other side closed/i.test(e?.message ?? "");
}

/** Retry-After as seconds or an HTTP date → ms (capped at 60 s). */
export function retryAfterMs(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs)) return Math.min(Math.max(0, secs * 1000), 60_000);
  const at = Date.parse(value);
  if (!Number.isNaN(at)) return Math.min(Math.max(0, at - Date.now()), 60_000);
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class HttpTransport {
  private agents = new Map<string, http.Agent>();
  private caCache = new Map<string, string>();
  readonly timeoutMs: number;
  readonly retries: number;
  constructor(readonly opts: TransportOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.retries = opts.retries ?? 5;
  }

  hostConfig(host: string): HostConfig {
    return this.opts.hostConfig?.(host) ?? { plainHttp: false, insecure: false };
  }

  /** http(s)://host */
  baseUrl(host: string): string {
    return `${this.hostConfig(host).plainHttp ? "http" : "https"}://${host}`;
  }

  private agent(url: URL): http.Agent {
    const key = `${url.protocol}//${url.host}`;
    let a = this.agents.get(key);
    if (!a) {
      const maxSockets = this.opts.maxSocketsPerHost ?? 8;
      if (url.protocol === "https:") {
        const cfg = this.hostConfig(url.host);
        a = new https.Agent({ keepAlive: true, maxSockets, ca: cfg.ca ? withSystemCAs(cfg.ca) : undefined, rejectUnauthorized: !cfg.insecure });
      } else {
        a = new http.Agent({ keepAlive: true, maxSockets });
      }
      this.agents.set(key, a);
    }
    return a;
  }

  /** One attempt; resolves when response headers arrive. */
  private once(req: HttpRequest, body: Buffer | string | Readable | undefined): Promise<HttpResponse> {
    const url = new URL(req.url);
    const mod = url.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { "user-agent": this.opts.userAgent ?? "kube-airgap", ...req.headers };
      if (body !== undefined && !(body instanceof Readable) && headers["content-length"] === undefined) headers["content-length"] = String(Buffer.byteLength(body));
      // a TLS socket that carried a streamed upload is not reused: under Deno's node:https the next request on it
      // (the manifest PUT after the blob PUTs) never gets an answer; the extra handshake per streamed blob is cheap
      if (body instanceof Readable && url.protocol === "https:") headers.connection = "close";
      const r = mod.request(url, { method: req.method, headers, agent: this.agent(url), signal: req.signal }, (res) => {
        res.setTimeout?.(this.timeoutMs, () => res.destroy(Object.assign(new Error(`no data from ${url.host} for ${this.timeoutMs / 1000}s`), { code: "IDLE_TIMEOUT" })));
        resolve(wrapResponse(res, req.url));
      });
      r.setTimeout(this.timeoutMs, () => r.destroy(Object.assign(new Error(`no response from ${url.host} within ${this.timeoutMs / 1000}s`), { code: "IDLE_TIMEOUT" })));
      r.on("error", reject);
      if (body instanceof Readable) {
        body.on("error", (e) => r.destroy(e));
        body.pipe(r);
      } else r.end(body);
    });
  }

  /** Send a request with retries where that is safe. Non-2xx responses are returned, not thrown. */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const replayable = req.body === undefined || typeof req.body !== "object" || Buffer.isBuffer(req.body) || req.body instanceof Uint8Array || typeof req.body === "function";
    const idempotent = req.method === "GET" || req.method === "HEAD" || req.method === "PUT" || req.method === "DELETE";
    const canRetry = req.retry ?? (replayable && (idempotent || req.body !== undefined));
    const max = canRetry ? this.retries : 0;
    for (let attempt = 0; ; attempt++) {
      let body: Buffer | string | Readable | undefined;
      if (typeof req.body === "function") body = await req.body();
      else if (req.body instanceof Uint8Array && !Buffer.isBuffer(req.body)) body = Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength);
      else body = req.body as Buffer | string | undefined;
      let res: HttpResponse | undefined;
      let error: unknown;
      try {
        res = await this.once(req, body);
      } catch (e) {
        if (body instanceof Readable) body.destroy();
        error = e;
        if (req.signal?.aborted) throw e;
      }
      if (res && !RETRY_STATUS.has(res.status)) return res;
      if (attempt >= max || (error && !isRetryableError(error))) {
        if (res) return res;
        throw toTransportError(error, req);
      }
      const base = (this.opts.backoffMs ?? 250) * 2 ** attempt;
      let delay = Math.min(base + Math.random() * base * 0.5, 10_000);
      const ra = res ? retryAfterMs(res.header("retry-after")) : undefined;
      if (ra !== undefined) delay = ra;
      const reason = res ? `HTTP ${res.status}` : String((error as Error)?.message ?? error);
      if (res) await res.drain();
      this.opts.onRetry?.({ method: req.method, url: req.url, attempt: attempt + 1, delayMs: Math.round(delay), reason });
      await sleep(delay);
    }
  }

  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }

  /** Read a CA file once (cached). */
  readCa(file: string): string {
    let pem = this.caCache.get(file);
    if (pem === undefined) {
      pem = readFileSync(file, "utf8");
      this.caCache.set(file, pem);
    }
    return pem;
  }
}

function withSystemCAs(extra: string): string[] {
  // Passing `ca` replaces the default trust store in Node's TLS: keep the public roots too.
  return [...rootCertificates, extra];
}

function wrapResponse(res: http.IncomingMessage, url: string): HttpResponse {
  const bytes = async () => {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    url,
    body: res,
    header: (n) => {
      const v = res.headers[n.toLowerCase()];
      return Array.isArray(v) ? v.join(", ") : v;
    },
    bytes,
    text: async () => (await bytes()).toString("utf8"),
    json: async <T>() => JSON.parse((await bytes()).toString("utf8")) as T,
    drain: async () => {
      res.resume();
      if (!res.complete) await new Promise<void>((r) => { res.once("end", r); res.once("close", r); res.once("error", () => r()); });
    },
  };
}

function toTransportError(err: unknown, req: HttpRequest): TransportError {
  const e = err as { code?: string; message?: string };
  const host = (() => { try { return new URL(req.url).host; } catch { return req.url; } })();
  const msg = e?.message ?? String(err);
  if (/certificate|self[- ]signed|SSL|TLS|UNABLE_TO_VERIFY|CERT_/i.test(msg + (e?.code ?? ""))) {
    return new TransportError(`TLS error talking to ${host}: ${msg}`, "trust the registry CA with --ca-file, or use --insecure / --plain-http if it is HTTP-only");
  }
  if (/wrong version number|EPROTO|packet length too long/i.test(msg)) {
    return new TransportError(`TLS handshake with ${host} failed: ${msg}`, "the registry seems to speak plain HTTP: add --plain-http");
  }
  if (e?.code === "ECONNREFUSED") return new TransportError(`cannot connect to ${host}: connection refused`, "check the host and port, and that the registry is running");
  if (e?.code === "ENOTFOUND") return new TransportError(`cannot resolve registry host ${host}`, "check the registry name");
  return new TransportError(`${req.method} ${req.url}: ${msg}`);
}
