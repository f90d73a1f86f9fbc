// --values-out: write, per chart, a Helm values override pointing every values-sourced image at the mirror
// (shared/helm/mirror-values.ts), then check it with a real render: `helm template` with the user's values and
// the override must show only mirrored images; what still renders from its source is listed as not
// overridable (--rewrite-chart is the answer there). Files are written to a temp name and renamed.
// A values file that does not render is an error (Helm's whole message); images it leaves at their source are
// listed per image and make the command exit 3 (valuesOutFailure).
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CliError } from "../../../../shared/cli/errors.ts";
import { renderImages, type DiscoverOptions, type DiscoveryResult } from "../../../../shared/helm/discover.ts";
import { applyRenderCheck, declaredSwitches, formatMirrorValues, mirrorValues, type MirrorValues, type NotOverridable, type ValuesSwitch } from "../../../../shared/helm/mirror-values.ts";
import { chartTree, loadUserValues, walkTree } from "../../../../shared/helm/values.ts";

export interface ChartValuesInput {
  name: string;
  version: string;
  result: Pick<DiscoveryResult, "images" | "valueSites" | "excluded" | "render">;
  /** discovery options (chartDir still present): used for the check render */
  discover?: DiscoverOptions;
  /** where the chart is pushed (registry/path/name, no tag): the header's install command; default <dest>/charts/<name>/<name> */
  chartRef?: string;
}

export interface ValuesOutReport {
  chart: string;
  version: string;
  file: string;
  overridden: number;
  notOverridable: NotOverridable[];
  /** mirrored images the check render did not show (annotation / images.lock only): nothing to override */
  unused?: string[];
  /** "rendered": checked with helm template -f <file>; otherwise why not */
  check: string;
  /** helm template -f <file> failed: Helm's whole error (the file is not usable as written) */
  error?: string;
  /** values set so the chart accepts the mirrored images (global.security.allowInsecureImages) */
  switches?: string[];
}

export class ValuesOutError extends Error {
  override name = "ValuesOutError";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

/** Where each chart's file goes: OUT itself for one chart, OUT/<chart>-<version>.mirror-values.yaml for a directory. */
export async function valuesOutFiles(out: string, charts: { name: string; version: string }[], opts: { dryRun?: boolean } = {}): Promise<string[]> {
  const isDir = out.endsWith("/") || (await stat(out).then((s) => s.isDirectory(), () => false));
  if (!isDir && charts.length > 1) {
    throw new ValuesOutError(`--values-out ${out}: ${charts.length} charts need one values file each`, `give a directory (e.g. --values-out ${out.replace(/\.ya?ml$/, "")}/) to get <chart>-<version>.mirror-values.yaml files`);
  }
  if (isDir && !opts.dryRun) await mkdir(out, { recursive: true });
  return charts.map((c) => (isDir ? join(out, `${c.name}-${c.version}.mirror-values.yaml`) : out));
}

async function atomicWrite(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  try {
    await writeFile(tmp, text);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new ValuesOutError(`--values-out ${file}: ${(e as Error).message}`);
  }
}

/** The substitution switches (SUBSTITUTION_SWITCHES) the chart or one of its enabled subcharts declares. */
async function switchesOf(d: DiscoverOptions): Promise<ValuesSwitch[]> {
  const temps: string[] = [];
  try {
    const tree = await chartTree(d.chartDir, await loadUserValues(d), async () => {
      const t = await mkdtemp(join(tmpdir(), "ka-values-"));
      temps.push(t);
      return t;
    });
    return declaredSwitches(walkTree(tree).filter((n) => n.enabled).map((n) => n.values));
  } finally {
    await Promise.all(temps.map((t) => rm(t, { recursive: true, force: true })));
  }
}

/** Template files of a chart directory and of its directory subcharts (relative paths). */
async function templateFiles(dir: string, rel = ""): Promise<{ path: string; rel: string }[]> {
  const out: { path: string; rel: string }[] = [];
  for (const e of await readdir(join(dir, "templates"), { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (e.isFile()) {
      const p = join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
      out.push({ path: p, rel: `${rel}${p.slice(dir.length + 1)}` });
    }
  }
  for (const e of await readdir(join(dir, "charts"), { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) out.push(...(await templateFiles(join(dir, "charts", e.name), `${rel}charts/${e.name}/`)));
  }
  return out;
}

/**
 * Say where an image values cannot reach comes from: "written into the chart's templates" only when a template
 * holds the reference literally (as written or without docker.io/[library/]); otherwise the chart builds it from
 * values or template code no values key of the override maps to.
 */
async function refineReasons(mv: MirrorValues, chartDir: string): Promise<void> {
  const claims = mv.notOverridable.filter((n) => /written into the chart's templates|a template does not take it from values/.test(n.reason));
  if (!claims.length) return;
  const files = await Promise.all((await templateFiles(chartDir)).map(async (f) => ({ ...f, text: await readFile(f.path, "utf8").catch(() => "") })));
  for (const n of claims) {
    const forms = [n.image, n.image.replace(/^docker\.io\//, ""), n.image.replace(/^docker\.io\/library\//, "")];
    const hit = files.find((f) => forms.some((x) => f.text.includes(x)));
    n.reason = hit
      ? `written into the chart's templates (${hit.rel}), not taken from values: use --rewrite-chart`
      : "rendered from values or template code that no values key of this file reaches (the chart builds the reference its own way): set it in your values, or use --rewrite-chart";
  }
}

/** The override of one chart (mirrorValues) with the substitution switches its values declare. */
export async function chartMirrorValues(c: ChartValuesInput, destinations: Map<string, string>): Promise<MirrorValues> {
  return mirrorValues(c.result, destinations, { switches: c.discover ? await switchesOf(c.discover) : [] });
}

/**
 * Write the values file of every chart. `destinations` maps each normalised source image to its mirror
 * reference; `dest` is the destination registry[/path] (for the file's header).
 */
export async function writeValuesOut(out: string, charts: ChartValuesInput[], destinations: Map<string, string>, dest: string): Promise<ValuesOutReport[]> {
  const files = await valuesOutFiles(out, charts);
  const mirrored = new Set(destinations.values());
  const reports: ValuesOutReport[] = [];
  for (const [i, c] of charts.entries()) {
    const file = files[i]!;
    const mv = await chartMirrorValues(c, destinations);
    const about = { chart: c.name, version: c.version, dest, chartRef: c.chartRef };
    await atomicWrite(file, formatMirrorValues(mv, about));
    let check: string;
    let error: string | undefined;
    if (c.discover && c.result.render.rendered) {
      const r = await renderImages(c.discover, [file]);
      if (r.rendered) {
        const excluded = new Set(c.result.excluded.map((x) => x.image));
        applyRenderCheck(mv, r.images.filter((x) => !excluded.has(x.image)), mirrored);
        await refineReasons(mv, c.discover.chartDir);
        check = "rendered";
        const left = mv.notOverridable.length;
        await atomicWrite(file, formatMirrorValues(mv, { ...about, check: left ? `Checked with helm template: ${left} image(s) still render from their source (below).` : "Checked with helm template: only mirrored images render." }));
      } else {
        check = r.reason;
        error = r.error;
        if (error) await atomicWrite(file, formatMirrorValues(mv, { ...about, check: `helm template -f this file FAILED: ${r.reason.replace(/^helm template failed: /, "")}` }));
      }
    } else {
      check = c.result.render.rendered ? "no discovery options" : `not checked: the chart was not rendered (${c.result.render.error ?? c.result.render.skipped})`;
      await atomicWrite(file, formatMirrorValues(mv, { ...about, check: `Not checked with helm template (${c.result.render.error ?? c.result.render.skipped ?? "no render"}).` }));
    }
    reports.push({ chart: c.name, version: c.version, file, overridden: mv.overridden.length, notOverridable: mv.notOverridable, ...(mv.unused?.length ? { unused: mv.unused.map((u) => u.image) } : {}), check, ...(error ? { error } : {}), ...(mv.switches?.length ? { switches: mv.switches.map((x) => x.path.join(".")) } : {}) });
  }
  return reports;
}

/** stderr lines about the files written. */
export function valuesOutLines(reports: ValuesOutReport[]): string[] {
  const out: string[] = [];
  for (const r of reports) {
    const checked = r.error ? "helm template -f it FAILED" : r.check === "rendered" ? "checked with helm template" : r.check;
    out.push(`mirror values for ${r.chart} ${r.version} written to ${r.file}: ${r.overridden} image(s) pointed at the mirror${r.notOverridable.length ? `, ${r.notOverridable.length} NOT overridable through values (use --rewrite-chart): ${r.notOverridable.map((n) => n.image).join(", ")}` : ""} (${checked})`);
  }
  return out;
}

/**
 * The error a command ends with after it printed its report: a values file Helm cannot render (exit 1, Helm's whole
 * error), else values files that leave images at their source (exit 3, each image named) unless `rewritten` charts
 * (--rewrite-chart, checked by its own render) carry those images.
 */
export function valuesOutFailure(reports: ValuesOutReport[] | undefined, rewritten: Set<string> = new Set()): CliError | undefined {
  const failed = (reports ?? []).filter((r) => r.error);
  if (failed.length) {
    return new CliError(failed.map((r) => `--values-out ${r.file}: helm template ${r.chart} -f ${r.file} fails:\n${r.error}`).join("\n"), 1, "the values file was written as computed; report this chart's values shape to kube-airgap (or edit the file)");
  }
  const left = (reports ?? []).filter((r) => r.notOverridable.length && !rewritten.has(`${r.chart}@${r.version}`));
  if (!left.length) return undefined;
  const lines = left.flatMap((r) => r.notOverridable.map((n) => `${r.chart} ${r.version}: ${n.image} ${r.check === "rendered" ? `still renders from its source with ${r.file}` : "is not set through values"} (${n.reason.replace(/: use --rewrite-chart$/, "")})`));
  return new CliError(`${lines.length} image(s) cannot be pointed at the mirror through values:\n${lines.join("\n")}`, 3, "the images are mirrored all the same; sync --rewrite-chart rewrites the chart itself (templates included)");
}
