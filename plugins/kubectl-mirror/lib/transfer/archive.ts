// kubectl mirror export / push: one OCI archive (tar, or tar+gzip / tar+zstd by suffix) of an OCI image layout holding
// chart/pack artifacts and images, plus `kubectl-mirror.json` (what is inside, charts → images). In index.json
// images are named by their source reference ("docker.io/library/busybox:1.36") and artifacts by their path
// ("charts/app:1.2.3"); the destination mapping is applied on the air-gapped side by `push`.
//
// Incremental: --existing PREV.tar leaves out every blob PREV holds (manifests are always written, so push
// finds blobs missing from the archive in the registry, where PREV put them). Split: --split-size cuts the
// finished archive into NAME.part001… plus NAME.parts (sizes and sha256 of each part); push joins them.
// Resumable push: the copy engine skips blobs the registry has and tags manifests only at the end, so a
// re-run after an interruption sends only what is missing.
import { resolvePossible, type SkippedImage } from "../plan/possible.ts";
import { createHash } from "node:crypto";
import { DigestStream } from "../../../../shared/oci/digest.ts";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { hostname, tmpdir, userInfo } from "node:os";
import { redact } from "../../../../shared/runtime/redact.ts";
import { versionString } from "../../../../shared/cli/version.ts";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { OciArchiveReader, OciArchiveWriter } from "../../../../shared/oci/archive.ts";
import { checkLevel, compressionForName, type Compression } from "../../../../shared/oci/compression.ts";
import { CopyEngine, type CopyJob } from "../../../../shared/oci/copy.ts";
import { createClient } from "../../../../shared/oci/client.ts";
import { OciError } from "../../../../shared/oci/errors.ts";
import { removeOnInterrupt } from "../../../../shared/runtime/interrupt.ts";
import { formatPlatform } from "../../../../shared/oci/platform.ts";
import { buildPlan, layoutTag, type MirrorInput, type MirrorPlan, type PlannedArtifact } from "../plan/plan.ts";
import { destinations, pullReference, RepoCache, type DestinationOptions } from "../inputs/targets.ts";
import { itemResult, requireImages, valuesOutForPlan, type ItemResult, type TransferOptions } from "./sync.ts";
import { valuesOutFiles, writeValuesOut, type ChartValuesInput, type ValuesOutReport } from "../plan/values-out.ts";
import type { DiscoveryResult } from "../../../../shared/helm/discover.ts";
import type { PublicKey } from "../../../../shared/signing/gpg.ts";
import type { Descriptor } from "../../../../shared/oci/types.ts";
import { verifyArchivePacks, type PackVerdict } from "../inputs/pack.ts";
import { normalizeDest, writeRegistryMap, type RegistryMapEntry } from "../plan/mapping.ts";
import { checkArchive, signArchiveStatement, type ArchiveTrust } from "./archive-sign.ts";
import type { SigningKey, VerifyKey } from "../../../../shared/signing/dsse.ts";

export const METADATA_FILE = "kubectl-mirror.json";
export const METADATA_KIND = "MirrorArchive";
export const METADATA_API = "mirror.kube-airgap.io/v1";

export interface ArchiveMetadata {
  apiVersion: typeof METADATA_API;
  kind: typeof METADATA_KIND;
  created: string;
  createdBy: string;
  /** who wrote it, where, with which version and flags (secrets masked); absent in archives of older versions */
  createdByUser?: string;
  createdOnHost?: string;
  toolVersion?: string;
  args?: string[];
  platforms?: string[];
  extras: boolean;
  artifacts: {
    kind: "chart" | "pack"; name: string; version: string; repository: string; tag: string; ref: string; source: string; contentDigest: string; images: string[];
    /** possible images (static scan only) found at the source and carried; the chart does not wait for them */
    possible?: string[];
    /** manifest digest of `ref` in index.json (archives written since signing exists) */
    digest?: string;
    /** charts: where each image was found and the values paths that set it (push --values-out) */
    discovery?: Pick<DiscoveryResult, "images" | "valueSites">;
  }[];
  /** digest: the manifest (or index) digest `ref` holds in index.json (archives written since signing exists) */
  images: { image: string; ref: string; digest?: string }[];
  /** present when export was given --dest: the map push will use with the same --dest */
  registryMap?: RegistryMapEntry[];
  incremental?: { existing: string[]; blobsSkipped: number };
}

export class ArchiveError extends Error {
  override name = "ArchiveError";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

export interface ExportOptions extends TransferOptions {
  output: string;
  /** gzip (default: by .gz/.tgz suffix) */
  gzip?: boolean;
  /** compression (default: by suffix: .gz/.tgz gzip, .zst/.tzst zstd); overrides gzip */
  compression?: Compression;
  /** --compression-level (gzip 1-9, zstd 1-22; default 6 / 3) */
  compressionLevel?: number;
  /** previous archives: their blobs are left out */
  existing?: string[];
  /** bytes per part (0/undefined: no split) */
  splitSize?: number;
  /** optional preview of the mapping for the metadata + map-out */
  preview?: DestinationOptions;
  mapOut?: string;
  /** with preview: write Helm values pointing values-sourced images at the preview destination */
  valuesOut?: string;
  /** sign the archive's statement with this key (export --sign) */
  sign?: SigningKey;
  /** told the plan's counts before anything is copied (the progress totals: a chart's images are known only now) */
  onPlan?: (counts: { images: number; charts: number; packs: number }) => void;
  /** the command and its command line, recorded in the metadata (pass the line through recordedArgs) */
  command?: string;
  args?: string[];
}

const SECRET_FLAG = /pass|token|secret|api-?key|auth/i;

/** A command line as recorded in an archive: values of password/token/key flags masked, URLs without secrets. */
export function recordedArgs(rawArgs: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i]!;
    const eq = /^(--?[^=]+)=/.exec(a);
    if (eq && SECRET_FLAG.test(eq[1]!)) out.push(`${eq[1]}=***`);
    else if (/^-(p|-[^=]*(pass|token|secret|api-?key|auth)[^=]*)$/i.test(a) && !/-stdin$/.test(a) && i + 1 < rawArgs.length) out.push(a, "***"), i++;
    else out.push(redact(a));
  }
  return out;
}

export interface ExportReport {
  archive: string;
  parts?: { file: string; size: number; sha256: string }[];
  metadata: ArchiveMetadata;
  items: ItemResult[];
  summary: { artifacts: number; images: number; failed: number; skipped: number; bytesWritten: number; blobsSkipped: number; seconds: number };
  /** present with --values-out */
  values?: ValuesOutReport[];
  warnings: string[];
  /** possible images (static scan only) left out: not found at the source, --images required, or a colliding guess */
  skipped: SkippedImage[];
}

/** "3G", "500M", "1.5GiB", "1048576" → bytes */
export function parseSize(s: string, flag = "--split-size"): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(s.trim());
  if (!m) throw new ArchiveError(`${flag}: bad size "${s}"`, "e.g. 500M, 3G, 4GiB");
  const n = Number(m[1]) * 1024 ** "_kmgt".indexOf((m[2] || "_").toLowerCase());
  if (!Number.isFinite(n) || n < 1024 * 1024) throw new ArchiveError(`${flag}: ${s} is smaller than 1 MiB`);
  return Math.floor(n);
}

function safeUser(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER;
  }
}

function metadataOf(plan: MirrorPlan, opts: ExportOptions, registryMap: RegistryMapEntry[] | undefined, existing: string[], skipped: number): ArchiveMetadata {
  return {
    apiVersion: METADATA_API,
    kind: METADATA_KIND,
    created: new Date().toISOString(),
    createdBy: opts.command ?? "kubectl mirror export",
    createdByUser: safeUser(),
    createdOnHost: hostname(),
    toolVersion: `kubectl-mirror ${versionString}`,
    ...(opts.args ? { args: opts.args } : {}),
    ...(opts.platforms?.length ? { platforms: opts.platforms.map(formatPlatform) } : {}),
    extras: opts.extras ?? true,
    artifacts: plan.artifacts.map((a) => ({
      kind: a.kind, name: a.name, version: a.version, repository: a.repository, tag: a.tag, ref: layoutTag(a), source: a.source, contentDigest: a.contentDigest, images: a.images,
      ...(a.possible?.some((p) => plan.optional.has(p)) ? { possible: a.possible.filter((p) => plan.optional.has(p)) } : {}),
      ...(a.discovery ? { discovery: { images: a.discovery.result.images, valueSites: a.discovery.result.valueSites ?? [] } } : {}),
    })),
    images: plan.images.map((image) => ({ image, ref: image })),
    ...(registryMap ? { registryMap } : {}),
    ...(existing.length ? { incremental: { existing: existing.map((e) => basename(e)), blobsSkipped: skipped } } : {}),
  };
}

export async function runExport(input: MirrorInput, opts: ExportOptions): Promise<ExportReport> {
  const started = Date.now();
  const plan = await buildPlan(input, { chartPrefix: opts.chartPrefix, requireRender: true, chartLayout: opts.chartLayout });
  try {
    return await exportPlan(plan, opts, started);
  } finally {
    await plan.cleanup();
  }
}

export async function exportPlan(plan: MirrorPlan, opts: ExportOptions, started = Date.now()): Promise<ExportReport> {
  opts.onPlan?.({ images: plan.images.length, charts: plan.artifacts.filter((a) => a.kind === "chart").length, packs: plan.artifacts.filter((a) => a.kind === "pack").length });
  const existing = opts.existing ?? [];
  const skippedImages = await resolvePossible(plan, { registry: opts.registry, sourceMirrors: opts.sourceMirrors, mode: opts.images, mapping: opts.preview, concurrency: opts.concurrency });
  const skip = new Set<string>();
  for (const e of existing) {
    const r = await OciArchiveReader.open(e).catch((err) => {
      throw new ArchiveError(`--existing ${e}: ${(err as Error).message}`);
    });
    for (const d of await r.blobDigests()) skip.add(d);
    await r.close();
  }
  let registryMap: RegistryMapEntry[] | undefined;
  let values: ValuesOutReport[] | undefined;
  // DESTINATION of each item: where `push --dest` will put it (with a --dest preview), else its place in the archive
  const planned = new Map<string, string>();
  if (opts.preview?.dest) {
    const d = destinations(plan.artifacts, plan.images, opts.preview);
    registryMap = d.registryMap;
    for (const m of d.images) planned.set(m.source, m.destination);
    for (const a of d.artifacts) planned.set(layoutTag(a.artifact), a.destination);
    if (opts.mapOut && !opts.dryRun) await writeRegistryMap(opts.mapOut, registryMap);
    if (opts.valuesOut) {
      const pd = destinations(plan.artifacts, plan.images, opts.preview);
      values = await valuesOutForPlan(plan, opts.valuesOut, pd.images, opts.preview.dest, opts.dryRun, new Map(pd.artifacts.map((x) => [layoutTag(x.artifact), x.destination.replace(/:[^:/]+$/, "")])));
    }
  }
  const compression = opts.compression ?? (opts.gzip ? "gzip" : compressionForName(opts.output));
  if (opts.compressionLevel !== undefined) {
    const bad = checkLevel(compression, opts.compressionLevel);
    if (bad) throw new ArchiveError(`--compression-level: ${bad}`);
  }
  const writer = new OciArchiveWriter(opts.output, { compression, level: opts.compressionLevel, skip });
  const meta = metadataOf(plan, opts, registryMap, existing, 0);
  const client = createClient(opts.registry);
  const repos = new RepoCache(client, opts.registry.chunkSize);
  const jobs: CopyJob[] = [];
  const labels: { kind: ItemResult["kind"]; source: string; destination: string }[] = [];
  for (const a of plan.artifacts) {
    jobs.push({ src: plan.layout, srcRef: layoutTag(a), dst: writer, dstTags: [layoutTag(a)], label: `${a.kind} ${a.name} ${a.version} → ${basename(opts.output)}` });
    labels.push({ kind: a.kind, source: a.source, destination: planned.get(layoutTag(a)) ?? `${basename(opts.output)}:${layoutTag(a)}` });
  }
  for (const image of plan.images) {
    const src = repos.open(pullReference(image, opts.sourceMirrors ?? []));
    jobs.push({ src: src.store, srcRef: src.reference, dst: writer, dstTags: [image], label: `${image} → ${basename(opts.output)}`, verify: true });
    labels.push({ kind: "image", source: image, destination: planned.get(image) ?? basename(opts.output) });
  }
  let blobsSkipped = 0;
  const onEvent: TransferOptions["onEvent"] = (e) => {
    if (e.type === "blob" && e.action === "exists" && skip.has(e.digest)) blobsSkipped++;
    opts.onEvent?.(e);
  };
  let items: ItemResult[] = [];
  let ok = false;
  try {
    // metadata goes right after index.json, with the digest each name holds, then the signature over both and
    // every manifest; blobsSkipped is only known afterwards, so it is not in the file
    writer.setExtraFiles(async ({ index, plan: graph }) => {
      const byTag = new Map(graph.roots.flatMap((r) => r.tags.map((t) => [t, r.desc.digest] as const)));
      for (const e of [...meta.images, ...meta.artifacts]) if (byTag.has(e.ref)) e.digest = byTag.get(e.ref);
      const metadata = { name: METADATA_FILE, bytes: Buffer.from(JSON.stringify(meta, null, 2) + "\n") };
      if (!opts.sign) return [metadata];
      const signature = await signArchiveStatement([{ name: "index.json", bytes: index }, metadata], graph.manifests.map((m) => m.desc.digest), opts.sign, "kubectl mirror export");
      return [metadata, signature];
    });
    const engine = new CopyEngine({ concurrency: opts.concurrency, platforms: opts.platforms, extras: opts.extras ?? true, dryRun: opts.dryRun, onEvent, verifyRoot: opts.verifyRoot });
    const results = await engine.run(jobs);
    items = results.map((r, i) => itemResult(labels[i]!.kind, labels[i]!.source, labels[i]!.destination, r));
    ok = !items.some((x) => x.status === "failed") && !opts.dryRun;
  } finally {
    if (ok) await writer.close();
    else await writer.abort();
    client.transport.close();
  }
  let parts: ExportReport["parts"];
  if (ok && opts.splitSize) parts = await splitArchive(opts.output, opts.splitSize);
  const failed = items.filter((x) => x.status === "failed").length;
  if (meta.incremental) meta.incremental.blobsSkipped = blobsSkipped;
  return {
    archive: opts.output,
    ...(parts ? { parts } : {}),
    metadata: meta,
    items,
    summary: {
      artifacts: plan.artifacts.length,
      images: plan.images.length,
      failed,
      skipped: skippedImages.length,
      bytesWritten: ok ? (parts ? parts.reduce((n, p) => n + p.size, 0) : (await stat(opts.output)).size) : 0,
      blobsSkipped,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    },
    ...(values ? { values } : {}),
    warnings: plan.warnings,
    skipped: skippedImages,
  };
}

// ---------------------------------------------------------------- split / join

export function partName(archive: string, i: number): string {
  return `${archive}.part${String(i + 1).padStart(3, "0")}`;
}

/** Cut a finished archive into parts of `size` bytes (+ NAME.parts with sizes and sha256); removes the whole file. */
export async function splitArchive(archive: string, size: number): Promise<{ file: string; size: number; sha256: string }[]> {
  const total = (await stat(archive)).size;
  const parts: { file: string; size: number; sha256: string }[] = [];
  for (let i = 0, off = 0; off < total || i === 0; i++, off += size) {
    const file = partName(archive, i);
    const end = Math.min(off + size, total);
    const hash = new DigestStream();
    await pipeline(createReadStream(archive, { start: off, end: Math.max(off, end - 1), highWaterMark: 1 << 20 }), hash, createWriteStream(`${file}.tmp`));
    await rename(`${file}.tmp`, file);
    parts.push({ file: basename(file), size: end - off, sha256: hash.digest() });
    if (end >= total) break;
  }
  const index = `${archive}.parts`;
  await writeFile(`${index}.tmp`, JSON.stringify({ archive: basename(archive), size: total, parts }, null, 2) + "\n");
  await rename(`${index}.tmp`, index);
  await rm(archive);
  return parts;
}

/**
 * A split archive argument (NAME, NAME.parts or NAME.partNNN; undefined for an existing whole file): its parts, checked
 * for presence and size (not yet for sha256), in order.
 */
export async function splitParts(arg: string): Promise<{ base: string; files: string[]; parts: { file: string; size: number; sha256: string }[] } | undefined> {
  const base = arg.replace(/\.parts$/, "").replace(/\.part\d{3}$/, "");
  if (existsSync(arg) && !/\.part\d{3}$|\.parts$/.test(arg)) return undefined;
  const index = `${base}.parts`;
  if (!existsSync(index)) {
    if (existsSync(arg)) throw new ArchiveError(`${arg} is one part of a split archive but ${index} is missing`, "copy NAME.parts with the parts");
    throw new ArchiveError(`archive ${arg}: no such file`, "check the path");
  }
  let idx: { size: number; parts: { file: string; size: number; sha256: string }[] };
  try {
    idx = JSON.parse(await readFile(index, "utf8"));
  } catch (e) {
    throw new ArchiveError(`split archive ${index} is not valid JSON (${(e as Error).message})`, "copy NAME.parts again from where the archive was exported");
  }
  if (!idx || !Array.isArray(idx.parts) || !idx.parts.length) throw new ArchiveError(`split archive ${index} lists no parts`, "copy NAME.parts again from where the archive was exported");
  const dir = dirname(index);
  for (const p of idx.parts) {
    // parts live next to NAME.parts: a bare file name, never a path (../other/file would read outside the folder)
    const f = p?.file;
    if (typeof f !== "string" || !f || f === "." || f === ".." || /[/\\\0]/.test(f) || /^[A-Za-z]:/.test(f)) throw new ArchiveError(`split archive ${index}: part "${String(f)}" is not a file name in the archive's folder`, "parts must be plain file names next to NAME.parts; the list may have been tampered with");
    if (!Number.isSafeInteger(p.size) || p.size < 0 || typeof p.sha256 !== "string") throw new ArchiveError(`split archive ${index}: part ${f} has no valid size/sha256`);
  }
  for (const p of idx.parts) {
    const st = await stat(join(dir, p.file)).catch(() => undefined);
    if (!st) throw new ArchiveError(`split archive ${base}: part ${p.file} is missing`, `all ${idx.parts.length} parts must be next to ${basename(index)}`);
    if (st.size !== p.size) throw new ArchiveError(`split archive ${base}: part ${p.file} has ${st.size} bytes, expected ${p.size}`, "copy it again");
  }
  return { base, files: idx.parts.map((p) => join(dir, p.file)), parts: idx.parts };
}

/** An archive argument: the file itself, or a split archive (NAME, NAME.parts or NAME.partNNN) joined in workDir. */
export async function resolveArchiveArg(arg: string, workDir: () => Promise<string>): Promise<{ path: string; joined: boolean }> {
  const split = await splitParts(arg);
  if (!split) return { path: arg, joined: false };
  const { base, parts } = split;
  const idx = { parts };
  const dir = dirname(`${base}.parts`);
  const out = join(await workDir(), basename(base));
  const ws = createWriteStream(`${out}.tmp`);
  // a write error (full temp disk) ends the join at once, with a clear message
  let wsError: Error | undefined;
  const failed = new Promise<never>((_, reject) =>
    ws.on("error", (e) => {
      wsError = e;
      reject(e);
    }),
  );
  failed.catch(() => {});
  try {
    for (const p of idx.parts) {
      const h = createHash("sha256");
      await Promise.race([
        failed,
        new Promise<void>((resolve, reject) => {
          const rs = createReadStream(join(dir, p.file), { highWaterMark: 1 << 20 });
          rs.on("data", (c) => {
            h.update(c);
            if (!ws.write(c)) rs.pause(), ws.once("drain", () => rs.resume());
          });
          rs.on("end", resolve);
          rs.on("error", reject);
          ws.once("error", () => rs.destroy());
        }),
      ]);
      if (`sha256:${h.digest("hex")}` !== p.sha256) throw new ArchiveError(`split archive ${base}: part ${p.file} is corrupt (sha256 mismatch)`, "copy it again");
    }
    await Promise.race([failed, new Promise<void>((resolve, reject) => ws.end((e?: Error | null) => (e ? reject(e) : resolve())))]);
  } catch (e) {
    ws.destroy();
    await rm(`${out}.tmp`, { force: true });
    const err = wsError ?? e;
    if (err instanceof ArchiveError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ArchiveError(`cannot join split archive ${base} in ${dirname(out)}: ${code === "ENOSPC" ? "no space left on device" : (err as Error).message}`, "free space there, or join elsewhere with --temp-dir DIR");
  }
  await rename(`${out}.tmp`, out);
  return { path: out, joined: true };
}

// ---------------------------------------------------------------- push

export async function readMetadata(reader: OciArchiveReader): Promise<ArchiveMetadata | undefined> {
  const b = await reader.readFile(METADATA_FILE);
  if (!b) return undefined;
  let m: ArchiveMetadata;
  try {
    m = JSON.parse(b.toString("utf8"));
  } catch (e) {
    throw new ArchiveError(`${reader.path}: ${METADATA_FILE} is not valid JSON (${(e as Error).message})`);
  }
  if (m.kind !== METADATA_KIND || !Array.isArray(m.artifacts) || !Array.isArray(m.images)) throw new ArchiveError(`${reader.path}: ${METADATA_FILE} is not a ${METADATA_KIND}`);
  return m;
}

/** Metadata for a plain OCI archive (skopeo/copy): every root whose ref name is a full image reference. */
export async function metadataFromIndex(reader: OciArchiveReader): Promise<ArchiveMetadata> {
  const images: ArchiveMetadata["images"] = [];
  for (const r of reader.roots()) {
    if (!r.tag || !r.tag.includes("/")) continue;
    images.push({ image: r.tag, ref: r.tag });
  }
  if (!images.length) throw new ArchiveError(`${reader.path} has no ${METADATA_FILE} and no image names in index.json`, "push archives written by `kubectl mirror export`, or use `kubectl mirror copy oci-archive:FILE:TAG DEST`");
  return { apiVersion: METADATA_API, kind: METADATA_KIND, created: "", createdBy: "index.json", extras: false, artifacts: [], images };
}

export interface PushOptions extends Omit<TransferOptions, "platforms" | "sourceMirrors">, DestinationOptions {
  mapOut?: string;
  /** Helm values for the charts in the archives (from the discovery data export stored in them) */
  valuesOut?: string;
  /** where split archives are joined (default: the OS temp dir) */
  tempDir?: string;
  /** --pack-keyring: every pack in the archives must be signed by one of these keys, checked before anything is pushed */
  packKeys?: PublicKey[];
  /** --key: every archive must be signed by one of these; checked (signature, statement, blobs) before anything is sent */
  keys?: VerifyKey[];
  /** called with each archive's signature verdict as soon as it is checked (before anything of it is sent) */
  onTrust?: (t: ArchiveTrust) => void;
}

export interface PushReport {
  archives: string[];
  items: ItemResult[];
  registryMap: RegistryMapEntry[];
  /** present with --values-out */
  values?: ValuesOutReport[];
  /** present with --pack-keyring: the packs whose signature verified */
  packSignatures?: PackVerdict[];
  /** per archive: signature verdict (verified / signed, not verified / unsigned) */
  trust: ArchiveTrust[];
  summary: { artifacts: number; images: number; failed: number; bytesCopied: number; blobsExisting: number; seconds: number };
}

/**
 * --pack-keyring where the bundle is used: every pack artifact in an archive signed by one of the keys (a compressed
 * archive read in order is walked once more by a second reader, so the push's own pass is left untouched).
 */
export async function checkArchivePacks(path: string, reader: OciArchiveReader, label: string, keys: PublicKey[], tempDir?: string): Promise<PackVerdict[]> {
  const roots = reader.roots();
  const manifest = (d: Descriptor) => reader.fetchManifest(d);
  if (!reader.sequential) return verifyArchivePacks(label, { roots, manifest, blob: (d) => reader.fetchBlob(d) }, keys, { tempDir });
  const walker = await OciArchiveReader.open(path);
  try {
    return await verifyArchivePacks(label, { roots, manifest, walk: (w, h) => walker.streamBlobs(w, h) }, keys, { tempDir });
  } finally {
    await walker.close();
  }
}

export async function runPush(archives: string[], opts: PushOptions): Promise<PushReport> {
  const started = Date.now();
  let work: string | undefined;
  let unregister: (() => void) | undefined;
  const workDir = async () => {
    if (!work) {
      work = await mkdtemp(join(opts.tempDir ?? tmpdir(), "ka-mirror-push-"));
      unregister = removeOnInterrupt("joining a split archive", work);
    }
    return work;
  };
  const readers: OciArchiveReader[] = [];
  const client = createClient(opts.registry);
  const repos = new RepoCache(client, opts.registry.chunkSize);
  try {
    // one group of jobs per archive, pushed in the order given: an incremental archive (export --existing) lacks
    // blobs its predecessor carries, so `push day1.tar day2.tar` must land day1 before day2 needs them
    const groups: { jobs: CopyJob[]; labels: { kind: ItemResult["kind"]; source: string; destination: string }[] }[] = [];
    let jobs: CopyJob[] = [];
    let labels: { kind: ItemResult["kind"]; source: string; destination: string }[] = [];
    let registryMap: RegistryMapEntry[] = [];
    let nArtifacts = 0;
    let nImages = 0;
    const valueCharts: ChartValuesInput[] = [];
    const byImage = new Map<string, string>();
    const packSignatures: PackVerdict[] = [];
    const trust: ArchiveTrust[] = [];
    for (const arg of archives) {
      jobs = [];
      labels = [];
      groups.push({ jobs, labels });
      const { path } = await resolveArchiveArg(arg, workDir);
      const reader = await OciArchiveReader.open(path);
      readers.push(reader);
      if (opts.packKeys) packSignatures.push(...(await checkArchivePacks(path, reader, basename(arg), opts.packKeys, opts.tempDir)));
      const meta = (await readMetadata(reader)) ?? (await metadataFromIndex(reader));
      // before anything is sent: index.json agrees with the metadata; with --key, signed by one of the keys and intact
      const verdict = await checkArchive(reader, { keys: opts.keys, metadataFile: METADATA_FILE, label: arg });
      trust.push(verdict);
      opts.onTrust?.(verdict);
      const arts = meta.artifacts.map((a) => ({ ...a, archive: undefined, digest: "", warnings: [] }) as unknown as PlannedArtifact);
      const d = destinations(arts, meta.images.map((i) => i.image), opts);
      registryMap = [...registryMap, ...d.registryMap];
      const first = jobs.length;
      for (const { artifact, destination } of d.artifacts) {
        const dst = repos.open(destination);
        jobs.push({ src: reader, srcRef: layoutTag(artifact), dst: dst.store, dstTags: [artifact.tag], label: `${artifact.kind} ${artifact.name} ${artifact.version} → ${destination}` });
        labels.push({ kind: artifact.kind, source: `${basename(arg)}:${layoutTag(artifact)}`, destination });
      }
      for (const [i, m] of d.images.entries()) {
        const dst = repos.open(m.destination);
        jobs.push({ src: reader, srcRef: meta.images[i]!.ref, dst: dst.store, dstTags: dst.tag ? [dst.tag] : [], label: `${m.source} → ${m.destination}` });
        labels.push({ kind: "image", source: m.source, destination: m.destination });
      }
      // charts/packs of this archive are tagged only after their images landed
      const slice = jobs.slice(first);
      requireImages(slice, d.artifacts.map((x) => x.artifact.images ?? []), d.images.map((m) => m.source), d.artifacts.length);
      for (const j of slice) if (j.requires) j.requires = j.requires.map((k) => k + first);
      nArtifacts += d.artifacts.length;
      nImages += d.images.length;
      for (const m of d.images) byImage.set(m.source, m.destination);
      for (const a of meta.artifacts) {
        if (a.kind !== "chart" || !a.discovery) continue;
        valueCharts.push({ name: a.name, version: a.version, result: { ...a.discovery, excluded: [], render: { rendered: false, skipped: `written from ${basename(arg)}; check it with helm template -f` } } });
      }
    }
    if (opts.mapOut && !opts.dryRun) await writeRegistryMap(opts.mapOut, registryMap);
    let values: ValuesOutReport[] | undefined;
    if (opts.valuesOut) {
      if (!valueCharts.length) throw new ArchiveError(`--values-out: ${archives.join(", ")} hold${archives.length === 1 ? "s" : ""} no chart with discovery data`, "archives written by kubectl mirror export before --values-out existed lack it: re-export, or run kubectl mirror images CHART --dest … --values-out FILE");
      if (opts.dryRun) await valuesOutFiles(opts.valuesOut, valueCharts, { dryRun: true });
      else values = await writeValuesOut(opts.valuesOut, valueCharts, byImage, normalizeDest(opts.dest));
    }
    // extras travel inside the archive as their own roots' graphs: the engine copies sig/att tags it finds there
    const results: Awaited<ReturnType<CopyEngine["run"]>> = [];
    const items: ItemResult[] = [];
    for (const g of groups) {
      const engine = new CopyEngine({ concurrency: opts.concurrency, extras: opts.extras ?? true, dryRun: opts.dryRun, onEvent: opts.onEvent });
      const rs = await engine.run(g.jobs);
      results.push(...rs);
      items.push(...rs.map((r, i) => itemResult(g.labels[i]!.kind, g.labels[i]!.source, g.labels[i]!.destination, r)));
    }
    return {
      archives,
      items,
      registryMap,
      ...(values ? { values } : {}),
      ...(opts.packKeys ? { packSignatures } : {}),
      trust,
      summary: {
        artifacts: nArtifacts,
        images: nImages,
        failed: items.filter((x) => x.status === "failed").length,
        bytesCopied: items.reduce((n, x) => n + x.bytesCopied, 0),
        blobsExisting: results.reduce((n, r) => n + r.blobsExisting + r.blobsMounted, 0),
        seconds: Math.round((Date.now() - started) / 100) / 10,
      },
    };
  } finally {
    for (const r of readers) await r.close().catch(() => {});
    client.transport.close();
    if (work) await rm(work, { recursive: true, force: true });
    unregister?.();
  }
}

export { OciError };
