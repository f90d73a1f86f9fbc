// What to undo when the process is interrupted (SIGINT/SIGTERM): temp files and folders registered by the code
// that creates them, removed synchronously by the entry's signal handler before it exits (130/143).
import { rmSync } from "node:fs";

interface Pending {
  /** what was going on, for the message ("writing archive out.tar") */
  what: string;
  paths: string[];
}

const pending = new Set<Pending>();

/** Register temp paths to remove on interruption; returns a function that unregisters them (call when done).
 *  `what` "" leaves the message alone (a lock file, not a temporary file worth naming). */
export function removeOnInterrupt(what: string, ...paths: string[]): () => void {
  const p: Pending = { what, paths };
  pending.add(p);
  return () => void pending.delete(p);
}

/** Remove every registered path (synchronously); returns what was in progress, oldest first. */
export function cleanupInterrupted(): string[] {
  const what: string[] = [];
  for (const p of pending) {
    if (p.what && !what.includes(p.what)) what.push(p.what); // "": removed silently (a lock file)
    for (const path of p.paths) {
      try {
        rmSync(path, { recursive: true, force: true });
      } catch {}
    }
  }
  pending.clear();
  return what;
}
