// Signed archives: one in-toto statement covers the whole archive — index.json, kubectl-mirror.json and every
// manifest (image manifests and indexes, charts, packs, signatures carried along) by digest; manifests name every
// config and layer by digest, so the statement covers every byte. It is signed (shared/signing/dsse.ts) and
// travels inside the archive as kubectl-mirror.signature.json, written right after the metadata, so a reader
// knows the verdict before the first big blob.
//
// Where the archive is used (push, serve, verify, inspect), `--key` makes the signature mandatory and checked
// before anything is sent: signature, statement ↔ index.json / metadata / manifests, then every blob's digest.
// Signed or not, index.json must agree with the metadata's own record of what each name holds.
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { mkdtemp, readFile, rename, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import type { Writable } from "node:stream";
import { OciArchiveReader } from "../../../../shared/oci/archive.ts";
import { createCompressor, createDecompressor, detectCompression } from "../../../../shared/oci/compression.ts";
import { removeOnInterrupt } from "../../../../shared/runtime/interrupt.ts";
import { readTar, safeEntryPath, TarWriter } from "../../../../shared/tar/stream.ts";
import { partName, resolveArchiveArg, splitArchive } from "./archive.ts";
import { isIndex, isManifest } from "../../../../shared/oci/media-types.ts";
import type { Descriptor, ImageIndex, ImageManifest } from "../../../../shared/oci/types.ts";
import { version } from "../../../../shared/cli/version.ts";
import { IN_TOTO_PAYLOAD, IN_TOTO_STATEMENT_V1, PGP_DSSE, SIGSTORE_BUNDLE_V03, signPayload, verifyPayload, type SigningKey, type VerifyKey } from "../../../../shared/signing/dsse.ts";
import { SignatureError } from "../../../../shared/signing/gpg.ts";

export const SIGNATURE_FILE = "kubectl-mirror.signature.json";
export const ARCHIVE_PREDICATE = "https://kube-airgap.io/mirror-archive/v1";

export interface ArchivePredicate {
  created: string;
  /** the command that made or signed it */
  createdBy: string;
  tool: { name: string; version: string };
  host: string;
}

export interface Subject {
  name: string;
  digest: { sha256: string };
}

const hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const sha = (digest: string) => digest.replace(/^sha256:/, "");

/** The statement over an archive's index.json, metadata file and manifests (digests "sha256:…"). */
export function archiveStatement(files: { name: string; bytes: Uint8Array }[], manifests: Iterable<string>, createdBy: string): Buffer {
  const subject: Subject[] = files.map((f) => ({ name: f.name, digest: { sha256: hex(f.bytes) } }));
  for (const d of [...new Set(manifests)].sort()) {
    if (!d.startsWith("sha256:")) throw new SignatureError(`cannot sign a manifest digest of another algorithm (${d.split(":")[0]})`);
    subject.push({ name: `blobs/sha256/${sha(d)}`, digest: { sha256: sha(d) } });
  }
  const predicate: ArchivePredicate = { created: new Date().toISOString(), createdBy, tool: { name: "kube-airgap kubectl-mirror", version }, host: hostname() };
  return Buffer.from(JSON.stringify({ _type: IN_TOTO_STATEMENT_V1, subject, predicateType: ARCHIVE_PREDICATE, predicate }));
}

export async function signArchiveStatement(files: { name: string; bytes: Uint8Array }[], manifests: Iterable<string>, key: SigningKey, createdBy: string): Promise<{ name: string; bytes: Buffer }> {
  const statement = archiveStatement(files, manifests, createdBy);
  return { name: SIGNATURE_FILE, bytes: Buffer.from(await signPayload(statement, key)) };
}

/** What the checks read of an archive: OciArchiveReader, or serve's own source (lib/serve.ts). */
export interface ArchiveView {
  readFile(name: string, limit?: number): Promise<Buffer | undefined>;
  roots(): { desc: Descriptor; tag?: string }[];
  /** manifest bytes, checked against the digest */
  fetchManifest(desc: Descriptor): Promise<Uint8Array>;
  exists(desc: Descriptor): Promise<boolean>;
  /** hash the blobs of `wanted` the archive holds; throws on the first mismatch; returns how many were checked */
  verifyBlobs(wanted: Set<string>): Promise<number>;
}

/** Every manifest digest reachable from index.json (children of indexes, subjects' referrers are roots too). */
export async function reachableManifests(reader: ArchiveView): Promise<Map<string, Descriptor>> {
  const out = new Map<string, Descriptor>();
  const walk = async (d: Descriptor): Promise<void> => {
    if (out.has(d.digest) || !isManifest(d.mediaType)) return;
    out.set(d.digest, d);
    if (!isIndex(d.mediaType)) return;
    const idx = JSON.parse(Buffer.from(await reader.fetchManifest(d)).toString("utf8")) as ImageIndex;
    // children an incremental archive left out are in the registry already: not in this archive, not signed here
    for (const c of idx.manifests ?? []) if (await reader.exists(c)) await walk(c);
  };
  for (const r of reader.roots()) await walk(r.desc);
  return out;
}

/** Blobs (configs, layers) the archive's manifests name. */
export async function referencedBlobs(reader: ArchiveView, manifests: Map<string, Descriptor>): Promise<Descriptor[]> {
  const blobs = new Map<string, Descriptor>();
  for (const d of manifests.values()) {
    if (isIndex(d.mediaType)) continue;
    const m = JSON.parse(Buffer.from(await reader.fetchManifest(d)).toString("utf8")) as ImageManifest;
    for (const b of [m.config, ...(m.layers ?? [])]) if (b?.digest) blobs.set(b.digest, b);
  }
  return [...blobs.values()];
}

export type SignatureVerdict = "verified" | "signed, not verified (pass --key)" | "unsigned";

export interface ArchiveTrust {
  archive: string;
  signature: SignatureVerdict;
  /** sigstore-bundle | openpgp-dsse */
  format?: string;
  /** key hint (ECDSA: sha256 of the SPKI; OpenPGP: fingerprint) and the --key file that verified it */
  signer?: string;
  keyFile?: string;
  signed?: ArchivePredicate;
  /** blobs checked against their digests before use (with --key) */
  blobsChecked?: number;
}

export class ArchiveTrustError extends Error {
  override name = "ArchiveTrustError";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

/** Parse the statement inside a signature document without verifying it (for "signed, not verified"). */
function unverifiedPredicate(bytes: Buffer): { format?: string; predicate?: ArchivePredicate } {
  try {
    const doc = JSON.parse(bytes.toString("utf8"));
    const p = JSON.parse(Buffer.from(doc.dsseEnvelope.payload, "base64").toString("utf8"));
    return { format: doc.mediaType === SIGSTORE_BUNDLE_V03 ? "sigstore-bundle" : doc.mediaType === PGP_DSSE ? "openpgp-dsse" : undefined, predicate: p.predicate };
  } catch {
    return {};
  }
}

/**
 * Check an archive before it is used. Always: index.json agrees with the metadata's digests. With keys: the archive
 * must be signed by one of them, the statement must cover exactly its index.json, metadata and manifests, and (unless
 * `blobs: false`) every blob must match its digest — all before anything is sent. Throws ArchiveTrustError.
 */
export async function checkArchive(reader: ArchiveView, opts: { keys?: VerifyKey[]; metadataFile: string; blobs?: boolean; label: string }): Promise<ArchiveTrust> {
  const label = opts.label;
  const sig = await reader.readFile(SIGNATURE_FILE, 16 << 20);
  const index = (await reader.readFile("index.json"))!;
  const metadata = await reader.readFile(opts.metadataFile);
  if (metadata) checkIndexAgainstMetadata(reader, metadata, label);
  if (!opts.keys?.length) {
    if (!sig) return { archive: label, signature: "unsigned" };
    const u = unverifiedPredicate(sig);
    return { archive: label, signature: "signed, not verified (pass --key)", ...(u.format ? { format: u.format } : {}), ...(u.predicate ? { signed: u.predicate } : {}) };
  }
  if (!sig) throw new ArchiveTrustError(`${label} is not signed: refused (--key requires a signed archive)`, "export it with --sign KEY, or sign it with `kubectl mirror sign ARCHIVE --key KEY`");
  let verified;
  try {
    verified = await verifyPayload(sig, opts.keys, label);
  } catch (e) {
    if (e instanceof SignatureError) throw new ArchiveTrustError(e.message, e.hint);
    throw e;
  }
  let st: { _type?: string; subject?: Subject[]; predicateType?: string; predicate?: ArchivePredicate };
  try {
    st = JSON.parse(verified.payload.toString("utf8"));
  } catch {
    throw new ArchiveTrustError(`${label}: the signed statement is not JSON`);
  }
  if (verified.payloadType !== IN_TOTO_PAYLOAD || st._type !== IN_TOTO_STATEMENT_V1 || st.predicateType !== ARCHIVE_PREDICATE || !Array.isArray(st.subject)) throw new ArchiveTrustError(`${label}: the signature is over something else than a kube-airgap archive statement`);
  const signed = new Map<string, string>();
  for (const s of st.subject) {
    if (typeof s?.name !== "string" || typeof s.digest?.sha256 !== "string") throw new ArchiveTrustError(`${label}: malformed subject in the signed statement`);
    signed.set(s.name, s.digest.sha256);
  }
  const altered = (what: string) => new ArchiveTrustError(`${label}: ${what} was altered after signing (its digest is not the signed one): refused`, "get the archive again from where it was exported");
  if (signed.get("index.json") !== hex(index)) throw altered("index.json");
  if (metadata ? signed.get(opts.metadataFile) !== hex(metadata) : signed.has(opts.metadataFile)) throw metadata ? altered(opts.metadataFile) : new ArchiveTrustError(`${label}: ${opts.metadataFile} is signed but missing: refused`);
  const manifests = await reachableManifests(reader).catch((e) => {
    throw new ArchiveTrustError(`${label}: ${(e as Error).message}`);
  });
  const signedManifests = new Set([...signed.keys()].filter((n) => n.startsWith("blobs/sha256/")).map((n) => `sha256:${n.slice("blobs/sha256/".length)}`));
  for (const d of manifests.keys()) if (!signedManifests.has(d)) throw new ArchiveTrustError(`${label}: manifest ${d} is not covered by the signature (added or replaced after signing): refused`);
  for (const d of signedManifests) if (!manifests.has(d)) throw new ArchiveTrustError(`${label}: signed manifest ${d} is missing from the archive: refused`);
  let blobsChecked: number | undefined;
  if (opts.blobs !== false) {
    const wanted = await referencedBlobs(reader, manifests);
    blobsChecked = await reader.verifyBlobs(new Set(wanted.map((b) => b.digest))).catch((e) => {
      throw new ArchiveTrustError(`${label}: ${(e as Error).message}: refused`, "get the archive again from where it was exported");
    });
  }
  return { archive: label, signature: "verified", format: verified.format, signer: verified.key.hint, keyFile: verified.key.file, ...(st.predicate ? { signed: st.predicate } : {}), ...(blobsChecked !== undefined ? { blobsChecked } : {}) };
}

/**
 * index.json against the archive's metadata (kubectl-mirror.json): every name the metadata lists is in index.json
 * once, holding the digest the metadata recorded (archives written before digests were recorded: present only).
 */
export function checkIndexAgainstMetadata(reader: Pick<ArchiveView, "roots">, metadataBytes: Uint8Array, label: string): void {
  let meta: { images?: { ref?: string; digest?: string }[]; artifacts?: { ref?: string; digest?: string }[] };
  try {
    meta = JSON.parse(Buffer.from(metadataBytes).toString("utf8"));
  } catch {
    return; // readMetadata reports an unreadable metadata file
  }
  const byTag = new Map<string, string[]>();
  for (const r of reader.roots()) if (r.tag) byTag.set(r.tag, [...(byTag.get(r.tag) ?? []), r.desc.digest]);
  for (const e of [...(meta.images ?? []), ...(meta.artifacts ?? [])]) {
    if (typeof e?.ref !== "string") continue;
    const got = byTag.get(e.ref) ?? [];
    if (got.length > 1) throw new ArchiveTrustError(`${label}: index.json names ${e.ref} ${got.length} times: refused (the archive was tampered with)`);
    if (!got.length) throw new ArchiveTrustError(`${label}: index.json does not hold ${e.ref}, which its metadata lists: refused (the archive was tampered with or is incomplete)`);
    if (e.digest && got[0] !== e.digest) throw new ArchiveTrustError(`${label}: index.json says ${e.ref} is ${got[0]}, its metadata recorded ${e.digest}: refused (index.json was altered)`, "get the archive again from where it was exported");
  }
}

export interface SignReport {
  archive: string;
  signer: string;
  format: string;
  manifests: number;
  blobsChecked: number;
  /** an earlier signature was replaced */
  replaced: boolean;
  parts?: number;
}

/**
 * Sign an existing archive in place: every blob is checked first (a damaged archive is never signed), then the
 * archive is rewritten through a temp file in the same folder with the signature right after its metadata (an
 * earlier signature is replaced) and renamed over the original. A split archive (NAME.parts) is joined next to
 * its parts, signed and cut again into parts of the same size.
 */
export async function signArchiveFile(arg: string, key: SigningKey, metadataFile: string): Promise<SignReport> {
  const base = arg.replace(/\.parts$/, "").replace(/\.part\d{3}$/, "");
  if (!existsSync(arg) || /\.part\d{3}$|\.parts$/.test(arg)) {
    if (!existsSync(`${base}.parts`)) throw new ArchiveTrustError(`archive ${arg}: no such file`, "check the path");
    const index = JSON.parse(await readFile(`${base}.parts`, "utf8")) as { parts: { size: number }[] };
    const size = index.parts?.[0]?.size;
    const work = await mkdtemp(join(dirname(base), ".ka-sign-"));
    const unregister = removeOnInterrupt(`signing ${base}`, work);
    try {
      const { path } = await resolveArchiveArg(base, async () => work);
      const r = await signArchiveFile(path, key, metadataFile);
      const parts = await splitArchive(path, Math.max(size ?? 0, 1 << 20));
      // the new parts replace the old ones; the index last, so a reader never sees parts of two versions listed
      for (const p of parts) await rename(join(work, p.file), join(dirname(base), p.file));
      for (let i = parts.length; existsSync(partName(base, i)); i++) await rm(partName(base, i));
      await rename(join(work, `${basename(base)}.parts`), `${base}.parts`);
      return { ...r, archive: arg, parts: parts.length };
    } finally {
      unregister();
      await rm(work, { recursive: true, force: true });
    }
  }
  const reader = await OciArchiveReader.open(arg);
  let signature: { name: string; bytes: Buffer };
  let manifests: Map<string, Descriptor>;
  let blobsChecked: number;
  let replaced: boolean;
  /** the entry the signature follows: the metadata, or index.json where there is none */
  let after: string;
  try {
    const index = (await reader.readFile("index.json"))!;
    const metadata = await reader.readFile(metadataFile);
    if (metadata) checkIndexAgainstMetadata(reader, metadata, arg);
    replaced = !!(await reader.readFile(SIGNATURE_FILE, 16 << 20));
    manifests = await reachableManifests(reader);
    blobsChecked = await reader.verifyBlobs(new Set((await referencedBlobs(reader, manifests)).map((b) => b.digest))).catch((e) => {
      throw new ArchiveTrustError(`${arg}: ${(e as Error).message}: not signed`, "a damaged archive is never signed: export it again");
    });
    const files = [{ name: "index.json", bytes: index }, ...(metadata ? [{ name: metadataFile, bytes: metadata }] : [])];
    after = metadata ? metadataFile : "index.json";
    signature = await signArchiveStatement(files, manifests.keys(), key, "kubectl mirror sign");
  } finally {
    await reader.close();
  }
  await rewriteWithSignature(arg, signature, after);
  return { archive: arg, signer: key.hint, format: key.kind === "ecdsa" ? "sigstore-bundle" : "openpgp-dsse", manifests: manifests.size, blobsChecked, replaced };
}

/** Copy the archive's entries into a temp file with `signature` right after the entry `after`, then rename. */
async function rewriteWithSignature(path: string, signature: { name: string; bytes: Buffer }, after: string): Promise<void> {
  const compression = await detectCompression(path);
  const tmp = `${path}.signing-${process.pid}`;
  const unregister = removeOnInterrupt(`signing ${path}`, tmp);
  try {
    const file = createWriteStream(tmp, { highWaterMark: 1 << 20 });
    const fileDone = new Promise<void>((resolve, reject) => {
      file.once("close", resolve);
      file.once("error", reject);
    });
    fileDone.catch(() => {});
    let out: Writable = file;
    if (compression !== "none") {
      const z = createCompressor(compression, undefined, path);
      z.on("error", (e: Error) => file.destroy(e));
      z.pipe(file);
      out = z;
    }
    const tar = new TarWriter(out);
    const src = createReadStream(path, { highWaterMark: 1 << 20 });
    const input = compression === "none" ? src : src.pipe(createDecompressor(compression, path));
    for await (const e of readTar(input as AsyncIterable<Uint8Array>)) {
      const name = safeEntryPath(e.header.name);
      if (name === SIGNATURE_FILE) continue;
      if (e.header.type === "directory") await tar.addDirectory(e.header.name, { mode: e.header.mode, mtime: e.header.mtime });
      else await tar.addFile(e.header.name, e.header.size, e.body(), { mode: e.header.mode, mtime: e.header.mtime });
      if (name === after) {
        await tar.addFile(signature.name, signature.bytes.length, signature.bytes, { mtime: e.header.mtime });
        after = "";
      }
    }
    await tar.finish();
    out.end();
    await fileDone;
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  } finally {
    unregister();
  }
}

/**
 * The signature verdict of an archive file as inspect reports it: read in place (a split archive is joined to a temp
 * folder only when --key asks for the full check). Undefined for a split archive without keys.
 */
export async function archiveFileTrust(arg: string, keys: VerifyKey[] | undefined, metadataFile: string): Promise<ArchiveTrust | undefined> {
  const split = !existsSync(arg) || /\.part\d{3}$|\.parts$/.test(arg);
  if (split && !keys?.length) return undefined;
  let work: string | undefined;
  try {
    const { path } = await resolveArchiveArg(arg, async () => (work ??= await mkdtemp(join(tmpdir(), "ka-mirror-inspect-"))));
    const reader = await OciArchiveReader.open(path);
    try {
      return await checkArchive(reader, { keys, metadataFile, label: arg, blobs: !!keys?.length });
    } finally {
      await reader.close();
    }
  } finally {
    if (work) await rm(work, { recursive: true, force: true });
  }
}
