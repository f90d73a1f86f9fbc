// A blob read once from a stream that cannot be replayed (a compressed archive read in order), made retryable:
// the first open() hands out the live stream while every byte also goes to a temp file; a later open() (an
// upload retry, another target) reads the complete temp file. Memory stays bounded by the stream buffers.
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { removeOnInterrupt } from "../runtime/interrupt.ts";

export class Spool {
  private live?: PassThrough;
  private complete?: Promise<void>;
  private constructor(
    private src: Readable,
    private dir: string,
    private unregister: () => void,
  ) {}

  static async create(src: Readable, what: string): Promise<Spool> {
    const dir = await mkdtemp(join(tmpdir(), "ka-spool-"));
    return new Spool(src, dir, removeOnInterrupt(what, dir));
  }

  private get file(): string {
    return join(this.dir, "blob");
  }

  private start(): PassThrough {
    const live = new PassThrough({ highWaterMark: 1 << 20 });
    const ws = createWriteStream(this.file, { highWaterMark: 1 << 20 });
    let wsError: Error | undefined;
    ws.on("error", (e) => (wsError = e));
    this.complete = (async () => {
      for await (const chunk of this.src) {
        if (wsError) throw wsError;
        if (!ws.write(chunk)) await new Promise<void>((r) => { ws.once("drain", r); ws.once("close", r); });
        if (!live.destroyed && !live.write(chunk)) await new Promise<void>((r) => { live.once("drain", r); live.once("close", r); });
      }
      await new Promise<void>((resolve, reject) => ws.end((e?: Error | null) => (e || wsError ? reject(e ?? wsError) : resolve())));
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
    return createReadStream(this.file, { highWaterMark: 1 << 20 });
  }

  /** Read the source to its end (into the file) so that open() can serve it again. */
  async finish(): Promise<void> {
    if (!this.live) this.start().resume();
    await this.complete;
  }

  async dispose(): Promise<void> {
    this.live?.destroy();
    await this.complete?.catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
    this.unregister();
  }
}
