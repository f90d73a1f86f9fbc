// A ChartMuseum-compatible test server (behaviour of helm/chartmuseum's multitenant server):
// GET <ctx>/[<repo>/]index.yaml (with serverInfo.contextPath), GET <ctx>/[<repo>/]charts/<file>,
// POST <ctx>/api/[<repo>/]charts (raw body or multipart fields chart/prov), POST <ctx>/api/[<repo>/]prov,
// GET/HEAD/DELETE <ctx>/api/[<repo>/]charts/<name>/<version>, ?force, 409 ("file already exists"; multipart: "chart
// already exists"), basic auth or --bearer-auth (JWT access claims per repo), optional TLS. Uploads are loaded as
// ChartMuseum loads them, through a re-reading of Helm's loader.LoadArchive + Metadata.Validate (see loadChart), with
// its own tar reader (Go archive/tar rules: ustar prefix, PAX path, GNU long names) + yaml, independent of the code under test. Binds 127.0.0.1 only.
import { createHash, createPublicKey, sign as cryptoSign, verify as cryptoVerify } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { posix } from "node:path";
import { gunzipSync } from "node:zlib";
import { parseAllDocuments, parse as parseYaml, stringify } from "yaml";
import { freePort } from "./ports.ts";

export interface ChartMuseumOptions {
  /** e.g. "/helm/v1": every route lives under it and index.yaml publishes it as serverInfo.contextPath */
  contextPath?: string;
  /** 1 = one level of multitenancy: /<repo>/index.yaml, /api/<repo>/charts (0 = single repo) */
  depth?: 0 | 1;
  basicAuth?: { username: string; password: string };
  /**
   * --bearer-auth (chartmuseum/auth): `Authorization: Bearer <JWT>` signed by the auth server's key (RS256), with
   * access claims {type: "artifact-repository", name: <repo, "repo" for the root>, actions: [pull|push]}; a 401
   * carries `WWW-Authenticate: Bearer realm=…,service=…,scope="artifact-repository:<repo>:<action>"`.
   */
  bearerAuth?: { publicKeyPem: string; realm: string; service: string };
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

/**
 * The entries of a tar as Go's archive/tar reads them (what Helm's loader sees): ustar name with its prefix field,
 * PAX `path` records, GNU long names ('L'); extended headers themselves are not entries.
 */
function readTarLikeGo(tar: Uint8Array): { name: string; type: string; data: Uint8Array }[] {
  const out: { name: string; type: string; data: Uint8Array }[] = [];
  const str = (b: Uint8Array, off: number, len: number) => {
    const f = b.subarray(off, off + len);
    const z = f.indexOf(0);
    return new TextDecoder().decode(z < 0 ? f : f.subarray(0, z));
  };
  let pos = 0;
  let paxPath: string | undefined;
  let longName: string | undefined;
  while (pos + 512 <= tar.length) {
    const h = tar.subarray(pos, pos + 512);
    if (h.every((b) => b === 0)) break;
    const size = parseInt(str(h, 124, 12).trim() || "0", 8);
    const type = String.fromCharCode(h[156]!) || "0";
    const data = tar.subarray(pos + 512, pos + 512 + size);
    if (data.length < size) throw new Error("unexpected EOF");
    pos += 512 + Math.ceil(size / 512) * 512;
    if (type === "x") {
      for (const rec of new TextDecoder().decode(data).split("\n")) {
        const m = /^\d+ path=(.*)$/.exec(rec);
        if (m) paxPath = m[1];
      }
      continue;
    }
    if (type === "g") continue;
    if (type === "L") {
      longName = str(data, 0, data.length);
      continue;
    }
    const prefix = str(h, 257, 6).startsWith("ustar") ? str(h, 345, 155) : "";
    const name = paxPath ?? longName ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100));
    paxPath = longName = undefined;
    out.push({ name, type: type === "\0" ? "0" : type, data });
  }
  return out;
}

/** Masterminds/semver v3 NewVersion (what Helm's isValidSemver calls), from its source: semVerRegex. */
const MASTERMINDS_SEMVER = /^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?(\+([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?$/;
function mastermindsSemver(v: string): boolean {
  const m = MASTERMINDS_SEMVER.exec(v);
  if (!m) return false;
  // validatePrerelease: numeric identifiers must not start with 0
  return !(m[5] ?? "").split(".").some((p) => p.length > 1 && /^\d+$/.test(p) && p.startsWith("0"));
}

/** Helm's chart.Metadata field types (sigs.k8s.io/yaml → encoding/json into the struct: a type mismatch is an error). */
const METADATA_STRINGS = ["name", "home", "version", "description", "icon", "apiVersion", "condition", "tags", "appVersion", "kubeVersion", "type"];
function checkMetadataTypes(m: Record<string, any>): void {
  const jsonType = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v === "boolean" ? "bool" : typeof v === "object" ? "object" : typeof v);
  const bad = (field: string, v: unknown, want: string) => {
    throw new Error(`cannot load Chart.yaml: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal ${jsonType(v)} into Go struct field Metadata.${field} of type ${want}`);
  };
  for (const k of METADATA_STRINGS) if (m[k] != null && typeof m[k] !== "string") bad(k, m[k], "string");
  if (m.deprecated != null && typeof m.deprecated !== "boolean") bad("deprecated", m.deprecated, "bool");
  for (const k of ["sources", "keywords"]) {
    if (m[k] == null) continue;
    if (!Array.isArray(m[k])) bad(k, m[k], "[]string");
    for (const v of m[k]) if (v != null && typeof v !== "string") bad(k, v, "string");
  }
  if (m.annotations != null) {
    if (typeof m.annotations !== "object" || Array.isArray(m.annotations)) bad("annotations", m.annotations, "map[string]string");
    for (const v of Object.values(m.annotations)) if (v != null && typeof v !== "string") bad("annotations", v, "string");
  }
  for (const k of ["maintainers", "dependencies"]) if (m[k] != null && !Array.isArray(m[k])) bad(k, m[k], "[]*chart.X");
}

/**
 * What ChartMuseum does with an uploaded package: Helm's loader.LoadArchive (pkg/chart/loader archive.go and
 * load.go LoadFiles) and chart.Metadata.Validate, from Helm's source: one base directory, no absolute or parent
 * paths, UTF-8 BOM stripped, Chart.yaml required and typed, missing apiVersion → v1, values.yaml must be YAML,
 * name/version/type validated (Masterminds semver), maintainers not null, dependency names/aliases unique, and
 * charts/*.tgz loaded as subcharts. Messages are Helm's.
 */
async function loadChart(tgz: Uint8Array, depth = 0): Promise<{ metadata: Record<string, any>; chartYaml: string }> {
  let items;
  try {
    items = readTarLikeGo(gunzipSync(tgz));
  } catch (err) {
    throw new Error((err as { code?: string }).code?.startsWith("Z_") ? "gzip: invalid header" : `could not load chart: ${(err as Error).message}`);
  }
  const files = new Map<string, Uint8Array>();
  for (const it of items) {
    if (it.type === "5" || it.name.endsWith("/")) continue;
    const delim = it.name.includes("\\") ? "\\" : "/";
    const parts = it.name.split(delim);
    let n = parts.slice(1).join("/");
    if (n.startsWith("/")) throw new Error("chart illegally contains absolute paths");
    n = posix.normalize(n).replace(/\/$/, "");
    if (n === "." || n === "") throw new Error(`chart illegally contains content outside the base directory: ${JSON.stringify(it.name)}`);
    if (n.startsWith("..")) throw new Error("chart illegally references parent directory");
    if (/^[a-zA-Z]:\//.test(n)) throw new Error("chart contains illegally named files");
    if (parts[0] === "Chart.yaml") throw new Error("chart yaml not in base directory");
    let data = it.data ?? new Uint8Array();
    if (data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) data = data.subarray(3);
    files.set(n, data);
  }
  if (!files.size) throw new Error("no files in chart archive");
  const cy = files.get("Chart.yaml");
  if (!cy) throw new Error("Chart.yaml file is missing");
  const chartYaml = new TextDecoder().decode(cy);
  let metadata: Record<string, any>;
  try {
    metadata = (parseYaml(chartYaml, { version: "1.1" }) ?? {}) as Record<string, any>;
  } catch (err) {
    throw new Error(`cannot load Chart.yaml: error converting YAML to JSON: ${(err as Error).message.split("\n")[0]}`);
  }
  if (typeof metadata !== "object" || Array.isArray(metadata)) throw new Error("cannot load Chart.yaml: error unmarshaling JSON: json: cannot unmarshal into Go value of type chart.Metadata");
  checkMetadataTypes(metadata);
  metadata.apiVersion ||= "v1";
  const values = files.get("values.yaml");
  if (values) {
    try {
      for (const d of parseAllDocuments(new TextDecoder().decode(values), { version: "1.1" })) if (d.errors.length) throw d.errors[0];
    } catch (err) {
      throw new Error(`cannot load values.yaml: error converting YAML to JSON: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  // Metadata.Validate (sanitized strings, then the checks in Helm's order)
  const name = String(metadata.name ?? "").replace(/\s/g, " ");
  const version = String(metadata.version ?? "");
  if (!name) throw new Error("validation: chart.metadata.name is required");
  if (name === "." || name === "..") throw new Error(`validation: chart.metadata.name ${JSON.stringify(name)} is not allowed`);
  if (name !== posix.basename(name) || name.includes("/")) throw new Error(`validation: chart.metadata.name ${JSON.stringify(name)} is invalid`);
  if (!version) throw new Error("validation: chart.metadata.version is required");
  if (!mastermindsSemver(version)) throw new Error(`validation: chart.metadata.version ${JSON.stringify(version)} is invalid`);
  if (metadata.type && metadata.type !== "application" && metadata.type !== "library") throw new Error("validation: chart.metadata.type must be application or library");
  for (const m of metadata.maintainers ?? []) if (m == null) throw new Error("validation: maintainers must not contain empty or null nodes");
  const deps = new Set<string>();
  for (const d of metadata.dependencies ?? []) {
    if (d == null) throw new Error("validation: dependencies must not contain empty or null nodes");
    const key = d.alias || d.name;
    if (deps.has(key)) throw new Error(`validation: more than one dependency with name or alias ${JSON.stringify(key)}`);
    deps.add(key);
  }
  // subcharts packed in charts/ are loaded too
  for (const [n, data] of files) {
    const m = /^charts\/([^/]+\.tgz)$/.exec(n);
    if (!m || /^[_.]/.test(m[1]!) || depth > 5) continue;
    try {
      await loadChart(data, depth + 1);
    } catch (err) {
      throw new Error(`error unpacking subchart tar in ${name}: ${(err as Error).message}`);
    }
  }
  return { metadata: { ...metadata, name, version }, chartYaml };
}

/** ChartMuseum's ProvenanceFilenameFromContent (pkg/repo/provenance.go): a PGP signed message with name and version. */
function provNameVersion(prov: Uint8Array): { name: string; version: string } {
  const text = new TextDecoder().decode(prov);
  const name = /\nname:[ *](.+)/.exec(text)?.[1];
  const version = /\nversion:[ *](.+)/.exec(text)?.[1];
  if (!text.startsWith("-----BEGIN PGP SIGNED MESSAGE-----") || !name || !version) throw new Error("invalid provenance file");
  return { name, version };
}

/** A token ChartMuseum's --bearer-auth accepts (chartmuseum/auth: a JWT signed by the auth server, RS256, access claims). */
export function chartMuseumBearerToken(privateKeyPem: string, access: { name: string; actions: string[] }[], opts: { expiresIn?: number; service?: string } = {}): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: "RS256", typ: "JWT" })}.${b64({ iss: "test-auth", aud: opts.service ?? "chartmuseum", iat: now, exp: now + (opts.expiresIn ?? 300), access: access.map((a) => ({ type: "artifact-repository", ...a })) })}`;
  return `${body}.${cryptoSign("RSA-SHA256", Buffer.from(body), privateKeyPem).toString("base64url")}`;
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

  /** chartmuseum/auth authorizeBearerAuth: a valid, unexpired token with the action on this namespace. */
  function bearerAllowed(req: IncomingMessage, namespace: string, action: string): boolean {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    if (!token) return false;
    const [h, p, sig] = token.split(".");
    if (!h || !p || !sig) return false;
    try {
      if (JSON.parse(Buffer.from(h, "base64url").toString()).alg !== "RS256") return false;
      if (!cryptoVerify("RSA-SHA256", Buffer.from(`${h}.${p}`), createPublicKey(opts.bearerAuth!.publicKeyPem), Buffer.from(sig, "base64url"))) return false;
      const claims = JSON.parse(Buffer.from(p, "base64url").toString()) as { exp?: number; access?: { type: string; name: string; actions: string[] }[] };
      if (claims.exp !== undefined && claims.exp < Date.now() / 1000) return false;
      return (claims.access ?? []).some((a) => a.type === "artifact-repository" && a.name === namespace && a.actions?.includes(action));
    } catch {
      return false;
    }
  }

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
    if (opts.bearerAuth) {
      const action = isRead ? "pull" : "push";
      const namespace = repo || "repo"; // cm_auth.DefaultNamespace
      if (!(isRead && opts.anonymousGet) && !bearerAllowed(req, namespace, action)) {
        const { realm, service } = opts.bearerAuth;
        sendJson(res, 401, { error: "unauthorized" }, { "www-authenticate": `Bearer realm="${realm}",service="${service}",scope="artifact-repository:${namespace}:${action}"` });
        return 401;
      }
    } else if (!authorized(req, isRead && !isApi)) {
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
          const status = multipart ? 400 : 500; // ChartMuseum: uploadProvenanceFile answers 500 for an unreadable prov
          return sendJson(res, status, { error: (err as Error).message }), status;
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
