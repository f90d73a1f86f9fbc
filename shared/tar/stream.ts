// Streaming tar (ustar + PAX) writer and reader. Constant memory: entry bodies are streamed, never buffered.
// The reader refuses hostile input where a caller extracts (see safeEntryPath): absolute paths, "..",
// links (unless allowed) and oversized PAX headers. This is the only tar code that runs: nanotar (a dev
// dependency) buffers whole archives and is used only by tests, as a reader independent of this one.
import { Readable, type Writable } from "node:stream";
import { hasOwnedChunks, releaseChunk } from "../runtime/memory.ts";

export class TarError extends Error {
  override name = "TarError";
  code = "TAR";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

const BLOCK = 512;
const MAX_PAX = 1 << 20; // 1 MiB of extended headers is already absurd
const MAX_USTAR_SIZE = 0o77777777777; // 8 GiB - 1

export type EntryType = "file" | "directory" | "symlink" | "link" | "other";

export interface TarHeader {
  name: string;
  size: number;
  mode: number;
  mtime: number; // seconds
  type: EntryType;
  linkname?: string;
}

// ---------------- writer ----------------

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

function headerBlock(h: { name: string; prefix?: string; size: number; mode: number; mtime: number; typeflag: string; linkname?: string }): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(h.name, 0, 100, "utf8");
  b.write(octal(h.mode & 0o7777, 8), 100, "ascii");
  b.write(octal(0, 8), 108, "ascii");
  b.write(octal(0, 8), 116, "ascii");
  b.write(octal(Math.min(h.size, MAX_USTAR_SIZE), 12), 124, "ascii");
  b.write(octal(Math.floor(h.mtime), 12), 136, "ascii");
  b.write("        ", 148, "ascii");
  b.write(h.typeflag, 156, "ascii");
  if (h.linkname) b.write(h.linkname, 157, 100, "utf8");
  b.write("ustar\0", 257, "ascii");
  b.write("00", 263, "ascii");
  if (h.prefix) b.write(h.prefix, 345, 155, "utf8");
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(octal(sum, 7) + " ", 148, "ascii");
  return b;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function padding(size: number): Buffer {
  const r = size % BLOCK;
  return r === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - r);
}

/**
 * The header block(s) of one entry: a PAX extended header first when the name, size or link target does not
 * fit ustar (names up to 255 bytes use the ustar prefix field instead), then the ustar header.
 */
export function encodeHeader(h: { name: string; size: number; typeflag: string; mode: number; mtime: number; linkname?: string }): Buffer {
  const { name, size, typeflag, mode, mtime, linkname } = h;
  const pax: string[] = [];
  let ustarName = name;
  let prefix: string | undefined;
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf("/", 155);
    if (cut > 0 && Buffer.byteLength(name.slice(cut + 1)) <= 100 && Buffer.byteLength(name.slice(0, cut)) <= 155) {
      prefix = name.slice(0, cut);
      ustarName = name.slice(cut + 1);
    } else {
      pax.push(paxRecord("path", name));
      ustarName = name.slice(0, 100);
    }
  }
  if (size > MAX_USTAR_SIZE) pax.push(paxRecord("size", String(size)));
  if (linkname && Buffer.byteLength(linkname) > 100) pax.push(paxRecord("linkpath", linkname));
  const blocks: Buffer[] = [];
  if (pax.length) {
    const body = Buffer.from(pax.join(""));
    blocks.push(headerBlock({ name: "PaxHeader", size: body.length, mode: 0o644, mtime, typeflag: "x" }), body, padding(body.length));
  }
  blocks.push(headerBlock({ name: ustarName, prefix, size, mode, mtime, typeflag, linkname }));
  return Buffer.concat(blocks);
}

export interface StreamEntry {
  /** path inside the archive, forward slashes, no leading "/" */
  name: string;
  size: number;
  /** permission bits, default 0o644 */
  mode?: number;
  /** seconds since the epoch, default now */
  mtime?: number;
  /** the content: bytes, or a function returning a stream of exactly `size` bytes */
  data: Uint8Array | (() => AsyncIterable<Uint8Array>);
}

/** A tar stream (pull-based) of regular files, in order, with the end marker. Sizes are checked. */
export async function* tarStream(entries: Iterable<StreamEntry> | AsyncIterable<StreamEntry>): AsyncGenerator<Uint8Array> {
  const now = Math.floor(Date.now() / 1000);
  for await (const e of entries) {
    if (!e.name || e.name.startsWith("/") || e.name.split("/").includes("..")) throw new TarError(`refusing to archive unsafe path "${e.name}"`);
    yield encodeHeader({ name: e.name, size: e.size, typeflag: "0", mode: e.mode ?? 0o644, mtime: e.mtime ?? now });
    let written = 0;
    if (e.data instanceof Uint8Array) {
      written = e.data.length;
      if (written !== e.size) throw new TarError(`size mismatch for ${e.name}: declared ${e.size}, got ${written}`);
      yield e.data;
    } else {
      for await (const chunk of e.data()) {
        written += chunk.length;
        if (written > e.size) throw new TarError(`${e.name} grew while it was being archived`);
        yield chunk;
      }
      if (written !== e.size) throw new TarError(`${e.name} shrank while it was being archived (${written} of ${e.size} bytes)`);
    }
    const p = padding(e.size);
    if (p.length) yield p;
  }
  yield Buffer.alloc(BLOCK * 2);
}

/** Writes a tar stream entry by entry into a Writable, respecting backpressure. */
export class TarWriter {
  private closed = false;
  constructor(private out: Writable, private defaults: { mtime?: number } = {}) {}

  /** `release`: the chunk is ours alone; free it once the output has taken it (write callback) */
  private write(buf: Buffer, release?: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      const onErr = (e: Error) => reject(e);
      this.out.once("error", onErr);
      const ok = this.out.write(buf, (e) => {
        this.out.off("error", onErr);
        if (e) reject(e);
        else if (release) releaseChunk(release);
      });
      if (ok) {
        this.out.off("error", onErr);
        resolve();
      } else this.out.once("drain", () => {
        this.out.off("error", onErr);
        resolve();
      });
    });
  }

  private async header(name: string, size: number, typeflag: string, mode: number, mtime: number, linkname?: string): Promise<void> {
    await this.write(encodeHeader({ name, size, typeflag, mode, mtime, linkname }));
  }

  /** Add a regular file; `content` is a Buffer or a stream that yields exactly `size` bytes. */
  async addFile(name: string, size: number, content: Uint8Array | Readable | AsyncIterable<Uint8Array>, opts: { mode?: number; mtime?: number } = {}): Promise<void> {
    if (this.closed) throw new TarError("tar writer already finished");
    await this.header(name, size, "0", opts.mode ?? 0o644, opts.mtime ?? this.defaults.mtime ?? 0);
    let written = 0;
    if (content instanceof Uint8Array) {
      written = content.byteLength;
      if (written) await this.write(Buffer.from(content.buffer, content.byteOffset, content.byteLength));
    } else {
      // a stream whose chunks nobody else holds (a registry download): each is freed once written or compressed
      const owned = hasOwnedChunks(content);
      for await (const chunk of content as AsyncIterable<Uint8Array>) {
        written += chunk.byteLength;
        if (written > size) throw new TarError(`tar entry ${name}: content longer than the declared ${size} bytes`);
        await this.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), owned ? chunk : undefined);
      }
    }
    if (written !== size) throw new TarError(`tar entry ${name}: got ${written} bytes, declared ${size}`);
    const pad = padding(size);
    if (pad.length) await this.write(pad);
  }

  async addDirectory(name: string, opts: { mode?: number; mtime?: number } = {}): Promise<void> {
    await this.header(name.endsWith("/") ? name : `${name}/`, 0, "5", opts.mode ?? 0o755, opts.mtime ?? this.defaults.mtime ?? 0);
  }

  /** Add a symbolic link (the link itself, like tar without -h: its target is never read). */
  async addSymlink(name: string, target: string, opts: { mode?: number; mtime?: number } = {}): Promise<void> {
    if (this.closed) throw new TarError("tar writer already finished");
    await this.header(name, 0, "2", opts.mode ?? 0o777, opts.mtime ?? this.defaults.mtime ?? 0, target);
  }

  /** Two zero blocks; does not end the output stream. */
  async finish(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.write(Buffer.alloc(BLOCK * 2));
  }
}

// ---------------- reader ----------------

/** Pull-based byte reader over an async iterable of chunks. */
class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private done = false;
  private it: AsyncIterator<Uint8Array>;
  public position = 0;
  constructor(src: AsyncIterable<Uint8Array>) {
    this.it = src[Symbol.asyncIterator]();
  }
  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    if (b.length) {
      this.chunks.push(b);
      this.buffered += b.length;
    }
    return true;
  }
  /** exactly n bytes, or fewer at end of input */
  async read(n: number): Promise<Buffer> {
    while (this.buffered < n && (await this.fill()));
    return this.take(Math.min(n, this.buffered));
  }
  private take(n: number): Buffer {
    const out: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const c = this.chunks[0]!;
      if (c.length <= left) {
        out.push(c);
        this.chunks.shift();
        left -= c.length;
      } else {
        out.push(c.subarray(0, left));
        this.chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    this.buffered -= n;
    this.position += n;
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }
  /** up to max bytes that are available now (fills once if empty) */
  async some(max: number): Promise<Buffer> {
    if (this.buffered === 0) await this.fill();
    return this.take(Math.min(max, this.buffered, this.chunks[0]?.length ?? 0));
  }
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const b = await this.some(left);
      if (!b.length) break;
      left -= b.length;
    }
    return n - left;
  }
  async close(): Promise<void> {
    await this.it.return?.();
  }
}

function parseOctal(b: Buffer, off: number, len: number): number {
  const field = b.subarray(off, off + len);
  if (field[0]! & 0x80) {
    // base-256 (GNU) for big numbers
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const s = field.toString("ascii").replace(/\0.*$/s, "").trim();
  if (!s) return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarError(`bad tar header: numeric field "${s}" is not octal`);
  return parseInt(s, 8);
}

function cstr(b: Buffer, off: number, len: number): string {
  const f = b.subarray(off, off + len);
  const z = f.indexOf(0);
  return f.subarray(0, z < 0 ? len : z).toString("utf8");
}

function checksumOk(b: Buffer): boolean {
  let stored: number;
  try {
    stored = parseOctal(b, 148, 8);
  } catch {
    return false;
  }
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : b[i]!;
  return stored === sum;
}

function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    const sp = body.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(body.subarray(i, sp).toString("ascii"), 10);
    if (!Number.isFinite(len) || len <= 0 || i + len > body.length) throw new TarError("bad PAX extended header record");
    const rec = body.subarray(sp + 1, i + len - 1).toString("utf8");
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

export interface TarEntry {
  header: TarHeader;
  /** byte offset of the entry's data in the (uncompressed) tar stream */
  offset: number;
  /** the entry's data; must be consumed (or left: the reader skips what is not read) before the next entry */
  body(): Readable;
  /** read the whole body (small entries only) */
  bytes(limit?: number): Promise<Buffer>;
}

/**
 * Iterate over the entries of a tar stream. Each entry's body is a stream of exactly header.size bytes;
 * unread bodies are skipped without buffering. Truncated archives and bad checksums throw TarError.
 */
export async function* readTar(src: AsyncIterable<Uint8Array>): AsyncGenerator<TarEntry> {
  const r = new ByteReader(src);
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  try {
    for (;;) {
      const block = await r.read(BLOCK);
      if (block.length === 0) return; // tolerate a missing end marker
      if (block.length < BLOCK) throw new TarError("truncated tar archive (partial header)");
      if (block.every((x) => x === 0)) return;
      if (!checksumOk(block)) throw new TarError("bad tar header checksum: not a tar archive, or corrupt");
      const typeflag = String.fromCharCode(block[156] || 0x30);
      let size = parseOctal(block, 124, 12);
      const magic = block.subarray(257, 263).toString("ascii");
      let name = cstr(block, 0, 100);
      const prefix = magic.startsWith("ustar") ? cstr(block, 345, 155) : "";
      if (prefix) name = `${prefix}/${name}`;
      if (typeflag === "x" || typeflag === "g" || typeflag === "L" || typeflag === "K") {
        if (size > MAX_PAX) throw new TarError(`tar extended header of ${size} bytes is too large (limit ${MAX_PAX})`);
        const body = await r.read(size);
        if (body.length < size) throw new TarError("truncated tar archive (extended header)");
        await r.skip(padding(size).length);
        if (typeflag === "x") pax = { ...pax, ...parsePax(body) };
        else if (typeflag === "L") longName = cstr(body, 0, body.length);
        else if (typeflag === "K") longLink = cstr(body, 0, body.length);
        continue; // "g" (global) ignored
      }
      if (pax.path) name = pax.path;
      if (longName) name = longName;
      if (pax.size) size = Number(pax.size);
      if (!Number.isSafeInteger(size) || size < 0) throw new TarError(`tar entry ${name}: bad size`);
      const type: EntryType = typeflag === "0" || typeflag === "\0" || typeflag === "7" ? "file" : typeflag === "5" ? "directory" : typeflag === "2" ? "symlink" : typeflag === "1" ? "link" : "other";
      const header: TarHeader = { name, size, mode: parseOctal(block, 100, 8), mtime: parseOctal(block, 136, 12), type, linkname: pax.linkpath ?? longLink ?? (cstr(block, 157, 100) || undefined) };
      pax = {};
      longName = longLink = undefined;
      const dataSize = type === "file" || type === "other" ? size : 0;
      let consumed = 0;
      const offset = r.position;
      let stream: Readable | undefined;
      const entry: TarEntry = {
        header,
        offset,
        body() {
          if (stream) return stream;
          stream = new Readable({
            highWaterMark: 1 << 20,
            async read() {
              try {
                if (consumed >= dataSize) return void this.push(null);
                const b = await r.some(Math.min(dataSize - consumed, 1 << 20));
                if (!b.length) return void this.destroy(new TarError(`truncated tar archive (entry ${name}: ${consumed} of ${dataSize} bytes)`));
                consumed += b.length;
                this.push(b);
              } catch (e) {
                this.destroy(e as Error);
              }
            },
          });
          return stream;
        },
        async bytes(limit = 64 << 20) {
          if (dataSize > limit) throw new TarError(`tar entry ${name} is ${dataSize} bytes, over the ${limit} byte limit for in-memory reads`);
          const b = await r.read(dataSize - consumed);
          consumed += b.length;
          if (consumed < dataSize) throw new TarError(`truncated tar archive (entry ${name})`);
          return b;
        },
      };
      yield entry;
      if (stream && !stream.destroyed && consumed < dataSize) {
        // the consumer stopped reading: drop the rest
        stream.destroy();
      }
      if (consumed < dataSize) {
        const skipped = await r.skip(dataSize - consumed);
        if (skipped < dataSize - consumed) throw new TarError(`truncated tar archive (entry ${name})`);
        consumed = dataSize;
      }
      const pad = padding(dataSize).length;
      if (pad) await r.skip(pad);
    }
  } finally {
    await r.close();
  }
}

/**
 * A safe relative path for extracting `name` under a directory: refuses absolute paths, drive letters,
 * ".." components and NUL bytes. Returns the normalised path (no leading "./").
 */
export function safeEntryPath(name: string): string {
  if (name.includes("\0")) throw new TarError(`refusing tar entry with a NUL byte in its name`);
  const n = name.replace(/\\/g, "/");
  if (n.startsWith("/") || /^[A-Za-z]:/.test(n)) throw new TarError(`refusing tar entry with an absolute path: ${name}`, "the archive may be malicious");
  const parts = n.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === "..")) throw new TarError(`refusing tar entry that escapes the target directory: ${name}`, "the archive may be malicious");
  return parts.join("/");
}
