// A small streaming ustar writer and reader (gzip on node:zlib) for chart archives.
// Entries are streamed one by one: nothing holds a whole archive or a whole file in memory.
import { createReadStream, createWriteStream } from "node:fs";
import { rename, unlink } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";

export class TarError extends Error {
  override name = "TarError";
}

export interface TarEntry {
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

const BLOCK = 512;
const enc = new TextEncoder();
const dec = new TextDecoder();

function writeString(buf: Uint8Array, off: number, len: number, s: string): void {
  const b = enc.encode(s);
  if (b.length > len) throw new TarError(`tar header field too long: ${s}`);
  buf.set(b, off);
}

function writeOctal(buf: Uint8Array, off: number, len: number, n: number): void {
  const s = Math.floor(n).toString(8).padStart(len - 1, "0");
  if (s.length > len - 1) throw new TarError(`tar header number too large: ${n}`);
  writeString(buf, off, len, s + "\0");
}

function header(name: string, size: number, mode: number, mtime: number, type: string, prefix = ""): Uint8Array {
  const h = new Uint8Array(BLOCK);
  writeString(h, 0, 100, name);
  writeOctal(h, 100, 8, mode);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, mtime);
  h.fill(0x20, 148, 156); // checksum placeholder: spaces
  writeString(h, 156, 1, type);
  writeString(h, 257, 6, "ustar\0");
  writeString(h, 263, 2, "00");
  writeString(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  writeString(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

/** Split a long path into ustar prefix (≤155) + name (≤100); undefined when impossible. */
function splitName(path: string): { prefix: string; name: string } | undefined {
  const bytes = enc.encode(path).length;
  if (bytes <= 100) return { prefix: "", name: path };
  for (let i = path.indexOf("/"); i >= 0; i = path.indexOf("/", i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (enc.encode(prefix).length <= 155 && enc.encode(name).length <= 100 && name.length > 0) return { prefix, name };
  }
  return undefined;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = enc.encode(body).length;
  let total = len + String(len).length;
  if (String(total).length !== String(len).length) total = len + String(total).length;
  return `${total}${body}`;
}

function padding(size: number): Uint8Array | undefined {
  const rem = size % BLOCK;
  return rem ? new Uint8Array(BLOCK - rem) : undefined;
}

/** The tar stream (uncompressed) of the given entries, in order. Regular files only; no directory entries. */
export async function* tarStream(entries: Iterable<TarEntry> | AsyncIterable<TarEntry>): AsyncGenerator<Uint8Array> {
  const now = Math.floor(Date.now() / 1000);
  for await (const e of entries) {
    if (!e.name || e.name.startsWith("/") || e.name.split("/").includes("..")) throw new TarError(`refusing to archive unsafe path "${e.name}"`);
    const mode = e.mode ?? 0o644;
    const mtime = e.mtime ?? now;
    const split = splitName(e.name);
    const big = e.size > 0o77777777777;
    if (!split || big) {
      let pax = "";
      if (!split) pax += paxRecord("path", e.name);
      if (big) pax += paxRecord("size", String(e.size));
      const paxBytes = enc.encode(pax);
      yield header("././@PaxHeader", paxBytes.length, 0o644, mtime, "x");
      yield paxBytes;
      const p = padding(paxBytes.length);
      if (p) yield p;
    }
    const h = split ? header(split.name, big ? 0 : e.size, mode, mtime, "0", split.prefix) : header("././@LongName", big ? 0 : e.size, mode, mtime, "0");
    yield h;
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
    if (p) yield p;
  }
  yield new Uint8Array(BLOCK * 2);
}

/** gzip(tar(entries)) as a Web ReadableStream. */
export function tarGzipStream(entries: Iterable<TarEntry> | AsyncIterable<TarEntry>): ReadableStream<Uint8Array> {
  const src = Readable.from(tarStream(entries));
  const gz = createGzip({ level: 9 });
  src.on("error", (err) => gz.destroy(err));
  src.pipe(gz);
  return Readable.toWeb(gz) as unknown as ReadableStream<Uint8Array>;
}

/** Stream bytes into `path` through a temp name in the same directory, then rename. */
export async function writeStreamToFile(stream: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>, path: string, mode = 0o644): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    const src = stream instanceof ReadableStream ? Readable.fromWeb(stream as any) : Readable.from(stream);
    await pipeline(src, createWriteStream(tmp, { mode }));
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Reader

export interface TarHeader {
  name: string;
  size: number;
  mode: number;
  mtime: number;
  /** "file" | "dir" | "symlink" | "link" | "other" */
  type: "file" | "dir" | "symlink" | "link" | "other";
  linkname: string;
}

/** Reads exact byte counts from a chunked async source. */
class ByteReader {
  private buf: Uint8Array = new Uint8Array(0);
  private it: AsyncIterator<Uint8Array>;
  private done = false;
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
    const c = r.value instanceof Uint8Array ? r.value : new Uint8Array(r.value as ArrayBuffer);
    if (this.buf.length === 0) this.buf = c;
    else {
      const n = new Uint8Array(this.buf.length + c.length);
      n.set(this.buf);
      n.set(c, this.buf.length);
      this.buf = n;
    }
    return true;
  }
  /** exactly n bytes, or fewer at end of input */
  async read(n: number): Promise<Uint8Array> {
    while (this.buf.length < n && (await this.fill()));
    const out = this.buf.subarray(0, Math.min(n, this.buf.length));
    this.buf = this.buf.subarray(out.length);
    return out;
  }
  /** stream n bytes in chunks */
  async *chunks(n: number): AsyncGenerator<Uint8Array> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill())) throw new TarError("archive is truncated");
      const take = Math.min(left, this.buf.length);
      const out = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      left -= take;
      yield out;
    }
  }
  async skip(n: number): Promise<void> {
    for await (const _ of this.chunks(n));
  }
  async close(): Promise<void> {
    await this.it.return?.();
  }
}

function cstr(b: Uint8Array): string {
  const z = b.indexOf(0);
  return dec.decode(z >= 0 ? b.subarray(0, z) : b);
}

function octal(b: Uint8Array): number {
  if (b[0]! & 0x80) {
    // base-256 (GNU) big number
    let n = 0;
    for (let i = 1; i < b.length; i++) n = n * 256 + b[i]!;
    return n;
  }
  const s = cstr(b).trim();
  return s ? parseInt(s, 8) : 0;
}

function parsePax(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const sp = text.indexOf(" ", i);
    if (sp < 0) break;
    const len = parseInt(text.slice(i, sp), 10);
    if (!(len > 0)) break;
    const rec = text.slice(sp + 1, i + len - 1);
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/**
 * Visit every entry of an (uncompressed) tar stream. The visitor gets the header and the entry's data
 * stream; data it does not consume is skipped. Return false from the visitor to stop early.
 */
export async function readTar(
  src: AsyncIterable<Uint8Array>,
  visit: (h: TarHeader, data: AsyncIterable<Uint8Array>) => Promise<boolean | void> | boolean | void,
): Promise<void> {
  const r = new ByteReader(src);
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  try {
    for (;;) {
      const h = await r.read(BLOCK);
      if (h.length === 0) return;
      if (h.length < BLOCK) throw new TarError("archive is truncated");
      if (h.every((b) => b === 0)) return;
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
      if (sum !== octal(h.subarray(148, 156))) throw new TarError("not a tar archive (bad header checksum)");
      const tf = String.fromCharCode(h[156]!);
      let size = octal(h.subarray(124, 136));
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      if (tf === "x" || tf === "g" || tf === "L" || tf === "K") {
        if (size > 1 << 20) throw new TarError("tar extended header too large");
        const body = await r.read(padded);
        const text = dec.decode(body.subarray(0, size)).replace(/\0+$/, "");
        if (tf === "x") pax = { ...pax, ...parsePax(text) };
        else if (tf === "L") longName = text;
        else if (tf === "K") longLink = text;
        continue;
      }
      const magic = cstr(h.subarray(257, 263));
      const prefix = magic.startsWith("ustar") ? cstr(h.subarray(345, 500)) : "";
      let name = cstr(h.subarray(0, 100));
      if (prefix) name = `${prefix}/${name}`;
      if (longName !== undefined) name = longName;
      if (pax.path !== undefined) name = pax.path;
      if (pax.size !== undefined) size = parseInt(pax.size, 10);
      const linkname = pax.linkpath ?? longLink ?? cstr(h.subarray(157, 257));
      pax = {};
      longName = longLink = undefined;
      const type: TarHeader["type"] = tf === "0" || tf === "\0" || tf === "7" ? "file" : tf === "5" ? "dir" : tf === "2" ? "symlink" : tf === "1" ? "link" : "other";
      const hdr: TarHeader = { name, size, mode: octal(h.subarray(100, 108)), mtime: octal(h.subarray(136, 148)), type, linkname };
      let consumed = 0;
      const total = Math.ceil(size / BLOCK) * BLOCK;
      const data = (async function* () {
        for await (const c of r.chunks(size)) {
          consumed += c.length;
          yield c;
        }
      })();
      const go = await visit(hdr, data);
      // drain what the visitor left, then the padding
      await r.skip(size - consumed);
      await r.skip(total - size);
      if (go === false) return;
    }
  } finally {
    await r.close();
  }
}

/** The uncompressed bytes of a .tgz file as a chunk stream. */
export function gunzipFile(path: string): AsyncIterable<Uint8Array> {
  const gz = createGunzip();
  const file = createReadStream(path);
  file.on("error", (err) => gz.destroy(err));
  file.pipe(gz);
  return gz as AsyncIterable<Uint8Array>;
}

/** Collect a (small) stream into one buffer, refusing more than `limit` bytes. */
export async function collect(src: AsyncIterable<Uint8Array>, limit = 5 << 20, what = "entry"): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of src) {
    n += c.length;
    if (n > limit) throw new TarError(`${what} is larger than ${limit} bytes`);
    parts.push(c);
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
