// ChartMuseum API client (also Harbor ≤2.7 chartrepo, GitLab and Gitea Helm registries, anything that
// speaks `POST <context-path>/api[/<repo>]/charts`). Generic: helm addon-push and violet's ChartRepo pushes use it.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { contextPathFromIndex } from "../helm/config.ts";
import { registerSecret } from "../runtime/redact.ts";
import { HttpError, httpRequestFull, joinPath, jsonRequest, type HttpResponse, type TlsOptions } from "./http.ts";

export type { TlsOptions } from "./http.ts";

/** A chart repository: its URL (credentials in the URL are accepted) and, for messages, its name. */
export interface ChartRepo {
  url: string;
  name?: string;
}

export interface RepoAuth {
  username?: string;
  password?: string;
  /** sent as `Authorization: Bearer <token>` (or in `authHeader`); wins over username/password */
  token?: string;
  /** header to carry the raw token instead of Authorization: Bearer */
  authHeader?: string;
}

export interface RepoClientOptions {
  auth?: RepoAuth;
  tls?: TlsOptions;
  /** ChartMuseum context path; undefined = discover from the repo's index.yaml serverInfo.contextPath */
  contextPath?: string;
  /** idle timeout per request in ms (default 30 s) */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface UploadOptions extends RepoClientOptions {
  /** overwrite an existing version (`?force`) */
  force?: boolean;
  /** a 409 (version exists) is a success with status "skipped" */
  skipExisting?: boolean;
  /** provenance file to upload with the chart; undefined = `<tgz>.prov` if it exists; false = never */
  prov?: string | false;
}

export interface UploadResult {
  status: "pushed" | "skipped";
  /** the upload URL (no credentials) */
  url: string;
  prov: boolean;
  /** server response text, trimmed */
  message?: string;
}

/** Any failure talking to the repository. `status` is the HTTP status (0 when no response). */
export class ChartRepoError extends Error {
  override name = "ChartRepoError";
  constructor(message: string, public status = 0) {
    super(message);
  }
}

/** 409: the chart version is already in the repository. */
export class ChartExistsError extends ChartRepoError {
  override name = "ChartExistsError";
}

/** 401/403 */
export class ChartRepoAuthError extends ChartRepoError {
  override name = "ChartRepoAuthError";
}

interface ParsedRepo {
  url: URL;
  label: string;
  auth: RepoAuth;
}

function parseRepo(repo: ChartRepo, auth: RepoAuth | undefined): ParsedRepo {
  let url: URL;
  try {
    url = new URL(repo.url);
  } catch {
    throw new ChartRepoError(`invalid repository URL "${repo.url}" (expected http(s)://host[/path])`);
  }
  if (url.protocol === "cm:") url = new URL(repo.url.replace(/^cm:/, process.env.HELM_REPO_USE_HTTP === "true" ? "http:" : "https:"));
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ChartRepoError(`invalid repository URL "${repo.url}" (expected http:// or https://)`);
  const a: RepoAuth = { ...auth };
  if (url.username || url.password) {
    a.username ||= decodeURIComponent(url.username);
    a.password ||= decodeURIComponent(url.password);
    url.username = "";
    url.password = "";
  }
  registerSecret(a.password);
  registerSecret(a.token);
  url.search = "";
  url.hash = "";
  const clean = url.href.replace(/\/+$/, "");
  return { url: new URL(clean), label: repo.name ? `${repo.name}(${clean})` : clean, auth: a };
}

function authHeaders(a: RepoAuth): Record<string, string> {
  if (a.token) return a.authHeader ? { [a.authHeader]: a.token } : { authorization: `Bearer ${a.token}` };
  if (a.username || a.password) return { authorization: `Basic ${Buffer.from(`${a.username ?? ""}:${a.password ?? ""}`).toString("base64")}` };
  return {};
}

/** A short, single-line description of an error response (`{"error": …}` or a trimmed body). */
export function errorText(res: HttpResponse): string {
  const text = res.text().trim();
  try {
    const j = JSON.parse(text);
    if (j && typeof j === "object") {
      const e = j.error ?? j.message ?? j.errors?.[0]?.message;
      if (e) return String(e);
    }
  } catch {}
  const plain = text
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, " ")
    .replace(/<[^>]+>/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  if (!plain) return res.status ? `HTTP ${res.status}` : "empty response";
  return plain.length > 160 ? `${plain.slice(0, 157)}...` : plain;
}

function wrapNet(err: unknown, label: string): never {
  if (err instanceof ChartRepoError) throw err;
  if (err instanceof HttpError) throw new ChartRepoError(label.includes("(") ? `${err.message} (repository ${label.slice(0, label.indexOf("("))})` : err.message);
  if ((err as Error)?.name === "AbortError") throw new ChartRepoError(`${label}: cancelled`);
  throw err;
}

function statusError(res: HttpResponse, label: string, what: string): ChartRepoError {
  const msg = errorText(res);
  if (res.status === 401 || res.status === 403)
    return new ChartRepoAuthError(`${what} ${label}: ${res.status}: ${msg} (check --username/--password, --access-token or the repository's credentials)`, res.status);
  if (res.status === 404 && what.startsWith("push"))
    return new ChartRepoError(`${what} ${label}: 404: ${msg} (is the ChartMuseum API enabled, and is --context-path right?)`, res.status);
  if (res.status === 405 && what.startsWith("push"))
    return new ChartRepoError(`${what} ${label}: 405: ${msg} (this server does not accept ChartMuseum uploads; for an OCI registry use oci://)`, res.status);
  return new ChartRepoError(`${what} ${label}: ${res.status}: ${msg}`, res.status);
}

/** GET `<repo>/index.yaml` (text). */
export async function fetchIndex(repo: ChartRepo, opts: RepoClientOptions = {}): Promise<string> {
  const r = parseRepo(repo, opts.auth);
  const url = new URL(joinPath(r.url.pathname, "index.yaml"), r.url);
  let res: HttpResponse;
  try {
    res = await httpRequestFull(url, { headers: authHeaders(r.auth), tls: opts.tls, timeoutMs: opts.timeoutMs, maxBody: 256 << 20, signal: opts.signal });
  } catch (err) {
    wrapNet(err, r.label);
  }
  if (res.status !== 200) throw statusError(res, r.label, "reading the index of");
  return res.text();
}

/** serverInfo.contextPath from the repository's live index.yaml ("" when absent). */
export async function discoverContextPath(repo: ChartRepo, opts: RepoClientOptions = {}): Promise<string> {
  const text = await fetchIndex(repo, opts);
  return contextPathFromIndex(text) ?? "";
}

/** `<context-path>/api/<repo path without the context path>/<suffix>` */
export function apiUrl(repoUrl: URL, contextPath: string, suffix: string): URL {
  const ctx = contextPath.replace(/\/+$/, "").replace(/^(?=[^/])/, "/");
  const path = repoUrl.pathname.replace(/\/+$/, "");
  const repoPath = ctx && path.startsWith(ctx) ? path.slice(ctx.length) : path;
  return new URL(joinPath(ctx, "api", repoPath, suffix), repoUrl);
}

async function contextPathOf(r: ParsedRepo, repo: ChartRepo, opts: RepoClientOptions): Promise<string> {
  if (opts.contextPath !== undefined) return opts.contextPath;
  try {
    return await discoverContextPath(repo, opts);
  } catch (err) {
    // An index we cannot read is fatal only for auth/network problems; other servers may not publish one.
    if (err instanceof ChartRepoAuthError || (err instanceof ChartRepoError && err.status === 0)) throw err;
    return "";
  }
}

async function fileSize(path: string, what: string): Promise<number> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new ChartRepoError(`${path} is not a file`);
    return s.size;
  } catch (err) {
    if (err instanceof ChartRepoError) throw err;
    throw new ChartRepoError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * Upload a packaged chart (and its provenance file) as `multipart/form-data` fields `chart` and `prov` to
 * `POST <context-path>/api[/<repo-path>]/charts`. Streams the files.
 */
export async function uploadChart(repo: ChartRepo, tgzPath: string, opts: UploadOptions = {}): Promise<UploadResult> {
  const r = parseRepo(repo, opts.auth);
  if (opts.force && opts.skipExisting) throw new ChartRepoError("--force and --skip-existing cannot be used together");
  const chartSize = await fileSize(tgzPath, "chart");
  let provPath: string | undefined;
  let provSize = 0;
  if (opts.prov !== false) {
    const candidate = opts.prov ?? `${tgzPath}.prov`;
    try {
      provSize = await fileSize(candidate, "provenance file");
      provPath = candidate;
    } catch (err) {
      if (opts.prov) throw err;
    }
  }
  const ctx = await contextPathOf(r, repo, opts);
  const url = apiUrl(r.url, ctx, "charts");
  if (opts.force) url.search = "?force";
  const boundary = `----kube-airgap-${crypto.randomUUID().replace(/-/g, "")}`;
  const enc = new TextEncoder();
  const part = (field: string, file: string, type: string) =>
    enc.encode(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${basename(file).replace(/"/g, "")}"\r\nContent-Type: ${type}\r\n\r\n`);
  const chartHead = part("chart", tgzPath, "application/gzip");
  const provHead = provPath ? part("prov", provPath, "application/pgp-signature") : undefined;
  const crlf = enc.encode("\r\n");
  const tail = enc.encode(`--${boundary}--\r\n`);
  const length = chartHead.length + chartSize + crlf.length + (provHead ? provHead.length + provSize + crlf.length : 0) + tail.length;
  async function* body(): AsyncGenerator<Uint8Array> {
    yield chartHead;
    yield* createReadStream(tgzPath) as AsyncIterable<Uint8Array>;
    yield crlf;
    if (provHead && provPath) {
      yield provHead;
      yield* createReadStream(provPath) as AsyncIterable<Uint8Array>;
      yield crlf;
    }
    yield tail;
  }
  let res: HttpResponse;
  try {
    res = await httpRequestFull(url, {
      method: "POST",
      headers: { ...authHeaders(r.auth), "content-type": `multipart/form-data; boundary=${boundary}`, "content-length": String(length), accept: "application/json" },
      body,
      tls: opts.tls,
      timeoutMs: opts.timeoutMs,
      signal: opts.signal,
    });
  } catch (err) {
    wrapNet(err, r.label);
  }
  const shown = url.href;
  if (res.status >= 200 && res.status < 300) return { status: "pushed", url: shown, prov: !!provPath, message: res.text().trim() || undefined };
  if (res.status === 409) {
    if (opts.skipExisting) return { status: "skipped", url: shown, prov: !!provPath, message: errorText(res) };
    throw new ChartExistsError(`${basename(tgzPath)} already exists in ${r.label} — use --force or --skip-existing`, 409);
  }
  throw statusError(res, r.label, `pushing ${basename(tgzPath)} to`);
}

/** HEAD `<ctx>/api/<repo>/charts/<name>/<version>`: is that version in the repository? */
export async function chartExists(repo: ChartRepo, name: string, version: string, opts: RepoClientOptions = {}): Promise<boolean> {
  const r = parseRepo(repo, opts.auth);
  const url = apiUrl(r.url, await contextPathOf(r, repo, opts), `charts/${encodeURIComponent(name)}/${encodeURIComponent(version)}`);
  let res: HttpResponse;
  try {
    res = await jsonRequest(url, { method: "HEAD", headers: authHeaders(r.auth), tls: opts.tls, timeoutMs: opts.timeoutMs, signal: opts.signal });
  } catch (err) {
    wrapNet(err, r.label);
  }
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw statusError(res, r.label, `checking ${name}-${version} in`);
}

/** DELETE `<ctx>/api/<repo>/charts/<name>/<version>`; false when it was not there. */
export async function deleteChart(repo: ChartRepo, name: string, version: string, opts: RepoClientOptions = {}): Promise<boolean> {
  const r = parseRepo(repo, opts.auth);
  const url = apiUrl(r.url, await contextPathOf(r, repo, opts), `charts/${encodeURIComponent(name)}/${encodeURIComponent(version)}`);
  let res: HttpResponse;
  try {
    res = await jsonRequest(url, { method: "DELETE", headers: authHeaders(r.auth), tls: opts.tls, timeoutMs: opts.timeoutMs, signal: opts.signal });
  } catch (err) {
    wrapNet(err, r.label);
  }
  if (res.status === 200 || res.status === 202 || res.status === 204) return true;
  if (res.status === 404) return false;
  throw statusError(res, r.label, `deleting ${name}-${version} from`);
}

/** The repo URL without credentials, for messages. */
export function repoLabel(repo: ChartRepo): string {
  return parseRepo(repo, undefined).label;
}
