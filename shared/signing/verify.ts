// Verify files by the signature/checksum files that sit next to them: `<file>.sig` (or `.asc`, detached
// OpenPGP, binary or armored) and `<file>.sha256` (sha256sum format or a bare hash). A file with both must pass
// both. Used by `kubectl violet verify` and `push`.
import { existsSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { verifyChecksumFile, ChecksumError } from "./checksum.ts";
import { SignatureError, verifyDetached, type PublicKey } from "./gpg.ts";

export type VerifyStatus = "gpg" | "checksum" | "failed" | "unverified";

export interface FileVerification {
  /** absolute path */
  file: string;
  status: VerifyStatus;
  /** the signature / checksum files used */
  signature?: string;
  checksum?: string;
  keyID?: string;
  reason?: string;
}

export interface VerifyOptions {
  /** keys that may sign; undefined/empty = a signature file cannot be checked (fails) */
  keys?: PublicKey[];
  /** where the keys came from, for messages */
  keyringName?: string;
}

export function sidecars(file: string): { signature?: string; checksum?: string } {
  const signature = [".sig", ".asc"].map((s) => file + s).find((f) => existsSync(f));
  const checksum = [".sha256", ".sha256sum"].map((s) => file + s).find((f) => existsSync(f));
  return { signature, checksum };
}

/** Verify one file with its sidecars. Never throws for verification failures (status "failed" + reason). */
export async function verifyFile(path: string, opts: VerifyOptions = {}): Promise<FileVerification> {
  const file = resolve(path);
  const { signature, checksum } = sidecars(file);
  const out: FileVerification = { file, status: "unverified", ...(signature ? { signature } : {}), ...(checksum ? { checksum } : {}) };
  if (!signature && !checksum) return out;
  try {
    if (signature) {
      if (!opts.keys?.length) return { ...out, status: "failed", reason: `${signature} needs a public key to check it (pass --keyring FILE)` };
      const r = await verifyDetached(file, signature, opts.keys);
      out.keyID = r.keyID.toUpperCase();
      if (!r.ok) return { ...out, status: "failed", reason: `GPG signature ${signature}: ${r.reason}` };
    }
    if (checksum) {
      const r = await verifyChecksumFile(file, checksum);
      if (!r.ok) return { ...out, status: "failed", reason: `checksum mismatch: ${checksum} says ${r.expected}, the file has ${r.actual}` };
    }
  } catch (e) {
    if (e instanceof SignatureError || e instanceof ChecksumError) return { ...out, status: "failed", reason: e.message };
    const code = (e as NodeJS.ErrnoException).code;
    if (code) return { ...out, status: "failed", reason: (e as Error).message };
    throw e;
  }
  return { ...out, status: signature ? "gpg" : "checksum" };
}

/** The package files of a path: the file itself, or every `*.tgz` directly in a directory (sorted). */
export async function listPackages(path: string, exts = [".tgz", ".tar.gz"]): Promise<string[]> {
  const abs = resolve(path);
  const st = await stat(abs).catch(() => undefined);
  if (!st) throw new SignatureError(`${path}: no such file or directory`);
  if (st.isFile()) return [abs];
  const names = (await readdir(abs)).filter((n) => exts.some((e) => n.endsWith(e))).sort();
  const files: string[] = [];
  for (const n of names) if ((await stat(join(abs, n))).isFile()) files.push(join(abs, n));
  return files;
}

/** Verify many files with bounded concurrency (each is one streaming read). */
export async function verifyFiles(files: string[], opts: VerifyOptions & { concurrency?: number } = {}): Promise<FileVerification[]> {
  const out: FileVerification[] = new Array(files.length);
  let next = 0;
  const n = Math.max(1, Math.min(opts.concurrency ?? 2, files.length));
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < files.length) {
        const i = next++;
        out[i] = await verifyFile(files[i]!, opts);
      }
    }),
  );
  return out;
}
