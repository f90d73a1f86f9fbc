// --rewrite-chart: point a chart's image references at the mirror before it is pushed. Rewritten:
//   values.yaml of the chart and of its directory subcharts (charts/<name>/values.yaml):
//     - any string that is a mirrored image reference ("image: quay.io/a/b:1")
//     - maps with `repository` (+ optional `registry`, `tag`, `digest`): registry → mirror host, repository →
//       mirrored path (without `registry`: repository → full mirrored repository)
//   Chart.yaml annotations helm.sh/images, images, artifacthub.io/images (their `image:` entries)
//   templates/*: literal occurrences of a mirrored reference (as normalised, or without docker.io/[library/])
//   the chart's values.yaml: the mirror values override (mirror-values.ts: every values shape it knows, global
//     registries, Bitnami's allowInsecureImages) merged in, so the rewritten chart renders what `-f mirror-values`
//     renders without that file
// Packed subcharts (charts/*.tgz) are left unchanged (a warning says so). The chart keeps its name and
// version; its content (and so the artifact digest) changes. Then the rewritten chart is rendered with the user's
// values: every image still rendered from its source is reported (RewriteResult.notRewritten), never hidden.
import { mkdtemp, readdir, readFile, writeFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { isMap, isScalar, isSeq, parse, parseDocument, stringify, visit, type Document } from "yaml";
import { renderImages } from "../../../../shared/helm/discover.ts";
import { isMap as isPlainMap, type Values } from "../../../../shared/helm/values.ts";
import { chartMirrorValues } from "./values-out.ts";
import { extractChartArchive } from "../../../../shared/helm/chart-tar.ts";
import { chartDirArchive, walkChartDir } from "../../../../shared/helm/chart.ts";
import { parseImage, repositoryOf, tryNormalizeImage } from "../../../../shared/helm/image-ref.ts";
import { writeStreamToFile } from "../../../../shared/helm/tar.ts";
import { pushArtifactTo } from "../../../../shared/oci/artifact.ts";
import { chartArtifactSpec, layoutTag, sha256File, type MirrorPlan, type PlannedArtifact } from "./plan.ts";
import type { MappedImage } from "../inputs/targets.ts";

interface Maps {
  /** normalised source image → destination reference */
  byImage: Map<string, string>;
  /** source repository → destination repository */
  byRepo: Map<string, string>;
}

function maps(images: MappedImage[]): Maps {
  const byImage = new Map<string, string>();
  const byRepo = new Map<string, string>();
  for (const m of images) {
    byImage.set(m.source, m.destination);
    byRepo.set(repositoryOf(parseImage(m.source)), repositoryOf(parseImage(m.destination)));
  }
  return { byImage, byRepo };
}

function splitHost(repo: string): { host: string; path: string } {
  const i = repo.indexOf("/");
  return { host: repo.slice(0, i), path: repo.slice(i + 1) };
}

/** Rewrite one values document in place; returns the number of changes. */
export function rewriteValuesDoc(doc: Document, m: Maps): number {
  let n = 0;
  visit(doc, {
    Map(_k, node) {
      const get = (k: string) => node.items.find((p) => isScalar(p.key) && p.key.value === k);
      const repoPair = get("repository");
      if (!repoPair || !isScalar(repoPair.value) || typeof repoPair.value.value !== "string") return;
      const regPair = get("registry");
      const reg = regPair && isScalar(regPair.value) && typeof regPair.value.value === "string" ? regPair.value.value : undefined;
      const raw = reg ? `${reg}/${repoPair.value.value}` : repoPair.value.value;
      const norm = tryNormalizeImage(raw);
      if (!norm) return;
      const dest = m.byRepo.get(repositoryOf(parseImage(norm)));
      if (!dest) return;
      if (reg && regPair && isScalar(regPair.value)) {
        const { host, path } = splitHost(dest);
        regPair.value.value = host;
        repoPair.value.value = path;
      } else repoPair.value.value = dest;
      n++;
    },
    Scalar(_k, node) {
      if (typeof node.value !== "string" || !node.value.includes("/") && !node.value.includes(":")) return;
      const norm = tryNormalizeImage(node.value);
      const dest = norm ? m.byImage.get(norm) : undefined;
      if (dest && dest !== node.value) {
        node.value = dest;
        n++;
      }
    },
  });
  return n;
}

function rewriteAnnotations(chartYaml: string, m: Maps): { text: string; changes: number } {
  const doc = parseDocument(chartYaml);
  let changes = 0;
  const ann = doc.get("annotations");
  if (!isMap(ann)) return { text: chartYaml, changes };
  for (const key of ["helm.sh/images", "images", "artifacthub.io/images"]) {
    const v = ann.get(key);
    if (typeof v !== "string") continue;
    const list = parse(v);
    if (!Array.isArray(list)) continue;
    let c = 0;
    for (const e of list) {
      const norm = e && typeof e.image === "string" ? tryNormalizeImage(e.image) : undefined;
      const dest = norm ? m.byImage.get(norm) : undefined;
      if (dest) {
        e.image = dest;
        c++;
      }
    }
    if (c) {
      ann.set(key, stringify(list));
      changes += c;
    }
  }
  return { text: changes ? doc.toString() : chartYaml, changes };
}

function shortForms(image: string): string[] {
  const out = [image];
  if (image.startsWith("docker.io/library/")) out.push(image.slice("docker.io/library/".length));
  if (image.startsWith("docker.io/")) out.push(image.slice("docker.io/".length));
  return out;
}

async function files(dir: string, under: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  await walk(join(dir, under));
  return out;
}

/** Rewrite an extracted chart directory (and its directory subcharts). Returns changes and warnings. */
export async function rewriteChartDir(dir: string, images: MappedImage[]): Promise<{ changes: number; warnings: string[] }> {
  const m = maps(images);
  const warnings: string[] = [];
  let changes = 0;
  const chartDirs = [dir];
  for (let i = 0; i < chartDirs.length; i++) {
    const d = chartDirs[i]!;
    for (const e of await readdir(join(d, "charts"), { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) chartDirs.push(join(d, "charts", e.name));
      else if (/\.tgz$/.test(e.name)) warnings.push(`${e.name}: packed subchart not rewritten`);
    }
  }
  for (const d of chartDirs) {
    const vf = join(d, "values.yaml");
    const text = await readFile(vf, "utf8").catch(() => undefined);
    if (text !== undefined) {
      const doc = parseDocument(text);
      const c = rewriteValuesDoc(doc, m);
      if (c) await writeFile(vf, doc.toString());
      changes += c;
    }
    const cy = join(d, "Chart.yaml");
    const ctext = await readFile(cy, "utf8");
    const r = rewriteAnnotations(ctext, m);
    if (r.changes) await writeFile(cy, r.text);
    changes += r.changes;
    for (const f of await files(d, "templates")) {
      let t = await readFile(f, "utf8");
      const before = t;
      for (const [src, dst] of m.byImage) {
        for (const form of shortForms(src)) {
          // whole references only: not followed by more reference characters
          t = t.replace(new RegExp(`(?<![\\w./-])${form.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?![\\w.:@/-])`, "g"), () => (changes++, dst));
        }
      }
      if (t !== before) await writeFile(f, t);
    }
  }
  return { changes, warnings };
}

/** Merge an override into a values document in place (comments kept; lists and scalars replaced whole). */
export function mergeIntoValuesDoc(doc: Document, over: Values, path: string[] = []): number {
  let n = 0;
  for (const [k, v] of Object.entries(over)) {
    const p = [...path, k];
    const cur = doc.getIn(p, true);
    if (isPlainMap(v) && (cur === undefined || cur === null || isMap(cur))) {
      n += mergeIntoValuesDoc(doc, v, p);
      continue;
    }
    if (JSON.stringify(isScalar(cur) ? cur.value : (cur as { toJSON?: () => unknown } | undefined)?.toJSON?.()) === JSON.stringify(v)) continue;
    doc.setIn(p, doc.createNode(v));
    n++;
  }
  return n;
}

export class RewriteError extends Error {
  override name = "RewriteError";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

export interface RewriteResult {
  /** the chart content changed (and was replaced in the plan layout) */
  changed: boolean;
  /** images the rewritten chart still renders from their source, with the user's values (and the values file) */
  notRewritten: { image: string; from: string[] }[];
  /** helm template of the rewritten chart failed: Helm's whole error (the chart is not pushed) */
  error?: string;
  /** why the rewritten chart was not checked (no render) */
  unchecked?: string;
}

/**
 * Rewrite a planned chart and replace its artifact in the plan layout, then render it (with the user's values and,
 * when written, the values file) and report every image still rendered from its source.
 */
export async function rewriteChartForMirror(plan: MirrorPlan, a: PlannedArtifact, images: MappedImage[], opts: { valuesFile?: string } = {}): Promise<RewriteResult> {
  if (!a.archive) return { changed: false, notRewritten: [], unchecked: "no chart archive" };
  const work = await mkdtemp(join(plan.work, "rewrite-"));
  const dir = await extractChartArchive(a.archive, join(work, "chart"));
  // its required images and the possible ones found at the source (mirrored too)
  const mine = new Set([...a.images, ...(a.possible ?? [])]);
  const own = images.filter((i) => mine.has(i.source));
  let { changes, warnings } = await rewriteChartDir(dir, own);
  if (a.discovery) {
    await plan.chartDirs?.();
    // the values override, merged into the chart's own values.yaml
    const mv = await chartMirrorValues({ name: a.name, version: a.version, result: a.discovery.result, discover: a.discovery.options }, new Map(own.map((m) => [m.source, m.destination])));
    const vf = join(dir, "values.yaml");
    const text = await readFile(vf, "utf8").catch(() => "");
    const doc = parseDocument(text);
    if (!isMap(doc.contents)) doc.contents = doc.createNode({}) as unknown as typeof doc.contents;
    const c = mergeIntoValuesDoc(doc, mv.values);
    if (c) await writeFile(vf, doc.toString({ lineWidth: 0 }));
    changes += c;
  }
  for (const w of warnings) plan.warnings.push(`${a.name} ${a.version} --rewrite-chart: ${w}`);
  const result: RewriteResult = { changed: false, notRewritten: [] };
  if (a.discovery?.result.render.rendered) {
    const r = await renderImages({ ...a.discovery.options, chartDir: dir }, opts.valuesFile ? [opts.valuesFile] : []);
    if (!r.rendered) return { ...result, error: r.error ?? r.reason };
    const mirrored = new Set(own.map((m) => m.destination));
    const excluded = new Set(a.discovery.result.excluded.map((x) => x.image));
    for (const img of r.images) {
      if (mirrored.has(img.image) || excluded.has(img.image)) continue;
      result.notRewritten.push({ image: img.image, from: [...new Set(img.sources.map((s) => s.file ?? s.resource ?? s.type))] });
    }
  } else result.unchecked = a.discovery?.result.render.error ?? a.discovery?.result.render.skipped ?? "the chart was not rendered";
  if (!changes) return result;
  const out = join(work, `${a.name}-${a.version}.tgz`);
  const chartYaml = await readFile(join(dir, "Chart.yaml"), "utf8");
  await writeStreamToFile(chartDirArchive(await walkChartDir(dir), a.name, chartYaml), out);
  await stat(out);
  const pushed = await pushArtifactTo(plan.layout, [layoutTag(a)], await chartArtifactSpec(out));
  a.archive = out;
  a.contentDigest = await sha256File(out);
  a.digest = pushed.digest;
  return { ...result, changed: true };
}
