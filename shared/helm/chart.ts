// Helm chart helpers: Chart.yaml parsing/validation, reading Chart.yaml from a dir or a .tgz, walking a chart
// dir like `helm package` (honouring .helmignore), and building chart archives as streams.
import { createReadStream } from "node:fs";
import { lstat, open, readdir, readFile, realpath, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { marshalGoYaml, parseGoYaml } from "./goyaml.ts";
import { HelmIgnore } from "./ignore.ts";
import { collect, gunzipFile, readTar, tarGzipStream, tarStream, type TarEntry } from "./tar.ts";

export class ChartError extends Error {
  override name = "ChartError";
}

export interface ChartMaintainer {
  name?: string;
  email?: string;
  url?: string;
}

/** Chart.yaml (helm pkg/chart Metadata); unknown keys are kept as they are. */
export interface ChartMetadata {
  apiVersion?: string;
  name?: string;
  version?: string;
  appVersion?: string;
  description?: string;
  icon?: string;
  home?: string;
  sources?: string[];
  keywords?: string[];
  maintainers?: ChartMaintainer[];
  type?: string;
  kubeVersion?: string;
  deprecated?: boolean;
  condition?: string;
  tags?: string;
  annotations?: Record<string, string>;
  dependencies?: unknown[];
  [k: string]: unknown;
}

/** Masterminds/semver (lenient, as Helm uses it): optional "v", minor/patch optional, prerelease, build. */
const SEMVER = /^v?(0|[1-9]\d*)(\.(0|[1-9]\d*))?(\.(0|[1-9]\d*))?(-([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?(\+([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?$/;

export function isSemver(v: string): boolean {
  return SEMVER.test(v);
}

/** Helm's chart metadata validation (the checks `helm package` / ChartMuseum apply). Throws ChartError. */
export function validateChartMetadata(m: ChartMetadata, where: string): void {
  if (!m || typeof m !== "object") throw new ChartError(`${where}: Chart.yaml is empty or not a map`);
  if (!m.apiVersion) throw new ChartError(`${where}: Chart.yaml has no apiVersion (set apiVersion: v2)`);
  if (m.apiVersion !== "v1" && m.apiVersion !== "v2") throw new ChartError(`${where}: Chart.yaml apiVersion "${m.apiVersion}" is not v1 or v2`);
  if (!m.name) throw new ChartError(`${where}: Chart.yaml has no name`);
  if (typeof m.name !== "string" || m.name !== basename(m.name) || m.name.includes("\\") || m.name === "." || m.name === "..")
    throw new ChartError(`${where}: chart name "${m.name}" must be a plain name, not a path`);
  if (m.version === undefined || m.version === null || m.version === "") throw new ChartError(`${where}: Chart.yaml has no version`);
  if (!isSemver(String(m.version))) throw new ChartError(`${where}: chart version "${m.version}" is not valid semver (e.g. 1.2.0)`);
  if (m.type && m.type !== "application" && m.type !== "library") throw new ChartError(`${where}: chart type "${m.type}" must be application or library`);
}

/** Parse and validate Chart.yaml text. Numbers in version/appVersion are kept as strings. */
export function parseChartYaml(text: string, where: string): ChartMetadata {
  const m = parseYamlMap(text, where, "Chart.yaml", ["version", "appVersion"]) as ChartMetadata;
  validateChartMetadata(m, where);
  return m;
}

/**
 * Parse a YAML map (Chart.yaml, metadata.yaml) as go-yaml reads it (goyaml.ts; errors say "YAML error at L:C"). The listed keys are read as the exact source text, so
 * `version: 1.10` stays "1.10" (Go's YAML decoder into a string field does the same).
 */
export function parseYamlMap(text: string, where: string, file: string, stringKeys: string[] = []): Record<string, any> {
  let doc;
  try {
    doc = parseGoYaml(text, `${where}: ${file}`);
  } catch (e) {
    throw new ChartError((e as Error).message);
  }
  const m = doc.toJS({ maxAliasCount: 100 });
  if (m === null || m === undefined) return {};
  if (typeof m !== "object" || Array.isArray(m)) throw new ChartError(`${where}: ${file} must be a YAML map`);
  for (const k of stringKeys) {
    const node = doc.get(k, true) as { source?: string; value?: unknown } | undefined;
    if (node && node.value !== null && node.value !== undefined && typeof node.value !== "object")
      m[k] = typeof node.source === "string" && typeof node.value !== "string" ? node.source : String(node.value);
  }
  return m;
}

/**
 * Chart.yaml bytes as Helm's chartutil.SaveChartfile and vela's MakeChartCompatible write them: sigs.k8s.io/yaml
 * (go-yaml v2, see goyaml.ts marshalGoYaml: go-yaml's key order, quoting, indentation and 80-column folding), empty
 * fields dropped (the Metadata struct's omitempty). Checked against hand-derived go-yaml output in
 * test/addon-push/chart-yaml-bytes.test.ts.
 */
export function chartYamlText(m: ChartMetadata): string {
  const clean: Record<string, unknown> = {};
  for (const k of Object.keys(m).sort()) {
    const v = m[k];
    if (v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0)) continue;
    if (typeof v === "object" && !Array.isArray(v) && Object.keys(v as object).length === 0) continue;
    clean[k] = v;
  }
  return marshalGoYaml(clean);
}

/** The file name Helm gives a packaged chart. */
export function chartFileName(m: ChartMetadata): string {
  return `${m.name}-${m.version}.tgz`;
}

// ---------------------------------------------------------------------------------------------------------
// Reading archives

export interface ChartArchiveInfo {
  metadata: ChartMetadata;
  /** the top-level directory name inside the archive */
  root: string;
  /** small files read on request (see readChartArchive's `want`) */
  files: Map<string, Uint8Array>;
}

/**
 * Read Chart.yaml (and optionally other small files, by path below the top directory) from a chart .tgz,
 * streaming. Throws ChartError when the archive is not a chart.
 */
export async function readChartArchive(tgz: string, want: string[] = [], opts: { validate?: boolean } = {}): Promise<ChartArchiveInfo> {
  const files = new Map<string, Uint8Array>();
  let root: string | undefined;
  let chartYaml: Uint8Array | undefined;
  const wanted = new Set(want);
  try {
    await readTar(gunzipFile(tgz), async (h, data) => {
      if (h.type !== "file") return;
      const name = h.name.replace(/^\.\//, "");
      const slash = name.indexOf("/");
      if (slash < 0) {
        if (name === "Chart.yaml") throw new ChartError(`${tgz}: Chart.yaml is not inside a chart directory (chart yaml not in base directory)`);
        return;
      }
      const top = name.slice(0, slash);
      const rel = name.slice(slash + 1);
      if (rel === "Chart.yaml") {
        if (root !== undefined && root !== top) return;
        root = top;
        chartYaml = await collect(data, 1 << 20, `${tgz}: Chart.yaml`);
      } else if (wanted.has(rel) && !files.has(rel)) {
        root ??= top;
        files.set(rel, await collect(data, 5 << 20, `${tgz}: ${rel}`));
      }
    });
  } catch (err) {
    if (err instanceof ChartError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new ChartError(`${tgz}: no such file`);
    if (code === "Z_DATA_ERROR" || code === "Z_BUF_ERROR" || /incorrect header|unexpected end|truncated|not a tar/i.test(String((err as Error).message)))
      throw new ChartError(`${tgz}: not a gzipped tar archive (${(err as Error).message})`);
    throw err;
  }
  if (!chartYaml) {
    if (files.size) return { metadata: {}, root: root!, files };
    throw new ChartError(`${tgz}: Chart.yaml file is missing — this archive is not a Helm chart`);
  }
  const text = new TextDecoder().decode(chartYaml);
  const metadata = opts.validate === false ? (parseYaml(text) as ChartMetadata) : parseChartYaml(text, tgz);
  return { metadata, root: root!, files };
}

/**
 * Re-pack an archive with a new Chart.yaml (and the top directory renamed to the chart name), streaming
 * every other entry through. `drop` filters entries (relative paths) out.
 */
export function repackChartArchive(tgz: string, chartYaml: string, name: string, drop: (rel: string) => boolean = () => false): ReadableStream<Uint8Array> {
  const yamlBytes = new TextEncoder().encode(chartYaml);
  async function* entries(): AsyncGenerator<TarEntry> {
    yield { name: `${name}/Chart.yaml`, size: yamlBytes.length, data: yamlBytes };
    // Entries are produced inside readTar's visitor, so hand them over through a small queue.
    const queue: { entry?: TarEntry; done?: boolean; error?: unknown; ack: () => void }[] = [];
    let wake: (() => void) | undefined;
    const push = (item: Omit<(typeof queue)[number], "ack">) =>
      new Promise<void>((ack) => {
        queue.push({ ...item, ack });
        wake?.();
      });
    readTar(gunzipFile(tgz), async (h, data) => {
      if (h.type !== "file") return;
      const n = h.name.replace(/^\.\//, "");
      const slash = n.indexOf("/");
      if (slash < 0) return;
      const rel = n.slice(slash + 1);
      if (!rel || rel === "Chart.yaml" || drop(rel)) return;
      await push({ entry: { name: `${name}/${rel}`, size: h.size, mode: 0o644, mtime: h.mtime, data: () => data } });
    }).then(
      () => push({ done: true }),
      (error) => push({ error }),
    );
    for (;;) {
      if (!queue.length) await new Promise<void>((r) => (wake = r));
      wake = undefined;
      const item = queue.shift()!;
      if (item.error) throw item.error;
      if (item.done) return item.ack();
      yield item.entry!;
      // the consumer has read the entry's data (tarStream reads it fully before asking for the next)
      item.ack();
    }
  }
  return tarGzipStream(entries());
}

// ---------------------------------------------------------------------------------------------------------
// Chart directories

export interface WalkOptions {
  /** extra ignore rules applied before the dir's own .helmignore (e.g. ".git/") */
  defaultIgnore?: string[];
  /** drop files named *.tgz / *.tgz.prov outside charts/ (stray packages left in the dir) */
  skipStrayArchives?: boolean;
  /** relative paths to leave out (e.g. Chart.yaml when it is generated) */
  exclude?: string[];
  /** absolute directories never walked into (an output dir inside the chart dir) */
  excludeDirs?: string[];
}

export interface DirFile {
  rel: string;
  abs: string;
  /** bytes packaged (without a leading UTF-8 BOM, which Helm's loader drops) */
  size: number;
  /** bytes skipped at the start of the file (3: a UTF-8 BOM) */
  skip?: number;
}

/** Does the file start with a UTF-8 BOM? (Helm's LoadDir drops it from every file: bytes.TrimPrefix(data, utf8bom)) */
async function startsWithBom(path: string, size: number): Promise<boolean> {
  if (size < 3) return false;
  const fh = await open(path, "r");
  try {
    const b = Buffer.alloc(3);
    await fh.read(b, 0, 3, 0);
    return b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf;
  } finally {
    await fh.close();
  }
}

/** List the files `helm package` would include (symlinks followed; sorted by path). */
export async function walkChartDir(dir: string, opts: WalkOptions = {}): Promise<DirFile[]> {
  const ig = new HelmIgnore();
  ig.add("templates/.?*"); // Helm's built-in rule
  for (const r of opts.defaultIgnore ?? []) ig.add(r);
  let own: string | undefined;
  try {
    own = await readFile(join(dir, ".helmignore"), "utf8");
  } catch {}
  if (own !== undefined) for (const line of own.split(/\r?\n/)) ig.add(line);
  const exclude = new Set(opts.exclude ?? []);
  const out: DirFile[] = [];
  const seen = new Set<string>();
  async function walk(abs: string, rel: string): Promise<void> {
    const real = await realpath(abs);
    if (seen.has(real)) throw new ChartError(`${abs}: symlink loop`);
    seen.add(real);
    const names = (await readdir(abs)).sort();
    for (const name of names) {
      const a = join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      let st = await lstat(a);
      if (st.isSymbolicLink()) {
        try {
          st = await stat(a);
        } catch {
          throw new ChartError(`${a}: broken symlink`);
        }
      }
      if (st.isDirectory()) {
        if (ig.ignores(r, true) || opts.excludeDirs?.includes(resolve(a))) continue;
        await walk(a, r);
        continue;
      }
      if (!st.isFile()) throw new ChartError(`${a}: not a regular file (cannot package it)`);
      if (ig.ignores(r, false) || exclude.has(r)) continue;
      if (opts.skipStrayArchives && /\.tgz(\.prov)?$/.test(name) && !r.startsWith("charts/")) continue;
      if (await startsWithBom(a, st.size)) out.push({ rel: r, abs: a, size: st.size - 3, skip: 3 });
      else out.push({ rel: r, abs: a, size: st.size });
    }
    seen.delete(real);
  }
  await walk(dir, "");
  return out;
}

function fileStream(path: string, start = 0): () => AsyncIterable<Uint8Array> {
  return () => createReadStream(path, { start }) as AsyncIterable<Uint8Array>;
}

/** Helm's archive order: Chart.yaml, values.yaml, values.schema.json, templates/, other files, charts/. */
function rank(rel: string): number {
  if (rel === "Chart.yaml") return 0;
  if (rel === "values.yaml") return 1;
  if (rel === "values.schema.json") return 2;
  if (rel.startsWith("templates/")) return 3;
  if (rel.startsWith("charts/")) return 5;
  return 4;
}

/**
 * The .tgz stream of a chart directory laid out like `helm package`: `<name>/…`, files only, mode 0644,
 * Chart.yaml first. `chartYaml` replaces the dir's Chart.yaml (which need not exist).
 */
export function chartDirArchive(files: DirFile[], name: string, chartYaml: string): ReadableStream<Uint8Array> {
  const yamlBytes = new TextEncoder().encode(chartYaml);
  const rest = files.filter((f) => f.rel !== "Chart.yaml").sort((a, b) => rank(a.rel) - rank(b.rel) || (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  const entries: TarEntry[] = [
    { name: `${name}/Chart.yaml`, size: yamlBytes.length, data: yamlBytes },
    ...rest.map((f) => ({ name: `${name}/${f.rel}`, size: f.size, data: fileStream(f.abs, f.skip) })),
  ];
  return tarGzipStream(entries);
}

// ---------------------------------------------------------------------------------------------------------
// OCI (Helm's registry format)

/** Helm's OCI config blob: the chart metadata as JSON (helm pkg/chart Metadata JSON field names). */
export function helmOciConfig(m: ChartMetadata): Uint8Array {
  const keys = ["name", "home", "sources", "version", "description", "keywords", "maintainers", "icon", "apiVersion", "condition", "tags", "appVersion", "deprecated", "annotations", "kubeVersion", "dependencies", "type"];
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = m[k];
    if (v === undefined || v === null || v === "" || v === false) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    out[k] = v;
  }
  return new TextEncoder().encode(JSON.stringify(out));
}

/** Helm's manifest annotations (pkg/registry generateOCIAnnotations): OCI image keys + Chart.yaml annotations. */
export function helmOciAnnotations(m: ChartMetadata, created = new Date()): Record<string, string> {
  const a: Record<string, string> = {};
  if (m.description) a["org.opencontainers.image.description"] = m.description;
  a["org.opencontainers.image.title"] = String(m.name);
  a["org.opencontainers.image.version"] = String(m.version);
  if (m.home) a["org.opencontainers.image.url"] = m.home;
  a["org.opencontainers.image.created"] = created.toISOString().replace(/\.\d{3}Z$/, "Z");
  if (m.sources?.length) a["org.opencontainers.image.source"] = m.sources[0]!;
  const authors = (m.maintainers ?? [])
    .map((x) => (x.name ? (x.email ? `${x.name} (${x.email})` : x.name) : x.email ?? ""))
    .filter(Boolean);
  if (authors.length) a["org.opencontainers.image.authors"] = authors.join(", ");
  for (const [k, v] of Object.entries(m.annotations ?? {})) {
    // Helm keeps its own values for the image.version/title keys
    if (k === "org.opencontainers.image.version" || k === "org.opencontainers.image.title") continue;
    a[k] = String(v);
  }
  return a;
}

/** OCI tags cannot hold "+": Helm stores versions with "_" instead. */
export function ociTagForVersion(version: string): string {
  return version.replace(/\+/g, "_");
}
