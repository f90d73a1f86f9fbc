// The shard planner: split one mirror run (the copy jobs of `sync` or `copy`) into N shards that N processes —
// N machines with `--shard i/N`, or the N pods of an Indexed Job with `--in-cluster` — run side by side.
// Design: docs/in-cluster.md. In short:
//   1. plan     every job's root is resolved in the SOURCE and its manifests walked (platform filter applied):
//               the blobs it needs and their sizes. Only the source is read, so every machine that plans the
//               same input gets the same plan, whatever the destination already holds.
//   2. assign   jobs, largest first, go to the shard with the fewest bytes so far; a blob is "owned" by the
//               first job (and so the one shard) that needs it, and only its owner's bytes count: shards are
//               balanced by the bytes they upload. Every job is in exactly one shard.
//   3. run      a shard copies its jobs with the usual engine. A blob owned by another shard is not uploaded:
//               the shard waits (polling, outside the transfer limit) until it is present in the owner's
//               destination repository, then mounts it from there. Owned blobs never wait, so shards cannot
//               deadlock; a blob whose owner never delivers (failed shard) is copied after `waitMs` instead.
import { setTimeout as sleep } from "node:timers/promises";
import { createLimit } from "../../../../shared/runtime/limit.ts";
import type { CopyJob } from "../../../../shared/oci/copy.ts";
import { isIndex, isManifest } from "../../../../shared/oci/media-types.ts";
import { platformMatches } from "../../../../shared/oci/platform.ts";
import type { Store } from "../../../../shared/oci/store.ts";
import type { Descriptor, ImageIndex, ImageManifest, Platform } from "../../../../shared/oci/types.ts";

export interface ShardSpec {
  /** 0-based */
  index: number;
  count: number;
}

export class ShardError extends Error {
  override name = "ShardError";
  code = "BAD_INPUT";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

/** "--shard 2/4" (1-based, like jest/playwright `--shard`) → { index: 1, count: 4 } */
export function parseShardSpec(s: string, flag = "--shard"): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(s);
  if (!m) throw new ShardError(`${flag} ${s}: expected I/N, e.g. 1/4 (the first of four shards)`);
  const i = Number(m[1]);
  const n = Number(m[2]);
  if (n < 1 || n > 1000) throw new ShardError(`${flag} ${s}: the shard count must be 1-1000`);
  if (i < 1 || i > n) throw new ShardError(`${flag} ${s}: the shard number must be 1-${n}`, "shards are numbered from 1");
  return { index: i - 1, count: n };
}

export interface PlannedBlob {
  digest: string;
  size: number;
}

export interface PlannedJob {
  /** root digest in the source (after platform filtering the index digest changes; this is the source's) */
  digest?: string;
  /** bytes of all blobs under the root */
  bytes: number;
  blobs: PlannedBlob[];
  /** the source could not be read: the job fails in whichever shard gets it */
  error?: string;
}

/** Resolve every job in its source and list the blobs under it (configs and layers; manifests are small). */
export async function planJobs(jobs: Pick<CopyJob, "src" | "srcRef">[], opts: { platforms?: Platform[]; concurrency?: number } = {}): Promise<PlannedJob[]> {
  const limit = createLimit(opts.concurrency ?? 16);
  return Promise.all(
    jobs.map((j) =>
      limit(async (): Promise<PlannedJob> => {
        try {
          const root = await j.src.resolve(j.srcRef);
          const blobs = new Map<string, number>();
          await walk(j.src, root, opts.platforms ?? [], blobs, new Set());
          const list = [...blobs].map(([digest, size]) => ({ digest, size }));
          return { digest: root.digest, bytes: list.reduce((a, b) => a + b.size, 0), blobs: list };
        } catch (e) {
          return { bytes: 0, blobs: [], error: (e as Error).message };
        }
      }),
    ),
  );
}

async function walk(src: Store, desc: Descriptor, platforms: Platform[], blobs: Map<string, number>, seen: Set<string>): Promise<void> {
  if (seen.has(desc.digest)) return;
  seen.add(desc.digest);
  if (!isManifest(desc.mediaType)) {
    blobs.set(desc.digest, desc.size);
    return;
  }
  const json = JSON.parse(new TextDecoder().decode(await src.fetchManifest(desc)));
  if (isIndex(desc.mediaType)) {
    let children = (json as ImageIndex).manifests ?? [];
    if (platforms.length) children = children.filter((m) => platformMatches(m.platform, platforms));
    await Promise.all(children.map((c) => walk(src, c, [], blobs, seen)));
    return;
  }
  const m = json as ImageManifest;
  if (m.config) blobs.set(m.config.digest, m.config.size);
  for (const l of m.layers ?? []) if (!l.urls?.length) blobs.set(l.digest, l.size);
}

export interface Assignment {
  /** shard of each job (same order as the jobs) */
  shardOf: number[];
  /** blob digest → the job that uploads it (its destination is where the other shards mount it from) */
  owner: Map<string, number>;
  /** per shard: jobs, bytes it uploads, bytes of all its jobs */
  shards: { jobs: number[]; uploadBytes: number; totalBytes: number }[];
}

/** Fixed cost of a job in the balance (a manifest walk and a few round trips), so tiny images spread too. */
const PER_JOB_BYTES = 64 << 10;

/**
 * Balanced, disjoint split: jobs by decreasing size (ties by position) to the shard with the least upload
 * bytes so far (ties: the shard that already owns most of the job's bytes, then the lowest index). Deterministic.
 */
export function assignShards(planned: PlannedJob[], count: number): Assignment {
  const order = planned.map((p, i) => i).sort((a, b) => planned[b]!.bytes - planned[a]!.bytes || a - b);
  const shards = Array.from({ length: count }, () => ({ jobs: [] as number[], uploadBytes: 0, totalBytes: 0 }));
  const shardOf = new Array<number>(planned.length).fill(0);
  const owner = new Map<string, number>();
  for (const i of order) {
    const p = planned[i]!;
    const fresh = p.blobs.filter((b) => !owner.has(b.digest));
    const newBytes = fresh.reduce((a, b) => a + b.size, 0) + PER_JOB_BYTES;
    let best = 0;
    let bestAffinity = -1;
    for (let s = 0; s < count; s++) {
      const load = shards[s]!.uploadBytes;
      const bestLoad = shards[best]!.uploadBytes;
      if (load > bestLoad && bestAffinity >= 0) continue;
      const affinity = p.blobs.reduce((a, b) => a + (owner.has(b.digest) && shardOf[owner.get(b.digest)!] === s ? b.size : 0), 0);
      if (bestAffinity < 0 || load < bestLoad || (load === bestLoad && affinity > bestAffinity)) {
        best = s;
        bestAffinity = affinity;
      }
    }
    shardOf[i] = best;
    for (const b of fresh) owner.set(b.digest, i);
    shards[best]!.jobs.push(i);
    shards[best]!.uploadBytes += newBytes;
    shards[best]!.totalBytes += p.bytes;
  }
  for (const s of shards) s.jobs.sort((a, b) => a - b);
  return { shardOf, owner, shards };
}

export interface WaitOptions {
  /** give up waiting for another shard's blob after this long and copy it (default 15 min) */
  waitMs?: number;
  /** a warning for the job (the engine's result) */
  onWarn?: (job: CopyJob, message: string) => void;
}

/**
 * The engine hook for one shard: blobs owned by a job of another shard are waited for in that job's
 * destination, then mounted from it. `owners(digest)` → the destination store of the owning job, or undefined
 * when this shard owns the blob (or nobody planned it, e.g. a signature found at copy time).
 */
export function shardBlobSource(owners: (digest: string) => Store | undefined, opts: WaitOptions = {}): (job: CopyJob, b: Descriptor) => Promise<Store | undefined> {
  const waitMs = opts.waitMs ?? 15 * 60_000;
  const waits = new Map<string, Promise<Store | undefined>>();
  return (job, b) => {
    const from = owners(b.digest);
    if (!from) return Promise.resolve(undefined);
    const key = `${from.id}|${b.digest}`;
    let w = waits.get(key);
    if (!w) {
      w = (async () => {
        const deadline = Date.now() + waitMs;
        let delay = 100;
        for (;;) {
          if (await from.exists(b).catch(() => false)) return from;
          if (Date.now() + delay > deadline) break;
          await sleep(delay);
          delay = Math.min(delay * 2, 2000);
        }
        opts.onWarn?.(job, `${b.digest.slice(0, 19)} belongs to another shard and did not appear in ${from.name} within ${Math.round(waitMs / 1000)}s: copied it here instead`);
        return undefined;
      })();
      waits.set(key, w);
    }
    return w;
  };
}

/** Owners as seen from `shard`: foreign blobs → the owning job's destination store. */
export function foreignOwners(a: Assignment, shard: number, dstOf: (job: number) => Store): (digest: string) => Store | undefined {
  return (digest) => {
    const o = a.owner.get(digest);
    if (o === undefined || a.shardOf[o] === shard) return undefined;
    return dstOf(o);
  };
}

/** Wait until a root is present in a store (by tag when given, else by digest); false on timeout. */
export async function waitPresent(store: Store, root: { digest?: string; tag?: string }, waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  let delay = 100;
  for (;;) {
    const ok = root.tag
      ? await store.resolve(root.tag).then(() => true, () => false)
      : root.digest
        ? await store.exists({ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: root.digest, size: 0 }).catch(() => false)
        : false;
    if (ok) return true;
    if (Date.now() + delay > deadline) return false;
    await sleep(delay);
    delay = Math.min(delay * 2, 2000);
  }
}
