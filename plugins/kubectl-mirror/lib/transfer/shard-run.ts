// Run one shard of a mirror run locally (`kubectl mirror sync|copy --shard I/N`): plan every job, keep this
// shard's, copy them with the engine waiting for (and mounting) blobs other shards own. Charts and packs are
// pushed by shard 1 only, last, and only once every image they use is in the destination (a chart is never
// tagged before its images). See docs/in-cluster.md.
import { CopyEngine, type CopyJob, type CopyOptions, type CopyResult } from "../../../../shared/oci/copy.ts";
import { assignShards, foreignOwners, planJobs, shardBlobSource, waitPresent, type Assignment, type PlannedJob, type ShardSpec } from "../plan/shard-plan.ts";

export interface ShardInfo {
  /** 1-based, as the user wrote it */
  shard: string;
  items: number;
  /** bytes this shard uploads (blobs it owns) and bytes of all its items */
  uploadBytes: number;
  totalBytes: number;
}

export interface ShardedRun {
  /** indices into the jobs given, in order */
  indices: number[];
  results: CopyResult[];
  info: ShardInfo;
}

export interface ShardRunOptions {
  shard: ShardSpec;
  /** how long to wait for another shard's blob (and, for charts, for another shard's images) */
  waitMs?: number;
  /** jobs that are charts/packs: never sharded, pushed by the first shard after the images they list */
  after?: { job: number; needs: number[] }[];
}

export interface ShardSelection {
  planned: PlannedJob[];
  assignment: Assignment;
  /** indices (into the jobs given) of the sharded jobs */
  sharded: number[];
}

/** Plan and split the jobs that are sharded (all but `after` jobs). */
export async function selectShards(jobs: CopyJob[], count: number, opts: { platforms?: CopyOptions["platforms"]; exclude?: Set<number> } = {}): Promise<ShardSelection> {
  const sharded = jobs.map((_, i) => i).filter((i) => !opts.exclude?.has(i));
  const planned = await planJobs(sharded.map((i) => jobs[i]!), { platforms: opts.platforms });
  return { planned, assignment: assignShards(planned, count), sharded };
}

export async function runShard(jobs: CopyJob[], engineOpts: CopyOptions, o: ShardRunOptions): Promise<ShardedRun> {
  const waitMs = o.waitMs ?? 15 * 60_000;
  const after = new Set((o.after ?? []).map((a) => a.job));
  const sel = await selectShards(jobs, o.shard.count, { platforms: engineOpts.platforms, exclude: after });
  const mine = sel.assignment.shards[o.shard.index]!;
  const picked = mine.jobs.map((k) => sel.sharded[k]!);
  const warnings = new Map<CopyJob, string[]>();
  const blobSource = shardBlobSource(
    foreignOwners(sel.assignment, o.shard.index, (k) => jobs[sel.sharded[k]!]!.dst),
    { waitMs, onWarn: (job, m) => warnings.set(job, [...(warnings.get(job) ?? []), m]) },
  );
  const engine = new CopyEngine({ ...engineOpts, blobSource });
  const results = await engine.run(picked.map((i) => jobs[i]!));
  picked.forEach((i, k) => results[k]!.warnings.push(...(warnings.get(jobs[i]!) ?? [])));
  const indices = [...picked];
  if (o.shard.index === 0 && o.after?.length) {
    const ready: number[] = [];
    const late: CopyResult[] = [];
    for (const a of o.after) {
      const missing: string[] = [];
      await Promise.all(
        a.needs.map(async (i) => {
          const j = jobs[i]!;
          const k = sel.sharded.indexOf(i);
          // a dry run copies nothing: the chart would follow its images
          const ok = engineOpts.dryRun || (await waitPresent(j.dst, { tag: j.dstTags[0], digest: sel.planned[k]?.digest }, waitMs));
          if (!ok) missing.push(j.label ?? j.srcRef);
        }),
      );
      if (missing.length) {
        const j = jobs[a.job]!;
        late.push({ label: j.label ?? j.srcRef, src: `${j.src.name}:${j.srcRef}`, dst: j.dst.name, status: "failed", tags: j.dstTags, blobs: 0, blobsCopied: 0, blobsMounted: 0, blobsExisting: 0, bytes: 0, bytesCopied: 0, extras: [], warnings: [], error: `not pushed: ${missing.length} of its images are not in the destination yet (e.g. ${missing.sort()[0]}); run shard 1 again once the other shards are done` });
        indices.push(a.job);
      } else ready.push(a.job);
    }
    const chartResults = ready.length ? await new CopyEngine(engineOpts).run(ready.map((i) => jobs[i]!)) : [];
    indices.push(...ready);
    results.push(...late, ...chartResults);
    // keep the report in the order of the jobs
    const order = indices.map((i, k) => ({ i, r: results[k]! })).sort((x, y) => x.i - y.i);
    indices.splice(0, indices.length, ...order.map((x) => x.i));
    results.splice(0, results.length, ...order.map((x) => x.r));
  }
  return { indices, results, info: { shard: `${o.shard.index + 1}/${o.shard.count}`, items: indices.length, uploadBytes: mine.uploadBytes, totalBytes: mine.totalBytes } };
}
