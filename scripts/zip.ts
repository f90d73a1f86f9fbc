// A minimal streaming .zip writer (store or deflate via node:zlib deflateRaw) for the Windows release archives.
// Entries are streamed: sizes and CRC-32 follow each entry in a data descriptor (general purpose bit 3), so
// nothing is buffered whole. "Version made by" is Unix (3) and the external attributes carry the Unix mode
// (e.g. 0100755), which Go's archive/zip (krew) and Info-ZIP read. No zip64: entries and archive < 4 GiB.
import * as zlib from "node:zlib";
import { Readable, type Writable } from "node:stream";

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** Incremental CRC-32 (IEEE); start with crc = 0. Uses zlib.crc32 where the runtime has it. */
export function crc32(chunk: Uint8Array, crc = 0): number {
  if (nativeCrc32) return nativeCrc32(chunk, crc) >>> 0;
  let c = ~crc;
  for (let i = 0; i < chunk.length; i++) c = CRC_TABLE[(c ^ chunk[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function dosDateTime(epochSeconds: number): { date: number; time: number } {
  const d = new Date(Math.max(epochSeconds, 315532800) * 1000); // DOS dates start in 1980
  return {
    date: ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1),
  };
}

const LIMIT = 0xffffffff;

interface CentralEntry {
  name: Buffer;
  method: number;
  crc: number;
  compressed: number;
  size: number;
  offset: number;
  mode: number;
  date: number;
  time: number;
  dir: boolean;
}

export class ZipError extends Error {
  override name = "ZipError";
}

export class ZipWriter {
  private offset = 0;
  private entries: CentralEntry[] = [];
  private finished = false;
  constructor(private out: Writable, private defaults: { mtime?: number } = {}) {}

  private write(buf: Buffer): Promise<void> {
    this.offset += buf.length;
    return new Promise((resolve, reject) => {
      const ok = this.out.write(buf, (e) => (e ? reject(e) : undefined));
      if (ok) resolve();
      else this.out.once("drain", resolve);
    });
  }

  private localHeader(name: Buffer, method: number, date: number, time: number): Buffer {
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(20, 4); // version needed: 2.0
    h.writeUInt16LE(0x0808, 6); // bit 3: data descriptor; bit 11: UTF-8 names
    h.writeUInt16LE(method, 8);
    h.writeUInt16LE(time, 10);
    h.writeUInt16LE(date, 12);
    // crc, sizes: 0 here, in the data descriptor
    h.writeUInt16LE(name.length, 26);
    h.writeUInt16LE(0, 28);
    return Buffer.concat([h, name]);
  }

  /**
   * Add a file. `content` is bytes or a stream; `deflate` (default true) compresses with deflateRaw.
   * `mode` is the Unix permission (default 0o644; 0o755 for executables).
   */
  async addFile(name: string, content: Uint8Array | Readable | AsyncIterable<Uint8Array>, opts: { mode?: number; mtime?: number; deflate?: boolean; level?: number } = {}): Promise<void> {
    if (this.finished) throw new ZipError("zip writer already finished");
    const nameBuf = Buffer.from(name.replace(/\\/g, "/"), "utf8");
    if (!nameBuf.length || name.startsWith("/") || name.split("/").includes("..")) throw new ZipError(`bad zip entry name: ${name}`);
    const method = opts.deflate === false ? 0 : 8;
    const { date, time } = dosDateTime(opts.mtime ?? this.defaults.mtime ?? 0);
    const offset = this.offset;
    await this.write(this.localHeader(nameBuf, method, date, time));
    let crc = 0;
    let size = 0;
    let compressed = 0;
    const source: AsyncIterable<Uint8Array> = content instanceof Uint8Array ? Readable.from([Buffer.from(content)]) : content;
    if (method === 0) {
      for await (const chunk of source) {
        crc = crc32(chunk, crc);
        size += chunk.length;
        compressed += chunk.length;
        await this.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      }
    } else {
      const deflate = zlib.createDeflateRaw({ level: opts.level ?? 9 });
      const pump = (async () => {
        try {
          for await (const chunk of source) {
            crc = crc32(chunk, crc);
            size += chunk.length;
            if (!deflate.write(chunk)) await new Promise((r) => deflate.once("drain", r));
          }
          deflate.end();
        } catch (e) {
          deflate.destroy(e as Error);
        }
      })();
      for await (const chunk of deflate as AsyncIterable<Buffer>) {
        compressed += chunk.length;
        await this.write(chunk);
      }
      await pump;
    }
    if (size >= LIMIT || compressed >= LIMIT || this.offset >= LIMIT) throw new ZipError(`zip entry ${name} is too large (no zip64 support)`);
    const dd = Buffer.alloc(16);
    dd.writeUInt32LE(0x08074b50, 0);
    dd.writeUInt32LE(crc >>> 0, 4);
    dd.writeUInt32LE(compressed, 8);
    dd.writeUInt32LE(size, 12);
    await this.write(dd);
    this.entries.push({ name: nameBuf, method, crc, compressed, size, offset, mode: opts.mode ?? 0o644, date, time, dir: false });
  }

  async addDirectory(name: string, opts: { mode?: number; mtime?: number } = {}): Promise<void> {
    const n = name.endsWith("/") ? name : `${name}/`;
    const nameBuf = Buffer.from(n, "utf8");
    const { date, time } = dosDateTime(opts.mtime ?? this.defaults.mtime ?? 0);
    const offset = this.offset;
    await this.write(this.localHeader(nameBuf, 0, date, time));
    const dd = Buffer.alloc(16);
    dd.writeUInt32LE(0x08074b50, 0);
    await this.write(dd);
    this.entries.push({ name: nameBuf, method: 0, crc: 0, compressed: 0, size: 0, offset, mode: opts.mode ?? 0o755, date, time, dir: true });
  }

  /** Write the central directory and end record; does not end the output stream. */
  async finish(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const start = this.offset;
    for (const e of this.entries) {
      const h = Buffer.alloc(46);
      h.writeUInt32LE(0x02014b50, 0);
      h.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, spec 2.0
      h.writeUInt16LE(20, 6);
      h.writeUInt16LE(0x0808, 8);
      h.writeUInt16LE(e.method, 10);
      h.writeUInt16LE(e.time, 12);
      h.writeUInt16LE(e.date, 14);
      h.writeUInt32LE(e.crc >>> 0, 16);
      h.writeUInt32LE(e.compressed, 20);
      h.writeUInt32LE(e.size, 24);
      h.writeUInt16LE(e.name.length, 28);
      // extra 30, comment 32, disk 34, internal attrs 36: 0
      const unixMode = (e.dir ? 0o040000 : 0o100000) | (e.mode & 0o7777);
      h.writeUInt32LE(((unixMode << 16) | (e.dir ? 0x10 : 0)) >>> 0, 38);
      h.writeUInt32LE(e.offset, 42);
      await this.write(Buffer.concat([h, e.name]));
    }
    const size = this.offset - start;
    if (this.entries.length > 0xffff || start >= LIMIT) throw new ZipError("zip archive too large (no zip64 support)");
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(this.entries.length, 8);
    end.writeUInt16LE(this.entries.length, 10);
    end.writeUInt32LE(size, 12);
    end.writeUInt32LE(start, 16);
    await this.write(end);
  }
}
