// OCI archive = a tar of an OCI image layout, streamed both ways (optionally gzip- or zstd-compressed).
// Writer: oci-layout, index.json, every manifest and config first, big blobs after — so a reader knows the
// whole graph before the first large blob. Written to a temp name and renamed when complete.
// Reader: plain tar → random access by offset (parallel reads, no extraction); gzip → one sequential pass
// (gzip or zstd) that pushes blobs straight out of the stream and skips the bytes of blobs the target already has.
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, open, rename, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { PassThrough, type Readable, type Writable } from "node:stream";
import { createCompressor, createDecompressor, detectCompression, type Compression } from "./compression.ts";
import { digestHex, verified, verifyBytes, VerifyStream } from "./digest.ts";
import { NotFoundError, OciError, UnsupportedError } from "./errors.ts";
import { isManifest, MT } from "./media-types.ts";
import type { Plan, Store } from "./store.ts";
import { REF_NAME, type Descriptor, type ImageIndex } from "./types.ts";
import { readTar, safeEntryPath, TarError, TarWriter, type TarEntry } from "../tar/stream.ts";
import { removeDeadPartials, removeOnInterrupt } from "../runtime/interrupt.ts";
import { pipeReleasing } from "../runtime/memory.ts";
import { notAnOciArchive } from "./archive-kind.ts";

const SMALL = 4 << 20; // manifests and configs are kept in memory up to this size
const LOOSE_ENTRY = 256 << 10; // compressed archives in another order: small blobs buffered until the graph is known…
const LOOSE_TOTAL = 16 << 20; // …up to this much in total

/** Where a blob lives in an OCI layout (archive entry or directory path): blobs/<alg>/<hex>. */
export function blobName(digest: string): string {
  return `blobs/${digest.slice(0, digest.indexOf(":"))}/${digestHex(digest)}`;
}

// ------------------------------------------------------------------ writer

/** Small files written right after index.json: given, or computed from index.json's bytes and the whole plan. */
export type ExtraFiles = { name: string; bytes: Uint8Array }[] | ((ctx: { index: Uint8Array; plan: Plan }) => Promise<{ name: string; bytes: Uint8Array }[]> | { name: string; bytes: Uint8Array }[]);

export class OciArchiveWriter implements Store {
  readonly name: string;
  readonly id: string;
  private tmp: string;
  private out?: Writable;
  private file?: Writable;
  private tar?: TarWriter;
  private written = new Set<string>();
  /** small blobs (configs) written by prepare(), not yet claimed by the job they belong to */
  private writtenInPrepare = new Set<string>();
  private queue: Promise<unknown> = Promise.resolve();
  private prepared = false;
  private closed = false;

  constructor(
    readonly path: string,
    private opts: {
      gzip?: boolean;
      /** compression of the whole tar (overrides gzip) */
      compression?: Compression;
      /** codec level (gzip 1-9, zstd 1-22) */
      level?: number;
      mtime?: number;
      /** extra small files written right after index.json (e.g. metadata of what the archive holds) */
      extraFiles?: ExtraFiles;
      /** digests the other side already has (incremental export): treated as present, not written */
      skip?: Set<string>;
    } = {},
  ) {
    this.name = `oci-archive:${path}`;
    this.id = `archive-out:${path}`;
    this.tmp = `${path}.partial-${process.pid}`;
  }

  private start(): void {
    if (this.tar) return;
    // what a SIGKILLed run of the same archive left behind (its pid is gone)
    this.leftovers = removeDeadPartials(this.path);
    this.unregister = removeOnInterrupt(`writing archive ${this.path}`, this.tmp);
    this.file = createWriteStream(this.tmp, { highWaterMark: 1 << 20 });
    // a write error (full disk, quota, I/O) must end the run: without listeners it would crash the process, and
    // a compressing stream whose file stopped taking bytes would wait for a drain that never comes
    this.file.on("error", (e) => this.failWrite(e));
    const kind = this.opts.compression ?? (this.opts.gzip ? "gzip" : "none");
    if (kind !== "none") {
      const z = createCompressor(kind, this.opts.level, this.path);
      z.on("error", (e) => this.failWrite(e));
      z.pipe(this.file);
      this.out = z;
    } else this.out = this.file;
    this.tar = new TarWriter(this.out, { mtime: this.opts.mtime ?? 0 });
  }

  private unregister?: () => void;
  /** leftovers of killed runs removed when writing began */
  leftovers: string[] = [];

  /** The first write error, as a clear message; every later write fails with it. */
  private writeError?: OciError;

  private failWrite(e: Error): void {
    if (this.writeError) return;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOSPC" ? "no space left on device" : code === "EDQUOT" ? "disk quota exceeded" : code === "EROFS" ? "read-only file system" : e.message;
    this.writeError = new OciError(`cannot write archive ${this.path}: ${why}`, "WRITE_FAILED", "free space there or write the archive elsewhere; the partial file is removed");
    this.out?.destroy(this.writeError);
    this.file?.destroy();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(() => {
      if (this.writeError) throw this.writeError;
      return fn();
    }).catch((e) => {
      throw this.writeError ?? e;
    });
    this.queue = p.catch(() => {});
    return p;
  }

  /** Write oci-layout, index.json, all manifests and small blobs before any big blob. */
  async prepare(plan: Plan): Promise<void> {
    if (this.prepared) throw new OciError(`archive ${this.path} was already prepared`, "ARCHIVE");
    this.prepared = true;
    return this.serial(async () => {
      this.start();
      const tar = this.tar!;
      const layout = Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" }));
      await tar.addFile("oci-layout", layout.length, layout);
      const index: ImageIndex = { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] };
      for (const r of plan.roots) {
        if (!r.tags.length) index.manifests.push({ mediaType: r.desc.mediaType, digest: r.desc.digest, size: r.desc.size });
        for (const t of r.tags) index.manifests.push({ mediaType: r.desc.mediaType, digest: r.desc.digest, size: r.desc.size, annotations: { [REF_NAME]: t } });
      }
      const ib = Buffer.from(JSON.stringify(index));
      await tar.addFile("index.json", ib.length, ib);
      const extra = this.opts.extraFiles;
      for (const f of typeof extra === "function" ? await extra({ index: ib, plan }) : extra ?? []) await tar.addFile(safeEntryPath(f.name), f.bytes.byteLength, f.bytes);
      await tar.addDirectory("blobs/sha256");
      // parents before children (the plan lists children first), so a reader can follow the graph from index.json
      for (const m of [...plan.manifests].reverse()) {
        if (this.written.has(m.desc.digest) || !m.bytes) continue;
        verifyBytes(`manifest ${m.desc.digest}`, m.bytes, m.desc.digest, m.desc.size);
        await tar.addFile(blobName(m.desc.digest), m.bytes.byteLength, m.bytes);
        this.written.add(m.desc.digest);
      }
      for (const [digest, bytes] of plan.smallBlobs) {
        if (this.written.has(digest)) continue;
        verifyBytes(`blob ${digest}`, bytes, digest);
        await tar.addFile(blobName(digest), bytes.byteLength, bytes);
        this.written.add(digest);
        this.writtenInPrepare.add(digest);
      }
    });
  }

  async resolve(): Promise<Descriptor> {
    throw new UnsupportedError(`${this.name} is being written; it cannot be read in the same run`);
  }
  async fetchManifest(): Promise<Uint8Array> {
    throw new UnsupportedError(`${this.name} is write-only`);
  }
  async fetchBlob(): Promise<Readable> {
    throw new UnsupportedError(`${this.name} is write-only`);
  }
  async exists(desc: Descriptor): Promise<boolean> {
    return this.written.has(desc.digest) || !!this.opts.skip?.has(desc.digest);
  }

  /**
   * A small blob this run wrote with the graph (prepare): true once, for the first job that asks — it was copied, not
   * found present (a new archive reported its configs as "present").
   */
  claimWritten(digest: string): boolean {
    return this.writtenInPrepare.delete(digest);
  }

  /** Set extra files before the first copy (they are written by prepare(); a function sees index.json and the plan). */
  setExtraFiles(files: ExtraFiles): void {
    if (this.prepared) throw new OciError(`archive ${this.path}: extra files must be set before copying`, "ARCHIVE");
    this.opts.extraFiles = files;
  }

  async pushBlob(desc: Descriptor, open: () => Promise<Readable>): Promise<void> {
    if (!this.prepared) throw new OciError(`archive ${this.path}: blobs arrived before the graph (internal error)`, "ARCHIVE");
    return this.serial(async () => {
      if (this.written.has(desc.digest)) return;
      const src = await open();
      // a source that already fails on anything but this digest and size (a registry download) is not hashed a
      // second time: its error ends the entry just the same
      await this.tar!.addFile(blobName(desc.digest), desc.size, verified(src, desc));
      this.written.add(desc.digest);
    });
  }

  async pushManifest(desc: Descriptor, bytes: Uint8Array): Promise<void> {
    if (this.written.has(desc.digest)) return;
    // a manifest not in the plan (should not happen): still store it, but it won't be in index.json
    return this.serial(async () => {
      if (this.written.has(desc.digest)) return;
      await this.tar!.addFile(blobName(desc.digest), bytes.byteLength, bytes);
      this.written.add(desc.digest);
    });
  }

  async tag(): Promise<void> {
    // tags were written into index.json by prepare()
  }

  /** Finish the tar, flush, and rename the temp file to its final name. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    if (!this.tar) return;
    if (this.writeError) throw this.writeError;
    try {
      await this.tar.finish();
      await new Promise<void>((resolve, reject) => {
        if (this.file!.closed) return this.writeError ? reject(this.writeError) : resolve();
        this.file!.once("error", reject);
        this.file!.once("close", resolve);
        this.out!.end();
      });
    } catch (e) {
      throw this.writeError ?? e;
    }
    if (this.writeError) throw this.writeError;
    await rename(this.tmp, this.path);
    this.unregister?.();
  }

  /** Drop the partial file (after a failure). */
  async abort(): Promise<void> {
    this.closed = true;
    this.out?.destroy();
    this.file?.destroy();
    await rm(this.tmp, { force: true });
    this.unregister?.();
  }
}

// ------------------------------------------------------------------ reader

/**
 * A file that does not open as an OCI archive: say what it is (a chart .tgz, a docker-save tar, not a tar) and what
 * to run instead; a damaged OCI archive keeps its tar error, with the file named.
 */
export async function explainOpenError(path: string, e: unknown, files?: string[]): Promise<unknown> {
  const notOci = e instanceof OciError && e.code === "BAD_ARCHIVE" && /is not an OCI archive/.test(e.message);
  if (!(e instanceof TarError) && !notOci) return e;
  const better = await notAnOciArchive(path, files);
  if (better) return better;
  if (e instanceof TarError) return new OciError(`archive ${path}: ${e.message}`, "BAD_ARCHIVE", (e as TarError & { hint?: string }).hint ?? "the file is damaged or incomplete: copy it again from its source");
  return e;
}

function looksLikeManifest(bytes: Uint8Array): boolean {
  if (bytes[0] !== 0x7b) return false;
  try {
    const j = JSON.parse(Buffer.from(bytes).toString("utf8"));
    return j?.schemaVersion === 2 && (Array.isArray(j.manifests) || !!j.config);
  } catch {
    return false;
  }
}

/** Record what a manifest or index refers to: child manifests and configs (not layers). */
function addChildren(graph: Map<string, "manifest" | "config">, bytes: Uint8Array): void {
  let j: { manifests?: Descriptor[]; config?: Descriptor };
  try {
    j = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    return;
  }
  for (const d of j.manifests ?? []) if (d?.digest) graph.set(d.digest, isManifest(d.mediaType) ? "manifest" : graph.get(d.digest) ?? "config");
  if (j.config?.digest && !graph.has(j.config.digest)) graph.set(j.config.digest, "config");
}

interface EntryLoc {
  offset: number;
  size: number;
}

/**
 * Check an entry is a safe, known part of an OCI layout (every reader of archives: push, verify, serve). With
 * `seen`, a second entry of the same name is refused:
 * tar tools disagree on which copy wins (the last, for extraction), so a tampered archive could show one
 * index.json (or oci-layout, export metadata, violet-package.yaml) to a verifier and another to a pusher.
 */
export function checkEntry(e: TarEntry, path: string, seen?: Set<string>): string | undefined {
  const name = safeEntryPath(e.header.name);
  if (e.header.type === "directory") return undefined;
  if (e.header.type !== "file") throw new TarError(`archive ${path}: refusing ${e.header.type} entry "${e.header.name}" (only files and directories are allowed)`, "the archive may be malicious");
  if (seen) {
    if (seen.has(name)) throw new OciError(`archive ${path}: duplicate entry "${name}" (an archive holds each file once; a second copy means it was tampered with)`, "BAD_ARCHIVE", "the archive may be malicious: get it again from its source");
    seen.add(name);
  }
  return name;
}

/**
 * A blob held in memory, checked before it is handed out: a mismatch throws here instead of failing a stream
 * that nobody listens to yet (an unhandled stream error crashed the process).
 */
function verifiedMemory(what: string, mem: Buffer, digest: string, size: number): Readable {
  verifyBytes(what, mem, digest, size);
  const p = new PassThrough();
  p.end(mem);
  return p;
}

export class OciArchiveReader implements Store {
  readonly name: string;
  readonly id: string;
  /** random-access index (plain tar) */
  private entries = new Map<string, EntryLoc>();
  /** in-memory small entries (gzip mode prefix) */
  private small = new Map<string, Buffer>();
  private index!: ImageIndex;
  sequential = false;
  /** compression of the archive file (sequential unless "none") */
  compression: Compression = "none";
  private iterator?: AsyncGenerator<TarEntry>;
  private pending?: TarEntry;
  /** entry names met so far (duplicates are refused) */
  private seen = new Set<string>();
  /** the plain tar read by offset: the archive itself, or its uncompressed copy (spill) */
  private data: string;
  private spillDir?: string;
  private unregister?: () => void;

  private constructor(readonly path: string) {
    this.name = `oci-archive:${path}`;
    this.id = `archive:${path}`;
    this.data = path;
  }

  static async open(path: string): Promise<OciArchiveReader> {
    await stat(path).catch(() => {
      throw new NotFoundError(`archive ${path}`, "check the path");
    });
    const r = new OciArchiveReader(path);
    try {
      r.compression = await detectCompression(path);
      if (r.compression === "none") await r.openRandomAccess();
      // a compressed archive in another order (skopeo: blobs first, index.json and oci-layout last): unpack it
      // once to a temp file and read that by offset — the same memory bound, disk for the uncompressed size
      else if (!(await r.openSequential())) await r.spill();
    } catch (e) {
      await r.close().catch(() => {});
      throw await explainOpenError(path, e);
    }
    return r;
  }

  private async spill(): Promise<void> {
    await this.iterator?.return(undefined as never);
    this.iterator = undefined;
    this.pending = undefined;
    this.sequential = false;
    this.small.clear();
    this.entries.clear();
    this.seen.clear();
    this.spillDir = await mkdtemp(join(tmpdir(), "ka-archive-"));
    this.unregister = removeOnInterrupt(`reading archive ${this.path}`, this.spillDir);
    const out = join(this.spillDir, "archive.tar");
    try {
      await pipeline(createReadStream(this.path, { highWaterMark: 1 << 20 }), this.decompressor(), createWriteStream(out, { highWaterMark: 1 << 20 }));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new OciError(`cannot unpack ${this.path} to a temp file (its entries are not in streaming order): ${code === "ENOSPC" ? "no space left on device" : (e as Error).message}`, "BAD_ARCHIVE", "set TMPDIR to a disk with room for the uncompressed archive");
    }
    this.data = out;
    await this.openRandomAccess();
  }

  /** Plain tar: walk headers (skipping data with positioned reads) to build an offset index. */
  private async openRandomAccess(): Promise<void> {
    const src = createReadStream(this.data, { highWaterMark: 1 << 20 });
    for await (const e of readTar(src)) {
      const name = checkEntry(e, this.path, this.seen);
      if (!name) continue;
      this.entries.set(name, { offset: e.offset, size: e.header.size });
      if (name === "index.json" || name === "oci-layout") this.small.set(name, await e.bytes(SMALL));
    }
    this.loadIndex();
  }

  /**
   * gzip/zstd: read the graph prefix — oci-layout, index.json, other small metadata files, and the manifests and
   * configs that index.json reaches — and stop at the first blob that is not part of it (kept pending for
   * streamBlobs). Layers are never buffered, however small.
   */
  private async openSequential(): Promise<boolean> {
    this.sequential = true;
    this.iterator = this.decompressedEntries();
    const graph = new Map<string, "manifest" | "config">();
    let loose = 0; // bytes of small blobs buffered before the graph named them (archives written in another order)
    for (;;) {
      const n = await this.iterator.next();
      if (n.done) break;
      const e = n.value;
      const name = checkEntry(e, this.path, this.seen);
      if (!name) continue;
      const m = /^blobs\/([a-z0-9]+)\/([a-f0-9]+)$/.exec(name);
      if (m) {
        const kind = graph.get(`${m[1]}:${m[2]}`);
        const looseOk = !kind && e.header.size <= LOOSE_ENTRY && loose + e.header.size <= LOOSE_TOTAL;
        if ((!kind && !looseOk) || e.header.size > SMALL) {
          this.pending = e;
          break;
        }
        const bytes = await e.bytes(SMALL);
        this.small.set(name, bytes);
        if (!kind) loose += bytes.length;
        if (kind === "manifest" || (!kind && looksLikeManifest(bytes))) addChildren(graph, bytes);
        continue;
      }
      if (e.header.size > SMALL) throw new OciError(`${this.path}: metadata entry ${name} is larger than ${SMALL} bytes`, "BAD_ARCHIVE");
      const bytes = await e.bytes(SMALL);
      this.small.set(name, bytes);
      if (name === "index.json") addChildren(graph, bytes);
    }
    // streaming works when the layout's metadata and every manifest came before the first large blob
    if (!this.small.has("oci-layout") || !this.small.has("index.json")) return false;
    for (const [digest, kind] of graph) if (kind === "manifest" && !this.small.has(blobName(digest))) return false;
    this.loadIndex();
    return true;
  }

  private decompressor() {
    return createDecompressor(this.compression as Exclude<Compression, "none">, this.path);
  }

  /** The tar entries of a compressed archive, read from its start (each 1 MiB file read freed once the codec has it). */
  private decompressedEntries(): ReturnType<typeof readTar> {
    const codec = this.decompressor();
    const src = createReadStream(this.path, { highWaterMark: 1 << 20 });
    src.on("error", (e) => codec.destroy(e));
    return readTar(pipeReleasing(src, codec, false));
  }

  private loadIndex(): void {
    if (!this.small.has("oci-layout") && !this.entries.has("oci-layout")) throw new OciError(`${this.path} is not an OCI archive (no oci-layout entry)`, "BAD_ARCHIVE", "create archives with `kubectl mirror copy … oci-archive:FILE` or `skopeo copy … oci-archive:FILE`");
    const ib = this.small.get("index.json");
    if (!ib) throw new OciError(`${this.path} is not an OCI archive (no index.json${this.sequential ? " before the first large blob" : ""})`, "BAD_ARCHIVE");
    this.index = JSON.parse(ib.toString("utf8")) as ImageIndex;
  }

  /** A small non-blob file of the archive (e.g. a metadata file written with extraFiles); undefined if absent. */
  async readFile(name: string, limit = SMALL): Promise<Buffer | undefined> {
    if (!this.small.has(name) && !this.entries.has(name)) return undefined;
    return this.readEntry(name, limit, `${name} in ${this.name} is larger than ${limit} bytes`);
  }

  /** An entry's bytes, from memory or by a positioned read (small entries only). */
  private async readEntry(name: string, limit: number, tooBig: string): Promise<Buffer> {
    const mem = this.small.get(name);
    if (mem) return mem;
    const loc = this.entries.get(name)!;
    if (loc.size > limit) throw new OciError(tooBig, "BAD_ARCHIVE");
    const fh = await open(this.data, "r");
    try {
      const b = Buffer.alloc(loc.size);
      await fh.read(b, 0, loc.size, loc.offset);
      return b;
    } finally {
      await fh.close();
    }
  }

  /** Every blob in the archive with its size in the archive (compressed archives are scanned once more). */
  async blobSizes(): Promise<Map<string, number>> {
    const sizes: [string, number][] = [...[...this.entries].map(([n, l]): [string, number] => [n, l.size]), ...[...this.small].map(([n, b]): [string, number] => [n, b.length])];
    if (this.sequential) {
      const seen = new Set<string>();
      for await (const e of this.decompressedEntries()) {
        const name = checkEntry(e, this.path, seen);
        if (name) sizes.push([name, e.header.size]);
      }
    }
    const out = new Map<string, number>();
    for (const [n, size] of sizes) {
      const m = /^blobs\/([a-z0-9]+)\/([a-f0-9]+)$/.exec(n);
      if (m) out.set(`${m[1]}:${m[2]}`, size);
    }
    return out;
  }

  /** Every blob digest in the archive (for incremental exports). */
  async blobDigests(): Promise<string[]> {
    return [...(await this.blobSizes()).keys()];
  }

  async tags(): Promise<string[]> {
    return this.index.manifests.map((m) => m.annotations?.[REF_NAME]).filter((t): t is string => !!t);
  }

  /** Every root in index.json with its tag (if any). */
  roots(): { desc: Descriptor; tag?: string }[] {
    return this.index.manifests.map((m) => ({ desc: { mediaType: m.mediaType, digest: m.digest, size: m.size, ...(m.platform ? { platform: m.platform } : {}) }, tag: m.annotations?.[REF_NAME] }));
  }

  async resolve(ref: string): Promise<Descriptor> {
    const hit = /^[a-z0-9]+:[a-f0-9]+$/.test(ref)
      ? this.index.manifests.find((m) => m.digest === ref)
      : this.index.manifests.find((m) => m.annotations?.[REF_NAME] === ref) ?? (ref === "latest" && this.index.manifests.length === 1 ? this.index.manifests[0] : undefined);
    if (!hit) {
      if (/^[a-z0-9]+:[a-f0-9]+$/.test(ref) && (this.small.has(blobName(ref)) || this.entries.has(blobName(ref)))) {
        const b = await this.readSmall(ref);
        const j = JSON.parse(b.toString("utf8")) as { mediaType?: string; manifests?: unknown };
        return { mediaType: j.mediaType ?? (j.manifests ? MT.ociIndex : MT.ociManifest), digest: ref, size: b.length };
      }
      const tags = await this.tags();
      throw new NotFoundError(`"${ref}" in ${this.name}`, tags.length ? `tags there: ${tags.slice(0, 10).join(", ")}` : undefined);
    }
    return { mediaType: hit.mediaType, digest: hit.digest, size: hit.size };
  }

  private async readSmall(digest: string): Promise<Buffer> {
    const name = blobName(digest);
    if (!this.small.has(name) && !this.entries.has(name)) throw new NotFoundError(`${digest} in ${this.name}${this.sequential ? " (compressed archives must list manifests before large blobs)" : ""}`);
    return this.readEntry(name, SMALL, `${digest} in ${this.name} is too large to be a manifest`);
  }

  async fetchManifest(desc: Descriptor): Promise<Uint8Array> {
    const b = await this.readSmall(desc.digest);
    verifyBytes(`manifest ${desc.digest} in ${this.name}`, b, desc.digest, desc.size);
    return b;
  }

  async exists(desc: Descriptor): Promise<boolean> {
    return this.small.has(blobName(desc.digest)) || this.entries.has(blobName(desc.digest));
  }

  /** Whether fetchBlob can serve this blob by random access (or from memory). */
  canFetch(desc: Descriptor): boolean {
    return this.small.has(blobName(desc.digest)) || this.entries.has(blobName(desc.digest));
  }

  async fetchBlob(desc: Descriptor): Promise<Readable> {
    const name = blobName(desc.digest);
    const mem = this.small.get(name);
    if (mem) return verifiedMemory(`blob ${desc.digest} in ${this.name}`, mem, desc.digest, desc.size);
    const v = new VerifyStream(`blob ${desc.digest} in ${this.name}`, desc.digest, desc.size);
    const loc = this.entries.get(name);
    if (!loc) throw new NotFoundError(`blob ${desc.digest} in ${this.name}${this.sequential ? " (compressed archive: read in order)" : ""}`);
    if (loc.size === 0) {
      v.end();
      return v;
    }
    const src = createReadStream(this.data, { start: loc.offset, end: loc.offset + loc.size - 1, highWaterMark: 1 << 20 });
    src.on("error", (e) => v.destroy(e));
    return src.pipe(v);
  }

  /** Random-access archives: a blob's bytes from `offset` on (size checked; the receiver checks the digest). */
  async fetchBlobFrom(desc: Descriptor, offset: number): Promise<Readable> {
    const name = blobName(desc.digest);
    const what = `blob ${desc.digest} in ${this.name} from byte ${offset}`;
    const v = new VerifyStream(what, desc.digest, desc.size - offset, false);
    const mem = this.small.get(name);
    if (mem) {
      v.end(mem.subarray(offset));
      return v;
    }
    const loc = this.entries.get(name);
    if (!loc) throw new NotFoundError(`blob ${desc.digest} in ${this.name}${this.sequential ? " (compressed archive: read in order)" : ""}`);
    if (offset >= loc.size) {
      v.end();
      return v;
    }
    const src = createReadStream(this.data, { start: loc.offset + offset, end: loc.offset + loc.size - 1, highWaterMark: 1 << 20 });
    src.on("error", (e) => v.destroy(e));
    return src.pipe(v);
  }

  /**
   * Sequential archives: walk the rest of the stream once; for each blob in `wanted`, call `handle` with a
   * verified stream of it (which it must consume); everything else is skipped without being buffered.
   */
  async streamBlobs(wanted: Set<string>, handle: (desc: Descriptor, stream: Readable) => Promise<void>): Promise<void> {
    if (!this.sequential || !this.iterator) throw new OciError("streamBlobs is only for compressed archives", "INTERNAL");
    const left = new Set([...wanted].filter((d) => !this.small.has(blobName(d))));
    // small blobs already in memory
    for (const d of wanted) {
      const mem = this.small.get(blobName(d));
      if (mem) {
        await handle({ mediaType: "application/octet-stream", digest: d, size: mem.length }, verifiedMemory(`blob ${d} in ${this.name}`, mem, d, mem.length));
      }
    }
    let e = this.pending;
    let checked = !!e; // the pending entry was checked (and recorded) when the prefix was read
    this.pending = undefined;
    // walk to the end even when every wanted blob was found: a duplicate entry further on means tampering
    for (;;) {
      if (!e) {
        const n = await this.iterator.next();
        if (n.done) break;
        e = n.value;
        checked = false;
      }
      const name = checked ? safeEntryPath(e.header.name) : checkEntry(e, this.path, this.seen);
      const m = name ? /^blobs\/([a-z0-9]+)\/([a-f0-9]+)$/.exec(name) : null;
      const digest = m ? `${m[1]}:${m[2]}` : undefined;
      if (digest && left.has(digest)) {
        left.delete(digest);
        const v = new VerifyStream(`blob ${digest} in ${this.name}`, digest, e.header.size);
        const body = e.body();
        const pass = new PassThrough({ highWaterMark: 1 << 20 });
        body.on("error", (err) => v.destroy(err));
        // a digest mismatch must reach the consumer (pipe() does not forward errors; unhandled, it crashed the process)
        v.on("error", (err) => pass.destroy(err));
        body.pipe(v).pipe(pass);
        await handle({ mediaType: "application/octet-stream", digest, size: e.header.size }, pass);
      }
      e = undefined;
    }
    if (left.size) throw new NotFoundError(`blob ${[...left][0]} in ${this.name}`, "the archive is incomplete");
  }

  /**
   * Check every blob of `wanted` the archive holds against its digest (absent ones are skipped: an incremental
   * archive leaves out what the registry has). Compressed archives are read once more from the start, apart from
   * the pass that serves them. Returns how many were checked; throws on the first mismatch.
   */
  async verifyBlobs(wanted: Set<string>): Promise<number> {
    const drain = async (s: Readable) => {
      for await (const _ of s);
    };
    let n = 0;
    if (!this.sequential) {
      for (const d of wanted) {
        if (!this.canFetch({ digest: d } as Descriptor)) continue;
        const size = this.small.get(blobName(d))?.length ?? this.entries.get(blobName(d))!.size;
        await drain(await this.fetchBlob({ mediaType: "application/octet-stream", digest: d, size }));
        n++;
      }
      return n;
    }
    for await (const e of this.decompressedEntries()) {
      const name = e.header.type === "file" ? safeEntryPath(e.header.name) : undefined;
      const m = name ? /^blobs\/([a-z0-9]+)\/([a-f0-9]+)$/.exec(name) : null;
      const digest = m ? `${m[1]}:${m[2]}` : undefined;
      if (!digest || !wanted.has(digest)) continue;
      const v = new VerifyStream(`blob ${digest} in ${this.name}`, digest, e.header.size);
      const body = e.body();
      body.on("error", (err) => v.destroy(err));
      await drain(body.pipe(v));
      n++;
    }
    return n;
  }

  private subjects?: Promise<Map<string, Descriptor[]>>;

  /** Manifests listed in index.json whose subject is desc (referrers travel in archives as untagged roots). */
  async referrers(desc: Descriptor): Promise<Descriptor[]> {
    this.subjects ??= (async () => {
      const bySubject = new Map<string, Descriptor[]>();
      for (const m of this.index.manifests) {
        if (!isManifest(m.mediaType)) continue;
        try {
          const j = JSON.parse(Buffer.from(await this.fetchManifest(m)).toString("utf8")) as { subject?: Descriptor; artifactType?: string; config?: Descriptor };
          if (!j.subject?.digest) continue;
          const list = bySubject.get(j.subject.digest) ?? [];
          if (!list.some((x) => x.digest === m.digest)) list.push({ mediaType: m.mediaType, digest: m.digest, size: m.size, artifactType: j.artifactType ?? j.config?.mediaType });
          bySubject.set(j.subject.digest, list);
        } catch {}
      }
      return bySubject;
    })();
    return (await this.subjects).get(desc.digest) ?? [];
  }

  async pushBlob(): Promise<void> {
    throw new UnsupportedError(`${this.name} is read-only; write archives with a copy to oci-archive:FILE`);
  }
  async pushManifest(): Promise<void> {
    throw new UnsupportedError(`${this.name} is read-only`);
  }
  async tag(): Promise<void> {
    throw new UnsupportedError(`${this.name} is read-only`);
  }
  async close(): Promise<void> {
    await this.iterator?.return(undefined as never);
    if (this.spillDir) {
      await rm(this.spillDir, { recursive: true, force: true });
      this.spillDir = undefined;
      this.unregister?.();
    }
  }
}
