// The per-user cache directory of kube-airgap: $KUBE_AIRGAP_CACHE_DIR, else $XDG_CACHE_HOME/kube-airgap, else
// ~/.cache/kube-airgap; none with KUBE_AIRGAP_NO_CACHE=1 (or no HOME). Holds what a later run may reuse and can
// always be deleted: the discovery cache (kubectl-mirror lib/plan/plan.ts), upload sessions (shared/oci/upload-journal.ts).
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

export function cacheDir(env: Record<string, string | undefined> = process.env): string | undefined {
  if (env.KUBE_AIRGAP_NO_CACHE === "1" || env.KUBE_AIRGAP_NO_CACHE === "true") return undefined;
  if (env.KUBE_AIRGAP_CACHE_DIR) return env.KUBE_AIRGAP_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || (env.HOME ? join(env.HOME, ".cache") : undefined);
  return base ? join(base, "kube-airgap") : undefined;
}

/** A JSON entry of the cache; undefined when it is missing or unreadable (a cache miss). */
export async function readCacheJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}

/**
 * Write a JSON entry of the cache atomically (a temp name of this process, then rename: a concurrent run reads the
 * old entry or the new one, never half of one). A read-only or full cache is not an error: the entry is skipped.
 * `mode`/`dirMode`: for entries only their user may read (the upload journal: 0600 in 0700).
 */
export async function writeCacheJson(file: string, value: unknown, opts: { mode?: number; dirMode?: number } = {}): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`;
  try {
    await mkdir(dirname(file), { recursive: true, ...(opts.dirMode !== undefined ? { mode: opts.dirMode } : {}) });
    await writeFile(tmp, JSON.stringify(value) + "\n", opts.mode !== undefined ? { mode: opts.mode } : {});
    await rename(tmp, file);
  } catch {
    await rm(tmp, { force: true }).catch(() => {});
  }
}
