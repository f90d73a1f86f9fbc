// `kubectl mirror sync --in-cluster`: the images go through the in-cluster Job (in-cluster.ts); charts and packs
// are pushed from here afterwards, each only when every image it uses is in place (never a chart before its images).
import { CopyEngine, type CopyJob } from "../../../../shared/oci/copy.ts";
import { createClient } from "../../../../shared/oci/client.ts";
import type { KubeObject } from "../../../../shared/kube/index.ts";
import { writeRegistryMap } from "../plan/mapping.ts";
import { runInCluster, type ClusterItem, type InClusterOptions } from "./in-cluster.ts";
import { layoutTag, type MirrorPlan } from "../plan/plan.ts";
import { rewriteChartForMirror } from "../plan/rewrite.ts";
import { itemResult, type ItemResult, type SyncOptions, type SyncReport } from "../transfer/sync.ts";
import { destinations, pullReference, RepoCache } from "../inputs/targets.ts";
import { resolvePossible } from "../plan/possible.ts";

export async function syncPlanInCluster(plan: MirrorPlan, opts: SyncOptions, ic: Omit<InClusterOptions, "registry" | "concurrency" | "platforms" | "extras" | "dryRun" | "dest">, started = Date.now()): Promise<{ report: SyncReport; manifests: KubeObject[] }> {
  // possible images are looked up from here, as in a local sync (a source this machine cannot reach: skipped, said so)
  const skipped = await resolvePossible(plan, { registry: opts.registry, sourceMirrors: opts.sourceMirrors, mode: opts.images, mapping: opts, concurrency: opts.concurrency });
  const d = destinations(plan.artifacts, plan.images, opts);
  if (opts.mapOut && !opts.dryRun) await writeRegistryMap(opts.mapOut, d.registryMap);
  const client = createClient(opts.registry);
  const repos = new RepoCache(client, opts.registry.chunkSize);
  try {
    const items: ClusterItem[] = d.images.map((m) => {
      const dst = repos.open(m.destination);
      return { kind: "image", source: m.source, pull: pullReference(m.source, opts.sourceMirrors ?? []), destination: m.destination, tags: dst.tag ? [dst.tag] : [] };
    });
    const r = await runInCluster(items, { ...ic, dest: opts.dest, registry: opts.registry, concurrency: opts.concurrency ?? 8, platforms: opts.platforms ?? [], extras: opts.extras ?? true, dryRun: opts.dryRun });
    const byImage = new Map(items.map((it, i) => [it.source, r.items[i]!]));
    const rewritten = new Set<string>();
    const chartItems: ItemResult[] = [];
    const ready: { job: CopyJob; k: number }[] = [];
    for (const { artifact, destination } of d.artifacts) {
      const bad = artifact.images.filter((x) => byImage.get(x)?.status === "failed");
      const k = chartItems.length;
      chartItems.push({ kind: artifact.kind, source: artifact.source, destination, status: opts.dryRun ? "would-copy" : "failed", bytesCopied: 0, blobs: 0, blobsCopied: 0, extras: 0, warnings: [], ...(bad.length ? { error: `not pushed: ${bad.length} of its images failed (e.g. ${bad[0]})` } : {}) });
      if (bad.length || opts.dryRun) continue;
      if (opts.rewriteChart && artifact.kind === "chart" && (await rewriteChartForMirror(plan, artifact, d.images)).changed) rewritten.add(layoutTag(artifact));
      const dst = repos.open(destination);
      ready.push({ job: { src: plan.layout, srcRef: layoutTag(artifact), dst: dst.store, dstTags: [artifact.tag], label: `${artifact.kind} ${artifact.name} ${artifact.version} → ${destination}` }, k });
    }
    if (ready.length) {
      const res = await new CopyEngine({ concurrency: opts.concurrency, extras: false, onEvent: opts.onEvent }).run(ready.map((x) => x.job));
      ready.forEach(({ k }, i) => (chartItems[k] = itemResult(chartItems[k]!.kind, chartItems[k]!.source, chartItems[k]!.destination, res[i]!)));
    }
    const all = [...chartItems, ...r.items];
    return {
      manifests: r.manifests,
      report: {
        charts: d.artifacts.map(({ artifact: a, destination }) => ({ kind: a.kind, name: a.name, version: a.version, source: a.source, images: a.images, destination, ...(rewritten.has(layoutTag(a)) ? { rewritten: true } : {}) })),
        items: all,
        registryMap: d.registryMap,
        warnings: plan.warnings,
        skipped,
        summary: {
          charts: d.artifacts.length,
          images: items.length,
          failed: all.filter((x) => x.status === "failed").length,
          skipped: skipped.length,
          bytesCopied: all.reduce((n, x) => n + x.bytesCopied, 0),
          seconds: Math.round((Date.now() - started) / 100) / 10,
        },
      },
    };
  } finally {
    client.transport.close();
  }
}
