// `kubectl mirror images`: load a chart from any source, discover its images, map them to a destination.
import { loadChart, type ChartRequest, type LoadedChart } from "../../../../shared/helm/chart-source.ts";
import { discoverImages, sourceLabel, type DiscoverOptions, type DiscoveredImage, type DiscoveryResult } from "../../../../shared/helm/discover.ts";
import { mapImages, normalizeDest, readRegistryMap, writeRegistryMap, type MapMode, type RegistryMapEntry } from "./mapping.ts";
import { writeValuesOut, type ValuesOutReport } from "./values-out.ts";
import { table } from "../../../../shared/cli/output.ts";

export interface ImagesMapping {
  dest?: string;
  mode?: MapMode;
  prefix?: string;
  registryMapFile?: string;
  /** entries given directly (library callers); appended after the file's */
  registryMap?: RegistryMapEntry[];
  mapOut?: string;
  /** write a Helm values override pointing values-sourced images at the mirror (needs dest) */
  valuesOut?: string;
}

export interface ImagesReport extends Omit<DiscoveryResult, "chart" | "images" | "valueSites"> {
  chart: DiscoveryResult["chart"] & { source: LoadedChart["source"] };
  images: (DiscoveredImage & { destination?: string })[];
  /** present when a destination or registry map was given: the repository map actually used */
  registryMap?: RegistryMapEntry[];
  /** present with --values-out */
  values?: ValuesOutReport[];
  /** required: rendered by helm template (or helm.sh/images, --image, or every image without a render); possible: static scan only */
  summary: { images: number; required: number; possible: number };
}

/** Load, discover and (optionally) map and write values. Temp files are removed before returning. */
export async function chartImages(req: ChartRequest, discover: Omit<DiscoverOptions, "chartDir">, mapping: ImagesMapping = {}): Promise<ImagesReport> {
  // read the map first: a bad map file should fail before any download
  const fileMap = mapping.registryMapFile ? await readRegistryMap(mapping.registryMapFile) : [];
  const chart = await loadChart(req);
  try {
    const dopts = { ...discover, chartDir: chart.dir, env: discover.env ?? req.env };
    const result = await discoverImages(dopts);
    const { valueSites: _sites, ...rest } = result;
    const required = result.images.filter((i) => i.kind !== "possible").length;
    const report: ImagesReport = { ...rest, chart: { ...result.chart, source: chart.source }, summary: { images: result.images.length, required, possible: result.images.length - required } };
    const entries = [...fileMap, ...(mapping.registryMap ?? [])];
    if (mapping.dest || entries.length) {
      const mapped = mapImages(result.images.map((i) => i.image), mapping.dest ?? "", mapping.mode ?? "strip-host", entries, { prefix: mapping.prefix });
      report.images = result.images.map((img, i) => ({ ...img, destination: mapped.images[i]!.destination }));
      report.registryMap = mapped.registryMap;
      if (mapping.mapOut) await writeRegistryMap(mapping.mapOut, mapped.registryMap);
      if (mapping.valuesOut && mapping.dest) {
        const byImage = new Map(mapped.images.map((m) => [m.source, m.destination]));
        report.values = await writeValuesOut(mapping.valuesOut, [{ name: result.chart.name, version: result.chart.version, result, discover: dopts }], byImage, normalizeDest(mapping.dest));
      }
    }
    return report;
  } finally {
    await chart.cleanup();
  }
}

/** The human table: IMAGE, KIND, SOURCES (+ DESTINATION when mapped). */
export function imagesTable(r: ImagesReport): string {
  const mapped = r.images.some((i) => i.destination);
  const rows = r.images.map((i) => {
    const labels = [...new Set(i.sources.map(sourceLabel))].join(", ");
    const kind = i.kind ?? "required";
    return mapped ? [i.image, kind, i.destination, labels] : [i.image, kind, labels];
  });
  return table(mapped ? ["image", "kind", "destination", "sources"] : ["image", "kind", "sources"], rows);
}

/** One line for stderr about how discovery went (render or static only). */
export function summaryLine(r: ImagesReport): string {
  const how = r.render.rendered
    ? `rendered with helm ${r.render.helmVersion ?? ""}`.trim()
    : r.render.error
      ? `NOT rendered (helm template failed: ${r.render.error}); static sources only`
      : `NOT rendered (${r.render.skipped}); static sources only: annotations, images.lock, values, literal images in templates`;
  const kinds = r.render.rendered ? ` (${r.summary.required} required, ${r.summary.possible} possible: found by the static scan only, mirrored when the source has them; see --why)` : "";
  return `${r.images.length} image(s)${kinds} in chart ${r.chart.name} ${r.chart.version}: ${how}`;
}
