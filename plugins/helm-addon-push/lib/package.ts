// Turn a SOURCE (KubeVela addon dir, chart dir, packaged .tgz) into a chart archive on disk, streaming.
import { mkdir, readFile, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import {
  ChartError,
  chartDirArchive,
  chartFileName,
  chartYamlText,
  parseChartYaml,
  parseYamlMap,
  readChartArchive,
  repackChartArchive,
  validateChartMetadata,
  walkChartDir,
  type ChartMetadata,
} from "../../../shared/helm/chart.ts";
import { writeStreamToFile } from "../../../shared/helm/tar.ts";
import { AddonError, addonChartMetadata, looksLikeAddon, readAddon, type AddonMeta } from "./addon.ts";
import { helmDependencyUpdate } from "./helm.ts";

export interface PackageOptions {
  /** override the chart version */
  version?: string;
  /** override appVersion */
  appVersion?: string;
  /** addon dirs: use the dir's own Chart.yaml instead of generating one from metadata.yaml */
  keepChartmeta?: boolean;
  /** chart dirs: `helm dependency update` first (cm-push -d/--dependency-update) */
  dependencyUpdate?: boolean;
  /** keyring for the dependency update (cm-push --keyring) */
  keyring?: string;
}

export interface PreparedChart {
  source: string;
  kind: "addon" | "chart" | "archive";
  metadata: ChartMetadata;
  /** the .tgz to upload */
  file: string;
  /** `file` was written by us (in a temp/out dir) */
  generated: boolean;
  /** provenance file to upload with it (only for unchanged .tgz inputs) */
  prov?: string;
  /** files packaged that are often unintended (.git/, .DS_Store, archives outside charts/) */
  warnings?: string[];
}

/**
 * What is packaged from a directory: exactly what `helm package` and `vela addon package/push` (Helm's loader.LoadDir)
 * take: every file but those the dir's .helmignore excludes and Helm's one built-in rule `templates/.?*`. So .git/,
 * .DS_Store and *.tgz outside charts/ (a chart's files/payload.tgz) are packaged unless .helmignore says otherwise;
 * each is named in a warning. The rules that differ from Helm's are listed in docs/addon-push.md.
 */
function inclusionWarnings(source: string, files: { rel: string }[]): string[] {
  const out: string[] = [];
  const vcs = [...new Set(files.map((f) => /^(?:.*\/)?(\.git|\.svn|\.hg)\//.exec(f.rel)?.[1]).filter(Boolean))];
  for (const d of vcs) out.push(`${source}: packaging ${d}/ (${files.filter((f) => f.rel.startsWith(`${d}/`) || f.rel.includes(`/${d}/`)).length} files), as helm package does without a .helmignore rule; add "${d}/" to .helmignore to leave it out`);
  for (const f of files) {
    if (/(^|\/)\.DS_Store$/.test(f.rel)) out.push(`${source}: packaging ${f.rel}, as helm package does; add ".DS_Store" to .helmignore to leave it out`);
    else if (/\.(tgz|tar\.gz)$/.test(f.rel) && !f.rel.startsWith("charts/")) out.push(`${source}: packaging ${f.rel} (an archive outside charts/), as helm package does; if it is a leftover package, add it to .helmignore`);
  }
  return out;
}

function applyOverrides(m: ChartMetadata, o: PackageOptions, where: string): ChartMetadata {
  const out = { ...m };
  if (o.version) out.version = o.version;
  if (o.appVersion) out.appVersion = o.appVersion;
  validateChartMetadata(out, where);
  return out;
}

async function kindOf(path: string): Promise<"dir" | "file" | undefined> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? "dir" : s.isFile() ? "file" : undefined;
  } catch {
    return undefined;
  }
}

/** Chart metadata and Chart.yaml text for a directory (addon or chart). */
async function dirChart(dir: string, o: PackageOptions): Promise<{ kind: "addon" | "chart"; metadata: ChartMetadata; yaml: string }> {
  if (await looksLikeAddon(dir)) {
    const meta: AddonMeta = await readAddon(dir);
    if (o.keepChartmeta) {
      try {
        const text = await readFile(join(dir, "Chart.yaml"), "utf8");
        const m = parseChartYaml(text, dir);
        const metadata = applyOverrides(m, o, dir);
        return { kind: "addon", metadata, yaml: o.version || o.appVersion ? chartYamlText(metadata) : text };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
    }
    const metadata = applyOverrides(addonChartMetadata(meta), o, dir);
    return { kind: "addon", metadata, yaml: chartYamlText(metadata) };
  }
  let text: string;
  try {
    text = await readFile(join(dir, "Chart.yaml"), "utf8");
  } catch {
    throw new AddonError(`${dir} is not an addon dir or a chart dir: no metadata.yaml (KubeVela addon) or Chart.yaml (Helm chart) in it`);
  }
  const m = parseChartYaml(text, dir);
  const metadata = applyOverrides(m, o, dir);
  return { kind: "chart", metadata, yaml: o.version || o.appVersion ? chartYamlText(metadata) : text };
}

/**
 * Package SOURCE into `outDir` (a dir) or reuse it when it is a .tgz that needs no change. Directories are
 * archived like `helm package` (`<name>/…`, .helmignore and `templates/.?*` honoured, nothing else left out); an addon's
 * Chart.yaml is generated in memory from metadata.yaml and never written into the addon dir.
 */
export async function prepareChart(source: string, outDir: string, o: PackageOptions = {}): Promise<PreparedChart> {
  const kind = await kindOf(source);
  if (!kind) throw new AddonError(`${source}: no such file or directory`);
  if (kind === "dir") {
    if (o.dependencyUpdate && !(await looksLikeAddon(source)) && (await kindOf(join(source, "Chart.yaml"))) === "file") await helmDependencyUpdate(source, { keyring: o.keyring });
    const { kind: k, metadata, yaml } = await dirChart(source, o);
    // never our own output or work dir (`helm addon-push package .` writes into the dir it packages)
    const files = await walkChartDir(source, { exclude: ["Chart.yaml"], excludeDirs: [resolve(outDir)] });
    const warnings = inclusionWarnings(source, files);
    if (k === "chart") await checkDependencies(source, metadata, files);
    await mkdir(outDir, { recursive: true });
    const file = join(outDir, chartFileName(metadata));
    await writeStreamToFile(chartDirArchive(files, String(metadata.name), yaml), file);
    return { source, kind: k, metadata, file: resolve(file), generated: true, warnings };
  }
  if (!/\.(tgz|tar\.gz)$/i.test(source)) throw new AddonError(`${source} is not an addon dir, a chart dir or a packaged chart (.tgz)`);
  const info = await readChartArchive(source, ["metadata.yaml"], { validate: false });
  let metadata: ChartMetadata;
  let regenerate = false;
  if (!info.metadata.name && info.files.has("metadata.yaml")) {
    // an addon archive without Chart.yaml (old KubeVela catalog packages): generate it like vela would
    const meta = parseYamlMap(new TextDecoder().decode(info.files.get("metadata.yaml")!), source, "metadata.yaml", ["name", "version"]) as AddonMeta;
    if (!meta.name || !meta.version) throw new AddonError(`${source}: metadata.yaml has no name or version`);
    metadata = addonChartMetadata({ ...meta, version: String(meta.version) });
    regenerate = true;
  } else {
    validateChartMetadata(info.metadata, source);
    metadata = { ...info.metadata };
  }
  metadata = applyOverrides(metadata, o, source);
  if (o.version || o.appVersion) regenerate = true;
  if (!regenerate) {
    let prov: string | undefined;
    if ((await kindOf(`${source}.prov`)) === "file") prov = `${source}.prov`;
    return { source, kind: "archive", metadata, file: resolve(source), generated: false, prov };
  }
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, chartFileName(metadata));
  if (resolve(file) === resolve(source)) throw new ChartError(`${source}: repacking would overwrite the input; use another output directory`);
  await writeStreamToFile(repackChartArchive(source, chartYamlText(metadata), String(metadata.name)), file);
  return { source, kind: "archive", metadata, file: resolve(file), generated: true };
}

/**
 * Refuse a chart dir whose Chart.yaml (or v1 requirements.yaml) lists dependencies missing from charts/, as
 * `helm package` does (Helm's CheckDependencies: matched by chart name, alias ignored).
 */
async function checkDependencies(dir: string, metadata: ChartMetadata, files: { rel: string; abs: string }[]): Promise<void> {
  let reqs = (metadata.dependencies ?? []) as { name?: string }[];
  const reqFile = files.find((f) => f.rel === "requirements.yaml");
  if (!reqs.length && reqFile) reqs = ((parseYamlMap(await readFile(reqFile.abs, "utf8"), dir, "requirements.yaml").dependencies ?? []) as { name?: string }[]);
  if (!reqs.length) return;
  const present = new Set<string>();
  for (const f of files) {
    const sub = /^charts\/([^/]+)\/Chart\.yaml$/.exec(f.rel);
    if (sub) present.add(String(parseChartYaml(await readFile(f.abs, "utf8"), f.abs).name));
    else if (/^charts\/[^/]+\.(tgz|tar\.gz)$/.test(f.rel)) present.add(String((await readChartArchive(f.abs, [], { validate: false })).metadata.name));
  }
  const missing = reqs.map((r) => String(r.name ?? "")).filter((n) => n && !present.has(n));
  if (missing.length) throw new ChartError(`${dir}: found in Chart.yaml, but missing in charts/ directory: ${missing.join(", ")} (run "helm dependency build ${dir}", or push with -d/--dependency-update)`);
}

/** A short name for a source in messages. */
export function sourceLabel(p: PreparedChart): string {
  return basename(p.file);
}
