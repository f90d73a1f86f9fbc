// Checksum files next to artifacts: `sha256sum` format ("<hex>  <name>", "<hex> *<name>", several lines) or a
// bare hash. Files are hashed as streams (constant memory, multi-GB safe).
import { fileDigest } from "../oci/digest.ts";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";

export class ChecksumError extends Error {
  override name = "ChecksumError";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

export type HashAlgorithm = "sha256" | "sha512";

/** Hash a file as a stream; returns lower-case hex. */
export async function hashFile(file: string, algorithm: HashAlgorithm = "sha256"): Promise<string> {
  const { digest } = await fileDigest(file, algorithm);
  return digest.slice(algorithm.length + 1);
}

const HEX_LEN: Record<HashAlgorithm, number> = { sha256: 64, sha512: 128 };

/**
 * The expected hash for `target` from a checksum file's text. A single bare hash applies to any file; in
 * sha256sum format the line naming `target` (by base name) wins, and a single-line file applies regardless
 * of its name column. Throws ChecksumError when the file holds no usable hash.
 */
export function expectedHash(text: string, target: string, where: string, algorithm: HashAlgorithm = "sha256"): string {
  const len = HEX_LEN[algorithm];
  const re = new RegExp(`^([a-fA-F0-9]{${len}})(?:\\s+\\*?(.+?))?\\s*$`);
  const entries: { hash: string; name?: string }[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = re.exec(line);
    if (!m) throw new ChecksumError(`${where}: not a ${algorithm} checksum file (line "${line.slice(0, 80)}")`, `expected "<${len} hex digits>  <file name>" or a bare hash`);
    entries.push({ hash: m[1]!.toLowerCase(), name: m[2] });
  }
  if (!entries.length) throw new ChecksumError(`${where}: empty checksum file`);
  const base = basename(target);
  const named = entries.find((e) => e.name && basename(e.name) === base);
  if (named) return named.hash;
  if (entries.length === 1) return entries[0]!.hash;
  throw new ChecksumError(`${where}: no line for ${base}`, `the file lists ${entries.map((e) => e.name ?? "?").slice(0, 5).join(", ")}`);
}

export interface ChecksumResult {
  ok: boolean;
  expected: string;
  actual: string;
}

/** Verify `file` against the checksum file `sumFile` (streaming). */
export async function verifyChecksumFile(file: string, sumFile: string, algorithm: HashAlgorithm = "sha256"): Promise<ChecksumResult> {
  const text = await readFile(sumFile, "utf8").catch((e) => {
    throw new ChecksumError(`cannot read ${sumFile}: ${(e as Error).message}`);
  });
  const expected = expectedHash(text, file, sumFile, algorithm);
  const actual = await hashFile(file, algorithm);
  return { ok: expected === actual, expected, actual };
}

/** The sha256sum line for a file ("<hex>  <basename>\n"). */
export function checksumLine(hex: string, file: string): string {
  return `${hex}  ${basename(file)}\n`;
}
