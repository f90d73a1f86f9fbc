// Bounded memory for long transfers. Every read from a socket or file hands over a freshly allocated buffer; a
// buffer passed on is garbage, but it is freed only when the JS heap is collected, and the runtime's own
// heuristics (Bun's JSC) let hundreds of MiB of such buffers pile up before they collect: copying 380 MB peaked at
// 170–210 MiB RSS. Counting the bytes moved and asking for a collection every RELEASE_EVERY bytes holds it near
// 120 MiB for a few ms of CPU per collection. Where the runtime offers no collection call (Deno; Node without
// --expose-gc) this is a no-op. Cheaper still, where the last consumer of a chunk knows nobody else holds it (a
// registry download sent on by an upload or written into an archive), it frees the chunk itself (releaseChunk):
// those bytes then never count towards a collection (forced collections were 21 % of a copy's JS samples).
import type { Readable, Writable } from "node:stream";
import { collectGarbage } from "./adapter.ts";

const RELEASE_EVERY = 32 << 20;

let moved = 0;

/** Count n bytes moved through this process; collect garbage now and then (see above). */
export function bytesMoved(n: number): void {
  if (!collectGarbage) return;
  moved += n;
  if (moved < RELEASE_EVERY) return;
  moved = 0;
  collectGarbage();
}

/** Streams whose chunks nobody else holds once read (see markOwnedChunks). */
const owned = new WeakSet<object>();

/**
 * Mark a stream whose chunks are its reader's alone once read: each is a buffer of its own (not a view into a
 * shared pool), referenced by no other stream, file write or cache. Its last consumer may release each chunk
 * (releaseChunk) once it has handed the bytes on.
 */
export function markOwnedChunks<T extends object>(stream: T): T {
  owned.add(stream);
  return stream;
}

export function hasOwnedChunks(stream: object): boolean {
  return owned.has(stream);
}

/** Chunks smaller than this are left to the collector (small buffers may share a pool). */
const RELEASE_MIN = 64 << 10;

/**
 * Free a chunk's memory now instead of at the next collection: its ArrayBuffer is detached (ArrayBuffer.prototype
 * .transfer(0), ES2024: the runtime frees the old contents at once), and its bytes no longer count towards the
 * next collection. Only for a chunk no one reads again, that owns its whole ArrayBuffer. Each HTTP body chunk is
 * a fresh 512 KiB buffer under Bun: freed at once, the allocator hands the same memory to the next chunk, still
 * mapped, instead of the fresh pages that each cost a page fault per 4 KiB (and a forced collection per 32 MiB
 * to keep RSS down). `counted`: the chunk's bytes went through bytesMoved (false for buffers it never saw).
 */
export function releaseChunk(chunk: Uint8Array, counted = true): void {
  const ab = chunk.buffer as ArrayBuffer & { transfer?: (n: number) => ArrayBuffer; detached?: boolean };
  if (chunk.byteLength < RELEASE_MIN || chunk.byteOffset !== 0 || ab.byteLength !== chunk.byteLength || typeof ab.transfer !== "function" || ab.detached) return;
  if (typeof SharedArrayBuffer !== "undefined" && (ab as unknown) instanceof SharedArrayBuffer) return;
  const n = chunk.byteLength;
  try {
    ab.transfer(0);
    if (counted) moved = Math.max(0, moved - n);
  } catch {
    // a buffer the runtime has pinned cannot be detached: the collector frees it
  }
}

/**
 * src.pipe(dst) for a source whose chunks are the pipe's alone: each chunk is freed (releaseChunk) once `dst` has
 * taken it (its write callback: a socket or file has the bytes, a codec has consumed them). Errors are the
 * caller's to wire, as with pipe(). `counted`: as for releaseChunk.
 */
export function pipeReleasing<W extends Writable>(src: Readable, dst: W, counted = true): W {
  const onData = (chunk: Buffer) => {
    if (dst.destroyed) return;
    if (!dst.write(chunk, (err) => err || releaseChunk(chunk, counted))) {
      src.pause();
      dst.once("drain", () => src.resume());
    }
  };
  src.on("data", onData);
  src.once("end", () => dst.end());
  // as pipe() does when its destination goes: stop reading (a flowing source with no listener would read on)
  dst.once("close", () => {
    src.off("data", onData);
    src.pause();
  });
  return dst;
}

/**
 * Collect now: at the start of a transfer, what planning left behind (a chart's parsed values and rendered
 * manifests: ~40 MiB for kube-prometheus-stack) is garbage, and would otherwise stay resident under the transfer's
 * own buffers.
 */
export function releaseMemory(): void {
  if (!collectGarbage) return;
  moved = 0;
  collectGarbage();
}
