// kubectl mirror copy: SRC → DST pairs between registries, OCI layouts and OCI archives.
import { readFileSync } from "node:fs";
import { CopyEngine, type CopyEvent, type CopyResult, type CopyJob } from "../../../shared/oci/copy.ts";
import { createClient, openSource, openTarget, type RegistryOptions } from "../../../shared/oci/client.ts";
import { formatReference, parseReference, type Reference } from "../../../shared/oci/reference.ts";
import type { Store } from "../../../shared/oci/store.ts";
import type { Platform } from "../../../shared/oci/types.ts";
import { OciArchiveWriter } from "../../../shared/oci/archive.ts";
import { OciError } from "../../../shared/oci/errors.ts";
import type { ShardSpec } from "./shard-plan.ts";
import { runShard } from "./shard-run.ts";

export interface CopyPair {
  src: string;
  dst: string;
}

export interface MirrorCopyOptions {
  registry: RegistryOptions;
  concurrency?: number;
  platforms?: Platform[];
  extras?: boolean;
  dryRun?: boolean;
  gzip?: boolean;
  onEvent?: (e: CopyEvent) => void;
  /** run only this shard of the pairs (lib/shard-run.ts); results then hold only its pairs */
  shard?: ShardSpec;
  shardWaitMs?: number;
}

/** Read "SRC DST" lines (blank lines and # comments ignored). */
export function readPairsFile(path: string): CopyPair[] {
  let text: string;
  try {
    text = readFileSync(path === "-" ? 0 : path, "utf8");
  } catch (e) {
    throw new OciError(`cannot read --from-file ${path}: ${(e as Error).message}`, "BAD_INPUT");
  }
  const pairs: CopyPair[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.replace(/#.*$/, "").trim();
    if (!t) return;
    const parts = t.split(/\s+/);
    if (parts.length !== 2) throw new OciError(`${path}:${i + 1}: expected "SRC DST", got "${t}"`, "BAD_INPUT");
    pairs.push({ src: parts[0]!, dst: parts[1]! });
  });
  return pairs;
}

/** Whether the user wrote a tag or digest in a reference (parseReference defaults the tag to latest). */
export function hasExplicitVersion(input: string, ref: Reference): boolean {
  if (ref.digest) return true;
  if (ref.kind !== "registry") return !!ref.tag;
  const last = input.slice(input.lastIndexOf("/") + 1);
  return last.includes(":") || last.includes("@");
}

export async function mirrorCopy(pairs: CopyPair[], opts: MirrorCopyOptions): Promise<CopyResult[]> {
  if (!pairs.length) throw new OciError("nothing to copy: give SRC DST (or --from-file FILE)", "BAD_INPUT");
  const client = createClient(opts.registry);
  // one store per location, so archives get one writer and registries share manifest caches
  const stores = new Map<string, Promise<Store>>();
  const jobs: CopyJob[] = [];
  try {
    for (const { src, dst } of pairs) {
      const sref = parseReference(src);
      const dref = parseReference(dst);
      const skey = `src:${sref.kind}:${sref.kind === "registry" ? `${sref.registry}/${sref.repository}` : sref.path}`;
      const dkey = `dst:${dref.kind}:${dref.kind === "registry" ? `${dref.registry}/${dref.repository}` : dref.path}`;
      if (!stores.has(skey)) stores.set(skey, openSource(sref, client, opts.registry).then((o) => o.store));
      if (!stores.has(dkey)) stores.set(dkey, openTarget(dref, client, { ...opts.registry, gzip: opts.gzip }).then((o) => o.store));
      const srcRef = sref.digest ?? sref.tag ?? "latest";
      let dstTags: string[];
      if (hasExplicitVersion(dst, dref)) {
        if (dref.digest && sref.digest && dref.digest !== sref.digest && !opts.platforms?.length) throw new OciError(`${dst}: the target digest differs from the source digest`, "BAD_INPUT");
        dstTags = dref.tag && !dref.digest ? [dref.tag] : [];
      } else {
        // DST without tag: keep the source's tag (or copy by digest)
        dstTags = sref.tag ? [sref.tag] : [];
      }
      jobs.push({ src: await stores.get(skey)!, srcRef, dst: await stores.get(dkey)!, dstTags, label: `${src} → ${dref.kind === "registry" ? formatReference({ ...dref, tag: dstTags[0], digest: dstTags.length ? undefined : dref.digest ?? sref.digest }) : dst}` });
    }
  } catch (e) {
    await Promise.all([...stores.values()].map(async (s) => (await s.catch(() => undefined))?.close?.().catch(() => {})));
    client.transport.close();
    throw e;
  }
  const engineOpts = { concurrency: opts.concurrency, platforms: opts.platforms, extras: opts.extras, dryRun: opts.dryRun, onEvent: opts.onEvent };
  let results: CopyResult[];
  let indices = jobs.map((_, i) => i);
  try {
    if (opts.shard) {
      if (jobs.some((j) => j.dst.prepare)) throw new OciError("--shard: archives cannot be written by several shards; shard copies into registries or layout directories", "BAD_INPUT");
      const r = await runShard(jobs, engineOpts, { shard: opts.shard, waitMs: opts.shardWaitMs });
      ({ results, indices } = r);
    } else results = await new CopyEngine(engineOpts).run(jobs);
  } finally {
    // finish archives: keep only complete ones; never leave a half-written archive under the final name
    for (const p of stores.values()) {
      const s = await p.catch(() => undefined);
      if (!s) continue;
      if (s instanceof OciArchiveWriter) {
        const failed = results! === undefined || indices.some((i, k) => jobs[i]!.dst === s && results![k]?.status === "failed");
        if (failed || opts.dryRun) await s.abort();
        else await s.close();
      } else await s.close?.().catch(() => {});
    }
    client.transport.close();
  }
  return results;
}
