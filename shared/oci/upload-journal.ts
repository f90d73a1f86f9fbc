// Upload sessions of large blobs, noted so that a later run (after a kill, a crash, a network cut) can ask the
// registry how far the upload got and continue from there instead of from byte 0 (distribution-spec, "Pushing a
// blob in chunks": GET <location> → 204 + Range: 0-<end>; PATCH from end+1; PUT ?digest=). One small JSON file per
// (registry, repository, digest) under <cache dir>/uploads/ (shared/runtime/cache-dir.ts), mode 0600 in a 0700
// directory, written to a temp name and renamed. It holds no credentials: a Location loses any user:password@,
// and its query (distribution's signed `_state`) is only ever printed through redactUrl. Entries older than
// a week are dropped (registries purge abandoned uploads: distribution's default upload purging age is 168 h).
// A journal that cannot be written (read-only home) never fails an upload: the session just cannot be resumed.
import { createHash } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { cacheDir, readCacheJson, writeCacheJson } from "../runtime/cache-dir.ts";

export interface UploadSession {
  registry: string;
  repository: string;
  digest: string;
  size: number;
  /** the upload's Location after the last request the registry accepted */
  location: string;
  /** ISO time of the last update */
  updated: string;
}

const MAX_AGE_MS = 7 * 24 * 3600 * 1000;

export class UploadJournal {
  constructor(readonly dir: string) {}

  /** The journal under the user's cache directory; undefined when there is none (KUBE_AIRGAP_NO_CACHE, no HOME). */
  static default(env: Record<string, string | undefined> = process.env): UploadJournal | undefined {
    const dir = cacheDir(env);
    return dir ? new UploadJournal(join(dir, "uploads")) : undefined;
  }

  private file(registry: string, repository: string, digest: string): string {
    return join(this.dir, `${createHash("sha256").update(`${registry}\n${repository}\n${digest}`).digest("hex").slice(0, 32)}.json`);
  }

  async get(registry: string, repository: string, digest: string): Promise<UploadSession | undefined> {
    const f = this.file(registry, repository, digest);
    const s = await readCacheJson<UploadSession>(f);
    if (!s) return undefined;
    const fresh = Date.now() - Date.parse(s.updated) < MAX_AGE_MS;
    if (!fresh || s.registry !== registry || s.repository !== repository || s.digest !== digest || typeof s.location !== "string" || !Number.isSafeInteger(s.size)) {
      await rm(f, { force: true }).catch(() => {});
      return undefined;
    }
    return s;
  }

  async put(s: Omit<UploadSession, "updated">): Promise<void> {
    const f = this.file(s.registry, s.repository, s.digest);
    const entry: UploadSession = { registry: s.registry, repository: s.repository, digest: s.digest, size: s.size, location: withoutUserinfo(s.location), updated: new Date().toISOString() };
    await writeCacheJson(f, entry, { mode: 0o600, dirMode: 0o700 });
  }

  async drop(registry: string, repository: string, digest: string): Promise<void> {
    await rm(this.file(registry, repository, digest), { force: true }).catch(() => {});
  }
}

function withoutUserinfo(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = "";
    u.password = "";
    return u.toString();
  } catch {
    return url;
  }
}
