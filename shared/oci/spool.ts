// A blob read once from a stream that cannot be replayed (a compressed archive read in order), made retryable:
// the first open() hands out the live stream while every byte also goes to a temp file; a later open() (an
// upload retry, another target) reads the complete temp file. Memory stays bounded by the stream buffers. A temp
// disk too small for the blob does not fail the push: only a retry is then impossible (and says why).
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { removeOnInterrupt } from "../runtime/interrupt.ts";
import { OciError } from "./errors.ts";

export class Spool {
  private live?: PassThrough;
  private complete?: Promise<void>;
  private constructor(
    private src: Readable,
    private dir: string,
    private what: string,
    private unregister: () => void,
  ) {}

  /** `what` names the blob in messages ("pushing sha256:… from FILE"). */
  static async create(src: Readable, what: string): Promise<Spool> {
    const dir = await mkdtemp(join(tmpdir(), "ka-spool-"));
    return new Spool(src, dir, what, removeOnInterrupt(what, dir));
  }

  private get file(): string {
    return join(this.dir, "blob");
  }

  /** the temp copy could not be written (full temp disk): the live stream still works, a retry cannot */
  private fileError?: Error;

  private start(): PassThrough {
    const live = new PassThrough({ highWaterMark: 1 << 20 });
    const ws = createWriteStream(this.file, { highWaterMark: 1 << 20 });
    ws.on("error", (e) => (this.fileError ??= e));
    // the first of these events ends the wait, and takes the other listeners with it: a once() left behind per
    // event at every chunk piled up (MaxListenersExceededWarning on any layer over ~11 MiB)
    const wait = (s: NodeJS.EventEmitter, events: string[]) =>
      new Promise<void>((r) => {
        const done = () => {
          for (const ev of events) s.off(ev, done);
          r();
        };
        for (const ev of events) s.on(ev, done);
      });
    this.complete = (async () => {
      for await (const chunk of this.src) {
        if (!this.fileError && !ws.write(chunk)) await wait(ws, ["drain", "close", "error"]);
        if (!live.destroyed) {
          if (!live.write(chunk)) await wait(live, ["drain", "close"]);
        } else if (this.fileError) break; // nobody needs the rest
      }
      if (!this.fileError) await new Promise<void>((resolve) => ws.end(() => resolve()));
      if (!live.destroyed) live.end();
    })();
    this.complete.catch((e) => {
      ws.destroy();
      live.destroy(e);
    });
    return live;
  }

  /** The blob: live the first time, then from the temp file (once the source has been read to its end). */
  async open(): Promise<Readable> {
    if (!this.live) return (this.live = this.start());
    // a retry: the live stream is dead to its consumer; let the source finish into the file
    this.live.destroy();
    await this.complete;
    if (this.fileError) {
      const code = (this.fileError as NodeJS.ErrnoException).code;
      throw new OciError(`cannot retry ${this.what}: its temp copy could not be written (${code === "ENOSPC" ? "no space left on device" : this.fileError.message})`, "SPOOL", "set TMPDIR to a disk with room for the largest layer, or run the command again to resume");
    }
    return createReadStream(this.file, { highWaterMark: 1 << 20 });
  }

  async dispose(): Promise<void> {
    this.live?.destroy();
    await this.complete?.catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
    this.unregister();
  }
}
