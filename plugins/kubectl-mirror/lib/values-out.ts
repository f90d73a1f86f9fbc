// --values-out: write, per chart, a Helm values override pointing every values-sourced image at the mirror
// (shared/helm/mirror-values.ts), then check it with a real render: `helm template` with the user's values and
// the override must show only mirrored images; what still renders from its source is listed as not
// overridable (--rewrite-chart is the answer there). Files are written to a temp name and renamed.
import { mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { renderImages, type DiscoverOptions, type DiscoveryResult } from "../../../shared/helm/discover.ts";
import { applyRenderCheck, formatMirrorValues, mirrorValues, type NotOverridable } from "../../../shared/helm/mirror-values.ts";

export interface ChartValuesInput {
  name: string;
  version: string;
  result: Pick<DiscoveryResult, "images" | "valueSites" | "excluded" | "render">;
  /** discovery options (chartDir still present): used for the check render */
  discover?: DiscoverOptions;
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
    const mv = mirrorValues(c.result, destinations);
    const about = { chart: c.name, version: c.version, dest };
    await atomicWrite(file, formatMirrorValues(mv, about));
    let check: string;
    if (c.discover && c.result.render.rendered) {
      const r = await renderImages(c.discover, [file]);
      if (r.rendered) {
        const excluded = new Set(c.result.excluded.map((x) => x.image));
        applyRenderCheck(mv, r.images.filter((x) => !excluded.has(x.image)), mirrored);
        check = "rendered";
        const left = mv.notOverridable.length;
        await atomicWrite(file, formatMirrorValues(mv, { ...about, check: left ? `Checked with helm template: ${left} image(s) still render from their source (below).` : "Checked with helm template: only mirrored images render." }));
      } else check = r.reason;
    } else {
      check = c.result.render.rendered ? "no discovery options" : `not checked: the chart was not rendered (${c.result.render.error ?? c.result.render.skipped})`;
      await atomicWrite(file, formatMirrorValues(mv, { ...about, check: `Not checked with helm template (${c.result.render.error ?? c.result.render.skipped ?? "no render"}).` }));
    }
    reports.push({ chart: c.name, version: c.version, file, overridden: mv.overridden.length, notOverridable: mv.notOverridable, ...(mv.unused?.length ? { unused: mv.unused.map((u) => u.image) } : {}), check });
  }
  return reports;
}

/** stderr lines about the files written. */
export function valuesOutLines(reports: ValuesOutReport[]): string[] {
  const out: string[] = [];
  for (const r of reports) {
    const checked = r.check === "rendered" ? "checked with helm template" : r.check;
    out.push(`mirror values for ${r.chart} ${r.version} written to ${r.file}: ${r.overridden} image(s) pointed at the mirror${r.notOverridable.length ? `, ${r.notOverridable.length} NOT overridable through values (use --rewrite-chart): ${r.notOverridable.map((n) => n.image).join(", ")}` : ""} (${checked})`);
  }
  return out;
}
