// The copy engine: copy roots (a manifest or an index, optionally with their referrers and cosign
// sha256-*.sig/.att/.sbom tags) from any store to any store. Children before parents; skip what the target
// has; each digest transferred once per run even when many images share it; mount instead of upload within a
// registry; bounded concurrency; --platform filtering of indexes; progress events. A manifest or tag is never
// written before every blob under it is present and verified.
import { Transform, type Readable } from "node:stream";
import { createLimit } from "../runtime/limit.ts";
import { redact } from "../runtime/redact.ts";
import { OciArchiveReader, OciArchiveWriter } from "./archive.ts";
import { DigestStream, sha256 } from "./digest.ts";
import { releaseMemory } from "../runtime/memory.ts";
import { DigestMismatchError, failedHost, NotFoundError, OciError, RegistryError, SizeMismatchError } from "./errors.ts";
import { OciLayoutStore } from "./layout.ts";
import { Spool } from "./spool.ts";
import { isIndex, isManifest, MT } from "./media-types.ts";
import { formatPlatform, platformMatches } from "./platform.ts";
import { RegistryRepository, referrersTag, skipBytes } from "./registry.ts";
import type { Plan, PlannedNode, PushOptions, Store } from "./store.ts";
import type { Descriptor, ImageIndex, ImageManifest, Platform } from "./types.ts";

export interface CopyJob {
  src: Store;
  /** tag or digest in src */
  srcRef: string;
  dst: Store;
  /** tags to point at the root in dst (empty: by digest only) */
  dstTags: string[];
  /** for messages, e.g. "docker.io/library/nginx:1.27 → reg.local/nginx:1.27" */
  label?: string;
  /** indexes of jobs (same run) that must succeed before this job's manifests and tags are written — a chart or
   *  pack is tagged only once every image it needs is in the target; if one fails, this job fails untagged */
  requires?: number[];
  /** check the source image with CopyOptions.verifyRoot before anything moves (images, not charts) */
  verify?: boolean;
}

export interface CopyOptions {
  /** parallel blob transfers across all images (default 8) */
  concurrency?: number;
  /** images resolved/planned in parallel (default 8) */
  imageConcurrency?: number;
  /** keep only these platforms of multi-arch indexes */
  platforms?: Platform[];
  /** also copy referrers and cosign signature/attestation/SBOM tags */
  extras?: boolean;
  /** plan and check only; write nothing */
  dryRun?: boolean;
  onEvent?: (e: CopyEvent) => void;
  /**
   * Awaited before a blob moves (outside the transfer limit), once per digest and target: a sharded run waits
   * here for a blob another shard copies, and returns the repository of the same registry to mount it from
   * (undefined: copy it as usual).
   */
  blobSource?: (job: CopyJob, blob: Descriptor) => Promise<Store | undefined>;
  /**
   * For jobs marked `verify`: awaited once the source root is known, before the target is asked or anything moves;
   * a throw fails the job (and leaves jobs requiring it untagged). --verify-signatures checks cosign signatures here.
   */
  verifyRoot?: (src: Store, root: Descriptor, label: string) => Promise<unknown>;
}

export type CopyEvent =
  | { type: "plan"; job: number; label: string; digest: string; blobs: number; bytes: number }
  | { type: "warn"; job: number; label: string; message: string }
  | { type: "blob"; job: number; label: string; digest: string; size: number; action: BlobAction }
  | { type: "progress"; job: number; bytes: number }
  | { type: "done"; job: number; result: CopyResult };

export type BlobAction = "copied" | "exists" | "mounted" | "missing";

export interface CopyResult {
  label: string;
  src: string;
  dst: string;
  status: "copied" | "up-to-date" | "failed" | "would-copy";
  digest?: string;
  mediaType?: string;
  tags: string[];
  blobs: number;
  blobsCopied: number;
  blobsMounted: number;
  blobsExisting: number;
  bytes: number;
  bytesCopied: number;
  extras: string[];
  warnings: string[];
  error?: string;
  /** the error condemns a whole registry host (refused credentials, unreachable, TLS): the same error ends every
   *  job touching it without further requests; callers report it once (see hostFailure in shared/cli/progress) */
  failedHost?: string;
}

interface RootPlan {
  desc: Descriptor;
  bytes: Uint8Array;
  tags: string[];
  /** referrer roots must update the dst fallback tag index */
  subject?: Descriptor;
}

interface ExtraRoot {
  desc: Descriptor;
  /** cosign-style tag */
  tag?: string;
  /** OCI referrer of this subject */
  subject?: Descriptor;
}

function extraLabel(x: ExtraRoot): string {
  return x.tag ?? `referrer ${x.desc.artifactType ?? x.desc.mediaType} ${x.desc.digest}`;
}

interface JobPlan {
  job: CopyJob;
  index: number;
  result: CopyResult;
  roots: RootPlan[];
  manifests: PlannedNode[]; // children first, roots included last per root
  blobs: Descriptor[];
  smallBlobs: Map<string, Uint8Array>;
  upToDate: boolean;
  /** the root is not in the target (its own small blobs are uploaded without asking first) */
  fresh?: boolean;
}

const textDecoder = new TextDecoder();
function parseJson<T>(b: Uint8Array): T {
  return JSON.parse(textDecoder.decode(b)) as T;
}

/** Layers that must not be copied (foreign/non-distributable with external URLs). */
function nonDistributable(d: Descriptor): boolean {
  return !!d.urls?.length && /foreign|nondistributable/.test(d.mediaType);
}

export class CopyEngine {
  private blobLimit;
  private imageLimit;
  /** dst.id|digest → in-flight or finished transfer (each digest moves once per run) */
  private inflight = new Map<string, Promise<BlobAction>>();
  private manifestsDone = new Map<string, Promise<void>>();
  /** registry host|digest → the first target repository of this run that receives it (others mount from it) */
  private onRegistry = new Map<string, { repo: RegistryRepository; done: Promise<BlobAction> }>();
  /** per job index: settles when the job's outcome is final (for CopyJob.requires) */
  private settled = new Map<number, { promise: Promise<void>; resolve: () => void }>();
  private plans: JobPlan[] = [];
  /** per job index: its plan, settled (failed plans too) */
  private planned: Promise<JobPlan>[] = [];
  private jobs: CopyJob[] = [];

  constructor(private opts: CopyOptions = {}) {
    this.blobLimit = createLimit(opts.concurrency ?? 8);
    this.imageLimit = createLimit(opts.imageConcurrency ?? Math.max(4, opts.concurrency ?? 8));
  }

  private emit(e: CopyEvent): void {
    this.opts.onEvent?.(e);
  }

  /** what planning (and a chart's discovery before it) left behind is collected once, when the first job starts
   *  moving: a warm run that moves nothing skips the full collection (tens of ms of CPU) */
  private released = false;
  private releaseOnce(): void {
    if (this.released) return;
    this.released = true;
    releaseMemory();
  }

  async run(jobs: CopyJob[]): Promise<CopyResult[]> {
    for (const [i] of jobs.entries()) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.settled.set(i, { promise, resolve });
    }
    // a registry or layout target: a job's blobs start moving as soon as it is planned, while other images are
    // still being planned (archive writers need the whole graph first; compressed archives are read once, in order)
    const streams = (p: JobPlan) => !this.opts.dryRun && !p.job.dst.prepare && !(p.job.src instanceof OciArchiveReader && p.job.src.sequential);
    const early: Promise<void>[] = [];
    this.jobs = jobs;
    this.planned = jobs.map((job, index) => this.imageLimit(() => this.plan(job, index)));
    const plans = await Promise.all(
      this.planned.map((planned) =>
        planned.then((p) => {
          if (p.result.error || p.upToDate) this.done(p);
          else if (streams(p)) early.push(this.transfer(p));
          return p;
        }),
      ),
    );
    const ok = plans.filter((p) => !p.result.error);
    if (this.opts.dryRun) {
      // a dry run writes nothing: dependants wait for their requirements' outcome, then report
      await Promise.all(ok.map((p) => this.imageLimit(() => this.dryRun(p)).then(() => this.done(p))));
      await Promise.all(ok.map((p) => this.requirementsMet(p).catch((e) => this.fail(p, e))));
    } else {
      // archive writers need the whole graph first
      const byDst = new Map<string, JobPlan[]>();
      for (const p of ok) if (p.job.dst.prepare) byDst.set(p.job.dst.id, [...(byDst.get(p.job.dst.id) ?? []), p]);
      for (const group of byDst.values()) await group[0]!.job.dst.prepare!(mergePlans(group));
      // compressed archives are read once, in order
      const sequential = new Map<string, JobPlan[]>();
      const normal: JobPlan[] = [];
      for (const p of ok) {
        if (p.upToDate || streams(p)) continue;
        if (p.job.src instanceof OciArchiveReader && p.job.src.sequential) sequential.set(p.job.src.id, [...(sequential.get(p.job.src.id) ?? []), p]);
        else normal.push(p);
      }
      await Promise.all([
        // no image limit here: a job mostly waits for its blobs, which the blob limit and the per-host socket
        // cap already bound; holding image slots while waiting on a shared blob would stall the other images
        ...early,
        ...normal.map((p) => this.transfer(p)),
        ...[...sequential.values()].map((group) => this.transferSequential(group)),
      ]);
    }
    for (const p of plans) {
      if (p.upToDate && !p.result.error) p.result.status = "up-to-date";
      this.emit({ type: "done", job: p.index, result: p.result });
    }
    return plans.map((p) => p.result);
  }

  // ------------------------------------------------------------------ planning

  private async plan(job: CopyJob, index: number): Promise<JobPlan> {
    const label = job.label ?? `${job.src.name}:${job.srcRef} → ${job.dst.name}`;
    const result: CopyResult = { label, src: `${job.src.name}${job.srcRef.includes(":") ? "@" : ":"}${job.srcRef}`, dst: job.dst.name, status: "copied", tags: job.dstTags, blobs: 0, blobsCopied: 0, blobsMounted: 0, blobsExisting: 0, bytes: 0, bytesCopied: 0, extras: [], warnings: [] };
    const p: JobPlan = { job, index, result, roots: [], manifests: [], blobs: [], smallBlobs: new Map(), upToDate: false };
    // known before anything can settle: a job whose requirement fails while others are still planned must see it
    this.plans[index] = p;
    try {
      // a tag copy between registries: the target's tags and the source's HEAD go out together, so a warm check
      // costs one round trip of latency per image (a HEAD, not a GET, on the source: registries such as Docker
      // Hub count manifest GETs against the pull rate limit); when a tag is missing or differs, one GET of the
      // source manifest follows (and fetchManifest then hits the cache)
      const early = !this.opts.platforms?.length && !job.dst.prepare && job.dstTags.length && job.src instanceof RegistryRepository && !job.srcRef.includes(":");
      let prefetched: Uint8Array | undefined;
      let root: Descriptor;
      let tagged: (string | undefined)[] | undefined;
      if (early) {
        const head = job.src.resolve(job.srcRef);
        head.catch(() => {});
        // the source's tag list (where findExtras looks for signature and referrer fallback tags) does not depend
        // on the digest: it goes out with the HEADs, so a warm check stays one round trip of latency per image
        if (this.opts.extras) void (job.src as RegistryRepository).tagSet();
        tagged = await this.tagDigests(job.dst, job.dstTags);
        root = await head;
        if (tagged.some((d) => d !== root.digest)) ({ desc: root, bytes: prefetched } = await (job.src as RegistryRepository).manifestByReference(job.srcRef));
      } else root = await job.src.resolve(job.srcRef);
      if (!isManifest(root.mediaType)) throw new OciError(`${result.src} is a ${root.mediaType}, not an image manifest or index`, "UNSUPPORTED_MEDIA_TYPE");
      if (job.verify && this.opts.verifyRoot) await this.opts.verifyRoot(job.src, root, result.src);
      result.digest = root.digest;
      result.mediaType = root.mediaType;
      const filtering = !!this.opts.platforms?.length && isIndex(root.mediaType);
      // a warm target costs two round trips: the target's tags and the source's extras, checked together;
      // manifests are fetched and walked only when something is missing
      let extras: ExtraRoot[] | undefined;
      let rootAbsent = false;
      if (!filtering && !job.dst.prepare) {
        const [found, present] = await Promise.all([this.opts.extras ? this.findExtras(job, root, p) : Promise.resolve([]), tagged ? tagged.every((d) => d === root.digest) : this.present(job.dst, { desc: root, tags: job.dstTags })]);
        extras = found;
        rootAbsent = !present;
        p.fresh = rootAbsent;
        if (present && (await Promise.all(found.map((x) => this.present(job.dst, { desc: x.desc, tags: x.tag ? [x.tag] : [], subject: x.subject })))).every(Boolean)) {
          result.extras = found.map(extraLabel);
          p.upToDate = true;
          this.emit({ type: "plan", job: index, label, digest: root.digest, blobs: 0, bytes: 0 });
          return p;
        }
      }
      let bytes = prefetched ?? (await job.src.fetchManifest(root));
      const sourceDigest = root.digest;
      if (filtering) {
        const filtered = this.filterIndex(bytes, root, label, p);
        if (filtered.desc.digest !== root.digest && this.opts.extras) p.result.warnings.push("signatures and attestations of the unfiltered index were not copied (the filtered index has a new digest)");
        root = filtered.desc;
        bytes = filtered.bytes;
        result.digest = root.digest;
      }
      const seen = new Set<string>();
      await this.walk(job.src, root, bytes, p, seen);
      p.roots.push({ desc: root, bytes, tags: job.dstTags });
      // a filtered index has a new digest: the source's signatures do not apply to it
      if (this.opts.extras && root.digest === sourceDigest) await this.walkExtras(job, extras ?? (await this.findExtras(job, root, p)), p, seen);
      result.blobs = p.blobs.length;
      result.bytes = p.blobs.reduce((a, b) => a + b.size, 0);
      // small blobs (configs) for archive writers
      if (job.dst.prepare) {
        await Promise.all(p.blobs.filter((b) => b.size <= 4 << 20 && isConfig(b)).map(async (b) => p.smallBlobs.set(b.digest, await readAll(await job.src.fetchBlob(b)))));
      }
      p.upToDate = rootAbsent ? false : await this.upToDate(job.dst, p.roots);
      this.emit({ type: "plan", job: index, label, digest: root.digest, blobs: p.blobs.length, bytes: result.bytes });
    } catch (e) {
      this.fail(p, e);
    }
    return p;
  }

  private done(p: JobPlan): void {
    this.settled.get(p.index)?.resolve();
  }

  /** Wait for the jobs p requires; throws (leaving p untagged) when one of them failed. */
  private async requirementsMet(p: JobPlan): Promise<void> {
    const req = p.job.requires ?? [];
    if (!req.length) return;
    await Promise.all(req.map((i) => this.settled.get(i)?.promise));
    const bad = req.map((i) => this.plans[i]!).filter((q) => q && q.result.status === "failed");
    if (!bad.length) return;
    const host = bad.find((q) => q.result.failedHost)?.result.failedHost;
    if (host) p.result.failedHost = host;
    const names = bad.map((q) => q.result.label.split(" → ")[0]).slice(0, 3).join(", ");
    throw new OciError(`not tagged: ${bad.length} of the ${req.length} images it needs failed (${names}${bad.length > 3 ? ", …" : ""})`, "REQUIREMENT_FAILED");
  }

  private fail(p: JobPlan, e: unknown): void {
    const host = failedHost(e);
    if (host) p.result.failedHost = host;
    p.result.status = "failed";
    const hint = (e as { hint?: string })?.hint;
    // results are printed as data (-o json): no secrets (registered passwords, presigned URLs, userinfo) in them
    p.result.error = redact(((e as Error)?.message ?? String(e)) + (hint ? ` (${hint})` : ""));
    this.done(p);
  }

  private warn(p: JobPlan, raw: string): void {
    const message = redact(raw);
    p.result.warnings.push(message);
    this.emit({ type: "warn", job: p.index, label: p.result.label, message });
  }

  private filterIndex(bytes: Uint8Array, root: Descriptor, label: string, p: JobPlan): { desc: Descriptor; bytes: Uint8Array } {
    const idx = parseJson<ImageIndex>(bytes);
    const want = this.opts.platforms!;
    const kept = idx.manifests.filter((m) => platformMatches(m.platform, want));
    const real = kept.filter((m) => m.platform && m.platform.os !== "unknown");
    if (!real.length) {
      const have = idx.manifests.map((m) => formatPlatform(m.platform)).filter(Boolean).join(", ");
      throw new OciError(`${label}: no manifest for ${want.map(formatPlatform).join(", ")} (index has: ${have || "none"})`, "PLATFORM_NOT_FOUND");
    }
    if (kept.length === idx.manifests.length) return { desc: root, bytes };
    const out = Buffer.from(JSON.stringify({ ...idx, manifests: kept }));
    const desc = { mediaType: root.mediaType, digest: sha256(out), size: out.length };
    this.warn(p, `platform filter kept ${real.length} of ${idx.manifests.filter((m) => m.platform?.os !== "unknown").length} platforms: the copied index has a new digest ${desc.digest} (source ${root.digest})`);
    return { desc, bytes: out };
  }

  /** Collect manifests (children first) and blobs under desc. */
  private async walk(src: Store, desc: Descriptor, bytes: Uint8Array, p: JobPlan, seen: Set<string>): Promise<void> {
    if (seen.has(desc.digest)) return;
    seen.add(desc.digest);
    if (isIndex(desc.mediaType)) {
      const idx = parseJson<ImageIndex>(bytes);
      const children = await Promise.all(
        (idx.manifests ?? []).map(async (c) => {
          if (!isManifest(c.mediaType)) {
            // an artifact blob referenced from an index: copy as a blob
            return { c, bytes: undefined };
          }
          return { c, bytes: await src.fetchManifest(c) };
        }),
      );
      for (const { c, bytes: cb } of children) {
        if (cb) await this.walk(src, c, cb, p, seen);
        else if (!seen.has(c.digest)) {
          seen.add(c.digest);
          p.blobs.push(c);
        }
      }
    } else {
      const m = parseJson<ImageManifest>(bytes);
      if (m.config && !seen.has(m.config.digest)) {
        seen.add(m.config.digest);
        p.blobs.push(m.config);
      }
      for (const l of m.layers ?? []) {
        if (seen.has(l.digest) || nonDistributable(l)) continue;
        seen.add(l.digest);
        p.blobs.push(l);
      }
    }
    p.manifests.push({ desc: { mediaType: desc.mediaType, digest: desc.digest, size: desc.size }, bytes });
  }

  /** cosign sha256-<hex>.sig/.att/.sbom tags and OCI referrers (API or tag-schema fallback) of root, looked up together. */
  private async findExtras(job: CopyJob, root: Descriptor, p: JobPlan): Promise<ExtraRoot[]> {
    let tags = ["sig", "att", "sbom"].map((suffix) => `${root.digest.replace(":", "-")}.${suffix}`);
    // one tag listing answers for all candidates where the repository allows it
    const known = job.src instanceof RegistryRepository ? await job.src.tagSet() : undefined;
    if (known) tags = tags.filter((t) => known.has(t));
    const [found, refs] = await Promise.all([
      Promise.all(
        tags.map(async (tag): Promise<ExtraRoot | undefined> => {
          try {
            return { tag, desc: await job.src.resolve(tag) };
          } catch (e) {
            if (!(e instanceof NotFoundError)) this.warn(p, `could not read ${tag}: ${(e as Error).message}`);
            return undefined;
          }
        }),
      ),
      job.src.referrers
        ? job.src.referrers(root).catch((e) => {
            this.warn(p, `could not list referrers: ${(e as Error).message}`);
            return [] as Descriptor[];
          })
        : Promise.resolve([] as Descriptor[]),
    ]);
    const out = found.filter((x): x is ExtraRoot => !!x);
    for (const r of refs) if (!out.some((x) => x.desc.digest === r.digest)) out.push({ desc: { mediaType: r.mediaType, digest: r.digest, size: r.size, ...(r.artifactType ? { artifactType: r.artifactType } : {}) }, subject: root });
    return out;
  }

  private async walkExtras(job: CopyJob, extras: ExtraRoot[], p: JobPlan, seen: Set<string>): Promise<void> {
    const fresh = extras.filter((x) => !seen.has(x.desc.digest));
    const bodies = await Promise.all(fresh.map((x) => job.src.fetchManifest(x.desc)));
    for (let i = 0; i < fresh.length; i++) {
      const x = fresh[i]!;
      if (seen.has(x.desc.digest)) continue;
      await this.walk(job.src, x.desc, bodies[i]!, p, seen);
      const { artifactType: _a, ...desc } = x.desc;
      p.roots.push({ desc, bytes: bodies[i]!, tags: x.tag ? [x.tag] : [], ...(x.subject ? { subject: x.subject } : {}) });
      p.result.extras.push(extraLabel(x));
    }
  }

  /** Digests the target's tags point at (undefined: no such tag). */
  private tagDigests(dst: Store, tags: string[]): Promise<(string | undefined)[]> {
    return Promise.all(
      tags.map((t) =>
        dst.resolve(t).then(
          (d) => d.digest,
          (e) => {
            if (e instanceof NotFoundError) return undefined;
            throw e;
          },
        ),
      ),
    );
  }

  private async upToDate(dst: Store, roots: RootPlan[]): Promise<boolean> {
    if (dst.prepare) return false; // archives are written fresh
    return (await Promise.all(roots.map((r) => this.present(dst, r)))).every(Boolean);
  }

  /** The target holds this root under all its tags (and lists it as a referrer of its subject). */
  private async present(dst: Store, r: { desc: Descriptor; tags: string[]; subject?: Descriptor }): Promise<boolean> {
    if (dst.prepare) return false;
    if (r.tags.length) {
      const got = await Promise.all(
        r.tags.map((t) =>
          dst.resolve(t).then(
            (d) => d.digest,
            (e) => {
              if (e instanceof NotFoundError) return undefined;
              throw e;
            },
          ),
        ),
      );
      if (got.some((d) => d !== r.desc.digest)) return false;
    } else if (!(await dst.exists(r.desc))) return false;
    if (r.subject && dst instanceof RegistryRepository && !(await dst.probeReferrers(r.subject))) {
      const listed = await dst.referrers(r.subject).catch(() => []);
      if (!listed.some((x) => x.digest === r.desc.digest)) return false;
    }
    return true;
  }

  private async dryRun(p: JobPlan): Promise<void> {
    try {
      if (p.upToDate) return;
      p.result.status = "would-copy";
      await Promise.all(
        p.blobs.map((b) =>
          this.blobLimit(async () => {
            const has = !p.job.dst.prepare && (await p.job.dst.exists(b));
            if (has) p.result.blobsExisting++;
            else p.result.bytesCopied += b.size;
          }),
        ),
      );
    } catch (e) {
      this.fail(p, e);
    }
  }

  // ------------------------------------------------------------------ transfer

  private counting(p: JobPlan, stream: Readable): Readable {
    const emit = (n: number) => this.emit({ type: "progress", job: p.index, bytes: n });
    // a digest stream (registry downloads) counts in place: no extra layer for the bytes to pass through
    if (stream instanceof DigestStream && !stream.onBytes) {
      // the download started before it was handed over: count what already passed, then each chunk as it does
      if (stream.size) emit(stream.size);
      stream.onBytes = emit;
      return stream;
    }
    const t = new Transform({
      transform(chunk: Buffer, _e, cb) {
        emit(chunk.length);
        cb(null, chunk);
      },
    });
    stream.on("error", (e) => t.destroy(e));
    return stream.pipe(t);
  }

  private record(p: JobPlan, b: Descriptor, action: BlobAction): void {
    if (action === "copied") {
      p.result.blobsCopied++;
      p.result.bytesCopied += b.size;
    } else if (action === "mounted") p.result.blobsMounted++;
    else if (action === "exists") p.result.blobsExisting++;
    this.emit({ type: "blob", job: p.index, label: p.result.label, digest: b.digest, size: b.size, action });
  }

  private blob(p: JobPlan, b: Descriptor): Promise<BlobAction> {
    const { src, dst } = p.job;
    const key = `${dst.id}|${b.digest}`;
    let t = this.inflight.get(key);
    if (!t) {
      // another repository of the same target registry gets this digest in this run: mount from it
      const hostKey = dst instanceof RegistryRepository ? `${dst.host}|${b.digest}` : undefined;
      const sibling = hostKey ? this.onRegistry.get(hostKey) : undefined;
      t = (async () => {
        const siblingOk = sibling ? await sibling.done.then(() => true, () => false) : false;
        const from = !sibling && this.opts.blobSource ? await this.opts.blobSource(p.job, b) : undefined;
        const known = await this.blobLimit(async () => {
          // present in a sibling repository: mount right away (a mount of a blob the target has succeeds too)
          if (siblingOk && (await dst.mountFrom!(b, sibling!.repo))) return "mounted" as const;
          // a small blob of an image the target lacks: upload without asking first (a repeat upload is harmless)
          const ask = !(p.fresh && b.size <= SMALL_BLOB && dst instanceof RegistryRepository);
          // an archive writer wrote it with the graph in this run: copied (its bytes count as moved)
          if (dst instanceof OciArchiveWriter && dst.claimWritten(b.digest)) {
            this.emit({ type: "progress", job: p.index, bytes: b.size });
            return "copied" as const;
          }
          if (ask && (await dst.exists(b))) return "exists" as const;
          return undefined;
        });
        if (known) return known;
        // a large blob this target lacks may already sit in another repository of the same registry that this run
        // writes to (a re-run after a kill): look there before uploading it again (outside the blob slots: it may
        // wait for other images' plans)
        const elsewhere = !sibling && !from && b.size >= ELSEWHERE_MIN ? await this.elsewhere(p, b) : undefined;
        return this.blobLimit(async () => {
          if (elsewhere && (await dst.mountFrom!(b, elsewhere))) return "mounted" as const;
          if (sibling && !siblingOk && (await dst.mountFrom!(b, sibling.repo))) return "mounted" as const;
          if (from && from.id !== dst.id && dst.mountFrom && (await dst.mountFrom(b, from))) return "mounted" as const;
          if (dst.mountFrom && (await dst.mountFrom(b, src))) return "mounted" as const;
          // registry → registry: the target checks the upload's ?digest= (or our chunked upload hashes it) and
          // stores nothing corrupt, so the first try does not hash the bytes a second time here; a refused digest
          // is retried with our own check, which names the source
          const trust = src instanceof RegistryRepository && dst instanceof RegistryRepository;
          // content that arrives corrupt is fetched again (a few times) where the target can take a retry
          for (let attempt = 0; ; attempt++) {
            try {
              await dst.pushBlob(b, async () => this.counting(p, await src.fetchBlob(b, trust && attempt === 0 ? { verify: false } : undefined)), this.resumable(p, b));
              return "copied" as const;
            } catch (e) {
              const refused = trust && attempt === 0 && e instanceof RegistryError && e.status === 400 && /DIGEST_INVALID|SIZE_INVALID|BLOB_UPLOAD_INVALID/.test(e.code);
              const mismatch = refused || e instanceof DigestMismatchError || e instanceof SizeMismatchError;
              // a local archive or layout gives the same corrupt bytes every time: no second read
              if (!mismatch || (dst as Store).prepare || attempt >= 2 || !(src instanceof RegistryRepository)) throw e;
              this.warn(p, `${(e as Error).message}; fetching ${b.digest.slice(0, 19)} again`);
            }
          }
        });
      })();
      if (hostKey && !sibling) this.onRegistry.set(hostKey, { repo: dst as RegistryRepository, done: t });
      this.inflight.set(key, t);
      t.catch(() => this.inflight.delete(key));
      return t;
    }
    // another image moves this digest: it counts as existing for this one
    return t.then(() => "exists" as const);
  }

  /** How an upload of b may continue a session an earlier run left (registry targets, sources with random access). */
  private resumable(p: JobPlan, b: Descriptor): PushOptions | undefined {
    const { src } = p.job;
    if (!(p.job.dst instanceof RegistryRepository) || !src.fetchBlobFrom) return undefined;
    return {
      openAt: async (offset) => this.counting(p, await src.fetchBlobFrom!(b, offset)),
      download: src instanceof RegistryRepository,
      // the bytes the registry already had count as moved
      onResumed: (bytes) => this.emit({ type: "progress", job: p.index, bytes }),
    };
  }

  /**
   * Another repository of p's target registry, among those this run writes to, that already holds blob b (one HEAD
   * per candidate; only repositories whose images need b are asked). Waits up to ELSEWHERE_WAIT_MS for the plans of
   * those images still being planned, so which image reaches a shared layer first no longer decides whether a
   * re-run uploads it again.
   */
  private async elsewhere(p: JobPlan, b: Descriptor): Promise<RegistryRepository | undefined> {
    const dst = p.job.dst;
    if (!(dst instanceof RegistryRepository) || !dst.mountFrom) return undefined;
    const same = (j: CopyJob) => j.dst instanceof RegistryRepository && j.dst.host === dst.host && j.dst.repository !== dst.repository;
    const others = this.jobs.flatMap((j, i) => (i !== p.index && same(j) ? [i] : []));
    if (!others.length) return undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all(others.map((i) => this.planned[i])), new Promise((r) => (timer = setTimeout(r, ELSEWHERE_WAIT_MS)))]);
    clearTimeout(timer);
    const repos = new Map<string, RegistryRepository>();
    for (const i of others) {
      const q = this.plans[i];
      if (q && !q.result.error && q.blobs.some((x) => x.digest === b.digest)) repos.set(q.job.dst.id, q.job.dst as RegistryRepository);
    }
    for (const repo of [...repos.values()].slice(0, ELSEWHERE_MAX)) if (await repo.exists(b).catch(() => false)) return repo;
    return undefined;
  }

  private async transfer(p: JobPlan): Promise<void> {
    this.releaseOnce();
    try {
      const actions = await Promise.allSettled(p.blobs.map(async (b) => this.record(p, b, await this.blob(p, b))));
      const failed = actions.find((a) => a.status === "rejected") as PromiseRejectedResult | undefined;
      if (failed) throw failed.reason;
      await this.writeManifests(p);
    } catch (e) {
      this.fail(p, e);
    }
  }

  /** Children first; each root (with its tags) only after everything under it is present. */
  private async writeManifests(p: JobPlan): Promise<void> {
    await this.requirementsMet(p);
    const { dst } = p.job;
    const rootDigests = new Set(p.roots.map((r) => r.desc.digest));
    for (const m of p.manifests) {
      if (rootDigests.has(m.desc.digest)) continue;
      const key = `${dst.id}|${m.desc.digest}`;
      let t = this.manifestsDone.get(key);
      if (!t) {
        t = (async () => {
          if (!(await dst.exists(m.desc))) await dst.pushManifest(m.desc, m.bytes!);
        })();
        this.manifestsDone.set(key, t);
      }
      await t;
    }
    for (const r of p.roots) {
      await dst.pushManifest(r.desc, r.bytes, r.tags);
      if (!r.tags.length && dst instanceof OciLayoutStore) await dst.addRoot(r.desc);
      if (r.subject) await this.linkReferrer(dst, r);
    }
    this.done(p);
  }

  /** Registries without the referrers API: keep the sha256-<hex> fallback index up to date. */
  private async linkReferrer(dst: Store, r: RootPlan): Promise<void> {
    if (!(dst instanceof RegistryRepository) || (await dst.probeReferrers(r.subject!))) return;
    const tag = referrersTag(r.subject!.digest);
    let idx: ImageIndex = { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] };
    try {
      const d = await dst.resolve(tag);
      idx = parseJson<ImageIndex>(await dst.fetchManifest(d));
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
    if (idx.manifests.some((m) => m.digest === r.desc.digest)) return;
    const m = parseJson<ImageManifest & { artifactType?: string }>(r.bytes);
    idx.manifests.push({ mediaType: r.desc.mediaType, digest: r.desc.digest, size: r.desc.size, ...(m.artifactType || m.config?.mediaType ? { artifactType: m.artifactType ?? m.config.mediaType } : {}), ...(m.annotations ? { annotations: m.annotations } : {}) });
    const bytes = Buffer.from(JSON.stringify(idx));
    await dst.pushManifest({ mediaType: MT.ociIndex, digest: sha256(bytes), size: bytes.length }, bytes, [tag]);
  }

  /** A gzip archive source: one pass over the stream, pushing what the targets miss. */
  private async transferSequential(group: JobPlan[]): Promise<void> {
    this.releaseOnce();
    const src = group[0]!.job.src as OciArchiveReader;
    // which (plan, blob) pairs are missing in their targets
    const need = new Map<string, { p: JobPlan; b: Descriptor }[]>();
    await Promise.all(
      group.flatMap((p) =>
        p.blobs.map((b) =>
          this.blobLimit(async () => {
            if (await p.job.dst.exists(b)) return this.record(p, b, "exists");
            need.set(b.digest, [...(need.get(b.digest) ?? []), { p, b }]);
          }),
        ),
      ),
    );
    const failed = new Set<JobPlan>();
    try {
      await src.streamBlobs(new Set(need.keys()), async (_d, stream) => {
        const targets = need.get(_d.digest)!;
        const first = targets[0]!;
        // the compressed stream cannot be read again: spool it, so an upload can be retried and other
        // targets served from the temp file (or mounted from the first target on the same registry)
        const spool = await Spool.create(stream, `pushing ${_d.digest} from ${src.path}`);
        try {
          try {
            // an upload an earlier run left is continued from the stream, its first bytes skipped (they still reach
            // the spool): the archive is read anyway, only what the registry lacks is sent
            await first.p.job.dst.pushBlob(first.b, async () => this.counting(first.p, await spool.open()), {
              openAt: async (offset) => this.counting(first.p, skipBytes(await spool.open(), offset)),
              onResumed: (bytes) => this.emit({ type: "progress", job: first.p.index, bytes }),
            });
            this.record(first.p, first.b, "copied");
          } catch (e) {
            stream.destroy();
            for (const t of targets) failed.add(t.p), this.fail(t.p, e);
            return;
          }
          for (const t of targets.slice(1)) {
            try {
              if (t.p.job.dst.id === first.p.job.dst.id) this.record(t.p, t.b, "exists");
              else if (t.p.job.dst.mountFrom && (await t.p.job.dst.mountFrom(t.b, first.p.job.dst))) this.record(t.p, t.b, "mounted");
              else {
                await t.p.job.dst.pushBlob(t.b, async () => this.counting(t.p, await spool.open()));
                this.record(t.p, t.b, "copied");
              }
            } catch (e) {
              failed.add(t.p);
              this.fail(t.p, e);
            }
          }
        } finally {
          await spool.dispose();
        }
      });
    } catch (e) {
      for (const p of group) if (!failed.has(p)) (failed.add(p), this.fail(p, e));
    }
    // jobs that require others (charts needing their images) last, so their requirements settle first
    const ordered = [...group].sort((a, b) => (a.job.requires?.length ? 1 : 0) - (b.job.requires?.length ? 1 : 0));
    for (const p of ordered) if (!failed.has(p)) await this.writeManifests(p).catch((e) => this.fail(p, e));
  }
}

/** Blobs up to this size are uploaded to a fresh image without a HEAD first. */
const SMALL_BLOB = 64 << 10;
/** blobs at least this large are looked for in the run's other target repositories before an upload */
const ELSEWHERE_MIN = 1 << 20;
const ELSEWHERE_MAX = 8;
const ELSEWHERE_WAIT_MS = 5_000;

function isConfig(d: Descriptor): boolean {
  return /config|json/.test(d.mediaType) && !/tar/.test(d.mediaType);
}

async function readAll(s: Readable): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function mergePlans(group: JobPlan[]): Plan {
  const manifests: PlannedNode[] = [];
  const seenM = new Set<string>();
  const blobs: Descriptor[] = [];
  const seenB = new Set<string>();
  const smallBlobs = new Map<string, Uint8Array>();
  const roots: Plan["roots"] = [];
  for (const p of group) {
    for (const m of p.manifests) if (!seenM.has(m.desc.digest)) (seenM.add(m.desc.digest), manifests.push(m));
    for (const b of p.blobs) if (!seenB.has(b.digest)) (seenB.add(b.digest), blobs.push(b));
    for (const [k, v] of p.smallBlobs) smallBlobs.set(k, v);
    for (const r of p.roots) roots.push({ desc: r.desc, bytes: r.bytes, tags: r.tags });
  }
  return { roots, manifests, blobs, smallBlobs };
}

/** Convenience: run one engine over jobs. */
export function copy(jobs: CopyJob[], opts: CopyOptions = {}): Promise<CopyResult[]> {
  return new CopyEngine(opts).run(jobs);
}

