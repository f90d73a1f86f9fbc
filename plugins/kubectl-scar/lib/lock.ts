// One operation per Palette at a time: a lock file beside the state (`<host>_<port>.json.lock`), created with
// O_CREAT|O_EXCL ("wx"), holding who runs (pid, host, start time, command) and a random token. migrate, rollback and
// set-endpoint take it for their whole run; every state write checks that the file still holds this run's token
// (a lock removed or taken over by someone else stops the run before it writes or changes anything more).
// A lock whose pid no longer runs on this host is stale (the run was killed): it is reported with its holder and
// never removed silently; --break-lock removes it (like `git`'s index.lock left for the user, or restic unlock).
// A lock from another host cannot be checked from here: --break-lock is the operator's word that it is gone.
// Released on return, on error and on SIGINT/SIGTERM (the entry's interrupt cleanup); a SIGKILL leaves it stale.
import { randomUUID } from "node:crypto";
import { open, readFile, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { removeOnInterrupt } from "../../../shared/runtime/interrupt.ts";
import { ScarError } from "./errors.ts";

export interface LockHolder {
  pid: number;
  host: string;
  started: string;
  command: string;
  token: string;
}

export type LockState = "running" | "stale" | "unknown";

/** Whether the holder still runs: "running"/"stale" on this host (signal 0), "unknown" for another host. */
export function holderState(h: LockHolder): LockState {
  if (h.host !== hostname()) return "unknown";
  try {
    process.kill(h.pid, 0);
    return "running";
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM" ? "running" : "stale";
  }
}

export function describeHolder(h: LockHolder): string {
  return `${h.command} (pid ${h.pid} on ${h.host}, started ${h.started})`;
}

/** The lock file's holder (undefined: no lock). A file that is not a lock (empty, torn) is reported as such. */
export async function readLock(file: string): Promise<LockHolder | undefined> {
  for (let attempt = 0; ; attempt++) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new ScarError(`cannot read the lock ${file}: ${(e as Error).message}`);
    }
    try {
      const h = JSON.parse(text) as LockHolder;
      if (typeof h.pid === "number" && typeof h.host === "string") return h;
    } catch {}
    // created but not written yet (the holder is between open and write): look again shortly
    if (attempt < 10) await new Promise((r) => setTimeout(r, 30));
    else return { pid: 0, host: "(unknown)", started: "(unknown)", command: `a lock file that is not kube-airgap's (${JSON.stringify(text.slice(0, 40))})`, token: "" };
  }
}

export class StateLock {
  private unregister: () => void = () => {};
  private released = false;
  private constructor(
    readonly file: string,
    readonly holder: LockHolder,
  ) {}

  /**
   * Take the lock on `stateFile`, or throw a ScarError naming who holds it. `breakLock` removes a stale lock (or
   * one from another host) first; a lock whose holder runs on this host is never broken.
   */
  static async acquire(stateFile: string, command: string, o: { breakLock?: boolean; log?: (line: string) => void; mkdir?: () => Promise<void> } = {}): Promise<StateLock> {
    const file = `${stateFile}.lock`;
    const holder: LockHolder = { pid: process.pid, host: hostname(), started: new Date().toISOString(), command, token: randomUUID() };
    await o.mkdir?.();
    let broke = false;
    for (;;) {
      try {
        const fh = await open(file, "wx", 0o600);
        try {
          await fh.writeFile(JSON.stringify(holder, null, 2) + "\n");
        } finally {
          await fh.close();
        }
        const lock = new StateLock(file, holder);
        lock.unregister = removeOnInterrupt("", file);
        return lock;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw new ScarError(`cannot create the lock ${file}: ${(e as Error).message}`, "check that the --state-dir is writable");
      }
      const other = await readLock(file);
      if (!other) continue; // released meanwhile
      const st = holderState(other);
      const who = describeHolder(other);
      if (st === "running") {
        throw new ScarError(
          `another kubectl scar operation runs against this Palette: ${who} holds ${file}`,
          `wait for it to finish (one operation per Palette at a time)${o.breakLock ? "; --break-lock never breaks the lock of a process that is still running" : ""}`,
        );
      }
      if (!o.breakLock || broke) {
        throw new ScarError(
          st === "stale"
            ? `stale lock ${file}: ${who} no longer runs (killed or crashed); it is left for you to check, not removed`
            : `the state is locked by ${who}, another host (cannot check from here whether it still runs)`,
          `${st === "stale" ? "look at what it did with `kubectl scar status`, then" : "if that run is gone,"} run the same command with --break-lock (or remove ${file})`,
        );
      }
      // --break-lock: remove exactly the lock we looked at (a new holder that took it meanwhile is kept)
      const again = await readLock(file);
      if (again?.token !== other.token) continue;
      await rm(file, { force: true });
      o.log?.(`warning: broke the ${st === "stale" ? "stale " : ""}lock of ${who} (--break-lock)`);
      broke = true;
    }
  }

  /** Throw unless the lock file still holds this run's token (call before every state write). */
  async verify(): Promise<void> {
    const cur = this.released ? undefined : await readLock(this.file);
    if (cur?.token === this.holder.token) return;
    throw new ScarError(
      `lost the lock ${this.file}: ${cur ? `it is now held by ${describeHolder(cur)}` : "it was removed"} while this ${this.holder.command} ran; stopped without writing the state`,
      "another operation may have changed Palette meanwhile: check with `kubectl scar status` before running again",
    );
  }

  /** Remove the lock if it is still ours. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.unregister();
    const cur = await readLock(this.file).catch(() => undefined);
    if (cur?.token === this.holder.token) await rm(this.file, { force: true });
  }
}
