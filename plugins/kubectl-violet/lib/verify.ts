// `kubectl violet verify FILE|DIR`: GPG and checksum verification of packages with violet's summary.
import { resolve } from "node:path";
import { listPackages, readKeyring, verifyFiles, type FileVerification, type PublicKey } from "../../../shared/signing/index.ts";

export interface VerifyReport {
  path: string;
  gpg: string[];
  checksum: string[];
  failed: { file: string; reason: string }[];
  unverified: string[];
  results: FileVerification[];
}

export async function loadKeys(keyrings: string[]): Promise<PublicKey[]> {
  const keys: PublicKey[] = [];
  for (const k of keyrings) keys.push(...(await readKeyring(k)));
  return keys;
}

export async function verifyPath(path: string | string[], opts: { keys?: PublicKey[]; concurrency?: number } = {}): Promise<VerifyReport> {
  const paths = Array.isArray(path) ? path : [path];
  const files: string[] = [];
  for (const p of paths) for (const f of await listPackages(p)) if (!files.includes(f)) files.push(f);
  const results = await verifyFiles(files, { keys: opts.keys, concurrency: opts.concurrency });
  return {
    path: paths.map((p) => resolve(p)).join(", "),
    gpg: results.filter((r) => r.status === "gpg").map((r) => r.file),
    checksum: results.filter((r) => r.status === "checksum").map((r) => r.file),
    failed: results.filter((r) => r.status === "failed").map((r) => ({ file: r.file, reason: r.reason ?? "failed" })),
    unverified: results.filter((r) => r.status === "unverified").map((r) => r.file),
    results,
  };
}

/** violet's summary text. */
export function summaryText(r: VerifyReport): string {
  const group = (title: string, files: string[]) => [`${title}: ${files.length} file(s)`, ...files.map((f) => `  - ${f}`)];
  return (
    [
      `verify path: ${r.path}`,
      "====== Verification Summary ======",
      ...group("Verified successfully with GPG", r.gpg),
      ...group("Verified successfully with checksum", r.checksum),
      ...group("Verification failed", r.failed.map((f) => f.file)),
      ...group("No verification file found", r.unverified),
    ].join("\n") + "\n"
  );
}
