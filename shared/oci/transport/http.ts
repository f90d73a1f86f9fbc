// HTTP transport on node:http/node:https (works the same under Bun, Deno and Node, and takes a private CA or
// "skip verify" per host without any runtime-specific API). Keep-alive agents per host cap the sockets per
// registry; an idle timeout (no bytes for N ms) rather than a whole-request timeout, so big blobs never time out
// while they move; retries with backoff honouring Retry-After on 429/5xx/connection errors for replayable requests.
import http from "node:http";
import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { TransportError } from "../errors.ts";
import { redactUrl } from "../../runtime/redact.ts";
import { trustedCAs } from "../../runtime/trust.ts";
import { agentFor, httpRequest, ProxyError } from "../../runtime/proxy.ts";
import { hasOwnedChunks, pipeReleasing, releaseChunk } from "../../runtime/memory.ts";

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
  /** retries per operation (one budget shared by its requests and restarts; default 5) */
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
  /**
   * The retry budget of the operation this request belongs to (shared by its requests: an upload's POST and
   * PUT and its restarts, a download and its Range resumes). Default: a fresh budget of `retries`.
   */
  budget?: RetryBudget;
}

/** Retries left for one operation: every retry of any of its requests takes one. */
export interface RetryBudget {
  left: number;
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
  /** hosts that answered at least once in this transport's life / hosts found down before ever answering */
  private reached = new Set<string>();
  private down = new Map<string, TransportError>();
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
      // through HTTPS_PROXY/HTTP_PROXY unless NO_PROXY says otherwise (runtime/proxy.ts)
      if (url.protocol === "https:") {
        const cfg = this.hostConfig(url.host);
        a = agentFor(url, { keepAlive: true, maxSockets, ca: cfg.ca ? trustedCAs(cfg.ca) : undefined, rejectUnauthorized: !cfg.insecure });
      } else {
        a = agentFor(url, { keepAlive: true, maxSockets });
      }
      this.agents.set(key, a);
    }
    return a;
  }

  /** One attempt; resolves when response headers arrive. */
  private once(req: HttpRequest, body: Buffer | string | Readable | undefined): Promise<HttpResponse> {
    const url = new URL(req.url);
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { "user-agent": this.opts.userAgent ?? "kube-airgap", ...req.headers };
      if (body !== undefined && !(body instanceof Readable) && headers["content-length"] === undefined) headers["content-length"] = String(Buffer.byteLength(body));
      // a TLS socket that carried a streamed upload is not reused: under Deno's node:https the next request on it
      // (the manifest PUT after the blob PUTs) never gets an answer; the extra handshake per streamed blob is cheap
      if (body instanceof Readable && url.protocol === "https:") headers.connection = "close";
      const r = httpRequest(url, { method: req.method, headers, agent: this.agent(url), signal: req.signal }, (res) => {
        res.setTimeout?.(this.timeoutMs, () => res.destroy(Object.assign(new Error(`no data from ${url.host} for ${this.timeoutMs / 1000}s`), { code: "IDLE_TIMEOUT" })));
        if (req.method !== "HEAD") watchStall(res, this.timeoutMs, url.host, req.method === "GET");
        resolve(wrapResponse(res, req.url));
      });
      // a streamed upload body goes at its source's pace: give a stalled source the time to be detected (and
      // resumed) on its own side before the upload is given up
      const reqTimeout = body instanceof Readable ? this.timeoutMs * 2 : this.timeoutMs;
      r.setTimeout(reqTimeout, () => r.destroy(Object.assign(new Error(`no response from ${url.host} within ${reqTimeout / 1000}s`), { code: "IDLE_TIMEOUT" })));
      r.on("error", reject);
      if (body instanceof Readable) {
        body.on("error", (e) => r.destroy(e));
        // a body whose chunks nobody else holds (a registry download): each is freed once the request has taken it
        if (hasOwnedChunks(body)) pipeReleasing(body, r);
        else body.pipe(r);
      } else r.end(body);
    });
  }

  /** Send a request with retries where that is safe. Non-2xx responses are returned, not thrown. */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const replayable = req.body === undefined || typeof req.body !== "object" || Buffer.isBuffer(req.body) || req.body instanceof Uint8Array || typeof req.body === "function";
    const idempotent = req.method === "GET" || req.method === "HEAD" || req.method === "PUT" || req.method === "DELETE";
    const canRetry = req.retry ?? (replayable && (idempotent || req.body !== undefined));
    const budget = req.budget ?? { left: this.retries };
    for (let attempt = 0; ; attempt++) {
      let body: Buffer | string | Readable | undefined;
      if (typeof req.body === "function") body = await req.body();
      else if (req.body instanceof Uint8Array && !Buffer.isBuffer(req.body)) body = Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength);
      else body = req.body as Buffer | string | undefined;
      let res: HttpResponse | undefined;
      let error: unknown;
      const hostKey = new URL(req.url).host;
      const down = this.down.get(hostKey);
      if (down) throw down;
      try {
        res = await this.once(req, body);
        this.reached.add(hostKey);
      } catch (e) {
        if (body instanceof Readable) body.destroy();
        error = e;
        if (req.signal?.aborted) throw e;
      }
      if (res && !RETRY_STATUS.has(res.status)) return res;
      // a host never reached that refuses connections (or does not resolve) is down: no retries, and the other
      // requests of the run fail at once with the same error instead of retrying it each
      const neverReached = error && !this.reached.has(hostKey) && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN)$/.test((error as { code?: string }).code ?? "");
      if (!canRetry || budget.left <= 0 || (error && !isRetryableError(error)) || neverReached) {
        if (res) return res;
        const t = toTransportError(error, req);
        if (neverReached) this.down.set(hostKey, t);
        throw t;
      }
      budget.left--;
      const base = (this.opts.backoffMs ?? 250) * 2 ** attempt;
      let delay = Math.min(base + Math.random() * base * 0.5, 10_000);
      const ra = res ? retryAfterMs(res.header("retry-after")) : undefined;
      if (ra !== undefined) delay = ra;
      const reason = res ? `HTTP ${res.status}` : String((error as Error)?.message ?? error);
      if (res) await res.drain();
      this.opts.onRetry?.({ method: req.method, url: redactUrl(req.url), attempt: attempt + 1, delayMs: Math.round(delay), reason });
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

/**
 * Free each socket read of a response body as soon as the HTTP parser is done with it. Bun's node:http parser
 * copies every body chunk out of the socket's read (a fresh 512 KiB buffer each), so the read is garbage at once;
 * Node's body chunks are views into the read, which then stays alone. A read is released only when no body chunk
 * pushed while it was parsed shares its memory, and only outside nested data events (the client queues those).
 * Returns the set the body's push adds each chunk's ArrayBuffer to.
 */
function releaseSocketReads(res: http.IncomingMessage): Set<ArrayBufferLike> | undefined {
  const socket = res.socket;
  if (!socket || typeof socket.prependListener !== "function") return undefined;
  const views = new Set<ArrayBufferLike>();
  let depth = 0;
  const before = () => {
    depth++;
  };
  const after = (d: Buffer) => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) {
      if (Buffer.isBuffer(d) && !views.has(d.buffer)) releaseChunk(d, false);
      views.clear();
    }
    // the body is complete: the socket goes back to the pool, its next reads belong to another response
    if (res.complete) stop();
  };
  socket.prependListener("data", before);
  socket.on("data", after);
  const stop = () => {
    socket.off("data", before);
    socket.off("data", after);
  };
  res.once("end", stop);
  res.once("close", stop);
  res.once("error", stop);
  return views;
}

/** Fewer bytes than this per timeout window is a stalled transfer (a slow drip never trips an idle timeout). */
const STALL_MIN_BYTES = 1024;

/**
 * Cut a response body that delivers fewer than STALL_MIN_BYTES per `ms` while its reader keeps up (a reader
 * that applies backpressure leaves bytes buffered: that is not a stall). The body fails with IDLE_TIMEOUT, a
 * retryable error: blob downloads resume with Range from the byte reached.
 */
function watchStall(res: http.IncomingMessage, ms: number, host: string, releaseReads: boolean): void {
  let got = 0;
  let last = 0;
  const push = res.push.bind(res);
  const reads = releaseReads ? releaseSocketReads(res) : undefined;
  res.push = (chunk: any, encoding?: BufferEncoding) => {
    if (chunk) {
      got += chunk.length;
      reads?.add(chunk.buffer);
    }
    return push(chunk, encoding);
  };
  const timer = setInterval(() => {
    if (res.complete || res.destroyed) return clearInterval(timer);
    const moved = got - last;
    last = got;
    if (res.readableLength > 0 || moved >= STALL_MIN_BYTES) return;
    clearInterval(timer);
    res.destroy(Object.assign(new Error(`transfer from ${host} stalled: ${moved} bytes in ${ms / 1000}s (--request-timeout)`), { code: "IDLE_TIMEOUT" }));
  }, ms);
  timer.unref?.();
  const stop = () => clearInterval(timer);
  res.once("end", stop);
  res.once("close", stop);
  res.once("error", stop);
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
  const hostDown = (t: TransportError) => Object.assign(t, { host });
  if (err instanceof ProxyError) return hostDown(new TransportError(`${req.method} ${redactUrl(req.url)}: ${msg}`, err.hint));
  if (/wrong.version.number|EPROTO|packet length too long/i.test(msg)) {
    // OpenSSL's "error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER": the server answered in plain HTTP
    const why = /wrong.version.number|packet length too long/i.test(msg) ? "the server does not speak TLS" : msg;
    return hostDown(new TransportError(`TLS handshake with ${host} failed: ${why}`, `the registry seems to speak plain HTTP: add --plain-http-host ${host}, or --plain-http for every registry`));
  }
  if (/certificate|self[- ]signed|SSL|TLS|UNABLE_TO_VERIFY|CERT_/i.test(msg + (e?.code ?? ""))) {
    return hostDown(new TransportError(`TLS error talking to ${host}: ${msg}`, `trust the registry CA with --ca-file ${host}=CA.pem, or skip verification for it with --insecure-host ${host}`));
  }
  if (e?.code === "ECONNREFUSED") return hostDown(new TransportError(`cannot connect to ${host}: connection refused`, "check the host and port, and that the registry is running"));
  if (e?.code === "ENOTFOUND") return hostDown(new TransportError(`cannot resolve registry host ${host}`, "check the registry name"));
  if (e?.code === "ECONNRESET" || e?.code === "EPIPE" || /socket hang up|aborted|other side closed|premature close/i.test(msg)) return new TransportError(`the connection to ${host} was reset or closed during ${req.method} ${redactUrl(req.url)} (${msg})`, "the registry or a proxy in between dropped the connection; check it, or raise --retries");
  return new TransportError(`${req.method} ${redactUrl(req.url)}: ${msg}`);
}
