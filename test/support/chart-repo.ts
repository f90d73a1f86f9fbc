// A small HTTP(S) Helm chart repository for tests: serves index.yaml generated from the .tgz files it
// holds (name, version, appVersion, digest, relative urls) and the archives themselves; basic auth optional.
//
//   const repo = await startChartRepo({ charts: [tgzPath], auth: { username: "u", password: "p" } });
//   repo.url          "http://127.0.0.1:PORT"  (https with tls)
//   repo.add(tgz)     add another archive (index.yaml is regenerated on every request)
//   repo.requests     every request seen: { method, path, authorized, headers }
//   await repo.stop()
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttps } from "node:https";
import { basename } from "node:path";
import { gunzipSync } from "node:zlib";
import { parse, stringify } from "yaml";
import { freePort } from "./ports.ts";

export interface ChartRepoOptions {
  charts?: string[];
  auth?: { username: string; password: string };
  tls?: { cert: string; key: string };
  /** serve archives under this path prefix (e.g. "charts/") — index urls stay relative */
  prefix?: string;
  /** use absolute URLs in index.yaml */
  absoluteUrls?: boolean;
  /** corrupt the digest of this chart file name in the index (tests digest checking) */
  badDigestFor?: string;
}

export interface ChartRepo {
  url: string;
  port: number;
  requests: { method: string; path: string; authorized: boolean; headers: IncomingMessage["headers"] }[];
  add(tgz: string): void;
  index(): string;
  stop(): Promise<void>;
}

/** Chart.yaml of a chart archive (the CHART/Chart.yaml entry at depth 1). */
export function chartYamlOf(tgz: Uint8Array): Record<string, any> {
  const tar = gunzipSync(tgz);
  let off = 0;
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const name = new TextDecoder().decode(h.subarray(0, 100)).replace(/\0.*$/s, "");
    const prefix = new TextDecoder().decode(h.subarray(345, 500)).replace(/\0.*$/s, "");
    const full = prefix ? `${prefix}/${name}` : name;
    const size = parseInt(new TextDecoder().decode(h.subarray(124, 136)).replace(/\0.*$/s, "").trim() || "0", 8);
    if (/^[^/]+\/Chart\.yaml$/.test(full)) return parse(new TextDecoder().decode(tar.subarray(off + 512, off + 512 + size)));
    off += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error("no Chart.yaml in chart archive");
}

export async function startChartRepo(opts: ChartRepoOptions = {}): Promise<ChartRepo> {
  const files = new Map<string, Uint8Array>();
  const requests: ChartRepo["requests"] = [];
  const prefix = opts.prefix ?? "";
  // index.yaml is built once per change of the chart set, as a real repository serves a static file (rebuilding it
  // per request unpacked every chart each time: ~1 s for kube-prometheus-stack, inside every timed run of bench/)
  let built: string | undefined;
  const add = (tgz: string) => {
    files.set(basename(tgz), readFileSync(tgz));
    built = undefined;
  };
  for (const c of opts.charts ?? []) add(c);
  const port = await freePort();
  const url = `${opts.tls ? "https" : "http"}://127.0.0.1:${port}`;

  const index = (): string => (built ??= buildIndex());
  const buildIndex = (): string => {
    const entries: Record<string, any[]> = {};
    for (const [name, data] of files) {
      const meta = chartYamlOf(data);
      const digest = createHash("sha256").update(data).digest("hex");
      (entries[meta.name] ??= []).push({
        ...meta,
        created: "2024-01-01T00:00:00Z",
        digest: opts.badDigestFor === name ? "0".repeat(64) : digest,
        urls: [opts.absoluteUrls ? `${url}/${prefix}${name}` : `${prefix}${name}`],
      });
    }
    return stringify({ apiVersion: "v1", entries, generated: "2024-01-01T00:00:00Z" });
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", url).pathname);
    let authorized = true;
    if (opts.auth) {
      const want = `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString("base64")}`;
      authorized = req.headers.authorization === want;
    }
    requests.push({ method: req.method ?? "GET", path, authorized, headers: req.headers });
    if (!authorized) {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="charts"' });
      res.end("unauthorized\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405);
      res.end();
      return;
    }
    if (path === "/index.yaml") {
      const body = index();
      res.writeHead(200, { "Content-Type": "application/x-yaml", "Content-Length": Buffer.byteLength(body) });
      res.end(req.method === "HEAD" ? undefined : body);
      return;
    }
    const name = path.slice(1 + prefix.length);
    const data = path.startsWith(`/${prefix}`) ? files.get(name) : undefined;
    if (!data) {
      res.writeHead(404);
      res.end("not found\n");
      return;
    }
    res.writeHead(200, { "Content-Type": "application/gzip", "Content-Length": data.length });
    res.end(req.method === "HEAD" ? undefined : data);
  };

  const server: Server = opts.tls
    ? createHttps({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) }, handler)
    : createHttp(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  let stopped = false;
  return {
    url,
    port,
    requests,
    add,
    index,
    stop: () =>
      new Promise<void>((resolve) => {
        if (stopped) return resolve();
        stopped = true;
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
