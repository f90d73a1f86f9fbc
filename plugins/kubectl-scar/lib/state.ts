// The local state of a migration: which steps are done, the archive made, what was pushed, and the SCAR config
// Palette had before (for rollback). One JSON file per Palette address, mode 0600 (it may hold the old SCAR
// password), written to a temp name then renamed. Default directory: $XDG_STATE_HOME/kube-airgap/scar, else
// ~/.local/state/kube-airgap/scar; --state-dir overrides.
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { KubeObject } from "../../../shared/kube/index.ts";
import type { ScarSpec } from "../../../shared/palette/client.ts";
import { registerSecret } from "../../../shared/runtime/redact.ts";
import { ScarError } from "./errors.ts";
import { StateLock } from "./lock.ts";

// In the document's order: delete the secret (1), archive (3), push (5), tick "Contains Spectro Manifests" (6–8),
// Specman persisted the tag (9), and only then switch the SCAR endpoint (10–12).
export const STEPS = ["preflight", "delete-secret", "package", "push", "spectro-manifests", "specman-sync", "record-config", "set-endpoint", "sync-jobs", "verify"] as const;
export type StepName = (typeof STEPS)[number];

export interface StepState {
  done: boolean;
  at?: string;
  [k: string]: unknown;
}

export interface MigrationState {
  version: 1;
  palette: string;
  registry?: string;
  reference?: string;
  manifestsDir?: string;
  steps: Partial<Record<StepName, StepState>>;
  /** archive made by the package step */
  archive?: { file: string; digest: string; size: number; fingerprint: string };
  /** what the push step left in the registry */
  pushed?: { reference: string; digest: string; layerDigest: string; created: string; /** when this run (or an earlier one) pushed it */ at?: string };
  /** SCAR config before the migration (GET /v1/system/config/scar) */
  previousScar?: ScarSpec;
  /** the registry secret as it was before the delete-secret step deleted it (rollback recreates it) */
  deletedSecret?: KubeObject;
  /** the pack registry whose "Contains Spectro Manifests" box the migration ticked (or found ticked) */
  spectroManifests?: { uid?: string; name?: string; kind?: string; previous?: boolean; via: "api" | "manual" | "already" };
  /** sync job name → time it returned 204 */
  jobs?: Record<string, string>;
  rolledBack?: string;
  updated?: string;
}

export function defaultStateDir(): string {
  const xdg = process.env.XDG_STATE_HOME;
  return join(xdg && xdg.startsWith("/") ? xdg : join(homedir(), ".local", "state"), "kube-airgap", "scar");
}

/** File name for a Palette address: host_port.json */
export function stateFileFor(dir: string, paletteUrl: string): string {
  let host = paletteUrl;
  try {
    const u = new URL(paletteUrl);
    host = u.port ? `${u.hostname}_${u.port}` : u.hostname;
  } catch {}
  return join(resolve(dir), `${host.replace(/[^A-Za-z0-9._-]/g, "_")}.json`);
}

export class StateStore {
  /** held while an operation that writes the state runs (save() refuses to write without it) */
  lock?: StateLock;
  constructor(readonly file: string) {}

  /** Run `fn` holding the lock beside the state file (see lock.ts); released afterwards, whatever happens. */
  async withLock<T>(command: string, o: { breakLock?: boolean; log?: (line: string) => void }, fn: () => Promise<T>): Promise<T> {
    if (this.lock) return fn();
    this.lock = await StateLock.acquire(this.file, command, { ...o, mkdir: async () => void (await mkdir(this.dir, { recursive: true, mode: 0o700 })) });
    try {
      return await fn();
    } finally {
      const l = this.lock;
      this.lock = undefined;
      await l.release();
    }
  }

  static forPalette(dir: string | undefined, paletteUrl: string): StateStore {
    return new StateStore(stateFileFor(dir ?? defaultStateDir(), paletteUrl));
  }

  /** The directory that holds the state file (the archive goes next to it). */
  get dir(): string {
    return this.file.replace(/\/[^/]*$/, "");
  }

  async load(paletteUrl: string): Promise<MigrationState> {
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, palette: paletteUrl, steps: {} };
      throw new ScarError(`cannot read the migration state ${this.file}: ${(e as Error).message}`);
    }
    let s: MigrationState;
    try {
      s = JSON.parse(text) as MigrationState;
    } catch (e) {
      throw new ScarError(`migration state ${this.file} is not valid JSON: ${(e as Error).message}`, "fix or move the file (it holds the SCAR config to roll back to)");
    }
    if (s.version !== 1 || typeof s.steps !== "object") throw new ScarError(`migration state ${this.file} has an unknown format`, "move it away to start over");
    if (typeof s.previousScar?.password === "string") registerSecret(s.previousScar.password);
    registerSecretData(s.deletedSecret);
    return s;
  }

  async exists(): Promise<boolean> {
    try {
      await readFile(this.file);
      return true;
    } catch {
      return false;
    }
  }

  async save(s: MigrationState): Promise<void> {
    if (!this.lock) throw new ScarError(`internal error: the state ${this.file} was about to be written without its lock`);
    await this.lock.verify();
    s.updated = new Date().toISOString();
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    await writeFile(tmp, JSON.stringify(s, null, 2) + "\n", { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, this.file);
  }
}

export function markDone(s: MigrationState, step: StepName, extra: Record<string, unknown> = {}): void {
  s.steps[step] = { ...(s.steps[step] ?? {}), ...extra, done: true, at: new Date().toISOString() };
}

export function isDone(s: MigrationState, step: StepName): boolean {
  return !!s.steps[step]?.done;
}

/** Mask every value of a Secret (base64 and decoded) in all output from now on. */
export function registerSecretData(secret: KubeObject | undefined): void {
  const data = (secret as { data?: Record<string, string>; stringData?: Record<string, string> } | undefined) ?? {};
  for (const v of [...Object.values(data.data ?? {}), ...Object.values(data.stringData ?? {})]) {
    if (typeof v !== "string" || v.length < 8) continue;
    registerSecret(v);
    const dec = Buffer.from(v, "base64").toString("utf8");
    if (dec.length >= 8 && !dec.includes("\uFFFD")) registerSecret(dec);
  }
}

/** The part of a Secret worth keeping to recreate it (no uid, resourceVersion, managedFields, status). */
export function secretCopy(secret: KubeObject): KubeObject {
  const s = secret as KubeObject & { type?: string; data?: Record<string, string>; immutable?: boolean };
  const m = s.metadata ?? {};
  const metadata: Record<string, unknown> = { name: m.name, namespace: m.namespace };
  if (m.labels) metadata.labels = m.labels;
  if (m.annotations) metadata.annotations = Object.fromEntries(Object.entries(m.annotations).filter(([k]) => k !== "kubectl.kubernetes.io/last-applied-configuration"));
  return { apiVersion: "v1", kind: "Secret", metadata, ...(s.type ? { type: s.type } : {}), ...(s.data ? { data: s.data } : {}), ...(s.immutable ? { immutable: s.immutable } : {}) } as KubeObject;
}
