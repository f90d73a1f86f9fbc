// The ONE runtime adapter for HTTPS with custom TLS material (private CA, client certificate, SNI name,
// skip-verify) and an HTTP(S) proxy. Everything else in shared/ and plugins/ stays runtime-neutral and calls
// `createTlsFetch(opts)` to get a fetch-like function.
//
// Why two paths (plus one exception: repeated request headers, see bunFetch):
// - Bun: the global fetch takes `tls: { ca, cert, key, serverName, rejectUnauthorized }` and `proxy`. This is
//   Bun's own documented API and works under `bun run` and inside `bun build --compile` binaries. (Bun's
//   node:https agent/undici dispatcher TLS options have regressed before: client-node 2.x loses the CA under
//   Bun because Bun's undici shim ignores the dispatcher — the measurements are in shared/kube/README.md.)
// - Deno and Node: node:https with per-request TLS options. Deno's own fetch cannot skip verification per
//   client or set an SNI name, while its node:https/node:tls honour ca/cert/key/servername/rejectUnauthorized.
// test/kube/tls-runtimes.test.ts is the regression test: private CA + client-certificate server, bun run,
// a compiled binary and deno run.
import http from "node:http";
import https from "node:https";
import tls from "node:tls";
import { Readable } from "node:stream";

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
  /** http:// or https:// proxy for every request (CONNECT tunnel for https targets); default: HTTPS_PROXY/HTTP_PROXY
   *  unless NO_PROXY matches (Bun's fetch does the same by itself) */
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
  return typeof (globalThis as any).Bun !== "undefined" ? "bun-fetch" : "node-https";
}

export function createTlsFetch(opts: TlsOptions = {}): TlsFetch {
  if (opts.proxyUrl && !/^https?:\/\//i.test(opts.proxyUrl)) {
    throw new Error(`unsupported proxy-url ${JSON.stringify(opts.proxyUrl)}: only http:// and https:// proxies are supported`);
  }
  return tlsFetchImplementation() === "bun-fetch" ? bunFetch(opts) : nodeFetch(opts);
}

function pairs(h: TlsFetchInit["headers"]): [string, string][] {
  if (!h) return [];
  return Array.isArray(h) ? h : Object.entries(h);
}

function bunFetch(opts: TlsOptions): TlsFetch {
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
    if (opts.proxyUrl) req.proxy = opts.proxyUrl;
    if (init.body instanceof ReadableStream) req.duplex = "half";
    return fetch(url, req as RequestInit).catch((e) => {
      throw bunNetworkError(e, url);
    });
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
  // a keep-alive agent per client (per TLS identity): many small API calls reuse connections
  const agent = new https.Agent({ keepAlive: true, ...tlsOpts, ...(opts.serverName ? { servername: opts.serverName } : {}) });
  const httpAgent = new http.Agent({ keepAlive: true });
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
      const send = (reqOpts: https.RequestOptions) => {
        const req = (secure ? https : http).request(url, { method, headers, ...reqOpts }, onResponse);
        const abort = () => req.destroy(init.signal?.reason ?? new DOMException("aborted", "AbortError"));
        init.signal?.addEventListener("abort", abort, { once: true });
        req.on("close", () => init.signal?.removeEventListener("abort", abort));
        req.on("error", reject);
        const b = init.body;
        if (b == null) req.end();
        else if (typeof b === "string" || b instanceof Uint8Array) req.end(b);
        else Readable.fromWeb(b as any).on("error", (e) => req.destroy(e)).pipe(req);
      };

      const proxyUrl = opts.proxyUrl ?? proxyFromEnv(url);
      if (!proxyUrl) return send(secure ? { agent, ...tlsOpts, ...(opts.serverName ? { servername: opts.serverName } : {}) } : { agent: httpAgent });
      const proxy = new URL(proxyUrl);
      const proxyAuth = proxy.username ? { "proxy-authorization": `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString("base64")}` } : {};
      const viaProxy = proxy.protocol === "https:" ? https : http;
      if (!secure) {
        // plain HTTP through a proxy: absolute-form request to the proxy
        const req = viaProxy.request({ host: proxy.hostname, port: proxy.port || (proxy.protocol === "https:" ? 443 : 80), method, path: url.href, headers: { ...headers, host: url.host, ...proxyAuth } }, onResponse);
        req.on("error", reject);
        const b = init.body;
        if (b == null) req.end();
        else if (typeof b === "string" || b instanceof Uint8Array) req.end(b);
        else Readable.fromWeb(b as any).pipe(req);
        return;
      }
      const port = url.port || "443";
      const connect = viaProxy.request({ host: proxy.hostname, port: proxy.port || (proxy.protocol === "https:" ? 443 : 80), method: "CONNECT", path: `${url.hostname}:${port}`, headers: { host: `${url.hostname}:${port}`, ...proxyAuth } });
      connect.on("error", reject);
      connect.on("connect", (res, socket) => {
        if (res.statusCode !== 200) {
          socket.destroy();
          return reject(new Error(`proxy ${proxy.host} refused CONNECT to ${url.host}: HTTP ${res.statusCode}`));
        }
        const secureSocket = tls.connect({ socket, servername: opts.serverName ?? (isIp(url.hostname) ? undefined : url.hostname), ...tlsOpts });
        secureSocket.on("error", reject);
        // a one-shot agent whose only connection is the tunnelled TLS socket
        const tunnelAgent = new https.Agent({ keepAlive: false });
        (tunnelAgent as any).createConnection = () => secureSocket;
        send({ agent: tunnelAgent });
      });
      connect.end();
    });
}

/**
 * HTTPS_PROXY / HTTP_PROXY (either case) unless NO_PROXY matches, like Go's ProxyFromEnvironment (kubectl) and
 * Bun's fetch. Loopback is never proxied.
 */
export function proxyFromEnv(url: URL, env: Record<string, string | undefined> = process.env): string | undefined {
  const proxy = url.protocol === "https:" ? (env.HTTPS_PROXY ?? env.https_proxy) : (env.HTTP_PROXY ?? env.http_proxy);
  if (!proxy) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost" || host === "::1" || host.startsWith("127.")) return undefined;
  const noProxy = (env.NO_PROXY ?? env.no_proxy ?? "").split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const np of noProxy) {
    if (np === "*") return undefined;
    const [h, port] = np.split(":");
    if (port && port !== (url.port || (url.protocol === "https:" ? "443" : "80"))) continue;
    const d = h!.replace(/^\*?\./, "");
    if (host === d || host.endsWith(`.${d}`)) return undefined;
  }
  return /^[a-z]+:\/\//i.test(proxy) ? proxy : `http://${proxy}`;
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}
