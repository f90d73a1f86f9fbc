// Digests: parse/validate, hash bytes, and a verifying pass-through stream (size + digest checked at the end).
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { DigestMismatchError, OciError, SizeMismatchError } from "./errors.ts";
import { bytesMoved } from "../runtime/memory.ts";

const algorithms: Record<string, number> = { sha256: 64, sha512: 128 };

export function validateDigest(d: string): string {
  const m = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/.exec(d);
  const len = m && algorithms[m[1]!];
  if (!m || !len || m[2]!.length !== len || !/^[a-f0-9]+$/.test(m[2]!)) throw new OciError(`invalid digest "${d}"`, "INVALID_DIGEST");
  return d;
}

export function digestAlgorithm(d: string): string {
  return d.slice(0, d.indexOf(":"));
}

export function digestHex(d: string): string {
  return d.slice(d.indexOf(":") + 1);
}

export function sha256(bytes: Uint8Array | string): string {
  return "sha256:" + createHash("sha256").update(bytes).digest("hex");
}

export function digestOf(bytes: Uint8Array, algorithm = "sha256"): string {
  return `${algorithm}:` + createHash(algorithm).update(bytes).digest("hex");
}

/** Check bytes against an expected digest and size; throws typed errors. */
export function verifyBytes(what: string, bytes: Uint8Array, digest: string, size?: number): void {
  if (size !== undefined && size >= 0 && bytes.byteLength !== size) throw new SizeMismatchError(what, size, bytes.byteLength);
  const actual = digestOf(bytes, digestAlgorithm(digest));
  if (actual !== digest) throw new DigestMismatchError(what, digest, actual);
}

/** A pass-through stream that hashes and counts what flows through it: `digest()` and `size` at the end. */
export class DigestStream extends Transform {
  protected hash: Hash;
  public size = 0;
  /**
   * Called with each chunk's length as it passes (progress counting without one more stream layer: every layer
   * is a hop per chunk and, while it buffers, more live memory).
   */
  onBytes?: (n: number) => void;
  constructor(readonly algorithm = "sha256", opts?: { highWaterMark?: number }) {
    super(opts?.highWaterMark ? { readableHighWaterMark: opts.highWaterMark } : undefined);
    this.hash = createHash(algorithm);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.size += chunk.length;
    this.hash.update(chunk);
    this.onBytes?.(chunk.length);
    bytesMoved(chunk.length);
    cb(null, chunk);
  }
  /** "<algorithm>:<hex>" (once, after the stream ended) */
  digest(): string {
    return `${this.algorithm}:${this.hash.digest("hex")}`;
  }
}

/**
 * A DigestStream that fails at the end (or as soon as the size is exceeded) when content does not match the
 * expected digest and size.
 */
export class VerifyStream extends DigestStream {
  constructor(
    private what: string,
    private expected: string,
    private expectedSize: number,
    /** false: count the size only, leave the digest to the receiver (a registry checking ?digest= on upload) */
    private hashing = true,
    opts?: { highWaterMark?: number },
  ) {
    super(digestAlgorithm(expected), opts);
  }
  /**
   * Whether this stream fails unless its content is exactly `digest` and `size` (it hashes): a consumer that
   * would check the same need not hash every byte a second time.
   */
  checks(digest: string, size: number): boolean {
    return this.hashing && this.expected === digest && this.expectedSize === size;
  }
  /** bytes seen so far */
  get received(): number {
    return this.size;
  }
  override _transform(chunk: Buffer, enc: BufferEncoding, cb: TransformCallback): void {
    if (this.expectedSize >= 0 && this.size + chunk.length > this.expectedSize) return cb(new SizeMismatchError(this.what, this.expectedSize, this.size + chunk.length));
    if (!this.hashing) {
      this.size += chunk.length;
      this.onBytes?.(chunk.length);
      bytesMoved(chunk.length);
      return cb(null, chunk);
    }
    super._transform(chunk, enc, cb);
  }
  override _flush(cb: TransformCallback): void {
    if (this.expectedSize >= 0 && this.size !== this.expectedSize) return cb(new SizeMismatchError(this.what, this.expectedSize, this.size));
    if (!this.hashing) return cb();
    const actual = this.digest();
    if (actual !== this.expected) return cb(new DigestMismatchError(this.what, this.expected, actual));
    cb();
  }
}

/**
 * `src` checked against `desc`'s digest and size: `src` itself where it already checks exactly these (a registry
 * download's VerifyStream: no second hash of every byte), else `src` through a VerifyStream.
 */
export function verified(src: Readable, desc: { digest: string; size: number }, what = `blob ${desc.digest}`): Readable {
  if (src instanceof VerifyStream && src.checks(desc.digest, desc.size)) return src;
  const v = new VerifyStream(what, desc.digest, desc.size);
  src.on("error", (e) => v.destroy(e));
  return src.pipe(v);
}

/** Digest and size of a file, streamed (constant memory). */
export async function fileDigest(file: string, algorithm = "sha256"): Promise<{ digest: string; size: number }> {
  const h = createHash(algorithm);
  let size = 0;
  for await (const c of createReadStream(file, { highWaterMark: 1 << 20 })) {
    h.update(c as Buffer);
    size += (c as Buffer).length;
  }
  return { digest: `${algorithm}:${h.digest("hex")}`, size };
}
