// Image discovery for a chart: the union of every source we know, each image with where it came from.
//
//   manifest          `helm template` output, structured: containers/initContainers/ephemeralContainers and
//                     image volumes of every pod spec in every rendered kind (CronJob, CRs with pod templates…)
//   env               RELATED_IMAGE_* environment variables (operators), rendered, in values or in templates
//   manifest-scan     fallback `image:` scan of the rendered text (custom resources with an image field)
//   annotation        Chart.yaml helm.sh/images, images, artifacthub.io/images (entry `condition` honoured)
//   images-lock       images.lock / Images.lock (and the images-lock.yaml spellings)
//   values            image structures in the effective values (image: ref, repository+tag,
//                     registry+repository+tag, registry+image+tag, digest; the registry from the map, else
//                     global.imageRegistry / global.image.registry; a missing tag → appVersion only when
//                     the chart is not rendered)
//   template-literal  literal `image:` lines in templates (only when the chart was not rendered)
//   user              --image
// Disabled subcharts (condition/tags) are skipped by every static source, as helm skips them when rendering.
//
// Two kinds of images (when the chart is rendered):
//   required  what Helm renders with the user's values (manifest, manifest-scan, rendered RELATED_IMAGE_* env,
//             operator arguments naming an image), Chart.yaml helm.sh/images entries (as Zarf: condition
//             honoured) and --image. A sync fails when one of them cannot be copied.
//   possible  found only by a static source (values, other annotations, images.lock): it may be real (a component
//             these values turn off) or a guess that exists nowhere. sync/export look it up at the source and
//             copy it only when it is there (plugins/kubectl-mirror/lib/plan/possible.ts).
// Without a render (--static-only, or no helm) every image is required: nothing tells the guesses apart.
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { parseYaml } from "../runtime/yaml.ts";
import { tryNormalizeImage, parseImage, repositoryOf } from "./image-ref.ts";
import { findHelm, helmVersion, lastLine, runHelm } from "./binary.ts";
import { chartTree, evalCondition, isMap, loadUserValues, readChartMeta, walkTree, type ChartNode, type UserValues, type Values } from "./values.ts";

export type SourceType = "manifest" | "env" | "manifest-scan" | "annotation" | "images-lock" | "values" | "template-literal" | "user";

export interface ImageSource {
  type: SourceType;
  /** chart path in the tree: "app", "app/charts/redis"; absent for --image */
  chart?: string;
  /** file in the chart tree: "app/templates/deployment.yaml", "app/Chart.yaml", "app/images.lock" */
  file?: string;
  /** rendered object: "Deployment/app" */
  resource?: string;
  /** where inside: manifest path "spec.template.spec.containers[0].image", or the values path users set ("redis.image") */
  path?: string;
  /** annotation key, env var name, container or entry name */
  key?: string;
  name?: string;
  /** the reference as written, before normalisation */
  value: string;
  note?: string;
}

export type ImageKind = "required" | "possible";

export interface DiscoveredImage {
  /** normalised reference: docker.io/library/busybox:1.36 */
  image: string;
  /** required: rendered (or helm.sh/images, --image, or no render at all); possible: static sources only.
   *  Always set by discoverImages; absent (hand-built lists) means required. */
  kind?: ImageKind;
  /** possible images: why it is only possible */
  why?: string;
  sources: ImageSource[];
}

export interface SkippedItem {
  chart: string;
  what: string;
  reason: string;
}

export interface RenderInfo {
  rendered: boolean;
  helm?: string;
  helmVersion?: string;
  /** set when no render happened: why */
  skipped?: string;
  /** set when helm template failed: its last error line */
  error?: string;
}

export interface DiscoveryResult {
  chart: { name: string; version: string; appVersion?: string };
  render: RenderInfo;
  images: DiscoveredImage[];
  excluded: { image: string; pattern: string }[];
  skipped: SkippedItem[];
  warnings: string[];
  /** where each values-sourced image is set, in a form a values override can write (mirror-values.ts) */
  valueSites?: ValueSite[];
}

/** One place in the values that sets an image. */
export interface ValueSite {
  /** normalised image */
  image: string;
  /** chart path in the tree ("app", "app/charts/redis") */
  chart: string;
  /** key path from the top chart's values (subchart keys included): ["redis", "image"], ["env", 0, "value"] */
  path: (string | number)[];
  /**
   * string      the value at `path` is the whole reference
   * repository  `path` is a map whose `repository` holds registry/path (no separate registry)
   * registry    `path` is a map with `registry` + `repository` (or the registry comes from global.imageRegistry)
   * image       `path` is a map with `image` (the path below the registry) + `tag`, its registry from its own
   *             `registry` key or global.image.registry (ingress-nginx's shape)
   */
  form: "string" | "repository" | "registry" | "image";
  /** the registry comes from global.imageRegistry (which wins over the map's own registry) */
  globalRegistry?: boolean;
  /** form image without any registry (no `registry` key, no global.image.registry): `image` is the whole
   *  repository ({image: prom/exporter, tag: v1}), so an override writes it whole, host included */
  bareImage?: boolean;
  /** the path goes through a list: Helm replaces lists whole, so an override carries the whole list */
  list?: { at: number; value: unknown[] };
}

export interface DiscoverOptions extends UserValues {
  /** extracted chart directory (holds Chart.yaml) */
  chartDir: string;
  /** the packed chart chartDir was extracted from: helm renders it (the same chart, read from one file) */
  chartArchive?: string;
  /** with chartArchive: its chart's name and a pending unpacking into chartDir, so helm starts before the files are written */
  unpacking?: { chartName: string; done: Promise<unknown> };
  releaseName?: string;
  namespace?: string;
  kubeVersion?: string;
  apiVersions?: string[];
  /** helm binary path; undefined = look up (HELM_BIN, PATH); false = do not render */
  helm?: string | false;
  /** environment for the helm lookup and run (tests) */
  env?: Record<string, string | undefined>;
  /** --image: extra images (always included) */
  extraImages?: string[];
  /** --exclude-image: exact references or globs with * */
  excludeImages?: string[];
  /** skip helm test hooks (helm template --skip-tests) */
  skipTests?: boolean;
  renderTimeoutMs?: number;
}

export class DiscoveryError extends Error {
  override name = "DiscoveryError";
}

const ORDER: SourceType[] = ["manifest", "env", "manifest-scan", "annotation", "images-lock", "values", "template-literal", "user"];
const ANNOTATION_KEYS = ["helm.sh/images", "images", "artifacthub.io/images"];
const LOCK_FILES = ["images.lock", "Images.lock", "images-lock.yaml", "images.lock.yaml", ".images.lock.yaml"];

class Collector {
  map = new Map<string, DiscoveredImage>();
  add(raw: string, src: Omit<ImageSource, "value">): string | undefined {
    const image = tryNormalizeImage(raw);
    if (!image) return undefined;
    let e = this.map.get(image);
    if (!e) this.map.set(image, (e = { image, kind: "required", sources: [] }));
    const s: ImageSource = { ...src, value: raw.trim() };
    for (const k of Object.keys(s) as (keyof ImageSource)[]) if (s[k] === undefined) delete s[k];
    const sig = JSON.stringify(s);
    if (!e.sources.some((x) => JSON.stringify(x) === sig)) e.sources.push(s);
    return image;
  }
}

/** Discover the images a chart uses. Never fails because a render failed: the static sources still run. */
export async function discoverImages(opts: DiscoverOptions): Promise<DiscoveryResult> {
  const warnings: string[] = [];
  const skipped: SkippedItem[] = [];
  const col = new Collector();
  const temps: string[] = [];
  const tmp = async () => {
    const d = await mkdtemp(join(tmpdir(), "ka-subchart-"));
    temps.push(d);
    return d;
  };
  // helm renders while the values of the chart and its subcharts are read (they do not depend on each other)
  let rendering: Promise<RenderInfo> | undefined;
  try {
    const early = opts.chartArchive ? opts.unpacking : undefined;
    rendering = renderChart(opts, early ? early.chartName : (await readChartMeta(opts.chartDir)).name, col, warnings);
    await early?.done;
    const user = await loadUserValues(opts);
    const tree = await chartTree(opts.chartDir, user, tmp);
    const nodes = walkTree(tree);
    for (const n of nodes) {
      if (!n.enabled && n !== tree && !nodes.some((p) => p.children.includes(n) && !p.enabled)) {
        skipped.push({ chart: n.path, what: "subchart", reason: n.reason ?? "disabled" });
      }
    }

    // 1. render
    const render = await rendering;

    // 2. static sources of every enabled chart
    const sites: ValueSite[] = [];
    const renderedByRepo = new Map<string, string[]>();
    for (const i of col.map.keys()) {
      const repo = repositoryOf(parseImage(i));
      renderedByRepo.set(repo, [...(renderedByRepo.get(repo) ?? []), i]);
    }
    for (const node of nodes.filter((n) => n.enabled)) {
      await scanAnnotations(node, col, skipped, warnings);
      await scanLocks(node, col, skipped, warnings);
      scanValues(node, col, warnings, render.rendered, sites, { skipped, renderedByRepo });
      if (!render.rendered) await scanTemplates(node, col);
    }

    // 3. user additions and exclusions
    for (const img of opts.extraImages ?? []) {
      if (!col.add(img, { type: "user", key: "--image" })) throw new DiscoveryError(`--image ${img}: not a valid image reference`);
    }
    const excluded: DiscoveryResult["excluded"] = [];
    const matchers = (opts.excludeImages ?? []).map((p) => ({ pattern: p, test: excludeMatcher(p) }));
    const images: DiscoveredImage[] = [];
    for (const e of col.map.values()) {
      const hit = matchers.find((m) => m.test(e.image));
      if (hit && !e.sources.some((s) => s.type === "user")) {
        excluded.push({ image: e.image, pattern: hit.pattern });
        continue;
      }
      e.sources.sort((a, b) => ORDER.indexOf(a.type) - ORDER.indexOf(b.type));
      images.push(e);
    }
    for (const m of matchers) if (!excluded.some((x) => x.pattern === m.pattern)) warnings.push(`--exclude-image ${m.pattern} matched no image`);
    images.sort((a, b) => a.image.localeCompare(b.image));
    if (render.rendered) classify(images);
    excluded.sort((a, b) => a.image.localeCompare(b.image));
    return {
      chart: { name: tree.meta.name, version: tree.meta.version, ...(tree.meta.appVersion ? { appVersion: tree.meta.appVersion } : {}) },
      render,
      images,
      excluded,
      skipped,
      warnings,
      // excluded (or guessed) references keep their sites: a repository-level site also moves the tags of its
      // repository the templates render (mirror-values.ts)
      valueSites: sites.filter((x) => images.some((i) => i.image === x.image) || excluded.some((e) => e.image === x.image)),
    };
  } finally {
    // a failure while reading the values leaves no helm process behind
    await rendering?.catch(() => {});
    await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
  }
}

/** A source that makes an image required: the render, helm.sh/images (as Zarf), --image. */
export function isRequiredSource(s: ImageSource): boolean {
  switch (s.type) {
    case "manifest":
    case "manifest-scan":
    case "user":
      return true;
    case "env":
      return s.resource !== undefined;
    case "annotation":
      return s.key === "helm.sh/images";
    default:
      return false;
  }
}

function staticWhere(s: ImageSource): string {
  switch (s.type) {
    case "values":
      return `values ${s.path}`;
    case "env":
      return s.path ? `${s.key} in values ${s.path}` : `${s.key} in ${s.file}`;
    case "annotation":
      return `Chart.yaml annotation ${s.key}${s.chart && s.chart.includes("/") ? ` of ${s.chart}` : ""}`;
    case "images-lock":
      return `${s.file}`;
    case "template-literal":
      return `${s.file}`;
    default:
      return sourceLabel(s);
  }
}

/** Mark each image required or possible (rendered charts only), with why a possible one is only possible. */
function classify(images: DiscoveredImage[]): void {
  const requiredByRepo = new Map<string, string[]>();
  for (const img of images) {
    img.kind = img.sources.some(isRequiredSource) ? "required" : "possible";
    if (img.kind === "required") {
      const repo = repositoryOf(parseImage(img.image));
      requiredByRepo.set(repo, [...(requiredByRepo.get(repo) ?? []), img.image]);
    }
  }
  for (const img of images.filter((i) => i.kind === "possible")) {
    const where = [...new Set(img.sources.map(staticWhere))].join(", ");
    const others = requiredByRepo.get(repositoryOf(parseImage(img.image)));
    const notes = [...new Set(img.sources.map((s) => s.note).filter((n): n is string => !!n))];
    img.why = `found only in ${where}; helm template does not render it with these values${others ? ` (it renders ${others.join(", ")} instead)` : " (a component these values leave off, or a reference the templates build differently)"}${notes.length ? `; ${notes.join("; ")}` : ""}`;
  }
}

/** An --exclude-image pattern: a reference (normalised, with or without tag) or a glob with `*`. */
export function excludeMatcher(pattern: string): (image: string) => boolean {
  if (pattern.includes("*")) {
    const re = new RegExp(`^${pattern.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
    return (img) => {
      const ref = parseImage(img);
      const short = img.replace(/^docker\.io\/(library\/)?/, "");
      return re.test(img) || re.test(repositoryOf(ref)) || re.test(short);
    };
  }
  const hasVersion = /@|:[^/]*$/.test(pattern);
  const norm = tryNormalizeImage(pattern);
  if (!norm) throw new DiscoveryError(`--exclude-image ${pattern}: not an image reference or glob`);
  if (hasVersion) return (img) => img === norm;
  const repo = repositoryOf(parseImage(norm));
  return (img) => repositoryOf(parseImage(img)) === repo;
}

// ---------------- rendering ----------------

async function renderChart(opts: DiscoverOptions, chartName: string, col: Collector, warnings: string[]): Promise<RenderInfo> {
  if (opts.helm === false) return { rendered: false, skipped: "rendering disabled (--static-only)" };
  const found = findHelm(opts.helm || undefined, opts.env ?? process.env);
  if (!found.bin) return { rendered: false, skipped: found.reason };
  const info: RenderInfo = { rendered: false, helm: found.bin };
  const args = templateArgs({ ...opts, chartDir: opts.chartArchive ?? opts.chartDir }, chartName);
  // ask the version while rendering (two helm processes at once, not one after the other)
  const [ver, r] = await Promise.all([
    helmVersion(found.bin).then((v) => ({ v }), (e: Error) => ({ e })),
    runHelm(found.bin, args, { env: opts.env, timeoutMs: opts.renderTimeoutMs ?? 120_000 }),
  ]);
  if ("e" in ver) {
    info.skipped = ver.e.message;
    return info;
  }
  info.helmVersion = ver.v;
  if (r.code !== 0) {
    info.error = lastLine(r.stderr) || `helm template exited with ${r.code}`;
    warnings.push(`helm template failed, using static sources only: ${info.error}`);
    return info;
  }
  info.rendered = true;
  scanManifests(r.stdout, col, warnings);
  return info;
}

/** `helm template` arguments for the discovery options; `extraValues` files come after the user's -f files. */
function templateArgs(opts: DiscoverOptions, chartName: string, extraValues: string[] = []): string[] {
  const args = ["template", opts.releaseName || chartName, opts.chartDir, "--namespace", opts.namespace || "default"];
  for (const f of [...(opts.valuesFiles ?? []), ...extraValues]) args.push("--values", f);
  for (const s of opts.setJson ?? []) args.push("--set-json", s);
  for (const s of opts.set ?? []) args.push("--set", s);
  for (const s of opts.setString ?? []) args.push("--set-string", s);
  if (opts.kubeVersion) args.push("--kube-version", opts.kubeVersion);
  for (const a of opts.apiVersions ?? []) args.push("--api-versions", a);
  if (opts.skipTests) args.push("--skip-tests");
  return args;
}

/**
 * Render the chart once more with extra values files (after the user's) and return the images the output
 * uses (structured + scan). `rendered: false` with a reason when helm is missing, disabled, or fails.
 */
export async function renderImages(opts: DiscoverOptions, extraValues: string[] = []): Promise<{ rendered: true; images: DiscoveredImage[] } | { rendered: false; reason: string; /** helm's whole error output */ error?: string }> {
  if (opts.helm === false) return { rendered: false, reason: "rendering disabled (--static-only)" };
  const found = findHelm(opts.helm || undefined, opts.env ?? process.env);
  if (!found.bin) return { rendered: false, reason: found.reason ?? "no helm binary" };
  const meta = await readChartMeta(opts.chartDir);
  const r = await runHelm(found.bin, templateArgs(opts, meta.name, extraValues), { env: opts.env, timeoutMs: opts.renderTimeoutMs ?? 120_000 });
  if (r.code !== 0) return { rendered: false, reason: `helm template failed: ${lastLine(r.stderr) || `exit ${r.code}`}`, error: r.stderr.trim() || `helm template exited with ${r.code}` };
  const col = new Collector();
  scanManifests(r.stdout, col, []);
  return { rendered: true, images: [...col.map.values()].sort((a, b) => a.image.localeCompare(b.image)) };
}

/** Split `helm template` output into documents with their `# Source:` file. */
export function splitManifests(text: string): { file?: string; text: string }[] {
  return text
    .split(/^---[ \t]*$/m)
    .map((t) => ({ file: /^#\s*Source:\s*(.+?)\s*$/m.exec(t)?.[1], text: t }))
    .filter((d) => d.text.replace(/^\s*#.*$/gm, "").trim() !== "");
}

function chartOfFile(file?: string): string | undefined {
  if (!file) return undefined;
  const i = file.lastIndexOf("/templates/");
  return i > 0 ? file.slice(0, i) : file.split("/")[0];
}

// `image:` keys in any YAML (or JSON) style: block (`image: a:1`, `- image: a:1`), flow
// (`- {name: side, image: "a:1"}`), quoted keys, JSON (`"image": "a:1"`), anchors and tags (`image: &x !!str a:1`).
// The value must be a complete
// literal: anything holding a template expression (`{{ … }}`) is left to the render.
const IMAGE_KEY_RE = /(?:^|[\s{,[])(["']?)image\1[ \t]*:[ \t]*(?:[&!][^\s,{}[\]]*[ \t]+)*(?:(["'])([^"'\s{}[\],#]+)\2|([^"'\s{}[\],#]+))(?=[ \t]*(?:[,}\]\r\n]|$))/gm;
const RELATED_ENV_RE = /(["']?)name\1[ \t]*:[ \t]*(["']?)(RELATED_IMAGE_\w+)\2[ \t]*(?:,[ \t]*|\r?\n[ \t]*)(["']?)value\4[ \t]*:[ \t]*(?:(["'])([^"'\s{}[\],#]+)\5|([^"'\s{}[\],#]+))(?=[ \t]*(?:[,}\]\r\n]|$))/gm;

/** Blank out template comments and YAML comments (same length, so offsets and line numbers stay right). */
function blankComments(text: string): string {
  const blank = (m: string) => m.replace(/[^\n]/g, " ");
  return text.replace(/\{\{-?\s*\/\*[\s\S]*?\*\/\s*-?\}\}/g, blank).replace(/(^|[ \t])#[^\n]*/gm, (m, pre: string) => pre + blank(m.slice(pre.length)));
}

function lineAt(text: string, index: number): number {
  let n = 1;
  for (let i = text.indexOf("\n"); i >= 0 && i < index; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/** Literal `image:` values in a YAML/JSON/template text, in every style, with their line numbers. */
export function literalImages(text: string): { value: string; line: number }[] {
  const t = blankComments(text);
  const out: { value: string; line: number }[] = [];
  for (const m of t.matchAll(IMAGE_KEY_RE)) {
    const lead = /^[\s{,[]/.test(m[0]) ? 1 : 0;
    out.push({ value: (m[3] ?? m[4])!, line: lineAt(t, m.index! + lead) });
  }
  return out;
}

/** Literal RELATED_IMAGE_* env entries (`name:` then `value:`), block or flow style. */
export function literalRelatedImages(text: string): { key: string; value: string; line: number }[] {
  const t = blankComments(text);
  return [...t.matchAll(RELATED_ENV_RE)].map((m) => ({ key: m[3]!, value: (m[6] ?? m[7])!, line: lineAt(t, m.index! + m[0].search(/value/)) }));
}

/** Extract images from rendered manifests (structured first, then the fallback scan). */
export function scanManifests(text: string, col: Collector | { add: Collector["add"] }, warnings: string[]): void {
  for (const d of splitManifests(text)) {
    const chart = chartOfFile(d.file);
    const found = new Set<string>();
    const literals = literalImages(d.text);
    // a document with no container list, no RELATED_IMAGE_ variable and no image: line holds no image: leave it
    // unparsed (kube-prometheus-stack renders 650 KB, most of it rules and dashboards; parsing all cost 0.5 s)
    if (!literals.length && !/containers|RELATED_IMAGE_/.test(d.text)) continue;
    let obj: unknown;
    try {
      obj = parseYaml(d.text);
    } catch (e) {
      warnings.push(`${d.file ?? "rendered manifest"}: not valid YAML (${(e as Error).message.split("\n")[0]}); only the image: scan was used`);
    }
    if (isMap(obj)) {
      const md = isMap(obj.metadata) ? obj.metadata : {};
      const resource = `${obj.kind ?? "?"}/${md.name ?? "?"}`;
      const hook = isMap(md.annotations) && typeof md.annotations["helm.sh/hook"] === "string" ? `helm hook: ${md.annotations["helm.sh/hook"]}` : undefined;
      const base = { chart, file: d.file, resource, note: hook };
      walk(obj, "", (node, path) => {
        if (Array.isArray(node.containers)) {
          for (const list of ["initContainers", "containers", "ephemeralContainers"]) {
            const cs = node[list];
            if (!Array.isArray(cs)) continue;
            cs.forEach((c, i) => {
              if (!isMap(c)) return;
              const name = typeof c.name === "string" ? c.name : undefined;
              if (typeof c.image === "string") {
                const img = col.add(c.image, { type: "manifest", ...base, path: `${path}${list}[${i}].image`, name });
                if (img) found.add(img);
              }
              for (const field of ["command", "args"]) {
                const argv = c[field];
                if (!Array.isArray(argv)) continue;
                argv.forEach((a, k) => {
                  const ref = typeof a === "string" ? operatorImageArg(a) : undefined;
                  if (!ref) return;
                  const img = col.add(ref.value, { type: "manifest", ...base, path: `${path}${list}[${i}].${field}[${k}]`, key: ref.flag, name, note: "operator argument" });
                  if (img) found.add(img);
                });
              }
            });
          }
          if (Array.isArray(node.volumes)) {
            node.volumes.forEach((v, i) => {
              if (isMap(v) && isMap(v.image) && typeof v.image.reference === "string") {
                const img = col.add(v.image.reference, { type: "manifest", ...base, path: `${path}volumes[${i}].image.reference`, name: typeof v.name === "string" ? v.name : undefined });
                if (img) found.add(img);
              }
            });
          }
        }
        if (typeof node.name === "string" && /^RELATED_IMAGE_/.test(node.name) && typeof node.value === "string") {
          const img = col.add(node.value, { type: "env", ...base, path: `${path}value`, key: node.name });
          if (img) found.add(img);
        }
      });
    }
    for (const { value, line } of literals) {
      const img = tryNormalizeImage(value);
      if (!img || found.has(img)) continue;
      col.add(value, { type: "manifest-scan", chart, file: d.file, resource: isMap(obj) ? `${obj.kind ?? "?"}/${(isMap(obj.metadata) && obj.metadata.name) || "?"}` : undefined, note: `line ${line - (d.text.startsWith("\n") ? 1 : 0)}` });
      found.add(img);
    }
  }
}

/**
 * An operator argument naming an image, flag and value in one argv word: `--prometheus-config-reloader=quay.io/…:v0.93.1`,
 * `--thanos-default-base-image=quay.io/thanos/thanos:v0.42.4`. The value must name a tag or digest (a bare base
 * repository such as `--prometheus-default-base-image=quay.io/prometheus/prometheus` is completed by the operator)
 * and be either under a flag whose name says image/reloader/sidecar, or a reference with a registry host.
 */
export function operatorImageArg(arg: string): { flag: string; value: string } | undefined {
  const m = /^(--?[A-Za-z0-9][\w.-]*)=(\S+)$/.exec(arg.trim());
  if (!m) return undefined;
  const [, flag, value] = m as unknown as [string, string, string];
  if (/:\/\//.test(value) || !/^[^/]+\/[^\s]+$/.test(value)) return undefined;
  const named = /image|reloader|sidecar/i.test(flag);
  const host = /^([a-z0-9-]+\.)+[a-z0-9-]+(:\d+)?\//i.test(value) || /^localhost(:\d+)?\//.test(value);
  if (!named && !host) return undefined;
  const norm = tryNormalizeImage(value);
  if (!norm) return undefined;
  const last = value.slice(value.lastIndexOf("/") + 1);
  if (!last.includes(":") && !value.includes("@")) return undefined;
  return { flag: flag!, value: value! };
}

function walk(node: unknown, path: string, visit: (m: Values, path: string) => void): void {
  if (Array.isArray(node)) {
    node.forEach((c, i) => walk(c, `${path.replace(/\.$/, "")}[${i}].`, visit));
  } else if (isMap(node)) {
    visit(node, path);
    for (const [k, v] of Object.entries(node)) if (v && typeof v === "object") walk(v, `${path}${k}.`, visit);
  }
}

// ---------------- static sources ----------------

function rel(node: ChartNode, file: string): string {
  return `${node.path}/${file}`;
}

async function scanAnnotations(node: ChartNode, col: Collector, skipped: SkippedItem[], warnings: string[]): Promise<void> {
  const ann = node.meta.annotations;
  if (!isMap(ann)) return;
  for (const key of ANNOTATION_KEYS) {
    const raw = ann[key];
    if (typeof raw !== "string" || !raw.trim()) continue;
    let list: unknown;
    try {
      list = parse(raw);
    } catch (e) {
      warnings.push(`${rel(node, "Chart.yaml")}: annotation ${key} is not valid YAML (${(e as Error).message.split("\n")[0]})`);
      continue;
    }
    if (!Array.isArray(list)) {
      warnings.push(`${rel(node, "Chart.yaml")}: annotation ${key} is not a list`);
      continue;
    }
    list.forEach((entry, i) => {
      const image = typeof entry === "string" ? entry : isMap(entry) && typeof entry.image === "string" ? entry.image : undefined;
      if (!image) {
        warnings.push(`${rel(node, "Chart.yaml")}: annotation ${key}[${i}] has no image`);
        return;
      }
      const name = isMap(entry) && typeof entry.name === "string" ? entry.name : undefined;
      const cond = isMap(entry) && typeof entry.condition === "string" ? entry.condition : undefined;
      if (cond && evalCondition(cond, node.values) === false) {
        skipped.push({ chart: node.path, what: `annotation ${key}: ${image}`, reason: `condition ${cond} is false` });
        return;
      }
      if (!col.add(image, { type: "annotation", chart: node.path, file: rel(node, "Chart.yaml"), key, name, note: cond ? `condition ${cond}` : undefined })) {
        warnings.push(`${rel(node, "Chart.yaml")}: annotation ${key}[${i}] "${image}" is not a valid image reference`);
      }
    });
  }
}

async function scanLocks(node: ChartNode, col: Collector, skipped: SkippedItem[], warnings: string[]): Promise<void> {
  let files: string[];
  try {
    files = await readdir(node.dir);
  } catch {
    return;
  }
  for (const f of LOCK_FILES.filter((n) => files.includes(n))) {
    let doc: unknown;
    try {
      doc = parse(await readFile(join(node.dir, f), "utf8"));
    } catch (e) {
      warnings.push(`${rel(node, f)}: not valid YAML (${(e as Error).message.split("\n")[0]})`);
      continue;
    }
    const list = isMap(doc) ? doc.images : Array.isArray(doc) ? doc : undefined;
    if (!Array.isArray(list)) {
      warnings.push(`${rel(node, f)}: no images list`);
      continue;
    }
    list.forEach((entry, i) => {
      const image = typeof entry === "string" ? entry : isMap(entry) && typeof entry.image === "string" ? entry.image : undefined;
      if (!image) return;
      const name = isMap(entry) && typeof entry.name === "string" ? entry.name : undefined;
      const owner = isMap(entry) && typeof entry.chart === "string" ? entry.chart : undefined;
      if (owner && owner !== node.meta.name) {
        const sub = node.children.find((c) => c.meta.name === owner || c.path.endsWith(`/charts/${owner}`));
        if (sub && !sub.enabled) {
          skipped.push({ chart: sub.path, what: `${f}: ${image}`, reason: sub.reason ?? "subchart disabled" });
          return;
        }
      }
      if (!col.add(image, { type: "images-lock", chart: node.path, file: rel(node, f), path: `images[${i}]`, name })) {
        warnings.push(`${rel(node, f)}: images[${i}] "${image}" is not a valid image reference`);
      }
    });
  }
}

const TEMPLATE_EXPR = /\{\{|\$\{/;

function scanValues(node: ChartNode, col: Collector, warnings: string[], rendered: boolean, sites: ValueSite[] = [], ctx: { skipped?: SkippedItem[]; renderedByRepo?: Map<string, string[]> } = {}): void {
  const childKeys = new Set(node.children.map((c) => c.path.slice(c.path.lastIndexOf("/") + 1)));
  const global = isMap(node.values.global) ? node.values.global : {};
  const globals = {
    imageRegistry: typeof global.imageRegistry === "string" && global.imageRegistry.trim() ? global.imageRegistry.trim() : undefined,
    imageDotRegistry: isMap(global.image) && typeof global.image.registry === "string" && global.image.registry.trim() ? global.image.registry.trim() : undefined,
  };
  const isRoot = node.valuesPrefix === "";
  const prefix = node.valuesPrefix.split(".").filter(Boolean);
  type Where = { segs: (string | number)[]; list?: ValueSite["list"] };
  const add = (value: string, path: string, type: SourceType, where: Where, site: Pick<ValueSite, "form" | "globalRegistry" | "bareImage">, extra: Partial<ImageSource> = {}) => {
    const full = `${node.valuesPrefix}${path}`;
    if (TEMPLATE_EXPR.test(value)) {
      if (!rendered) warnings.push(`values ${full} holds a template expression ("${value}"); only a helm render resolves it`);
      return;
    }
    const image = col.add(value, { type, chart: node.path, path: full, ...extra });
    if (image) {
      sites.push({ image, chart: node.path, path: [...prefix, ...where.segs], ...site, ...(where.list ? { list: { at: where.list.at + prefix.length, value: where.list.value } } : {}) });
    }
  };
  const visit = (v: unknown, path: string, key: string, depth: number, where: Where): void => {
    if (depth > 64) return;
    if (Array.isArray(v)) {
      const list = where.list ?? { at: where.segs.length, value: v };
      v.forEach((c, i) => visit(c, `${path}[${i}]`, key, depth + 1, { segs: [...where.segs, i], list }));
      return;
    }
    if (!isMap(v)) return;
    const structured = imageStructure(v, key, node.meta.appVersion, globals);
    const site = structured && { form: structured.form, ...(structured.globalRegistry ? { globalRegistry: true } : {}), ...(structured.bareImage ? { bareImage: true } : {}) };
    const guessed = structured && rendered && structured.tagless ? tryNormalizeImage(structured.ref) : undefined;
    if (structured && site && rendered && structured.tagless) {
      // the templates choose the tag (`| default .Chart.AppVersion`, "v" + appVersion, a -distroless suffix,
      // the cluster's version…): only the render knows it. Rendered → this values path is where each rendered
      // tag of the repository is set; not rendered with these values → nothing to guess.
      const repo = guessed ? repositoryOf(parseImage(guessed)) : structured.ref;
      const hits = ctx.renderedByRepo?.get(repo) ?? [];
      if (guessed && hits.includes(guessed)) add(structured.ref, path, "values", where, site, structured.note ? { note: structured.note } : {});
      else for (const img of hits) add(img, path, "values", where, site, { note: "no tag in values: the templates chose this one" });
      if (!hits.length) ctx.skipped?.push({ chart: node.path, what: `values ${node.valuesPrefix}${path}: ${repo}`, reason: "no tag in values and not rendered with these values (its templates choose the tag)" });
    } else if (structured && site) {
      add(structured.ref, path, "values", where, site, structured.note ? { note: structured.note } : {});
    }
    if (typeof v.name === "string" && /^RELATED_IMAGE_/.test(v.name) && typeof v.value === "string") {
      add(v.value, `${path}.value`.replace(/^\./, ""), "env", { ...where, segs: [...where.segs, "value"] }, { form: "string" }, { key: v.name });
    }
    for (const [k, c] of Object.entries(v)) {
      if (path === "" && (childKeys.has(k) || (!isRoot && k === "global"))) continue;
      const p = path ? `${path}.${k}` : k;
      if (typeof c === "string" && c.trim()) {
        // an `image` next to tag/registry/digest is a part of the structure read above, not a whole reference
        if (k === "image" && structured?.form === "image") continue;
        if (k === "image" || (/image$/i.test(k) && /[:/@]/.test(c))) add(c, p, "values", { ...where, segs: [...where.segs, k] }, { form: "string" });
        continue;
      }
      visit(c, p, k, depth + 1, { ...where, segs: [...where.segs, k] });
    }
  };
  visit(node.values, "", "", 0, { segs: [] });
}

/**
 * Image maps in values:
 *   {repository, tag?, registry?, digest?}   repository holds the path (or registry/path without `registry`)
 *   {image, tag|registry|digest, …}          ingress-nginx's shape: `image` is the path below the registry
 * The registry: global.imageRegistry when the map has a `registry` key (Bitnami: the global one wins), else the
 * map's own `registry`, else (image shape) global.image.registry; without any, the reference is used as written.
 * No tag and no digest: `tagless` (the caller decides: rendered charts do not guess; static-only falls back to
 * the chart's appVersion, else latest, as before).
 */
function imageStructure(v: Values, key: string, appVersion: string | undefined, globals: { imageRegistry?: string; imageDotRegistry?: string }): { ref: string; form: ValueSite["form"]; globalRegistry?: boolean; tagless?: boolean; bareImage?: boolean; note?: string } | undefined {
  const imageShape = typeof v.image === "string" && v.image.trim() !== "" && !TEMPLATE_EXPR.test(v.image) && ("tag" in v || "registry" in v || "digest" in v) && !(typeof v.repository === "string" && v.repository.trim());
  if (!imageShape && (typeof v.repository !== "string" || !v.repository.trim())) return undefined;
  const shaped = imageShape || /image/i.test(key) || "tag" in v || "registry" in v || "digest" in v || "pullPolicy" in v;
  if (!shaped) return undefined;
  const notes: string[] = [];
  const path = String(imageShape ? v.image : v.repository).trim();
  // `image: acme/app:1.0` next to an empty tag: a whole reference (read as a plain `image` string)
  if (imageShape && /@|:[^/]*$/.test(path)) return undefined;
  let registry = typeof v.registry === "string" ? v.registry.trim() : "";
  let globalRegistry = false;
  // global.imageRegistry is honoured by Bitnami-style templates, whose image maps carry a `registry` key; a
  // plain {repository: ghcr.io/a/b, tag} map is not prefixed with it
  if (globals.imageRegistry && "registry" in v) {
    if (registry !== globals.imageRegistry) notes.push(`registry from global.imageRegistry`);
    registry = globals.imageRegistry;
    globalRegistry = true;
  } else if (imageShape && !registry && globals.imageDotRegistry) {
    registry = globals.imageDotRegistry;
    notes.push("registry from global.image.registry");
  }
  let ref = registry ? `${registry.replace(/\/+$/, "")}/${path}` : path;
  const tag = v.tag === undefined || v.tag === null || v.tag === "" ? undefined : String(v.tag).trim();
  const digestRaw = typeof v.digest === "string" && v.digest.trim() ? v.digest.trim() : typeof v.sha === "string" && v.sha.trim() ? v.sha.trim() : undefined;
  const digest = digestRaw && !digestRaw.includes(":") && /^[0-9a-f]{64}$/.test(digestRaw) ? `sha256:${digestRaw}` : digestRaw;
  const tagless = !tag && !digest;
  if (tag) ref += `:${tag}`;
  else if (!digest && appVersion) {
    ref += `:${appVersion}`;
    notes.push(`tag defaulted to appVersion ${appVersion}`);
  } else if (!digest) notes.push("no tag: latest assumed");
  if (digest) ref += `@${digest}`;
  const form: ValueSite["form"] = imageShape ? "image" : typeof v.registry === "string" || globalRegistry ? "registry" : "repository";
  return { ref, form, ...(globalRegistry ? { globalRegistry } : {}), ...(tagless ? { tagless } : {}), ...(imageShape && !registry ? { bareImage: true } : {}), note: notes.join("; ") || undefined };
}

async function scanTemplates(node: ChartNode, col: Collector): Promise<void> {
  const tdir = join(node.dir, "templates");
  let files: string[];
  try {
    files = (await readdir(tdir, { recursive: true })) as string[];
  } catch {
    return;
  }
  for (const f of files.filter((x) => /\.(ya?ml|tpl|json)$/.test(x)).sort()) {
    let text: string;
    try {
      text = await readFile(join(tdir, f), "utf8");
    } catch {
      continue;
    }
    const file = `${node.path}/templates/${f.replace(/\\/g, "/")}`;
    for (const { value, line } of literalImages(text)) {
      col.add(value, { type: "template-literal", chart: node.path, file, note: `line ${line}` });
    }
    for (const { key, value, line } of literalRelatedImages(text)) {
      col.add(value, { type: "env", chart: node.path, file, key, note: `line ${line}` });
    }
  }
}

// ---------------- presentation ----------------

/** A compact label for the table: "manifest Deployment/app", "values image", "annotation helm.sh/images". */
export function sourceLabel(s: ImageSource): string {
  switch (s.type) {
    case "manifest":
    case "manifest-scan":
      return `${s.type} ${s.resource ?? s.file ?? ""}`.trim();
    case "env":
      return `env ${s.key}${s.resource ? ` (${s.resource})` : s.path ? ` (values ${s.path})` : ""}`;
    case "values":
      return `values ${s.path}`;
    case "annotation":
      return `annotation ${s.key}${s.chart && s.chart.includes("/") ? ` (${s.chart})` : ""}`;
    case "images-lock":
      return `images-lock ${s.file}`;
    case "template-literal":
      return `template ${s.file}`;
    case "user":
      return "--image";
  }
}

/** Multi-line explanation of one image for --why. */
export function explain(img: DiscoveredImage): string {
  const lines = [img.image];
  if (img.kind === "possible") lines.push(`  possible: ${img.why ?? "found by the static scan only"}`);
  else if (img.kind === "required") lines.push(`  required: ${img.sources.some(isRequiredSource) ? "rendered by helm template (or listed in helm.sh/images, or given with --image)" : "the chart was not rendered: every image found is required"}`);
  for (const s of img.sources) {
    const parts: string[] = [];
    if (s.file) parts.push(s.file);
    if (s.resource) parts.push(s.resource);
    if (s.path) parts.push(s.type === "env" && !s.file ? `values ${s.path}` : s.path);
    if (s.key) parts.push(s.key);
    if (s.name) parts.push(`name=${s.name}`);
    parts.push(`= ${JSON.stringify(s.value)}`);
    if (s.note) parts.push(`(${s.note})`);
    lines.push(`  ${s.type.padEnd(16)} ${parts.join("  ")}`);
  }
  return lines.join("\n") + "\n";
}

/** Find the entry for --why: exact normalised match, else by repository (when no tag was given). */
export function findImage(result: DiscoveryResult, query: string): DiscoveredImage[] {
  const norm = tryNormalizeImage(query);
  if (!norm) throw new DiscoveryError(`--why ${query}: not an image reference`);
  const exact = result.images.filter((i) => i.image === norm);
  if (exact.length) return exact;
  const hasVersion = /@|:[^/]*$/.test(query);
  if (hasVersion) return [];
  const repo = repositoryOf(parseImage(norm));
  return result.images.filter((i) => repositoryOf(parseImage(i.image)) === repo);
}
