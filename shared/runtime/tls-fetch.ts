// The ONE runtime adapter for HTTPS with custom TLS material (private CA, client certificate, SNI name,
// skip-verify) and an HTTP(S) proxy. Everything else in shared/ and plugins/ stays runtime-neutral and calls
// `createTlsFetch(opts)` to get a fetch-like function.
//
// Which proxy and how to reach it is decided by proxy.ts for both paths (Go's HTTPS_PROXY/NO_PROXY rules, not
// Bun's own reading of the variables); every request is traced there too (trace.ts).
//
// Why two paths (plus two exceptions, see bunFetch: repeated request headers, https:// proxies):
// - Bun: the global fetch takes `tls: { ca, cert, key, serverName, rejectUnauthorized }` and `proxy`. This is
//   Bun's own documented API and works under `bun run` and inside `bun build --compile` binaries. (Bun's
//   node:https agent/undici dispatcher TLS options have regressed before: client-node 2.x loses the CA under
//   Bun because Bun's undici shim ignores the dispatcher — the measurements are in shared/kube/README.md.)
// - Deno and Node: node:https with per-request TLS options. Deno's own fetch cannot skip verification per
//   client or set an SNI name, while its node:https/node:tls honour ca/cert/key/servername/rejectUnauthorized.
// test/kube/tls-runtimes.test.ts is the regression test: private CA + client-certificate server, bun run,
// a compiled binary and deno run.
import http from "node:http";
import { Readable } from "node:stream";
import { agentFor, checkProxy, httpRequest, proxyForUrl, proxyLabel, viaProxyError } from "./proxy.ts";
import { traceHttp } from "./trace.ts";
import { runtimeName } from "./adapter.ts";

export interface TlsOptions {
  /** PEM CA bundle to trust instead of the system roots */
  ca?: string;
  /** PEM client certificate (with key) */
  cert?: string;
  key?: string;
  /** TLS server name (SNI and certificate check) when it differs from the URL host */
  serverName?: string;
  /** do not verify the server certificate */
  insecureSkipVerify?: boolean;
  /** http:// or https:// proxy for every request (CONNECT tunnel for https targets; kubeconfig proxy-url);
   *  default: HTTPS_PROXY/HTTP_PROXY unless NO_PROXY matches, with Go's rules (proxy.ts) on every runtime */
  proxyUrl?: string;
}

/** Like fetch, but headers may be a list of pairs so that repeated headers (Impersonate-Group) survive. */
export type TlsFetch = (url: string | URL, init?: TlsFetchInit) => Promise<Response>;

export interface TlsFetchInit {
  method?: string;
  headers?: [string, string][] | Record<string, string>;
  body?: string | Uint8Array | ReadableStream<Uint8Array> | null;
  signal?: AbortSignal;
}

/** Which implementation createTlsFetch uses on this runtime ("bun-fetch" | "node-https"). */
export function tlsFetchImplementation(): "bun-fetch" | "node-https" {
  return runtimeName === "bun" ? "bun-fetch" : "node-https";
}

export function createTlsFetch(opts: TlsOptions = {}): TlsFetch {
  if (opts.proxyUrl) {
    let u: URL;
    try {
      u = new URL(opts.proxyUrl);
    } catch {
      throw new Error(`proxy-url: not a URL (expected http://HOST:PORT or https://HOST:PORT)`);
    }
    checkProxy(u, "proxy-url");
  }
  return tlsFetchImplementation() === "bun-fetch" ? bunFetch(opts) : nodeFetch(opts);
}

function pairs(h: TlsFetchInit["headers"]): [string, string][] {
  if (!h) return [];
  return Array.isArray(h) ? h : Object.entries(h);
}

function bunFetch(opts: TlsOptions): TlsFetch {
  const explicitProxy = opts.proxyUrl ? new URL(opts.proxyUrl) : undefined;
  const tlsOpt: Record<string, unknown> = {};
  if (opts.ca) tlsOpt.ca = opts.ca;
  if (opts.cert) tlsOpt.cert = opts.cert;
  if (opts.key) tlsOpt.key = opts.key;
  if (opts.serverName) tlsOpt.serverName = opts.serverName;
  if (opts.insecureSkipVerify) tlsOpt.rejectUnauthorized = false;
  // Bun's fetch joins repeated headers into one "a, b" line, which kube-apiserver reads as ONE impersonated
  // group; requests with repeated headers go through node:https, which Bun sends as separate lines.
  let viaNode: TlsFetch | undefined;
  return (url, init = {}) => {
    const names = pairs(init.headers).map(([k]) => k.toLowerCase());
    if (new Set(names).size !== names.length) return (viaNode ??= nodeFetch(opts))(url, init);
    // the proxy decision is ours (Go's NO_PROXY rules, loopback direct), not Bun's own reading of the variables
    let proxy: URL | undefined;
    try {
      proxy = explicitProxy ? checkProxy(explicitProxy, "proxy-url") : proxyForUrl(new URL(String(url)));
      if (proxy) checkProxy(proxy);
    } catch (e) {
      return Promise.reject(e);
    }
    // Bun 1.4 checks an https:// proxy's certificate against the target's `tls` (its `proxy.tls` has no effect):
    // those requests go through node:https, which checks the proxy with the default trust store
    if (proxy?.protocol === "https:") return (viaNode ??= nodeFetch(opts))(url, init);
    const headers = new Headers();
    for (const [k, v] of pairs(init.headers)) headers.append(k, v);
    const req: Record<string, unknown> = {
      method: init.method ?? "GET",
      headers,
      body: init.body ?? undefined,
      signal: init.signal,
      tls: tlsOpt,
      redirect: "manual",
      decompress: true,
    };
    req.proxy = proxy ? { url: proxy.href, respectNoProxy: false } : false;
    if (init.body instanceof ReadableStream) req.duplex = "half";
    const via = proxy ? proxyLabel(proxy) : undefined;
    const done = traceHttp(String(req.method), String(url), via);
    return fetch(url, req as RequestInit).then(
      (res) => (done(res.status), res),
      (e: Error & { code?: string }) => {
        done(undefined, e);
        // Bun's messages do not say which proxy ("Proxy refused to open a tunnel: 407 …"); ours do
        return Promise.reject(via ? viaProxyError(e, via) : bunNetworkError(e, url));
      },
    );
  };
}

/**
 * Bun's fetch words network errors for a browser ("ECONNREFUSED: Unable to connect. Is the computer able to access
 * the url?", "Was there a typo in the url or port?", "… pass `verbose: true` in the second argument to fetch()"):
 * reworded as Node's (`connect ECONNREFUSED host:port`), code kept, so every caller's mapping and message is the
 * same on every runtime and the advice meant for fetch() callers never reaches users.
 */
export function bunNetworkError(e: unknown, url: string | URL): unknown {
  const err = e as { code?: string; message?: string } | undefined;
  if (!err || typeof err.message !== "string" || !/Is the computer able to access|typo in the url|verbose: true|Unable to connect/i.test(err.message)) return e;
  let host = String(url);
  try {
    const u = new URL(String(url));
    host = `${u.hostname}:${u.port || (u.protocol === "https:" ? 443 : 80)}`;
  } catch {}
  const code = err.code && /^E[A-Z]+$/.test(err.code) ? err.code : /closed|reset/i.test(err.message) ? "ECONNRESET" : /typo/i.test(err.message) ? "ENOTFOUND" : "ECONNREFUSED";
  const what = code === "ECONNREFUSED" ? `connect ECONNREFUSED ${host}` : code === "ENOTFOUND" ? `getaddrinfo ENOTFOUND ${host.replace(/:\d+$/, "")}` : code === "ECONNRESET" ? "socket hang up (ECONNRESET)" : `${code} ${host}`;
  return Object.assign(new TypeError(what), { code, cause: e });
}

const nullBody = new Set([101, 103, 204, 205, 304]);

function nodeFetch(opts: TlsOptions): TlsFetch {
  const tlsOpts = {
    ...(opts.ca ? { ca: opts.ca } : {}),
    ...(opts.cert ? { cert: opts.cert } : {}),
    ...(opts.key ? { key: opts.key } : {}),
    ...(opts.insecureSkipVerify ? { rejectUnauthorized: false } : {}),
  };
  // keep-alive agents per client (per TLS identity) and origin: many small API calls reuse connections; an
  // origin behind a proxy gets a tunnelling agent (proxy.ts)
  const explicitProxy = opts.proxyUrl ? new URL(opts.proxyUrl) : undefined;
  const agents = new Map<string, http.Agent>();
  const agentOf = (url: URL, proxy: URL | undefined) => {
    const key = `${url.protocol}//${url.host} ${proxy?.href ?? "direct"}`;
    let a = agents.get(key);
    if (!a) {
      a = agentFor(url, { keepAlive: true, ...tlsOpts, ...(opts.serverName ? { servername: opts.serverName } : {}) }, proxy);
      agents.set(key, a);
    }
    return a;
  };
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(String(input));
      const method = (init.method ?? "GET").toUpperCase();
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of pairs(init.headers)) {
        const key = k.toLowerCase();
        const prev = headers[key];
        headers[key] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
      }
      const secure = url.protocol === "https:";
      if (!secure && url.protocol !== "http:") return reject(new TypeError(`unsupported URL scheme in ${url.origin}`));
      if (init.signal?.aborted) return reject(init.signal.reason ?? new DOMException("aborted", "AbortError"));

      const onResponse = (res: http.IncomingMessage) => {
        const h = new Headers();
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
        const status = res.statusCode ?? 500;
        let body: ReadableStream<Uint8Array> | null = null;
        if (nullBody.has(status) || method === "HEAD") res.resume();
        else body = Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>;
        resolve(new Response(body, { status, statusText: res.statusMessage ?? "", headers: h }));
      };
      let proxy: URL | undefined;
      try {
        proxy = explicitProxy ? checkProxy(explicitProxy, "proxy-url") : proxyForUrl(url);
      } catch (e) {
        return reject(e);
      }
      const tlsReq = secure ? { ...tlsOpts, ...(opts.serverName ? { servername: opts.serverName } : {}) } : {};
      const req = httpRequest(url, { method, headers, agent: agentOf(url, proxy), proxy: proxy ?? null, ...tlsReq }, onResponse);
      const abort = () => req.destroy(init.signal?.reason ?? new DOMException("aborted", "AbortError"));
      init.signal?.addEventListener("abort", abort, { once: true });
      req.on("close", () => init.signal?.removeEventListener("abort", abort));
      req.on("error", reject);
      const b = init.body;
      if (b == null) req.end();
      else if (typeof b === "string" || b instanceof Uint8Array) req.end(b);
      else Readable.fromWeb(b as any).on("error", (e) => req.destroy(e)).pipe(req);
    });
}
