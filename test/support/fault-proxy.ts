// A fault-injecting HTTP reverse proxy for tests, put in front of a (plain http) registry:
//
//   const reg = await startRegistry();
//   const proxy = await startFaultProxy(reg.url);
//   proxy.host     "127.0.0.1:PORT" — use it instead of reg.host in references
//   proxy.url      "http://127.0.0.1:PORT"
//   proxy.setRules([
//     { method: "GET", path: /\/blobs\/sha256:/, fault: "reset", afterBytes: 1 << 20 },  // RST after 1 MiB of body
//     { method: "PATCH", path: /\/blobs\/uploads\//, fault: "reset", side: "request", afterBytes: 4096 }, // RST mid-upload
//     { path: /\/manifests\//, fault: "500", times: 2 },                                  // 500 twice, then pass
//     { path: /\/tags\/list/, fault: "429", retryAfter: 1 },                              // 429 + Retry-After: 1
//     { method: "GET", path: /\/blobs\//, fault: "truncate", afterBytes: 100 },          // full Content-Length, 100 bytes, FIN
//     { method: "GET", path: /\/blobs\//, fault: "corrupt", afterBytes: 10 },            // byte 10 of the body XOR 0xff
//     { path: /.*/, fault: "status", status: 503 },  { path: /x/, fault: "delay", delayMs: 2000 },
//     { method: "GET", path: /\/blobs\//, fault: "drip", afterBytes: 4096, dripMs: 4000 },  // then 1 byte every 4 s
//   ]);
//   proxy.calls    every request: { method, path, range, status, fault, bytesIn, bytesOut, ruleIndex }
//   proxy.rules    the live rules, each with `hits` (how many requests it affected) and `remaining`
//   proxy.clear()  drop rules and calls;  await proxy.stop()
//
// Rule matching: `method` (case-insensitive, omit = any) and `path` (RegExp or string regex tested against
// the path+query). Rules are checked in order; the first with remaining > 0 wins. `times` (default 1;
// Infinity = always) is how many matching requests are affected. `afterBytes` for reset/truncate/corrupt
// counts body bytes of the response (or of the request with side "request" — reset only); default for
// the response is half the upstream Content-Length (0 when unknown). Injected 500/429/status answers drain the
// request body first and send a distribution-style JSON error, without contacting the registry.
//
// Bodies are streamed both ways (backpressure respected, nothing buffered), all request headers (Range,
// Authorization, …) are forwarded; absolute Location headers pointing at the target are rewritten to the
// proxy's origin, so upload sessions continue through the proxy. The upstream Host header is the target's.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse, type OutgoingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Socket } from "node:net";
import { listenLoopback } from "./ports.ts";

export type FaultKind = "reset" | "500" | "429" | "truncate" | "corrupt" | "status" | "delay" | "drip";

export interface FaultRule {
  method?: string;
  path: RegExp | string;
  fault: FaultKind;
  afterBytes?: number;
  times?: number;
  /** for "status" (default 503) */
  status?: number;
  /** seconds, for "429" (default 1) */
  retryAfter?: number;
  /** ms, for "delay" (then the request passes through) */
  delayMs?: number;
  /** "drip": after afterBytes, send dripBytes (default 1) every dripMs (default 4000) — a slow-drip source */
  dripMs?: number;
  dripBytes?: number;
  /** "reset" only: break the response (default) or the request body (upload) after afterBytes */
  side?: "response" | "request";
}

export interface LiveRule extends FaultRule {
  hits: number;
  remaining: number;
}

export interface ProxyCall {
  method: string;
  path: string;
  range?: string;
  status: number;
  fault?: FaultKind;
  ruleIndex?: number;
  bytesIn: number;
  bytesOut: number;
  /** upstream Content-Length, when it declared one */
  contentLength?: number;
  time: number;
}

export interface FaultProxy {
  url: string;
  host: string;
  port: number;
  target: string;
  rules: LiveRule[];
  calls: ProxyCall[];
  setRules(rules: FaultRule[]): void;
  addRule(rule: FaultRule): void;
  clear(): void;
  stop(): Promise<void>;
}

const HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "proxy-authenticate", "proxy-authorization"]);

function resetSocket(sock: Socket | null | undefined) {
  if (!sock) return;
  const s = sock as Socket & { resetAndDestroy?: () => void };
  if (typeof s.resetAndDestroy === "function") s.resetAndDestroy();
  else s.destroy();
}

function write(res: ServerResponse, chunk: Buffer): Promise<void> {
  if (res.write(chunk)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

export interface FaultProxyOptions {
  /** CA PEM for an https target (default: do not verify) */
  ca?: string;
}

export async function startFaultProxy(targetUrl: string, opts: FaultProxyOptions = {}): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  const targetOrigin = target.origin;
  const rules: LiveRule[] = [];
  const calls: ProxyCall[] = [];
  let origin = "";

  const pick = (method: string, path: string): [LiveRule, number] | undefined => {
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      if (r.remaining <= 0) continue;
      if (r.method && r.method.toUpperCase() !== method.toUpperCase()) continue;
      const re = typeof r.path === "string" ? new RegExp(r.path) : r.path;
      re.lastIndex = 0;
      if (!re.test(path)) continue;
      r.remaining--;
      r.hits++;
      return [r, i];
    }
    return undefined;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const call: ProxyCall = { method, path, range: req.headers.range, status: 0, bytesIn: 0, bytesOut: 0, time: Date.now() };
    calls.push(call);
    const hit = pick(method, path);
    const rule = hit?.[0];
    if (hit) {
      call.fault = hit[0].fault;
      call.ruleIndex = hit[1];
    }

    if (rule && (rule.fault === "500" || rule.fault === "429" || rule.fault === "status")) {
      for await (const c of req) call.bytesIn += (c as Buffer).length;
      const status = rule.fault === "500" ? 500 : rule.fault === "429" ? 429 : (rule.status ?? 503);
      const code = status === 429 ? "TOOMANYREQUESTS" : "UNKNOWN";
      const body = JSON.stringify({ errors: [{ code, message: `injected fault: ${status}`, detail: null }] });
      const headers: OutgoingHttpHeaders = { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body), "docker-distribution-api-version": "registry/2.0" };
      if (status === 429) headers["retry-after"] = String(rule.retryAfter ?? 1);
      call.status = status;
      res.writeHead(status, headers);
      res.end(body);
      return;
    }
    if (rule?.fault === "delay") await new Promise((r) => setTimeout(r, rule.delayMs ?? 1000));

    const headers: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k) && v !== undefined) headers[k] = v;
    headers.host = target.host;
    const mod = target.protocol === "https:" ? httpsRequest : httpRequest;
    const up = mod({
      protocol: target.protocol, hostname: target.hostname, port: target.port, method, path, headers, agent: false,
      ...(target.protocol === "https:" ? { ca: opts.ca, rejectUnauthorized: !!opts.ca } : {}),
    });
    const upRes = new Promise<IncomingMessage>((resolve, reject) => {
      up.once("response", resolve);
      up.once("error", reject);
    });
    upRes.catch(() => {});

    // request body → upstream
    const reqSide = rule?.fault === "reset" && rule.side === "request";
    let aborted = false;
    const pump = (async () => {
      for await (const c of req) {
        let chunk = c as Buffer;
        if (reqSide && call.bytesIn + chunk.length >= (rule!.afterBytes ?? 0)) {
          chunk = chunk.subarray(0, Math.max(0, (rule!.afterBytes ?? 0) - call.bytesIn));
          call.bytesIn += chunk.length;
          if (chunk.length) await new Promise<void>((r) => up.write(chunk, () => r()));
          aborted = true;
          up.destroy();
          resetSocket(req.socket);
          return;
        }
        call.bytesIn += chunk.length;
        if (!up.write(chunk)) await new Promise<void>((r) => {
          const done = () => { up.off("drain", done); up.off("close", done); r(); };
          up.on("drain", done);
          up.on("close", done);
        });
      }
      if (reqSide && !aborted) {
        // body shorter than afterBytes: reset at its end
        aborted = true;
        up.destroy();
        resetSocket(req.socket);
        return;
      }
      up.end();
    })();
    pump.catch(() => {
      up.destroy();
    });

    let upstream: IncomingMessage;
    try {
      upstream = await upRes;
    } catch (e) {
      if (aborted) {
        call.status = -1;
        return;
      }
      call.status = 502;
      if (!res.headersSent) {
        const body = JSON.stringify({ errors: [{ code: "UNKNOWN", message: `fault proxy: upstream error: ${String(e)}` }] });
        res.writeHead(502, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
        res.end(body);
      }
      return;
    }
    call.status = upstream.statusCode ?? 0;
    const outHeaders: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(upstream.headers)) if (!HOP.has(k) && v !== undefined) outHeaders[k] = v;
    const loc = upstream.headers.location;
    if (typeof loc === "string" && loc.startsWith(targetOrigin)) outHeaders.location = origin + loc.slice(targetOrigin.length);
    const cl = upstream.headers["content-length"];
    if (cl !== undefined) call.contentLength = Number(cl);
    res.writeHead(upstream.statusCode ?? 502, upstream.statusMessage, outHeaders);

    const respFault = rule && !reqSide && (rule.fault === "reset" || rule.fault === "truncate" || rule.fault === "corrupt" || rule.fault === "drip") ? rule : undefined;
    const at = respFault ? (respFault.afterBytes ?? Math.floor((call.contentLength ?? 0) / 2)) : 0;
    if (respFault && method !== "HEAD" && (respFault.fault === "reset" || respFault.fault === "truncate") && at === 0) {
      res.flushHeaders();
      await new Promise((r) => setTimeout(r, 20));
      upstream.destroy();
      if (respFault.fault === "reset") resetSocket(res.socket);
      else res.socket?.end();
      return;
    }
    let done = false;
    let dripping = false;
    try {
      for await (const c of upstream) {
        let chunk = c as Buffer;
        if (respFault && !done) {
          const start = call.bytesOut;
          const end = start + chunk.length;
          if (respFault.fault === "corrupt" && at >= start && at < end) {
            chunk = Buffer.from(chunk);
            chunk[at - start] = chunk[at - start]! ^ 0xff;
            done = true;
          } else if ((respFault.fault === "reset" || respFault.fault === "truncate") && end >= at) {
            const part = chunk.subarray(0, at - start);
            call.bytesOut += part.length;
            if (part.length) await write(res, part);
            // give the kernel a moment to send what we wrote before breaking the connection
            await new Promise((r) => setTimeout(r, 20));
            upstream.destroy();
            if (respFault.fault === "reset") resetSocket(res.socket);
            else res.socket?.end();
            return;
          } else if (respFault.fault === "drip" && end > at) {
            const part = chunk.subarray(0, Math.max(0, at - start));
            call.bytesOut += part.length;
            if (part.length) await write(res, part);
            dripping = true;
            chunk = chunk.subarray(part.length);
          }
        }
        if (dripping) {
          // a slow-drip source: dripBytes every dripMs, until the client gives up
          const step = respFault!.dripBytes ?? 1;
          while (chunk.length) {
            await new Promise((r) => setTimeout(r, respFault!.dripMs ?? 4000));
            if (res.destroyed || res.socket?.destroyed) return void upstream.destroy();
            const piece = chunk.subarray(0, step);
            chunk = chunk.subarray(piece.length);
            call.bytesOut += piece.length;
            await write(res, piece);
          }
          continue;
        }
        call.bytesOut += chunk.length;
        await write(res, chunk);
        if (res.destroyed) {
          upstream.destroy();
          return;
        }
      }
      res.end();
    } catch {
      resetSocket(res.socket);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => resetSocket(res.socket));
  });
  const listener = await listenLoopback(server);
  const { port, host } = listener;
  origin = `http://${host}`;

  const live = (r: FaultRule): LiveRule => ({ ...r, hits: 0, remaining: r.times ?? 1 });
  return {
    url: origin, host, port, target: targetOrigin, rules, calls,
    setRules(next) {
      rules.splice(0, rules.length, ...next.map(live));
    },
    addRule(rule) {
      rules.push(live(rule));
    },
    clear() {
      rules.splice(0);
      calls.splice(0);
    },
    stop: () => listener.close(),
  };
}
