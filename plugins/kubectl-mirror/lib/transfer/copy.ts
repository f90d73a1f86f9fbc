// kubectl mirror copy: SRC → DST pairs between registries, OCI layouts and OCI archives.
import { readFileSync } from "node:fs";
import { CopyEngine, type CopyEvent, type CopyOptions, type CopyResult, type CopyJob } from "../../../../shared/oci/copy.ts";
import { createClient, openSource, openTarget, type RegistryOptions } from "../../../../shared/oci/client.ts";
import { formatReference, parseReference, type Reference } from "../../../../shared/oci/reference.ts";
import type { Store } from "../../../../shared/oci/store.ts";
import type { Platform } from "../../../../shared/oci/types.ts";
import { OciArchiveReader, OciArchiveWriter } from "../../../../shared/oci/archive.ts";
import { OciLayoutStore } from "../../../../shared/oci/layout.ts";
import { REF_NAME } from "../../../../shared/oci/types.ts";
import { OciError } from "../../../../shared/oci/errors.ts";
import type { ShardSpec } from "../plan/shard-plan.ts";
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
  /** --verify-signatures: every source image must pass this before it is copied */
  verifyRoot?: CopyOptions["verifyRoot"];
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

/** The roots of a local archive/layout (their ref names, if any). */
async function localRoots(store: Store): Promise<{ digest: string; tag?: string }[]> {
  if (store instanceof OciArchiveReader) return store.roots().map((r) => ({ digest: r.desc.digest, tag: r.tag }));
  if (store instanceof OciLayoutStore) return (await store.readIndex()).manifests.map((m) => ({ digest: m.digest, tag: m.annotations?.[REF_NAME] }));
  return [];
}

/** The tag of a ref name that may be a whole reference ("docker.io/library/busybox:1.36" → "1.36"). */
function tagPart(name: string): string | undefined {
  const t = name.slice(name.lastIndexOf("/") + 1);
  const colon = t.lastIndexOf(":");
  const tag = colon >= 0 ? t.slice(colon + 1) : t;
  return /^[\w][\w.-]{0,127}$/.test(tag) ? tag : undefined;
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
      let srcRef = sref.digest ?? sref.tag ?? "latest";
      let localTag: string | undefined;
      if (sref.kind !== "registry" && !sref.tag && !sref.digest) {
        // an archive/layout named without a tag: its only image, under its only tag — never an untagged copy
        const roots = await localRoots(await stores.get(skey)!);
        if (roots.length !== 1) throw new OciError(`${src} holds ${roots.length} images${roots.length ? ` (${roots.slice(0, 5).map((r) => r.tag ?? r.digest).join(", ")}${roots.length > 5 ? ", …" : ""})` : ""}: name one`, "BAD_INPUT", `e.g. ${src}:TAG or ${src}@sha256:…`);
        const only = roots[0]!;
        srcRef = only.tag ?? only.digest;
        localTag = only.tag ? tagPart(only.tag) : undefined;
        if (!localTag && !hasExplicitVersion(dst, dref)) throw new OciError(`${src} holds one untagged image: give the destination a tag`, "BAD_INPUT", `e.g. ${dst}:1.0`);
      }
      let dstTags: string[];
      if (hasExplicitVersion(dst, dref)) {
        if (dref.digest && sref.digest && dref.digest !== sref.digest && !opts.platforms?.length) throw new OciError(`${dst}: the target digest differs from the source digest`, "BAD_INPUT");
        dstTags = dref.tag && !dref.digest ? [dref.tag] : [];
      } else {
        // DST without tag: keep the source's tag (or copy by digest)
        dstTags = sref.tag ? [sref.tag] : localTag ? [localTag] : [];
      }
      jobs.push({ src: await stores.get(skey)!, srcRef, dst: await stores.get(dkey)!, dstTags, verify: true, label: `${src} → ${dref.kind === "registry" ? formatReference({ ...dref, tag: dstTags[0], digest: dstTags.length ? undefined : dref.digest ?? sref.digest }) : dst}` });
    }
  } catch (e) {
    await Promise.all([...stores.values()].map(async (s) => (await s.catch(() => undefined))?.close?.().catch(() => {})));
    client.transport.close();
    throw e;
  }
  const engineOpts = { concurrency: opts.concurrency, platforms: opts.platforms, extras: opts.extras, dryRun: opts.dryRun, onEvent: opts.onEvent, verifyRoot: opts.verifyRoot };
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
