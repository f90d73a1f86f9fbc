// What a mirror run carries: charts (loaded from any source, packed as Helm OCI artifacts), Palette packs,
// and the images they use (discovered) plus extra images. One plan feeds sync (→ registry), export
// (→ archive) and verify (→ expectations). Charts become artifacts in a temp OCI layout so every item —
// chart, pack or image — moves through the same copy engine.
import { createHash } from "node:crypto";
import { logger } from "../../../../shared/cli/logger.ts";
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { removeOnInterrupt } from "../../../../shared/runtime/interrupt.ts";
import { cacheDir, readCacheJson, writeCacheJson } from "../../../../shared/runtime/cache-dir.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { loadChart, type ChartRequest, type LoadedChart } from "../../../../shared/helm/chart-source.ts";
import { chartDirArchive, helmOciAnnotations, helmOciConfig, ociTagForVersion, parseChartYaml, walkChartDir, readChartArchive, type ChartMetadata } from "../../../../shared/helm/chart.ts";
import { discoverImages, type DiscoverOptions, type DiscoveryResult, type RenderInfo } from "../../../../shared/helm/discover.ts";
import { normalizeImage } from "../../../../shared/helm/image-ref.ts";
import { gunzipFile, readTar, writeStreamToFile } from "../../../../shared/helm/tar.ts";
import { pushArtifactTo, type ArtifactSpec } from "../../../../shared/oci/artifact.ts";
import { OciLayoutStore } from "../../../../shared/oci/layout.ts";
import { MT } from "../../../../shared/oci/media-types.ts";

export interface ChartInput {
  request: ChartRequest;
  discover: Omit<DiscoverOptions, "chartDir">;
  /** images to add for this chart (mirror file `images:` of a chart entry) */
  extraImages?: string[];
}

/** A non-chart artifact to carry (Palette pack tarballs). */
export interface ArtifactInput {
  kind: "pack";
  name: string;
  version: string;
  spec: ArtifactSpec;
  images: string[];
  source: string;
}

export interface MirrorInput {
  charts: ChartInput[];
  /** images without a chart (mirror file `images:`, --image) */
  images: string[];
  artifacts?: ArtifactInput[];
}

export interface PlannedArtifact {
  kind: "chart" | "pack";
  name: string;
  version: string;
  /** OCI tag (Helm: "+" → "_") */
  tag: string;
  /** repository below the destination: charts/<name>, packs/<name> */
  repository: string;
  /** where it came from (URL, path, oci ref) */
  source: string;
  /** sha256 of the chart .tgz / pack tarball: the content layer digest at the destination */
  contentDigest: string;
  /** digest of the artifact manifest in the plan's layout */
  digest: string;
  /** the images it needs (charts: the required ones; its tag waits for them) */
  images: string[];
  /** charts: possible images (static scan only), looked up at the source before copying (possible.ts) */
  possible?: string[];
  render?: RenderInfo;
  warnings: string[];
  /** the chart .tgz / pack tarball (temp; valid until plan.cleanup()) */
  archive?: string;
  /** charts: the discovery and its options (chartDir: after plan.chartDirs(), until plan.cleanup()), for --values-out */
  discovery?: { result: DiscoveryResult; options: DiscoverOptions };
}

export interface MirrorPlan {
  /** temp work dir (removed by cleanup) */
  work: string;
  artifacts: PlannedArtifact[];
  /** every image to mirror, normalised, sorted, unique (required ones; possible.ts adds the present possible ones) */
  images: string[];
  /** possible images of the charts not already in `images`: each with the charts listing it and why */
  possible: { image: string; charts: string[]; why?: string }[];
  /** images of `images` that nothing waits for (possible ones found at the source) */
  optional: Set<string>;
  /** temp OCI layout holding the chart/pack artifacts, tagged `<repository>:<tag>`… by `layoutTag()` */
  layout: OciLayoutStore;
  warnings: string[];
  /** unpack every chart whose files were not needed yet (discovery.options.chartDir holds them after this) */
  chartDirs?(): Promise<void>;
  cleanup(): Promise<void>;
}

export const DEFAULT_CHART_PREFIX = "charts";

/**
 * Where a chart lands under <dest>/<chart-prefix>:
 *   nested (default)  <prefix>/<name>/<name>:<version>  what `helm push chart.tgz oci://<dest>/<prefix>/<name>` writes;
 *                     the PaletteAI/Zot layout its docs check (GET /v2/<path>/charts/<name>/<name>/tags/list)
 *   flat              <prefix>/<name>:<version>         what `helm push chart.tgz oci://<dest>/<prefix>` writes
 */
export type ChartLayout = "nested" | "flat";
export const CHART_LAYOUTS: ChartLayout[] = ["nested", "flat"];

export function chartRepository(prefix: string, name: string, layout: ChartLayout = "nested"): string {
  const path = layout === "flat" ? name : `${name}/${name}`;
  return prefix ? `${prefix}/${path}` : path;
}
export const DEFAULT_PACK_PREFIX = "packs";
export const PACK_CONFIG_MT = "application/vnd.spectrocloud.pack.config.v1+json";
export const PACK_CONTENT_MT = "application/vnd.spectrocloud.pack.content.v1.tar+gzip";
export const PACK_CONTENT_ZSTD_MT = "application/vnd.spectrocloud.pack.content.v1.tar+zstd";
/** a detached pack signature (Artifact Studio `<pack>.sig.bin`) carried as the pack artifact's second layer */
export const PACK_SIGNATURE_MT = "application/vnd.spectrocloud.pack.signature.v1";

/** The tag of an artifact inside the plan layout and inside archives: "charts/app:1.2.3". */
export function layoutTag(a: { repository: string; tag: string }): string {
  return `${a.repository}:${a.tag}`;
}

export async function sha256File(p: string): Promise<string> {
  const h = createHash("sha256");
  await pipeline(createReadStream(p, { highWaterMark: 1 << 20 }), h);
  return `sha256:${h.digest("hex")}`;
}

/** Modification time of the chart's Chart.yaml inside the archive (stable "created" for the OCI manifest). */
async function chartCreated(tgz: string): Promise<Date | undefined> {
  let when: number | undefined;
  try {
    await readTar(gunzipFile(tgz), (h) => {
      if (/^[^/]+\/Chart\.yaml$/.test(h.name.replace(/^\.\//, ""))) {
        when = h.mtime;
        return false;
      }
    });
  } catch {
    return undefined;
  }
  return when ? new Date(when * 1000) : undefined;
}

/** The Helm OCI artifact (what `helm push` writes) for a chart archive (`known`: its Chart.yaml and time, already read). */
export async function chartArtifactSpec(tgz: string, meta?: ChartMetadata, known?: { created?: Date }): Promise<ArtifactSpec> {
  const m = meta ?? (await readChartArchive(tgz)).metadata;
  return {
    config: { mediaType: MT.helmConfig, bytes: helmOciConfig(m) },
    layers: [{ mediaType: MT.helmChart, file: tgz }],
    annotations: helmOciAnnotations(m, (known ? known.created : await chartCreated(tgz)) ?? new Date(0)),
  };
}

/** Pack a chart directory the way `helm package` does (so a local dir can be pushed like any chart). */
async function packDir(dir: string, out: string): Promise<string> {
  const chartYaml = await readFile(join(dir, "Chart.yaml"), "utf8");
  const { parse } = await import("yaml");
  const meta = parse(chartYaml) as ChartMetadata;
  const files = await walkChartDir(dir, { skipStrayArchives: true });
  const file = join(out, `${meta.name}-${meta.version}.tgz`);
  await writeStreamToFile(chartDirArchive(files, String(meta.name), chartYaml), file);
  return file;
}

// ---------------------------------------------------------------- discovery cache
// Rendering (helm version + helm template) dominates a warm sync. The result depends only on the chart bytes,
// the values/flags and helm, so it is cached under $KUBE_AIRGAP_CACHE_DIR (default $XDG_CACHE_HOME/kube-airgap
// or ~/.cache/kube-airgap)/discovery/<sha256 of all inputs>.json. KUBE_AIRGAP_NO_CACHE=1 turns it off
// (shared/runtime/cache-dir.ts).

async function fileDigestOrMissing(p: string): Promise<string> {
  return sha256File(p).catch(() => "missing");
}

async function cachedDiscovery(contentDigest: string, o: DiscoverOptions, run: () => Promise<DiscoveryResult>): Promise<DiscoveryResult> {
  const dir = cacheDir();
  if (!dir) return run();
  const env = o.env ?? process.env;
  const helmBin = o.helm === false ? false : o.helm || env.HELM_BIN || "helm";
  const helmId = typeof helmBin === "string" && helmBin.includes("/") ? `${helmBin}@${(await stat(helmBin).catch(() => undefined))?.mtimeMs ?? 0}` : helmBin;
  const key = createHash("sha256")
    .update(JSON.stringify({
      v: 3,
      contentDigest,
      helm: helmId,
      path: typeof helmBin === "string" && !helmBin.includes("/") ? env.PATH : undefined,
      releaseName: o.releaseName, namespace: o.namespace, set: o.set, setString: o.setString, setJson: o.setJson,
      values: await Promise.all((o.valuesFiles ?? []).map(fileDigestOrMissing)),
      kubeVersion: o.kubeVersion, apiVersions: o.apiVersions, skipTests: o.skipTests, extra: o.extraImages, exclude: o.excludeImages,
    }))
    .digest("hex");
  const file = join(dir, "discovery", `${key}.json`);
  const hit = await readCacheJson<DiscoveryResult>(file);
  if (hit?.images) return hit;
  const result = await run();
  // only successful renders are worth keeping (a failed/missing helm may be fixed next time)
  if (result.render.rendered || o.helm === false) await writeCacheJson(file, result);
  return result;
}

/**
 * The Helm OCI artifact of a packed chart, cached beside the discovery by the archive's digest: its config and
 * annotations depend only on the archive's bytes (Chart.yaml and its time), and reading Chart.yaml as go-yaml does
 * cost a warm run tens of ms. An archive is cached only after its Chart.yaml passed Helm's checks.
 */
async function cachedChartSpec(archive: string, packed: NonNullable<LoadedChart["packed"]>): Promise<ArtifactSpec> {
  const dir = cacheDir();
  const file = dir ? join(dir, "charts", `${createHash("sha256").update(JSON.stringify({ v: 1, digest: packed.digest })).digest("hex")}.json`) : undefined;
  const layers = [{ mediaType: MT.helmChart, file: archive }];
  const hit = file ? await readCacheJson<{ config?: unknown; annotations?: unknown }>(file) : undefined;
  if (hit && typeof hit.config === "string" && hit.annotations && typeof hit.annotations === "object") {
    return { config: { mediaType: MT.helmConfig, bytes: Buffer.from(hit.config, "base64") }, layers, annotations: hit.annotations as Record<string, string> };
  }
  const spec = await chartArtifactSpec(archive, parseChartYaml(packed.chartYaml, archive), packed);
  if (file) await writeCacheJson(file, { config: Buffer.from(spec.config.bytes).toString("base64"), annotations: spec.annotations ?? {} });
  return spec;
}

export class PlanError extends Error {
  override name = "PlanError";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

const STATIC_HINT = "or add --static-only to mirror only the images found without rendering (values, annotations, images.lock, image: lines in templates)";

/** The error for a chart that was not rendered although rendering was expected. Nothing has been copied yet. */
export function notRendered(name: string, version: string, render: RenderInfo): PlanError {
  if (render.error) {
    return new PlanError(`chart ${name} ${version}: helm template failed (${render.error}); its images cannot all be discovered, nothing was copied`, `pass the values it needs with -f/--set, --kube-version or --api-versions, ${STATIC_HINT}`);
  }
  return new PlanError(
    `chart ${name} ${version}: cannot render it (${(render.skipped ?? "no helm binary").replace(/\s*\(.*\)$/, "")}); images written into its templates would be missed, nothing was copied`,
    `install helm 3.8+ (https://helm.sh/docs/intro/install/) and put it on PATH, or point --helm PATH or $HELM_BIN at it, ${STATIC_HINT}`,
  );
}

function uniqueSorted(xs: Iterable<string>): string[] {
  return [...new Set(xs)].sort();
}

export interface PlanOptions {
  chartPrefix?: string;
  /**
   * Stop (PlanError) when a chart could not be rendered (no helm, or helm template failed) unless rendering
   * was turned off on purpose (--static-only / --no-render): static discovery misses images that templates
   * compute, and an incomplete mirror is only found inside the air gap. sync, export and verify set it.
   */
  requireRender?: boolean;
  /** default "nested" (see ChartLayout) */
  chartLayout?: ChartLayout;
  packPrefix?: string;
  onChart?: (c: PlannedArtifact) => void;
}

/** Load every chart, discover its images, build the artifacts. Call plan.cleanup() when done (also on error). */
export async function buildPlan(input: MirrorInput, opts: PlanOptions = {}): Promise<MirrorPlan> {
  const work = await mkdtemp(join(tmpdir(), "ka-mirror-plan-"));
  const unregister = removeOnInterrupt("preparing charts", work);
  const loaded: LoadedChart[] = [];
  const unpackers: (() => Promise<string>)[] = [];
  const cleanup = async () => {
    await Promise.all(loaded.map((c) => c.cleanup().catch(() => {})));
    await rm(work, { recursive: true, force: true });
    unregister();
  };
  try {
    const layout = await OciLayoutStore.create(join(work, "layout"));
    const artifacts: PlannedArtifact[] = [];
    const warnings: string[] = [];
    const chartPrefix = (opts.chartPrefix ?? DEFAULT_CHART_PREFIX).replace(/^\/+|\/+$/g, "");
    const packPrefix = (opts.packPrefix ?? DEFAULT_PACK_PREFIX).replace(/^\/+|\/+$/g, "");
    const seen = new Map<string, PlannedArtifact>();
    const whyPossible = new Map<string, string | undefined>();
    for (const [i, c] of input.charts.entries()) {
      const t0 = Date.now();
      // a packed chart is unpacked only when its discovery is not cached (or --values-out needs its files)
      const chart = await loadChart(c.request, { unpack: false });
      loaded.push(chart);
      if (chart.unpack) unpackers.push(chart.unpack);
      logger().debug(`chart ${chart.name} ${chart.version} loaded in ${Date.now() - t0}ms`);
      const archive = chart.archive ?? (await packDir(chart.dir, await mkdtemp(join(work, `pack-${i}-`))));
      const dopts = { ...c.discover, chartDir: chart.dir, env: c.discover.env ?? c.request.env, extraImages: [...(c.discover.extraImages ?? []), ...(c.extraImages ?? [])] };
      const contentDigest = chart.packed?.digest ?? (await sha256File(archive));
      const t1 = Date.now();
      const result = await cachedDiscovery(contentDigest, dopts, () => {
        // helm renders the archive itself (what `helm install` of it renders) while it is unpacked for the static scan
        const done = chart.unpack?.();
        return discoverImages({ ...dopts, ...(chart.archive ? { chartArchive: chart.archive } : {}), ...(done ? { unpacking: { chartName: chart.name, done } } : {}) });
      });
      logger().debug(`chart ${chart.name} ${chart.version}: ${result.images.length} images discovered in ${Date.now() - t1}ms`);
      if (opts.requireRender && !result.render.rendered && dopts.helm !== false) throw notRendered(chart.name, chart.version, result.render);
      const key = `${chart.name}@${chart.version}`;
      const tag = ociTagForVersion(chart.version);
      const repository = chartRepository(chartPrefix, chart.name, opts.chartLayout);
      const required = result.images.filter((x) => x.kind !== "possible").map((x) => x.image);
      const possible = result.images.filter((x) => x.kind === "possible");
      for (const p of possible) whyPossible.set(p.image, whyPossible.get(p.image) ?? p.why);
      const prev = seen.get(key);
      if (prev) {
        // the same chart twice (e.g. with other values): one artifact, the union of images
        prev.images = uniqueSorted([...prev.images, ...required]);
        prev.possible = uniqueSorted([...(prev.possible ?? []), ...possible.map((x) => x.image)]);
        continue;
      }
      const spec = chart.packed ? await cachedChartSpec(archive, chart.packed) : await chartArtifactSpec(archive);
      const pushed = await pushArtifactTo(layout, [`${repository}:${tag}`], spec);
      const a: PlannedArtifact = {
        kind: "chart",
        name: chart.name,
        version: chart.version,
        tag,
        repository,
        source: chart.source.url ?? chart.source.ref,
        contentDigest,
        digest: pushed.digest,
        images: required,
        possible: possible.map((x) => x.image),
        render: result.render,
        warnings: result.warnings,
        archive,
        discovery: { result, options: dopts },
      };
      for (const w of result.warnings) warnings.push(`${chart.name} ${chart.version}: ${w}`);
      if (!result.render.rendered) warnings.push(`${chart.name} ${chart.version}: not rendered (${result.render.error ?? result.render.skipped}); images from static sources only`);
      seen.set(key, a);
      artifacts.push(a);
      opts.onChart?.(a);
    }
    for (const p of input.artifacts ?? []) {
      const tag = ociTagForVersion(p.version);
      const repository = packPrefix ? `${packPrefix}/${p.name}` : p.name;
      const pushed = await pushArtifactTo(layout, [`${repository}:${tag}`], p.spec);
      const layer = p.spec.layers[0]!;
      artifacts.push({
        kind: p.kind,
        name: p.name,
        version: p.version,
        tag,
        repository,
        source: p.source,
        contentDigest: layer.file ? await sha256File(layer.file) : pushed.manifest.layers[0]!.digest,
        digest: pushed.digest,
        images: uniqueSorted(p.images.map((x) => normalizeImage(x))),
        warnings: [],
        archive: layer.file,
      });
    }
    const images = uniqueSorted([...artifacts.flatMap((a) => a.images), ...input.images.map((x) => normalizeImage(x))]);
    const required = new Set(images);
    const possible = uniqueSorted(artifacts.flatMap((a) => (a.possible ?? []).filter((p) => !required.has(p)))).map((image) => ({
      image,
      charts: artifacts.filter((a) => a.possible?.includes(image)).map((a) => `${a.name} ${a.version}`),
      ...(whyPossible.get(image) ? { why: whyPossible.get(image) } : {}),
    }));
    const chartDirs = async () => void (await Promise.all(unpackers.map((u) => u())));
    return { work, artifacts, images, possible, optional: new Set(), layout, warnings, chartDirs, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
