// What to undo when the process is interrupted (SIGINT/SIGTERM): temp files and folders registered by the code
// that creates them, removed synchronously by the entry's signal handler before it exits (130/143).
import { readdirSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";

interface Pending {
  /** what was going on, for the message ("writing archive out.tar") */
  what: string;
  paths: string[];
}

const pending = new Set<Pending>();

/** Register temp paths to remove on interruption; returns a function that unregisters them (call when done). */
export function removeOnInterrupt(what: string, ...paths: string[]): () => void {
  const p: Pending = { what, paths };
  pending.add(p);
  return () => void pending.delete(p);
}

/** Remove every registered path (synchronously); returns what was in progress, oldest first. */
export function cleanupInterrupted(): string[] {
  const what: string[] = [];
  for (const p of pending) {
    if (!what.includes(p.what)) what.push(p.what);
    for (const path of p.paths) {
      try {
        rmSync(path, { recursive: true, force: true });
      } catch {}
    }
  }
  pending.clear();
  return what;
}

/** The pid a `NAME.partial-PID` temp file was written by, if `file` is one of `path`'s. */
function partialPid(path: string, file: string): number | undefined {
  const prefix = `${basename(path)}.partial-`;
  if (!file.startsWith(prefix)) return undefined;
  const pid = file.slice(prefix.length);
  return /^[1-9]\d{0,9}$/.test(pid) ? Number(pid) : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, as another user's process
    return (e as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/**
 * Remove what killed runs (SIGKILL, power loss: no handler ran) left of `path`: its `path.partial-PID` siblings
 * whose process is gone. Never another live process's file (a concurrent run writing the same name), never this
 * process's. Returns the removed paths.
 */
export function removeDeadPartials(path: string): string[] {
  const dir = dirname(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const pid = partialPid(path, n);
    if (pid === undefined || pid === process.pid || alive(pid)) continue;
    try {
      rmSync(join(dir, n), { force: true });
      removed.push(join(dir, n));
    } catch {}
  }
  return removed;
}
