// Loading a chart into a local temp directory from any source kubectl mirror accepts:
//   ./dir | ./chart-1.0.0.tgz                         local chart folder or archive
//   --repo-url URL --chart-url ALIAS/CHART           HTTP(S) chart repository (PaletteAI style)
//   --repo-url URL CHART   (or ALIAS/CHART)           same
//   https://host/path/chart-1.0.0.tgz                 a chart archive URL
//   oci://host/path/chart                             OCI registry (pulled with `helm pull` for now)
// with --chart-version (exact or a constraint; latest stable when absent). The result says where the chart
// came from (URL, digest) and keeps the .tgz so `sync` can push the archive as is.
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { parseYaml } from "../runtime/yaml.ts";
import { chartArchiveEntry, extractChartContents, openChartArchive } from "./chart-tar.ts";
import { findHelm, lastLine, runHelm } from "./binary.ts";
import { pickVersion } from "./semver.ts";
import { parseChartMeta, readChartMeta, type ChartMeta } from "./values.ts";
import { registerSecret } from "../runtime/redact.ts";
import { createClient, hostConfigFor, type RegistryOptions } from "../oci/client.ts";
import { MT } from "../oci/media-types.ts";
import { parseRegistryReference } from "../oci/reference.ts";
import { RegistryRepository } from "../oci/registry.ts";
import type { ImageManifest } from "../oci/types.ts";
import { trustedCAs } from "../runtime/trust.ts";
import { httpRequest as proxiedRequest } from "../runtime/proxy.ts";

export type ChartSourceKind = "dir" | "archive" | "repo" | "url" | "oci";

export interface ChartRequest {
  /** positional CHART: dir, .tgz, oci://…, https://….tgz, or a chart name / alias/chart with repoUrl */
  chart?: string;
  /** --repo-url: HTTP(S) chart repository */
  repoUrl?: string;
  /** --chart-url ALIAS/CHART (PaletteAI style; the alias is informational) */
  chartUrl?: string;
  /** --chart-version: exact version or constraint */
  version?: string;
  /** allow prereleases when picking the latest */
  devel?: boolean;
  username?: string;
  password?: string;
  /** send credentials to chart URLs on another host than the repo (Helm --pass-credentials) */
  passCredentials?: boolean;
  /** a CA bundle trusted for every host (Helm --ca-file) */
  caFile?: string;
  /** CA bundles, each for one host[:port] or (no host) for every host: `--ca-file [HOST=]FILE` */
  caFiles?: { host?: string; file: string }[];
  /** skip TLS verification: true for every host, or only for these host[:port]s (`--insecure-host`) */
  insecure?: boolean | string[];
  /** plain HTTP for these OCI registries (true: every registry). Never applies to an http(s):// chart repository or
   *  chart URL: their scheme is the URL's, so an https:// repository is never fetched (nor sent credentials) in clear */
  plainHttp?: boolean | string[];
  /** where username/password come from, for error hints ("--src-username/--src-password-stdin", a repositories.yaml entry) */
  credentialFrom?: string;
  /** the flags that set the chart source's credential in this command, for error hints */
  credentialFlags?: string;
  /** docker config.json with registry credentials (oci://) */
  registryConfig?: string;
  /** registry options for oci:// (shared/cli/registry.ts registryOptionsFromArgs); when set, charts are pulled
   *  with the OCI core; without it `helm pull` is used */
  registry?: RegistryOptions;
  /** helm binary (oci:// pulls without `registry`); undefined = look up */
  helm?: string;
  env?: Record<string, string | undefined>;
}

export interface ResolvedRequest {
  kind: ChartSourceKind;
  /** path, URL or oci:// reference */
  location: string;
  /** chart name for repo lookups */
  name?: string;
  version?: string;
}

export interface LoadedChart {
  /** directory holding Chart.yaml */
  dir: string;
  name: string;
  version: string;
  appVersion?: string;
  source: { kind: ChartSourceKind; ref: string; url?: string; digest?: string };
  /** the chart archive when the chart came packed (repo, url, oci, .tgz) */
  archive?: string;
  /**
   * loadChart(req, { unpack: false }) of a packed chart: `dir` is where unpack() puts the chart (nothing is there
   * before), and the archive's digest and Chart.yaml come from the one read of it
   */
  unpack?: () => Promise<string>;
  packed?: { digest: string; chartYaml: string; created?: Date };
  /** remove temp files */
  cleanup(): Promise<void>;
}

export class ChartSourceError extends Error {
  override name = "ChartSourceError";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

/** Decide where the chart comes from (pure; no I/O except the local path check done by the caller). */
export function resolveChartRequest(req: ChartRequest, isLocal: (p: string) => "dir" | "file" | undefined = () => undefined): ResolvedRequest {
  const chart = req.chart?.trim();
  const chartUrl = req.chartUrl?.trim();
  if (chart && chartUrl) throw new ChartSourceError(`give the chart either as an argument or with --chart-url, not both`);
  if (req.repoUrl) {
    const spec = chartUrl || chart;
    if (!spec) throw new ChartSourceError(`--repo-url needs a chart: --chart-url ALIAS/CHART or a CHART argument`);
    if (/^(oci|https?):\/\//.test(spec)) throw new ChartSourceError(`--repo-url with a full reference "${spec}"`, `give only the chart name (or ALIAS/CHART) with --repo-url`);
    const name = spec.includes("/") ? spec.slice(spec.lastIndexOf("/") + 1) : spec;
    if (!name) throw new ChartSourceError(`--chart-url ${spec}: no chart name after the alias`);
    if (!/^https?:\/\//.test(req.repoUrl)) {
      if (req.repoUrl.startsWith("oci://")) return { kind: "oci", location: `${req.repoUrl.replace(/\/+$/, "")}/${name}`, version: req.version };
      throw new ChartSourceError(`--repo-url ${req.repoUrl}: must be an http(s):// or oci:// URL`);
    }
    return { kind: "repo", location: req.repoUrl, name, version: req.version };
  }
  const spec = chart || chartUrl;
  if (!spec) throw new ChartSourceError(`no chart given`, `pass a chart folder, .tgz, oci:// reference, or --repo-url with --chart-url`);
  if (spec.startsWith("oci://")) return { kind: "oci", location: spec, version: req.version };
  if (/^https?:\/\//.test(spec)) return { kind: "url", location: spec };
  const local = isLocal(spec);
  if (local === "dir") return { kind: "dir", location: spec };
  if (local === "file") return { kind: "archive", location: spec };
  if (/^\w[\w.-]*\/\w[\w.-]*$/.test(spec) && !/\.(tgz|tar\.gz)$/.test(spec)) {
    throw new ChartSourceError(`chart "${spec}" is not a local path`, `for a chart in a repository add --repo-url URL (ALIAS/CHART names the chart in it)`);
  }
  throw new ChartSourceError(`chart ${spec}: no such file or directory`);
}

async function localKind(p: string): Promise<"dir" | "file" | undefined> {
  const st = await stat(p).catch(() => undefined);
  return st?.isDirectory() ? "dir" : st?.isFile() ? "file" : undefined;
}

/**
 * Load the chart into a local directory. Call cleanup() when done. `unpack: false`: a packed chart is read (and
 * checked as extraction checks it) but written to its directory only when unpack() is called.
 */
export async function loadChart(req: ChartRequest, opts: { unpack?: boolean } = {}): Promise<LoadedChart> {
  registerSecret(req.password);
  const spec = req.chart?.trim() || req.chartUrl?.trim();
  const kindOfLocal = spec && !req.repoUrl ? await localKind(spec) : undefined;
  const r = resolveChartRequest(req, () => kindOfLocal);
  if (r.kind === "dir") {
    const dir = resolve(r.location);
    const meta = await readChartMeta(dir).catch((e) => {
      throw new ChartSourceError((e as Error).message);
    });
    return { dir, name: meta.name, version: meta.version, appVersion: meta.appVersion, source: { kind: "dir", ref: dir }, cleanup: async () => {} };
  }
  const work = await mkdtemp(join(tmpdir(), "ka-chart-"));
  const cleanup = () => rm(work, { recursive: true, force: true });
  try {
    let archive: string;
    let source: LoadedChart["source"];
    if (r.kind === "archive") {
      archive = resolve(r.location);
      source = { kind: "archive", ref: archive, digest: `sha256:${await sha256File(archive)}` };
    } else if (r.kind === "url") {
      archive = join(work, safeName(basename(new URL(r.location).pathname) || "chart.tgz"));
      await download(r.location, archive, req, r.location);
      source = { kind: "url", ref: r.location, url: r.location, digest: `sha256:${await sha256File(archive)}` };
    } else if (r.kind === "repo") {
      ({ archive, source } = await fromRepo(r, req, work));
    } else {
      ({ archive, source } = req.registry ? await fromOciNative(r, req.registry, work, req.devel) : await fromOci(r, req, work));
    }
    const contents = await openChartArchive(archive);
    let dir: string;
    let meta: ChartMeta;
    let lazy: Pick<LoadedChart, "unpack" | "packed"> = {};
    if (opts.unpack === false) {
      dir = join(work, "chart", contents.top);
      const entry = chartArchiveEntry(contents, "Chart.yaml")!;
      const chartYaml = new TextDecoder().decode(entry.data);
      meta = parseChartMeta(chartYaml, `${archive}: ${contents.top}/Chart.yaml`);
      // the "created" of the OCI artifact: the first Chart.yaml entry's time, as chartCreated reads it
      const first = contents.entries.find((e) => /^[^/]+\/Chart\.yaml$/.test(e.name.replace(/^\.\//, "")));
      let unpacked: Promise<string> | undefined;
      lazy = {
        packed: { digest: `sha256:${createHash("sha256").update(contents.raw).digest("hex")}`, chartYaml, ...(first?.mtime ? { created: new Date(first.mtime * 1000) } : {}) },
        // from the read already made (no second read and gunzip of the archive when discovery needs the files)
        unpack: () => (unpacked ??= extractChartContents(contents, join(work, "chart"))),
      };
    } else {
      dir = await extractChartContents(contents, join(work, "chart"));
      meta = await readChartMeta(dir);
    }
    if (r.kind === "repo" && r.name && meta.name !== r.name) throw new ChartSourceError(`${source.url}: archive holds chart "${meta.name}", not "${r.name}"`);
    if (source.kind === "oci" && !/:[^/]+$/.test(source.ref)) source.ref = `${source.ref}:${meta.version.replace(/\+/g, "_")}`;
    return { dir, name: meta.name, version: meta.version, appVersion: meta.appVersion, source, archive, ...lazy, cleanup };
  } catch (e) {
    await cleanup();
    // an OCI chart registry's refusal: name the flags that set the chart source's credential (not the destination's)
    if ((e as { code?: string }).code === "UNAUTHORIZED" && r.kind === "oci") (e as { hint?: string }).hint = chartCredentialHint(req);
    // typed errors (ours, the OCI core's, archive errors) already carry a clear message and hint
    if (e instanceof Error && e.name !== "Error") throw e;
    throw new ChartSourceError((e as Error).message);
  }
}

function safeName(n: string): string {
  return n.replace(/[^\w.+-]/g, "_");
}

async function sha256File(p: string): Promise<string> {
  const h = createHash("sha256");
  await pipeline(createReadStream(p), h);
  return h.digest("hex");
}

// ---------------- HTTP(S) chart repositories ----------------

interface IndexEntry {
  name?: string;
  version: string;
  appVersion?: string;
  urls?: string[];
  digest?: string;
}

async function fromRepo(r: ResolvedRequest, req: ChartRequest, work: string): Promise<{ archive: string; source: LoadedChart["source"] }> {
  const base = r.location.replace(/\/+$/, "") + "/";
  const indexUrl = new URL("index.yaml", base).toString();
  const indexFile = join(work, "index.yaml");
  await download(indexUrl, indexFile, req, base);
  let index: any;
  try {
    index = parseYaml(await readFile(indexFile, "utf8"));
  } catch (e) {
    throw new ChartSourceError(`${indexUrl}: not a valid chart repository index (${(e as Error).message.split("\n")[0]})`);
  }
  const entries: IndexEntry[] | undefined = index?.entries?.[r.name!];
  if (!Array.isArray(entries) || !entries.length) {
    const names = Object.keys(index?.entries ?? {}).slice(0, 10);
    throw new ChartSourceError(`chart "${r.name}" not found in ${indexUrl}`, names.length ? `the repository has: ${names.join(", ")}` : "the repository index is empty");
  }
  let version: string | undefined;
  try {
    version = pickVersion(entries.map((e) => String(e.version)), r.version, req.devel);
  } catch (e) {
    throw new ChartSourceError(`--chart-version ${r.version}: ${(e as Error).message}`);
  }
  if (!version) {
    const have = entries.map((e) => String(e.version)).slice(0, 10).join(", ");
    throw new ChartSourceError(r.version ? `chart "${r.name}" has no version matching "${r.version}" in ${indexUrl}` : `chart "${r.name}" has no stable version in ${indexUrl}`, `available: ${have}`);
  }
  const entry = entries.find((e) => String(e.version) === version)!;
  const first = entry.urls?.[0];
  if (!first) throw new ChartSourceError(`${indexUrl}: ${r.name} ${version} has no download URL`);
  const url = new URL(first, base).toString();
  if (url.startsWith("oci://")) {
    const r2: ResolvedRequest = { kind: "oci", location: url.replace(/:[^/:]+$/, ""), version };
    return req.registry ? fromOciNative(r2, req.registry, work, req.devel) : fromOci(r2, req, work);
  }
  const archive = join(work, safeName(`${r.name}-${version}.tgz`));
  await download(url, archive, req, base);
  const digest = await sha256File(archive);
  if (entry.digest && entry.digest.replace(/^sha256:/, "").toLowerCase() !== digest) {
    throw new ChartSourceError(`${url}: digest mismatch (index says ${entry.digest}, downloaded sha256:${digest})`, "the repository index is stale or the download was altered");
  }
  return { archive, source: { kind: "repo", ref: `${base}${r.name}:${version}`, url, digest: `sha256:${digest}` } };
}

/** The hint for a refused chart source credential: which credential was sent and which flags set it. */
export function chartCredentialHint(req: ChartRequest, sent?: boolean): string {
  const flags = req.credentialFlags ?? "the chart repository's username and password";
  if (sent === undefined) return `check the chart source's credential: ${flags}`;
  return sent ? `the chart source refused the credential from ${req.credentialFrom ?? "the request"}: check ${flags}` : `the chart source needs a credential: give ${flags}`;
}

/**
 * GET a URL to a file (temp name then rename), following redirects; credentials only go to the repo's origin
 * (scheme included: never to a plain-HTTP redirect of an https:// repository). The scheme is the URL's: the registry
 * flags --plain-http/--plain-http-host never turn https:// into http://; --insecure-host and --ca-file HOST=FILE apply
 * to their own host only.
 */
async function download(url: string, dest: string, req: ChartRequest, authOrigin: string, redirects = 0): Promise<void> {
  const u = new URL(url);
  const headers: Record<string, string> = { "User-Agent": "kube-airgap/kubectl-mirror", Accept: "*/*" };
  const sameOrigin = u.origin === new URL(authOrigin).origin;
  const sendAuth = req.username !== undefined && req.password !== undefined && (sameOrigin || !!req.passCredentials) && !(u.protocol === "http:" && new URL(authOrigin).protocol === "https:");
  if (sendAuth) headers.Authorization = `Basic ${Buffer.from(`${req.username}:${req.password}`).toString("base64")}`;
  const tls = u.protocol === "https:" ? hostConfigFor({ caFiles: [...(req.caFile ? [{ file: req.caFile }] : []), ...(req.caFiles ?? [])], insecure: req.insecure })(u.host) : undefined;
  const res = await new Promise<IncomingMessage>((resolveRes, reject) => {
    const r = proxiedRequest(u, { method: "GET", headers, ...(tls ? { ca: trustedCAs(tls.ca), rejectUnauthorized: !tls.insecure } : {}), timeout: 60_000 }, resolveRes);
    r.on("timeout", () => r.destroy(new Error("no response within 60s")));
    r.on("error", reject);
    r.end();
  }).catch((e: Error) => {
    throw new ChartSourceError(`GET ${u}: ${e.message}`, /certificate|self.signed|CERT/i.test(e.message) ? `pass --ca-file ${u.host}=CA.pem with the repository's CA, or --insecure-host ${u.host}` : undefined);
  });
  const status = res.statusCode ?? 0;
  if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
    res.resume();
    if (redirects >= 5) throw new ChartSourceError(`GET ${url}: too many redirects`);
    return download(new URL(res.headers.location, u).toString(), dest, req, authOrigin, redirects + 1);
  }
  if (status !== 200) {
    res.resume();
    const hint = status === 401 || status === 403 ? chartCredentialHint(req, sendAuth) : status === 404 ? "check --repo-url and the chart name/version" : undefined;
    throw new ChartSourceError(`GET ${u}: HTTP ${status}`, hint);
  }
  const tmp = `${dest}.part`;
  await pipeline(res, createWriteStream(tmp));
  await rename(tmp, dest);
}

// ---------------- OCI ----------------

async function fromOci(r: ResolvedRequest, req: ChartRequest, work: string): Promise<{ archive: string; source: LoadedChart["source"] }> {
  const found = findHelm(req.helm, req.env ?? process.env);
  if (!found.bin) throw new ChartSourceError(`pulling ${r.location} needs helm: ${found.reason}`);
  const out = join(work, "pull");
  await mkdir(out, { recursive: true });
  const args = ["pull", r.location, "--destination", out];
  if (r.version) args.push("--version", r.version);
  const host = r.location.replace(/^oci:\/\//, "").split("/")[0]!;
  // the registry flags apply per host (helm pull takes one setting for the one registry it talks to)
  const hc = hostConfigFor({ plainHttp: req.plainHttp, insecure: req.insecure, caFiles: req.caFiles })(host);
  if (hc.plainHttp) args.push("--plain-http");
  if (hc.insecure) args.push("--insecure-skip-tls-verify");
  const caFile = req.caFile ?? req.caFiles?.filter((f) => f.host).find((f) => f.host === host || f.host === host.replace(/:\d+$/, ""))?.file ?? req.caFiles?.find((f) => !f.host)?.file;
  if (caFile) args.push("--ca-file", caFile);
  const env: Record<string, string | undefined> = { ...(req.env ?? {}) };
  if (req.username !== undefined && req.password !== undefined) {
    // credentials go through a private registry config file, never the command line
    const cfg = join(work, "registry-config.json");
    const auth = Buffer.from(`${req.username}:${req.password}`).toString("base64");
    registerSecret(auth);
    await writeFile(cfg, JSON.stringify({ auths: { [host]: { auth } } }), { mode: 0o600 });
    env.HELM_REGISTRY_CONFIG = cfg;
  } else if (req.registryConfig) {
    env.HELM_REGISTRY_CONFIG = resolve(req.registryConfig);
  }
  const res = await runHelm(found.bin, args, { env, timeoutMs: 300_000 });
  if (res.code !== 0) {
    const msg = lastLine(res.stderr) || `helm pull exited with ${res.code}`;
    throw new ChartSourceError(`helm pull ${r.location}${r.version ? ` --version ${r.version}` : ""}: ${msg}`, /http: server gave HTTP response to HTTPS client/.test(res.stderr) ? "the registry speaks plain HTTP: add --plain-http" : /unauthorized|denied|401|403/i.test(res.stderr) ? chartCredentialHint(req, req.username !== undefined) : undefined);
  }
  const files = (await readdir(out)).filter((f) => f.endsWith(".tgz"));
  if (files.length !== 1) throw new ChartSourceError(`helm pull ${r.location}: expected one chart archive, got ${files.length}`);
  const archive = join(out, files[0]!);
  const digest = /Digest:\s*(sha256:[0-9a-f]{64})/.exec(res.stdout + res.stderr)?.[1];
  return { archive, source: { kind: "oci", ref: r.location, ...(digest ? { digest } : {}) } };
}

/**
 * Pull a Helm chart from an OCI registry with the OCI core: resolve the version (exact tag, or the highest tag
 * matching a constraint; Helm stores "+" as "_" in tags), fetch the manifest, stream the chart layer to a file.
 */
async function fromOciNative(r: ResolvedRequest, opts: RegistryOptions, work: string, devel?: boolean): Promise<{ archive: string; source: LoadedChart["source"] }> {
  const loc = r.location.replace(/^oci:\/\//, "");
  let ref;
  try {
    ref = parseRegistryReference(loc, r.location);
  } catch (e) {
    throw new ChartSourceError((e as Error).message);
  }
  const explicitTag = /:[^/]+$/.test(loc) && ref.tag ? ref.tag : undefined;
  const repo = RegistryRepository.fromReference(createClient(opts), { ...ref, tag: undefined, digest: undefined });
  const base = `oci://${ref.registry}/${ref.repository}`;
  let tag = ref.digest ? undefined : explicitTag;
  if (!tag && !ref.digest) {
    const exact = r.version && /^v?\d+\.\d+\.\d+(-[\w.-]+)?(\+[\w.-]+)?$/.test(r.version) ? r.version : undefined;
    if (exact) tag = exact.replace(/\+/g, "_");
    else {
      const tags = (await repo.tags!()).map((t) => t.replace(/_/g, "+"));
      let v: string | undefined;
      try {
        v = pickVersion(tags, r.version, devel);
      } catch (e) {
        throw new ChartSourceError(`--chart-version ${r.version}: ${(e as Error).message}`);
      }
      if (!v) throw new ChartSourceError(r.version ? `${base}: no tag matches version "${r.version}"` : `${base}: no stable version tag`, tags.length ? `tags: ${tags.slice(0, 10).join(", ")}` : "the repository has no tags");
      tag = v.replace(/\+/g, "_");
    }
  }
  const desc = await repo.resolve(ref.digest ?? tag!);
  const manifest = JSON.parse(new TextDecoder().decode(await repo.fetchManifest(desc))) as ImageManifest;
  const layer = manifest.layers?.find((l) => l.mediaType === MT.helmChart);
  if (!layer) throw new ChartSourceError(`${base}:${tag ?? ref.digest}: not a Helm chart (no ${MT.helmChart} layer)`);
  const archive = join(work, "chart.tgz");
  await pipeline(await repo.fetchBlob(layer), createWriteStream(`${archive}.part`));
  await rename(`${archive}.part`, archive);
  return { archive, source: { kind: "oci", ref: ref.digest ? `${base}@${ref.digest}` : `${base}:${tag}`, digest: desc.digest } };
}
