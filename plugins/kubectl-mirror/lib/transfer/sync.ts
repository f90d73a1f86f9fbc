// kubectl mirror sync: charts (HTTP repo, oci://, local) + the images they use → one registry, in one
// copy-engine run (bounded concurrency across images and blobs, skip what exists, mounts, extras).
//   charts → <dest>/charts/<name>/<name>:<version with + as _>   (Helm OCI artifact; `helm pull oci://…` reads it;
//            --chart-layout flat: <dest>/charts/<name>:<version>)
//   images → <dest>/images/<repo path>:<tag>              (mapping.ts; or --registry-map)
import { CopyEngine, type CopyEvent, type CopyJob, type CopyOptions, type CopyResult } from "../../../../shared/oci/copy.ts";
import { logger } from "../../../../shared/cli/logger.ts";
import { createClient, type RegistryOptions } from "../../../../shared/oci/client.ts";
import type { Platform } from "../../../../shared/oci/types.ts";
import { writeRegistryMap, type RegistryMapEntry } from "../plan/mapping.ts";
import { buildPlan, layoutTag, type ChartLayout, type MirrorInput, type MirrorPlan, type PlannedArtifact } from "../plan/plan.ts";
import { destinations, pullReference, RepoCache, type DestinationOptions, type MappedImage } from "../inputs/targets.ts";
import { rewriteChartForMirror, RewriteError, type RewriteResult } from "../plan/rewrite.ts";
import { valuesOutFiles, writeValuesOut, type ValuesOutReport } from "../plan/values-out.ts";
import { normalizeDest } from "../plan/mapping.ts";
import type { ShardSpec } from "../plan/shard-plan.ts";
import { runShard, type ShardInfo } from "./shard-run.ts";
import { resolvePossible, type ImagesMode, type SkippedImage } from "../plan/possible.ts";

export interface TransferOptions {
  registry: RegistryOptions;
  concurrency?: number;
  platforms?: Platform[];
  /** cosign sig/att/sbom tags and OCI referrers (default true) */
  extras?: boolean;
  dryRun?: boolean;
  /** pull SOURCE registries through mirrors (targets.ts parseSourceMirrors) */
  sourceMirrors?: RegistryMapEntry[];
  onEvent?: (e: CopyEvent) => void;
  chartPrefix?: string;
  /** nested (default) | flat: see plan.ts ChartLayout */
  chartLayout?: ChartLayout;
  /** run only this shard of the plan (lib/shard-run.ts) */
  shard?: ShardSpec;
  /** how long a shard waits for what another shard copies (default 15 min) */
  shardWaitMs?: number;
  /** all (default): required images + the possible ones the source has; required: only the rendered ones */
  images?: ImagesMode;
  /** --verify-signatures: each image's source root must pass this (shared/signing/cosign.ts) */
  verifyRoot?: CopyOptions["verifyRoot"];
}

export interface SyncOptions extends TransferOptions, DestinationOptions {
  /** write the registry map used here */
  mapOut?: string;
  /** write Helm values pointing values-sourced images at the mirror (file, or directory for several charts) */
  valuesOut?: string;
  /** rewrite the charts' image references to the mirror before pushing */
  rewriteChart?: boolean;
}

export interface ItemResult {
  kind: "chart" | "pack" | "image";
  source: string;
  destination: string;
  status: CopyResult["status"];
  digest?: string;
  bytesCopied: number;
  blobs: number;
  blobsCopied: number;
  extras: number;
  warnings: string[];
  error?: string;
  /** a registry host failed as a whole (credentials refused, unreachable): see CopyResult.failedHost */
  failedHost?: string;
}

export interface SyncReport {
  charts: (Pick<PlannedArtifact, "kind" | "name" | "version" | "source" | "images"> & {
    destination: string;
    /** --rewrite-chart changed the chart */
    rewritten?: boolean;
    /** --rewrite-chart: images the rewritten chart still renders from their source (its check render) */
    notRewritten?: RewriteResult["notRewritten"];
  })[];
  items: ItemResult[];
  registryMap: RegistryMapEntry[];
  /** present with --values-out */
  values?: ValuesOutReport[];
  warnings: string[];
  /** possible images (static scan only) not copied: not found at the source, --images required, or a guess colliding with a mirrored repository */
  skipped: SkippedImage[];
  summary: { charts: number; images: number; failed: number; skipped: number; bytesCopied: number; seconds: number };
  /** with --shard: which part of the plan this run was */
  shard?: ShardInfo;
}

export function itemResult(kind: ItemResult["kind"], source: string, destination: string, r: CopyResult): ItemResult {
  return {
    kind,
    source,
    destination,
    status: r.status,
    digest: r.digest,
    bytesCopied: r.bytesCopied,
    blobs: r.blobs,
    blobsCopied: r.blobsCopied,
    extras: r.extras.length,
    warnings: r.warnings,
    ...(r.error ? { error: r.error } : {}),
    ...(r.failedHost ? { failedHost: r.failedHost } : {}),
  };
}

/**
 * Charts and packs are tagged only after every image they need landed: artifact job i (jobs[i], i < nArtifacts)
 * requires the image jobs (after the artifacts, in `imageSources` order) of the images it lists.
 */
export function requireImages(jobs: CopyJob[], artifactImages: string[][], imageSources: string[], nArtifacts: number, imageOffset = nArtifacts): void {
  const at = new Map(imageSources.map((s, i) => [s, imageOffset + i]));
  for (let i = 0; i < nArtifacts; i++) {
    const req = [...new Set(artifactImages[i]!.map((img) => at.get(img)).filter((x): x is number => x !== undefined))];
    if (req.length) jobs[i]!.requires = req;
  }
}

/** Plan, map, copy. The plan's temp files are removed before returning. */
export async function runSync(input: MirrorInput, opts: SyncOptions): Promise<SyncReport> {
  const started = Date.now();
  const plan = await buildPlan(input, { chartPrefix: opts.chartPrefix, requireRender: true, chartLayout: opts.chartLayout });
  try {
    return await syncPlan(plan, opts, started);
  } finally {
    await plan.cleanup();
  }
}

export async function syncPlan(plan: MirrorPlan, opts: SyncOptions, started = Date.now()): Promise<SyncReport> {
  const skipped = await resolvePossible(plan, { registry: opts.registry, sourceMirrors: opts.sourceMirrors, mode: opts.images, mapping: opts, concurrency: opts.concurrency });
  const d = destinations(plan.artifacts, plan.images, opts);
  if (opts.mapOut && !opts.dryRun) await writeRegistryMap(opts.mapOut, d.registryMap);
  const chartRefs = new Map(d.artifacts.map((x) => [layoutTag(x.artifact), x.destination.replace(/:[^:/]+$/, "")]));
  const values = opts.valuesOut ? await valuesOutForPlan(plan, opts.valuesOut, d.images, opts.dest, opts.dryRun, chartRefs) : undefined;
  const rewrites = new Map<string, RewriteResult>();
  if (opts.rewriteChart) {
    for (const a of plan.artifacts.filter((x) => x.kind === "chart")) {
      const valuesFile = values?.find((v) => v.chart === a.name && v.version === a.version && !v.error)?.file;
      const r = await rewriteChartForMirror(plan, a, d.images, { valuesFile });
      // a rewritten chart that does not render is never pushed
      if (r.error) throw new RewriteError(`--rewrite-chart: the rewritten chart ${a.name} ${a.version} does not render, nothing was copied: ${r.error}`, "report the chart to kube-airgap; without --rewrite-chart the chart is pushed as is");
      if (!r.changed) plan.warnings.push(`--rewrite-chart: ${a.name} ${a.version} pushed unchanged (no image reference of it could be rewritten)`);
      if (r.unchecked) plan.warnings.push(`--rewrite-chart: ${a.name} ${a.version} not checked with helm template (${r.unchecked})`);
      rewrites.set(layoutTag(a), r);
    }
  }
  const client = createClient(opts.registry);
  const repos = new RepoCache(client, opts.registry.chunkSize);
  const jobs: CopyJob[] = [];
  const meta: { kind: ItemResult["kind"]; source: string; destination: string }[] = [];
  try {
    for (const { artifact, destination } of d.artifacts) {
      const dst = repos.open(destination);
      jobs.push({ src: plan.layout, srcRef: layoutTag(artifact), dst: dst.store, dstTags: [artifact.tag], label: `${artifact.kind} ${artifact.name} ${artifact.version} → ${destination}` });
      meta.push({ kind: artifact.kind, source: artifact.source, destination });
    }
    for (const m of d.images) {
      const src = repos.open(pullReference(m.source, opts.sourceMirrors ?? []));
      const dst = repos.open(m.destination);
      jobs.push({ src: src.store, srcRef: src.reference, dst: dst.store, dstTags: dst.tag ? [dst.tag] : [], label: `${m.source} → ${m.destination}`, verify: true });
      meta.push({ kind: "image", source: m.source, destination: m.destination });
    }
    requireImages(jobs, d.artifacts.map((x) => x.artifact.images), d.images.map((m) => m.source), d.artifacts.length);
    const engineOpts = { concurrency: opts.concurrency, platforms: opts.platforms, extras: opts.extras ?? true, dryRun: opts.dryRun, onEvent: opts.onEvent, verifyRoot: opts.verifyRoot };
    const t0 = Date.now();
    let results: CopyResult[];
    let indices = jobs.map((_, i) => i);
    let shard: ShardInfo | undefined;
    if (opts.shard) {
      // charts/packs: pushed by the first shard once their images are all in the destination
      const imageJob = new Map(d.images.map((m, k) => [m.source, d.artifacts.length + k]));
      const after = d.artifacts.map(({ artifact }, i) => ({ job: i, needs: artifact.images.map((x) => imageJob.get(x)).filter((x): x is number => x !== undefined) }));
      const r = await runShard(jobs, engineOpts, { shard: opts.shard, waitMs: opts.shardWaitMs, after });
      ({ results, indices } = r);
      shard = r.info;
    } else results = await new CopyEngine(engineOpts).run(jobs);
    logger().debug(`${results.length} copies done in ${Date.now() - t0}ms (${Date.now() - started}ms since start)`);
    const items = results.map((r, k) => itemResult(meta[indices[k]!]!.kind, meta[indices[k]!]!.source, meta[indices[k]!]!.destination, r));
    const arts = d.artifacts.filter((_, i) => indices.includes(i));
    return {
      charts: arts.map(({ artifact: a, destination }) => {
        const rw = rewrites.get(layoutTag(a));
        return { kind: a.kind, name: a.name, version: a.version, source: a.source, images: a.images, destination, ...(rw?.changed ? { rewritten: true } : {}), ...(rw?.notRewritten.length ? { notRewritten: rw.notRewritten } : {}) };
      }),
      items,
      registryMap: d.registryMap,
      ...(values ? { values } : {}),
      warnings: plan.warnings,
      skipped,
      ...(shard ? { shard } : {}),
      summary: {
        charts: arts.length,
        images: items.filter((x) => x.kind === "image").length,
        failed: items.filter((x) => x.status === "failed").length,
        skipped: skipped.length,
        bytesCopied: items.reduce((n, x) => n + x.bytesCopied, 0),
        seconds: Math.round((Date.now() - started) / 100) / 10,
      },
    };
  } finally {
    client.transport.close();
  }
}

/** --values-out for every chart of a plan (packs have no values). */
export async function valuesOutForPlan(plan: MirrorPlan, out: string, images: MappedImage[], dest: string, dryRun = false, chartRefs?: Map<string, string>): Promise<ValuesOutReport[] | undefined> {
  const charts = plan.artifacts.filter((a) => a.kind === "chart" && a.discovery);
  // a dry run checks the path (one file per chart) and writes nothing
  if (dryRun) return void (await valuesOutFiles(out, charts, { dryRun: true }));
  const byImage = new Map(images.map((m) => [m.source, m.destination]));
  await plan.chartDirs?.();
  return writeValuesOut(out, charts.map((a) => ({ name: a.name, version: a.version, result: a.discovery!.result, discover: a.discovery!.options, chartRef: chartRefs?.get(layoutTag(a)) })), byImage, normalizeDest(dest));
}
