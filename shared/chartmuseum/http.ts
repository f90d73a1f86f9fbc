// HTTP(S) for ChartMuseum-style chart repositories with per-request TLS material (CA file, client certificate,
// skip-verify). Chart uploads and index.yaml (large bodies) go through a small streaming client on
// node:http/node:https (works the same under Bun, Deno and Node) with an idle timeout, streamed request bodies and
// redirects that re-send the body; the JSON API calls (exists/delete) use ofetch over the runtime's TLS-aware
// fetch (jsonRequest, shared/runtime/json-http.ts).
import type { IncomingMessage } from "node:http";
import { readFile } from "node:fs/promises";
import type { FetchResponse } from "ofetch";
import { fetchCause, jsonFetch, type JsonFetch } from "../runtime/json-http.ts";
import { createTlsFetch } from "../runtime/tls-fetch.ts";
import { httpRequest as proxiedRequest, ProxyError } from "../runtime/proxy.ts";
import { trustedCAs } from "../runtime/trust.ts";

export interface TlsOptions {
  /** PEM CA bundle added to the system roots */
  caFile?: string;
  /** PEM client certificate (mutual TLS) */
  certFile?: string;
  keyFile?: string;
  /** skip server certificate verification */
  insecure?: boolean;
}

export class HttpError extends Error {
  override name = "HttpError";
  constructor(message: string, public code?: string) {
    super(message);
  }
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
  url: URL;
  text(): string;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** body bytes, or a factory (called again when a redirect needs the body re-sent) */
  body?: Uint8Array | (() => AsyncIterable<Uint8Array>);
  tls?: TlsOptions;
  /** idle timeout in ms (no bytes either way), default 30 s */
  timeoutMs?: number;
  /** max response body kept, default 1 MiB (the rest is discarded) */
  maxBody?: number;
  /** redirects to follow, default 5 */
  maxRedirects?: number;
  signal?: AbortSignal;
}

const tlsCache = new Map<string, Promise<{ ca?: string[]; cert?: string; key?: string }>>();

async function loadTls(o: TlsOptions | undefined): Promise<{ ca?: string[]; cert?: string; key?: string }> {
  if (!o) return {};
  const key = JSON.stringify([o.caFile, o.certFile, o.keyFile]);
  let p = tlsCache.get(key);
  if (!p) {
    p = (async () => {
      const read = async (file: string | undefined, flag: string) => {
        if (!file) return undefined;
        try {
          return await readFile(file, "utf8");
        } catch (err) {
          throw new HttpError(`cannot read ${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
      };
      const ca = await read(o.caFile, "CA file");
      const cert = await read(o.certFile, "certificate file");
      const keyPem = await read(o.keyFile, "key file");
      if (!!cert !== !!keyPem) throw new HttpError("a client certificate needs both a certificate file and a key file");
      return { ca: ca ? trustedCAs(ca) : undefined, cert, key: keyPem };
    })();
    tlsCache.set(key, p);
    p.catch(() => tlsCache.delete(key));
  }
  return p;
}

function describeNetError(err: NodeJS.ErrnoException, url: URL, timeoutMs = 30_000): HttpError {
  const where = `${url.protocol}//${url.host}`;
  const code = err.code ?? "";
  if (err instanceof ProxyError) return new HttpError(`${where}: ${err.message}`, code);
  if (err.name === "TimeoutError") return new HttpError(`${where} did not answer within ${Math.round(timeoutMs / 1000)}s`, "ETIMEDOUT");
  if (code === "ECONNREFUSED" || code === "ConnectionRefused") return new HttpError(`cannot reach ${where}: connection refused`, code);
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return new HttpError(`cannot reach ${where}: host not found`, code);
  if (code === "ECONNRESET") return new HttpError(`connection to ${where} was reset`, code);
  if (code === "ETIMEDOUT") return new HttpError(`cannot reach ${where}: timed out`, code);
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|TLS|SSL|HOSTNAME|ERR_TLS/i.test(code + " " + err.message))
    return new HttpError(`TLS error talking to ${where}: ${err.message || code} (trust its CA with --ca-file, or use --insecure)`, code);
  if (/wrong version number|packet length too long/i.test(err.message)) return new HttpError(`TLS error talking to ${where}: the server does not speak HTTPS (use http://)`, code);
  return new HttpError(`request to ${where} failed: ${err.message || code}`, code);
}

function once(url: URL, o: RequestOptions, material: { ca?: string[]; cert?: string; key?: string }): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const isHttps = url.protocol === "https:";
    if (!isHttps && url.protocol !== "http:") return reject(new HttpError(`unsupported URL scheme in ${url.href} (use http:// or https://)`));
    const headers: Record<string, string> = { "user-agent": "kube-airgap", ...o.headers };
    if (o.body instanceof Uint8Array) headers["content-length"] ??= String(o.body.length);
    const timeout = o.timeoutMs ?? 30_000;
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    const req = proxiedRequest(
      url,
      {
        method: o.method ?? "GET",
        headers,
        ...(isHttps ? { ca: material.ca, cert: material.cert, key: material.key, rejectUnauthorized: !o.tls?.insecure, servername: /^[\d.]+$|^\[/.test(url.hostname) ? undefined : url.hostname } : {}),
        signal: o.signal,
      },
      (res: IncomingMessage) => {
        const chunks: Uint8Array[] = [];
        let kept = 0;
        const max = o.maxBody ?? 1 << 20;
        res.on("data", (c: Uint8Array) => {
          if (kept < max) {
            const part = c.subarray(0, max - kept);
            chunks.push(part);
            kept += part.length;
          }
        });
        res.on("error", (e) => fail(describeNetError(e, url)));
        res.on("end", () => {
          if (settled) return;
          settled = true;
          const body = new Uint8Array(kept);
          let off = 0;
          for (const c of chunks) {
            body.set(c, off);
            off += c.length;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, url, text: () => new TextDecoder().decode(body) });
        });
      },
    );
    req.setTimeout(timeout, () => {
      req.destroy(new HttpError(`${url.protocol}//${url.host} did not answer within ${Math.round(timeout / 1000)}s`, "ETIMEDOUT"));
    });
    req.on("error", (e: NodeJS.ErrnoException) => fail(e instanceof HttpError ? e : describeNetError(e, url)));
    if (!o.body) return void req.end();
    if (o.body instanceof Uint8Array) return void req.end(o.body);
    (async () => {
      try {
        for await (const chunk of o.body instanceof Uint8Array ? [o.body] : o.body!()) {
          if (settled) return;
          if (!req.write(chunk)) await new Promise<void>((r) => req.once("drain", () => r()));
        }
        req.end();
      } catch (err) {
        req.destroy(err as Error);
        fail(err as Error);
      }
    })();
  });
}

/** Send a request; follows redirects (re-sending the body; credentials only to the same origin). */
export async function httpRequestFull(input: string | URL, o: RequestOptions = {}): Promise<HttpResponse> {
  let url = new URL(input);
  const material = await loadTls(o.tls);
  let opts = o;
  for (let hop = 0; ; hop++) {
    const res = await once(url, opts, material);
    const loc = res.headers.location;
    if ([301, 302, 303, 307, 308].includes(res.status) && typeof loc === "string" && hop < (o.maxRedirects ?? 5)) {
      const next = new URL(loc, url);
      if (next.origin !== url.origin) {
        const headers = { ...opts.headers };
        for (const k of Object.keys(headers)) if (/^(authorization|cookie)$/i.test(k)) delete headers[k];
        opts = { ...opts, headers };
      }
      if (res.status === 303) opts = { ...opts, method: "GET", body: undefined };
      url = next;
      continue;
    }
    return res;
  }
}

const jsonClients = new Map<string, JsonFetch>();

/**
 * A small JSON API call (HEAD/GET/DELETE on `<ctx>/api/…`) through ofetch over the TLS-aware fetch, with the
 * same TLS material, timeout and error messages as httpRequestFull. Redirects are not followed.
 */
export async function jsonRequest(input: string | URL, o: Omit<RequestOptions, "body" | "maxBody" | "maxRedirects"> & { body?: unknown } = {}): Promise<HttpResponse> {
  const url = new URL(input);
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new HttpError(`unsupported URL scheme in ${url.href} (use http:// or https://)`);
  const material = await loadTls(o.tls);
  const key = JSON.stringify([o.tls?.caFile, o.tls?.certFile, o.tls?.keyFile, !!o.tls?.insecure]);
  let api = jsonClients.get(key);
  if (!api) {
    api = jsonFetch(createTlsFetch({ ca: material.ca?.join("\n"), cert: material.cert, key: material.key, insecureSkipVerify: !!o.tls?.insecure }), {
      headers: { "user-agent": "kube-airgap", accept: "application/json" },
      responseType: "arrayBuffer",
    });
    jsonClients.set(key, api);
  }
  const timeoutMs = o.timeoutMs ?? 30_000;
  try {
    const res: FetchResponse<ArrayBuffer> = await api.raw<ArrayBuffer, "arrayBuffer">(url.href, { method: o.method ?? "GET", headers: o.headers, body: o.body as Record<string, unknown> | undefined, timeout: o.signal ? undefined : timeoutMs, signal: o.signal });
    const body = res._data ? new Uint8Array(res._data as ArrayBuffer) : new Uint8Array();
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => (headers[k] = v));
    return { status: res.status, headers, body, url, text: () => new TextDecoder().decode(body) };
  } catch (e) {
    const err = fetchCause(e) as NodeJS.ErrnoException;
    if (err?.name === "AbortError" && o.signal?.aborted) throw err;
    throw describeNetError(err, url, timeoutMs);
  }
}

/** Join URL path segments with single slashes. */
export function joinPath(...parts: string[]): string {
  const s = parts
    .filter((p) => p !== undefined && p !== "")
    .join("/")
    .replace(/\/{2,}/g, "/");
  return s.startsWith("/") ? s : `/${s}`;
}
