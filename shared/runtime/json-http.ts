// The one way JSON APIs are called (Kubernetes, Palette, ChartMuseum's API, registry token endpoints): ofetch
// over the runtime's TLS-aware fetch (tls-fetch.ts), so a private CA, a client certificate, skip-verify and
// proxies work the same on Bun, Deno and Node. Large bodies (blobs, chart uploads, log streams) keep their
// streaming transports; JSON bodies are small.
//
//   const api = jsonFetch(createTlsFetch({ ca }), { baseURL: "https://palette.local", timeout: 60_000 });
//   const res = await api.raw("/v1/system/config/scar", { headers: { authorization: token } });
//   res.status, res._data (parsed JSON), res.headers
//
// Defaults, set here once: no automatic retries (each client decides: a 401 re-login, Retry-After, exec
// credentials), responses of any status are returned (ignoreResponseError) so clients map them to their own
// typed errors; clients unwrap connection failures with fetchCause() so their messages ("connection refused",
// TLS hints) name the transport's own error rather than ofetch's "[GET] url: …" wrapper.
import { createFetch, FetchError, type $Fetch, type FetchOptions } from "ofetch";
import type { TlsFetch } from "./tls-fetch.ts";

export type JsonFetch = $Fetch;

/** Header pairs from whatever ofetch passes (a Headers object after its hooks, or a plain init). */
function headerPairs(h: unknown): [string, string][] {
  if (!h) return [];
  if (h instanceof Headers) return [...h.entries()];
  if (Array.isArray(h)) return h as [string, string][];
  return Object.entries(h as Record<string, string>);
}

/** Picks the fetch and extra headers per request (e.g. Kubernetes exec credentials that may change). */
export interface JsonTransport {
  resolve(): Promise<{ fetch: TlsFetch; headers?: [string, string][] }>;
}

/**
 * An ofetch instance whose requests go through `via` (a TlsFetch, or a JsonTransport whose headers, e.g.
 * credentials or repeated Impersonate-Group headers that a Headers object would join, are added after ofetch).
 */
export function jsonFetch(via: TlsFetch | JsonTransport, defaults: FetchOptions = {}): JsonFetch {
  const adapter = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = typeof input === "string" || input instanceof URL ? String(input) : input.url;
    const t = typeof via === "function" ? { fetch: via, headers: [] } : await via.resolve();
    return t.fetch(url, {
      method: init.method,
      headers: [...headerPairs(init.headers), ...(t.headers ?? [])],
      body: (init.body ?? undefined) as string | Uint8Array | ReadableStream<Uint8Array> | undefined,
      signal: init.signal ?? undefined,
    });
  };
  return createFetch({ fetch: adapter as typeof globalThis.fetch }).create({
    retry: 0,
    ignoreResponseError: true,
    ...defaults,
  });
}

/** The error under ofetch's FetchError, if it wraps one. */
export function fetchCause(e: unknown): unknown {
  return e instanceof FetchError && e.cause ? e.cause : e;
}
