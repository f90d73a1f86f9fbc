// The ONE proxy implementation for every HTTP path (registries, token realms, chart repositories, ChartMuseum,
// Palette, Dex, login, Kubernetes): which proxy a URL goes through, and how a request gets there.
//
// Which proxy: HTTPS_PROXY / HTTP_PROXY / NO_PROXY (upper case first, then lower case; the first non-empty wins)
// with the rules of Go's golang.org/x/net/http/httpproxy (what kubectl, helm, skopeo, crane and oras use):
//   - "localhost" and loopback IPs (127.0.0.0/8, ::1) are never proxied;
//   - NO_PROXY entries: "*" (nothing proxied), IPs and CIDRs (1.2.3.4, 10.0.0.0/8, ::1/128), "host:port" and
//     "[v6]:port", "example.com" (that name and its subdomains), ".example.com" / "*.example.com" (subdomains
//     only); a port in an entry must equal the URL's (default 80/443);
//   - a proxy value without a scheme is http://; an unparseable one is ignored (Go: best effort).
// How: https targets through a CONNECT tunnel (TLS to the target inside it, so the proxy sees no request),
// http targets as absolute-form requests to the proxy. Credentials in the proxy URL go only to the proxy
// (Proxy-Authorization), and are registered as secrets so that redact() masks them in every output.
//
// Libraries considered: undici's EnvHttpProxyAgent (Bun's undici shim ignores dispatchers: shared/kube/README.md),
// proxy-from-env (no IP/CIDR entries, proxies loopback, also reads npm_config_*), https-proxy-agent (works on
// Bun and Deno, but its DEBUG log prints the proxy URL with its password). Go's rules are short; the tunnel is
// one node:https Agent hook (createConnection), which Node, Bun (also compiled) and Deno honour.
import http from "node:http";
import https from "node:https";
import tls from "node:tls";
import { isIP } from "node:net";
import { domainToASCII } from "node:url";
import { registerSecret } from "./redact.ts";
import { traceHttp } from "./trace.ts";

type Env = Record<string, string | undefined>;

/** A proxy refused or failed the tunnel; names the proxy without its credentials. */
export class ProxyError extends Error {
  override name = "ProxyError";
  constructor(message: string, public code?: string, public hint?: string) {
    super(message);
  }
}

// ------------------------------------------------------------------ which proxy (Go's httpproxy rules)

interface Matcher {
  match(host: string, port: string, ip: Uint8Array | undefined): boolean;
}

interface ProxyConfig {
  http?: URL;
  https?: URL;
  all: boolean;
  ip: Matcher[];
  domain: Matcher[];
}

function envAny(env: Env, ...names: string[]): string {
  for (const n of names) if (env[n]) return env[n]!;
  return "";
}

/** Go's parseProxy: a full http(s) URL, or "host[:port]" meaning http://; undefined when unparseable. */
function parseProxy(value: string): URL | undefined {
  if (!value) return undefined;
  let u: URL | undefined;
  try {
    u = new URL(value);
  } catch {}
  if (!u || !/^(https?|socks5):$/.test(u.protocol)) {
    try {
      return new URL(`http://${value}`);
    } catch {
      return undefined;
    }
  }
  return u;
}

/** IPv4 or IPv6 text → 16 bytes (IPv4 as ::ffff:a.b.c.d), or undefined. */
export function parseIp(text: string): Uint8Array | undefined {
  const s = text.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const kind = isIP(s);
  if (kind === 4) {
    const out = new Uint8Array(16);
    out[10] = out[11] = 0xff;
    s.split(".").forEach((p, i) => (out[12 + i] = Number(p)));
    return out;
  }
  if (kind !== 6) return undefined;
  let head = s;
  let v4: number[] = [];
  const lastColon = s.lastIndexOf(":");
  if (s.slice(lastColon + 1).includes(".")) {
    v4 = s.slice(lastColon + 1).split(".").map(Number);
    head = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const [l, r] = head.split("::") as [string, string | undefined];
  const left = l ? l.split(":") : [];
  const right = r === undefined ? [] : r ? r.split(":") : [];
  const groups = [...left, ...Array(8 - left.length - right.length).fill("0"), ...right].map((g) => parseInt(g, 16));
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  if (v4.length === 4) v4.forEach((b, i) => (out[12 + i] = b));
  return out;
}

function isV4(ip: Uint8Array): boolean {
  return ip.slice(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff;
}

function isLoopback(ip: Uint8Array): boolean {
  if (isV4(ip)) return ip[12] === 127;
  return ip.slice(0, 15).every((b) => b === 0) && ip[15] === 1;
}

function sameIp(a: Uint8Array, b: Uint8Array): boolean {
  return a.every((x, i) => x === b[i]);
}

function cidrMatcher(entry: string): Matcher | undefined {
  const slash = entry.indexOf("/");
  if (slash < 0) return undefined;
  const addr = entry.slice(0, slash);
  const base = parseIp(addr);
  const prefix = entry.slice(slash + 1);
  if (!base || !/^\d{1,3}$/.test(prefix)) return undefined;
  const v4 = isIP(addr) === 4;
  if (Number(prefix) > (v4 ? 32 : 128)) return undefined;
  const bits = Number(prefix) + (v4 ? 96 : 0);
  return {
    match: (_h, _p, ip) => {
      if (!ip) return false;
      for (let i = 0; i < bits; i++) {
        const mask = 0x80 >> (i & 7);
        if ((ip[i >> 3]! & mask) !== (base[i >> 3]! & mask)) return false;
      }
      return true;
    },
  };
}

/** "host:port" / "[v6]:port" split like Go's net.SplitHostPort (undefined when there is no port). */
function splitHostPort(s: string): [string, string] | undefined {
  if (s.startsWith("[")) {
    const m = /^\[([^\]]*)\]:(\d*)$/.exec(s);
    return m ? [m[1]!, m[2]!] : undefined;
  }
  const i = s.lastIndexOf(":");
  if (i < 0 || s.indexOf(":") !== i) return undefined;
  return [s.slice(0, i), s.slice(i + 1)];
}

const configCache = new Map<string, ProxyConfig>();

function config(env: Env): ProxyConfig {
  const httpP = envAny(env, "HTTP_PROXY", "http_proxy");
  const httpsP = envAny(env, "HTTPS_PROXY", "https_proxy");
  const noP = envAny(env, "NO_PROXY", "no_proxy");
  const key = JSON.stringify([httpP, httpsP, noP]);
  let c = configCache.get(key);
  if (c) return c;
  c = { http: parseProxy(httpP), https: parseProxy(httpsP), all: false, ip: [], domain: [] };
  for (const p of [c.http, c.https]) {
    if (p?.password) {
      registerSecret(p.password);
      registerSecret(decodeURIComponent(p.password));
    }
  }
  for (const raw of noP.split(",")) {
    const p = raw.trim().toLowerCase();
    if (!p) continue;
    if (p === "*") {
      c.all = true;
      break;
    }
    const cidr = cidrMatcher(p);
    if (cidr) {
      c.ip.push(cidr);
      continue;
    }
    let [phost, pport] = splitHostPort(p) ?? [p, ""];
    if (!phost) continue;
    const pip = parseIp(phost);
    if (pip) {
      c.ip.push({ match: (_h, port, ip) => !!ip && sameIp(pip, ip) && (!pport || pport === port) });
      continue;
    }
    if (phost.startsWith("*.")) phost = phost.slice(1);
    const matchHost = !phost.startsWith(".");
    if (matchHost) phost = `.${phost}`;
    const suffix = domainToASCII(phost.slice(1)) ? `.${domainToASCII(phost.slice(1))}` : phost;
    c.domain.push({ match: (host, port) => (host.endsWith(suffix) || (matchHost && host === suffix.slice(1))) && (!pport || pport === port) });
  }
  configCache.set(key, c);
  return c;
}

/**
 * The proxy a request to `url` goes through according to the environment (Go's ProxyFromEnvironment rules),
 * or undefined for a direct connection.
 */
export function proxyForUrl(url: URL | string, env: Env = process.env): URL | undefined {
  const u = typeof url === "string" ? new URL(url) : url;
  const c = config(env);
  const proxy = u.protocol === "https:" ? c.https : u.protocol === "http:" ? c.http : undefined;
  if (!proxy) return undefined;
  const host = u.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (!host || host === "localhost") return undefined;
  const ip = parseIp(host);
  if (ip && isLoopback(ip)) return undefined;
  if (c.all) return undefined;
  const port = u.port || (u.protocol === "https:" ? "443" : "80");
  if (ip && c.ip.some((m) => m.match(host, port, ip))) return undefined;
  if (c.domain.some((m) => m.match(host, port, ip))) return undefined;
  return proxy;
}

/** A proxy URL fit for messages and logs: scheme, host and port, never its credentials. */
export function proxyLabel(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}

/** Check a proxy URL we can use; socks5 and other schemes are refused with a clear message. */
export function checkProxy(proxy: URL, source = "the proxy"): URL {
  if (proxy.protocol !== "http:" && proxy.protocol !== "https:") {
    throw new ProxyError(`${source} ${proxyLabel(proxy)}: only http:// and https:// proxies are supported`, "EPROXY", "use an HTTP proxy (squid, tinyproxy, a corporate proxy) in HTTPS_PROXY/HTTP_PROXY");
  }
  return proxy;
}

const AUTH_HINT = "the proxy wants credentials: put USER:PASSWORD@ before the proxy host in HTTPS_PROXY/HTTP_PROXY (percent-encode special characters)";
/** 407 although the proxy URL carries credentials: they are wrong, not missing */
const BAD_AUTH_HINT = "the proxy refused the USER:PASSWORD given in HTTPS_PROXY/HTTP_PROXY: check them (percent-encode special characters)";

/** A transport's own error for a request that went through `via`, as a ProxyError that names the proxy. */
export function viaProxyError(e: Error & { code?: string }, via: string): Error {
  if (e instanceof ProxyError || e?.name === "AbortError" || e?.name === "TimeoutError") return e;
  const auth = /\b407\b/.test(e?.message ?? "");
  return Object.assign(new ProxyError(`${e?.message ?? String(e)} (via proxy ${via})`, auth ? "EPROXYAUTH" : e?.code, auth ? AUTH_HINT : undefined), { cause: e });
}

function proxyAuthorization(proxy: URL): Record<string, string> {
  if (!proxy.username && !proxy.password) return {};
  const user = decodeURIComponent(proxy.username);
  const pass = decodeURIComponent(proxy.password);
  registerSecret(pass);
  return { "proxy-authorization": `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}` };
}

/** TLS to an https:// proxy is checked against the proxy's name (Node would take the Host header: the target's). */
function proxyTls(proxy: URL): https.RequestOptions {
  if (proxy.protocol !== "https:") return {};
  const name = proxy.hostname.replace(/^\[|\]$/g, "");
  return { servername: isIP(name) ? "" : name };
}

function proxyPort(proxy: URL): number {
  return Number(proxy.port || (proxy.protocol === "https:" ? 443 : 80));
}

// ------------------------------------------------------------------ how: CONNECT tunnels and absolute-form

/** Open a CONNECT tunnel to host:port through the proxy; resolves with the raw socket. */
function connectTunnel(proxy: URL, host: string, port: number, timeoutMs: number): Promise<import("node:net").Socket> {
  const target = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  return new Promise((resolve, reject) => {
    const mod = proxy.protocol === "https:" ? https : http;
    const req = mod.request({
      host: proxy.hostname.replace(/^\[|\]$/g, ""),
      port: proxyPort(proxy),
      method: "CONNECT",
      path: target,
      headers: { host: target, ...proxyAuthorization(proxy) },
      agent: false,
      ...proxyTls(proxy),
    });
    const fail = (e: Error & { code?: string }) => {
      const code = e.code ?? "";
      const why = code === "ECONNREFUSED" ? "connection refused" : code === "ENOTFOUND" || code === "EAI_AGAIN" ? "host not found" : e.message;
      reject(new ProxyError(`cannot reach proxy ${proxyLabel(proxy)} (for ${target}): ${why}`, code || "EPROXY", "check HTTPS_PROXY/HTTP_PROXY, or list the host in NO_PROXY"));
    };
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${Math.round(timeoutMs / 1000)}s`), { code: "ETIMEDOUT" })));
    req.once("error", fail);
    req.once("connect", (res: http.IncomingMessage, socket: import("node:net").Socket, head: Buffer) => {
      req.setTimeout(0);
      req.removeListener("error", fail);
      if (res.statusCode !== 200) {
        socket.destroy();
        const auth = res.statusCode === 407;
        return reject(new ProxyError(`proxy ${proxyLabel(proxy)} refused CONNECT to ${target}: HTTP ${res.statusCode}${res.statusMessage ? ` ${res.statusMessage}` : ""}`, auth ? "EPROXYAUTH" : "EPROXY",
          auth ? (proxy.username ? BAD_AUTH_HINT : AUTH_HINT) : "the proxy could not or would not reach the host; check the name, or list it in NO_PROXY"));
      }
      if (head?.length) socket.unshift(head);
      resolve(socket);
    });
    // a proxy that answers CONNECT with a plain response (some runtimes report it so)
    req.once("response", (res: http.IncomingMessage) => {
      res.resume();
      reject(new ProxyError(`proxy ${proxyLabel(proxy)} refused CONNECT to ${target}: HTTP ${res.statusCode}`, res.statusCode === 407 ? "EPROXYAUTH" : "EPROXY"));
    });
    req.end();
  });
}

/**
 * An https.Agent whose connections are TLS sessions inside CONNECT tunnels through `proxy`. It takes the same
 * options as https.Agent (keepAlive, maxSockets, ca, cert, key, rejectUnauthorized, servername), which apply to
 * the target; tunnels are kept alive and capped like direct connections.
 */
export class TunnelAgent extends https.Agent {
  constructor(readonly proxy: URL, opts: https.AgentOptions & { connectTimeoutMs?: number } = {}) {
    super(opts);
    checkProxy(proxy);
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 60_000;
  }
  readonly connectTimeoutMs: number;

  override createConnection(options: any, cb: (err: Error | null, socket?: any) => void): any {
    const host: string = String(options.host ?? options.hostname ?? "localhost").replace(/^\[|\]$/g, "");
    const port = Number(options.port ?? 443);
    connectTunnel(this.proxy, host, port, this.connectTimeoutMs).then(
      (socket) => {
        const servername = options.servername || (isIP(host) ? undefined : host);
        const t = tls.connect({ ...pickTls(options), socket, ...(servername ? { servername } : {}) });
        cb(null, t);
      },
      (e) => cb(e),
    );
    return undefined;
  }
}

function pickTls(o: any): tls.ConnectionOptions {
  const out: tls.ConnectionOptions = {};
  for (const k of ["ca", "cert", "key", "pfx", "passphrase", "rejectUnauthorized", "ciphers", "minVersion", "maxVersion", "checkServerIdentity", "ALPNProtocols"] as const) {
    if (o[k] !== undefined) (out as any)[k] = o[k];
  }
  return out;
}

/**
 * The agent for requests to `url`'s origin: a TunnelAgent when an https URL goes through a proxy, else a plain
 * keep-alive agent with these options. Callers that keep an agent per origin (the registry transport) use this.
 */
export function agentFor(url: URL, opts: https.AgentOptions, proxy: URL | undefined = proxyForUrl(url)): http.Agent {
  if (url.protocol === "https:") return proxy ? new TunnelAgent(proxy, opts) : new https.Agent(opts);
  return new http.Agent(opts);
}

const sharedTunnels = new Map<string, TunnelAgent>();

export interface ProxiedRequestOptions extends https.RequestOptions {
  /** the proxy to use (kubeconfig proxy-url), null for none; default: from the environment */
  proxy?: URL | null;
}

/**
 * node:http(s).request for `url`, through the proxy the environment names (or `options.proxy`), and traced
 * (see trace.ts). https: a CONNECT tunnel (the caller's agent if it is a TunnelAgent, else a one-connection
 * tunnel per request with the request's TLS options); http: an absolute-form request to the proxy.
 */
export function httpRequest(url: URL, options: ProxiedRequestOptions, onResponse?: (res: http.IncomingMessage) => void): http.ClientRequest {
  const { proxy: explicit, ...opts } = options;
  const proxy = explicit === undefined ? proxyForUrl(url) : explicit ?? undefined;
  const method = (opts.method ?? "GET").toUpperCase();
  const done = traceHttp(method, url.href, proxy ? proxyLabel(proxy) : undefined);
  const cb = (res: http.IncomingMessage) => {
    done(res.statusCode ?? 0);
    onResponse?.(res);
  };
  let req: http.ClientRequest;
  if (!proxy) {
    req = (url.protocol === "https:" ? https : http).request(url, opts, cb);
  } else if (url.protocol === "https:") {
    checkProxy(proxy);
    let agent = opts.agent;
    if (!(agent instanceof TunnelAgent)) {
      const key = proxy.href;
      agent = sharedTunnels.get(key) ?? new TunnelAgent(proxy, { keepAlive: false });
      sharedTunnels.set(key, agent as TunnelAgent);
    }
    req = https.request(url, { ...opts, agent }, cb);
  } else {
    checkProxy(proxy);
    const { ca, cert, key, rejectUnauthorized, servername, pfx, passphrase, agent, ...rest } = opts as any;
    const viaTls = proxy.protocol === "https:";
    const headers = { ...(rest.headers ?? {}), host: url.host, ...proxyAuthorization(proxy) };
    const reqOpts: https.RequestOptions = {
      ...rest,
      protocol: proxy.protocol,
      host: proxy.hostname.replace(/^\[|\]$/g, ""),
      port: proxyPort(proxy),
      path: url.href,
      headers,
      agent: !viaTls && agent instanceof http.Agent && !(agent instanceof https.Agent) ? agent : undefined,
      ...proxyTls(proxy),
    };
    req = (viaTls ? https : http).request(reqOpts, cb);
  }
  req.once("error", (e) => done(undefined, e));
  return req;
}
