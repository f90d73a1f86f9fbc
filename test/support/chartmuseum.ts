// A ChartMuseum-compatible test server (behaviour of helm/chartmuseum's multitenant server):
// GET <ctx>/[<repo>/]index.yaml (with serverInfo.contextPath), GET <ctx>/[<repo>/]charts/<file>,
// POST <ctx>/api/[<repo>/]charts (raw body or multipart fields chart/prov), POST <ctx>/api/[<repo>/]prov,
// GET/HEAD/DELETE <ctx>/api/[<repo>/]charts/<name>/<version>, ?force, 409, basic auth, optional TLS.
// Charts are parsed with nanotar + yaml (independent of the code under test). Binds 127.0.0.1 only.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { parseTarGzip } from "nanotar";
import { parse as parseYaml, stringify } from "yaml";
import { freePort } from "./ports.ts";

export interface ChartMuseumOptions {
  /** e.g. "/helm/v1": every route lives under it and index.yaml publishes it as serverInfo.contextPath */
  contextPath?: string;
  /** 1 = one level of multitenancy: /<repo>/index.yaml, /api/<repo>/charts (0 = single repo) */
  depth?: 0 | 1;
  basicAuth?: { username: string; password: string };
  /** leave GETs of index.yaml and chart files open when basic auth is on */
  anonymousGet?: boolean;
  /** ALLOW_OVERWRITE: every upload may replace an existing version */
  allowOverwrite?: boolean;
  /** DISABLE_FORCE_OVERWRITE: ?force is refused */
  disableForceOverwrite?: boolean;
  /** serve HTTPS with this certificate (paths); with `clientCA` clients must present a certificate */
  tls?: { cert: string; key: string; clientCA?: string };
}

export interface StoredChart {
  repo: string;
  name: string;
  version: string;
  file: string;
  tgz: Uint8Array;
  metadata: Record<string, any>;
  chartYaml: string;
  prov?: Uint8Array;
  created: string;
  digest: string;
}

export interface RequestLog {
  method: string;
  path: string;
  query: string;
  contentType?: string;
  authorization?: string;
  status: number;
}

export interface ChartMuseumServer {
  /** base URL, including the context path (no trailing slash) */
  url: string;
  port: number;
  requests: RequestLog[];
  /** stored charts of a repo ("" for the root repo) */
  charts(repo?: string): StoredChart[];
  get(name: string, version: string, repo?: string): StoredChart | undefined;
  stop(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...extra });
  res.end(text);
}

function readBody(req: IncomingMessage, limit = 20 << 20): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    req.on("data", (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        reject(new Error("request too large"));
        req.destroy();
        return;
      }
      parts.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(parts)));
    req.on("error", reject);
  });
}

function parseMultipart(body: Buffer, contentType: string): Map<string, Buffer> {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!m) throw new Error("multipart without boundary");
  const boundary = Buffer.from(`--${m[1] ?? m[2]}`);
  const out = new Map<string, Buffer>();
  let pos = body.indexOf(boundary);
  while (pos >= 0) {
    const start = pos + boundary.length;
    if (body.subarray(start, start + 2).toString() === "--") break;
    const headEnd = body.indexOf("\r\n\r\n", start);
    if (headEnd < 0) break;
    const head = body.subarray(start, headEnd).toString();
    const next = body.indexOf(boundary, headEnd + 4);
    if (next < 0) throw new Error("unterminated multipart body");
    const data = body.subarray(headEnd + 4, next - 2); // strip CRLF before the boundary
    const name = /name="([^"]*)"/i.exec(head)?.[1];
    if (name) out.set(name, Buffer.from(data));
    pos = next;
  }
  return out;
}

async function loadChart(tgz: Uint8Array): Promise<{ metadata: Record<string, any>; chartYaml: string }> {
  let items;
  try {
    items = await parseTarGzip(tgz);
  } catch (err) {
    throw new Error(`could not load chart: ${(err as Error).message}`);
  }
  const cy = items.find((i) => /^[^/]+\/Chart\.yaml$/.test(i.name.replace(/^\.\//, "")));
  if (!cy) {
    if (items.some((i) => i.name.replace(/^\.\//, "") === "Chart.yaml")) throw new Error("chart yaml not in base directory");
    throw new Error("Chart.yaml file is missing");
  }
  const chartYaml = new TextDecoder().decode(cy.data);
  const metadata = parseYaml(chartYaml, { version: "1.1" }) as Record<string, any>;
  if (!metadata?.name) throw new Error("validation: chart.metadata.name is required");
  if (!metadata.version) throw new Error("validation: chart.metadata.version is required");
  if (String(metadata.name).includes("/")) throw new Error(`${metadata.name}-${metadata.version}.tgz is improperly formatted`);
  return { metadata, chartYaml };
}

function provNameVersion(prov: Uint8Array): { name: string; version: string } {
  const text = new TextDecoder().decode(prov);
  const name = /^name:\s*(\S+)/m.exec(text)?.[1];
  const version = /^version:\s*(\S+)/m.exec(text)?.[1];
  if (!name || !version) throw new Error("could not parse provenance file");
  return { name, version };
}

export async function startChartMuseum(opts: ChartMuseumOptions = {}): Promise<ChartMuseumServer> {
  const ctx = (opts.contextPath ?? "").replace(/\/+$/, "");
  const depth = opts.depth ?? 0;
  const store = new Map<string, Map<string, StoredChart>>(); // repo → "name-version" → chart
  const provOnly = new Map<string, Uint8Array>(); // repo/name-version → prov uploaded before its chart
  const requests: RequestLog[] = [];

  const repoStore = (repo: string) => {
    let s = store.get(repo);
    if (!s) store.set(repo, (s = new Map()));
    return s;
  };

  function authorized(req: IncomingMessage, isGet: boolean): boolean {
    if (!opts.basicAuth) return true;
    if (isGet && opts.anonymousGet) return true;
    const h = req.headers.authorization ?? "";
    const m = /^Basic\s+(.+)$/i.exec(h);
    if (!m) return false;
    const [u, ...p] = Buffer.from(m[1]!, "base64").toString("utf8").split(":");
    return u === opts.basicAuth.username && p.join(":") === opts.basicAuth.password;
  }

  function indexYaml(repo: string): string {
    const entries: Record<string, any[]> = {};
    for (const c of [...repoStore(repo).values()].sort((a, b) => (a.name === b.name ? (a.version < b.version ? 1 : -1) : a.name < b.name ? -1 : 1))) {
      (entries[c.name] ??= []).push({
        ...c.metadata,
        version: String(c.metadata.version),
        ...(c.metadata.appVersion !== undefined ? { appVersion: String(c.metadata.appVersion) } : {}),
        urls: [`charts/${c.file}`],
        created: c.created,
        digest: c.digest,
      });
    }
    const doc: Record<string, any> = { apiVersion: "v1", entries, generated: new Date().toISOString() };
    if (ctx) doc.serverInfo = { contextPath: ctx };
    return stringify(doc, { lineWidth: 0 });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const u = new URL(req.url ?? "/", "http://x");
    let path = decodeURIComponent(u.pathname);
    const method = req.method ?? "GET";
    if (ctx) {
      if (path !== ctx && !path.startsWith(`${ctx}/`)) return void sendJson(res, 404, { error: "not found" }), 404;
      path = path.slice(ctx.length) || "/";
    }
    if (path === "/health") return sendJson(res, 200, { healthy: true }), 200;
    const segs = path.split("/").filter(Boolean);
    const isApi = segs[0] === "api";
    const rest = isApi ? segs.slice(1) : segs;
    const repo = rest.slice(0, depth).join("/");
    const tail = rest.slice(depth);
    if (rest.length < depth) return sendJson(res, 404, { error: "not found" }), 404;
    const isRead = method === "GET" || method === "HEAD";
    if (!authorized(req, isRead && !isApi)) {
      sendJson(res, 401, { error: "unauthorized" }, { "www-authenticate": 'Basic realm="ChartMuseum"' });
      return 401;
    }
    const s = repoStore(repo);
    if (!isApi) {
      if (isRead && tail.length === 1 && tail[0] === "index.yaml") {
        const text = indexYaml(repo);
        res.writeHead(200, { "content-type": "application/x-yaml", "content-length": Buffer.byteLength(text) });
        res.end(method === "HEAD" ? undefined : text);
        return 200;
      }
      if (isRead && tail.length === 2 && tail[0] === "charts") {
        const file = tail[1]!;
        const c = [...s.values()].find((x) => x.file === file || `${x.file}.prov` === file);
        const data = c ? (file.endsWith(".prov") ? c.prov : c.tgz) : undefined;
        if (!data) return sendJson(res, 404, { error: "not found" }), 404;
        res.writeHead(200, { "content-type": file.endsWith(".prov") ? "application/pgp-signature" : "application/x-tar", "content-length": data.length });
        res.end(method === "HEAD" ? undefined : data);
        return 200;
      }
      return sendJson(res, 404, { error: "not found" }), 404;
    }
    // API
    const force = u.searchParams.has("force");
    const mayOverwrite = opts.allowOverwrite || (force && !opts.disableForceOverwrite);
    if (method === "POST" && tail.length === 1 && (tail[0] === "charts" || tail[0] === "prov")) {
      let body: Buffer;
      try {
        body = await readBody(req);
      } catch (err) {
        return sendJson(res, 413, { error: (err as Error).message }), 413;
      }
      const ct = req.headers["content-type"] ?? "";
      let chart: Buffer | undefined;
      let prov: Buffer | undefined;
      const multipart = tail[0] === "charts" && /^multipart\/form-data/i.test(ct);
      if (multipart) {
        try {
          const fields = parseMultipart(body, ct);
          chart = fields.get("chart");
          prov = fields.get("prov");
        } catch (err) {
          return sendJson(res, 400, { error: (err as Error).message }), 400;
        }
        if (!chart && !prov) return sendJson(res, 400, { error: "no package or provenance file found in form fields chart and prov" }), 400;
      } else if (tail[0] === "charts") chart = body;
      else prov = body;
      let loaded: Awaited<ReturnType<typeof loadChart>> | undefined;
      if (chart) {
        try {
          loaded = await loadChart(chart);
        } catch (err) {
          return sendJson(res, 400, { error: (err as Error).message }), 400;
        }
      }
      let provKey: string | undefined;
      if (prov) {
        try {
          const nv = provNameVersion(prov);
          provKey = `${nv.name}-${nv.version}`;
        } catch (err) {
          return sendJson(res, 400, { error: (err as Error).message }), 400;
        }
      }
      if (loaded) {
        const key = `${loaded.metadata.name}-${loaded.metadata.version}`;
        if (s.has(key) && !mayOverwrite) return sendJson(res, 409, { error: multipart ? "chart already exists" : "file already exists" }), 409;
        const bytes = new Uint8Array(chart!);
        s.set(key, {
          repo,
          name: String(loaded.metadata.name),
          version: String(loaded.metadata.version),
          file: `${key}.tgz`,
          tgz: bytes,
          metadata: loaded.metadata,
          chartYaml: loaded.chartYaml,
          prov: prov ? new Uint8Array(prov) : provOnly.get(`${repo}/${key}`),
          created: new Date().toISOString(),
          digest: createHash("sha256").update(bytes).digest("hex"),
        });
      } else if (prov && provKey) {
        const c = s.get(provKey);
        if (c?.prov && !mayOverwrite) return sendJson(res, 409, { error: "file already exists" }), 409;
        if (c) c.prov = new Uint8Array(prov);
        else provOnly.set(`${repo}/${provKey}`, new Uint8Array(prov));
      }
      return sendJson(res, 201, { saved: true }), 201;
    }
    if (tail[0] === "charts" && tail.length === 1 && isRead) {
      const out: Record<string, any[]> = {};
      for (const c of s.values()) (out[c.name] ??= []).push({ ...c.metadata, urls: [`charts/${c.file}`] });
      return sendJson(res, 200, out), 200;
    }
    if (tail[0] === "charts" && tail.length === 3) {
      const key = `${tail[1]}-${tail[2]}`;
      const c = s.get(key);
      if (method === "DELETE") {
        if (!c) return sendJson(res, 404, { error: "improper constraint: " + tail[2] }), 404;
        s.delete(key);
        return sendJson(res, 200, { deleted: true }), 200;
      }
      if (isRead) {
        if (!c) {
          if (method === "HEAD") return res.writeHead(404).end(), 404;
          return sendJson(res, 404, { error: `improper constraint: ${tail[2]}` }), 404;
        }
        if (method === "HEAD") return res.writeHead(200).end(), 200;
        return sendJson(res, 200, { ...c.metadata, urls: [`charts/${c.file}`], digest: c.digest }), 200;
      }
    }
    return sendJson(res, 404, { error: "not found" }), 404;
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? "/", "http://x");
    handle(req, res).then(
      (status) =>
        requests.push({
          method: req.method ?? "",
          path: u.pathname,
          query: u.search,
          contentType: req.headers["content-type"],
          authorization: req.headers.authorization,
          status: status ?? res.statusCode,
        }),
      (err) => {
        if (!res.headersSent) sendJson(res, 500, { error: String((err as Error)?.message ?? err) });
      },
    );
  };
  const server: Server = opts.tls
    ? (createHttpsServer(
        {
          cert: readFileSync(opts.tls.cert),
          key: readFileSync(opts.tls.key),
          ...(opts.tls.clientCA ? { ca: readFileSync(opts.tls.clientCA), requestCert: true, rejectUnauthorized: true } : {}),
        },
        listener,
      ) as unknown as Server)
    : createHttpServer(listener);
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const base = `${opts.tls ? "https" : "http"}://127.0.0.1:${port}${ctx}`;
  return {
    url: base,
    port,
    requests,
    charts: (repo = "") => [...repoStore(repo).values()],
    get: (name, version, repo = "") => repoStore(repo).get(`${name}-${version}`),
    stop: () =>
      new Promise<void>((resolve) => {
        (server as any).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
