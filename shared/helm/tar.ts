// Chart archives as streams: tar (+ gzip on node:zlib) writing and reading for chart packaging. The tar format
// itself lives in shared/tar/stream.ts; this module adapts it to the visitor/entry shapes chart code uses.
// Nothing holds a whole archive or a whole file in memory.
import { createReadStream, createWriteStream } from "node:fs";
import { rename, unlink } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import { readTar as readTarEntries, TarError, tarStream, type StreamEntry } from "../tar/stream.ts";

export { TarError, tarStream };
export type TarEntry = StreamEntry;

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

export interface TarHeader {
  name: string;
  size: number;
  mode: number;
  mtime: number;
  type: "file" | "dir" | "symlink" | "link" | "other";
  linkname: string;
}

/**
 * Visit every entry of an (uncompressed) tar stream. The visitor gets the header and the entry's data
 * stream; data it does not consume is skipped. Return false from the visitor to stop early.
 */
export async function readTar(
  src: AsyncIterable<Uint8Array>,
  visit: (h: TarHeader, data: AsyncIterable<Uint8Array>) => Promise<boolean | void> | boolean | void,
): Promise<void> {
  for await (const e of readTarEntries(src)) {
    const h = e.header;
    const header: TarHeader = { name: h.name, size: h.size, mode: h.mode, mtime: h.mtime, type: h.type === "directory" ? "dir" : h.type, linkname: h.linkname ?? "" };
    if ((await visit(header, e.body())) === false) return;
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
  return Buffer.concat(parts, n);
}
