// Palette pack tarballs for `kubectl mirror export-pack`: PACK.tgz holding pack.json (name, version, …),
// values.yaml (its `pack.content.images` list names the images the pack needs; `pack.content.charts` may
// name charts) and charts/*.tgz. The pack becomes
//   - an OCI artifact packs/<name>:<version> (config = pack.json, one layer = the tarball as is; media types
//     application/vnd.spectrocloud.pack.config.v1+json / …pack.content.v1.tar+gzip — our choice, INFERENCE:
//     Spectro Cloud's own registry layout for packs is not public)
//   - its charts (as Helm OCI artifacts, with their discovered images)
//   - the images from pack.content.images
// all in one plan, exported into the same archive format as `export`.
//
// Artifact Studio ships packs as `<pack>.zst` (a zstd-compressed pack tar) with a detached `<pack>.sig.bin`.
// Packs are read gzip, zstd or plain (by magic bytes, the same codecs as archives: shared/oci/compression.ts);
// a `.sig.bin` beside a pack is never a pack: it travels as a second layer of the pack artifact
// (application/vnd.spectrocloud.pack.signature.v1) and is verified as a detached OpenPGP signature when a
// keyring is given — otherwise the run says plainly that it was carried but NOT verified. With a keyring, a pack
// without its .sig.bin is refused like an altered one, and `push`/`serve --pack-keyring` run the same check on
// the pack artifacts inside an archive (verifyArchivePacks), where the bundle is used.
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import { basename } from "node:path";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parse } from "yaml";
import { MAX_CHART_EXPANDED, parseTar, readChartArchive as readTarGz, type TarEntry } from "../../../../shared/helm/chart-tar.ts";
import { createDecompressor, detectCompression } from "../../../../shared/oci/compression.ts";
import { verifyDetached, verifyDetachedStream, type PublicKey } from "../../../../shared/signing/gpg.ts";
import { verifyBytes, VerifyStream } from "../../../../shared/oci/digest.ts";
import { isManifest } from "../../../../shared/oci/media-types.ts";
import type { Descriptor } from "../../../../shared/oci/types.ts";
import { removeOnInterrupt } from "../../../../shared/runtime/interrupt.ts";
import { tryNormalizeImage } from "../../../../shared/helm/image-ref.ts";
import type { DiscoverOptions } from "../../../../shared/helm/discover.ts";
import type { ChartRequest } from "../../../../shared/helm/chart-source.ts";
import { PACK_CONFIG_MT, PACK_CONTENT_MT, PACK_CONTENT_ZSTD_MT, PACK_SIGNATURE_MT, type ArtifactInput, type ChartInput } from "../plan/plan.ts";

export class PackError extends Error {
  override name = "PackError";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

export interface PackSignature {
  /** the .sig.bin file */
  file: string;
  verified: boolean;
  keyID?: string;
  /** why it is not verified (no keyring given, or the check's reason) */
  reason?: string;
}

export interface LoadedPack {
  name: string;
  version: string;
  file: string;
  compression: "gzip" | "zstd" | "none";
  signature?: PackSignature;
  images: string[];
  charts: string[];
  artifact: ArtifactInput;
  warnings: string[];
  cleanup(): Promise<void>;
}

function safeRel(name: string): string | undefined {
  const n = name.replace(/^\.\//, "");
  if (!n || n.startsWith("/") || n.split("/").some((p) => p === "..")) return undefined;
  return n;
}

/** Whether a file is a detached pack signature (never a pack itself). */
export function isPackSignature(file: string): boolean {
  return /\.sig\.bin$/i.test(file);
}

/** The `.sig.bin` that belongs to a pack: `<pack>.sig.bin` (pack name without .zst/.tgz/.tar.gz/.tar) or `<file>.sig.bin`. */
export function packSignatureFile(file: string): string | undefined {
  const base = file.replace(/\.(tar\.zst|tar\.gz|tgz|zst|tzst|tar)$/i, "");
  for (const c of [`${base}.sig.bin`, `${file}.sig.bin`]) if (existsSync(c)) return c;
  return undefined;
}

/** A pack's tar entries: zstd packs streamed through node:zlib's zstd (bounded like charts); gzip/plain as charts. */
async function readPackEntries(file: string): Promise<{ entries: TarEntry[]; compression: LoadedPack["compression"] }> {
  const compression = await detectCompression(file);
  if (compression !== "zstd") return { entries: await readTarGz(file), compression };
  const z = createDecompressor("zstd", file);
  const chunks: Buffer[] = [];
  let n = 0;
  const src = createReadStream(file, { highWaterMark: 1 << 20 });
  src.on("error", (e) => z.destroy(e));
  for await (const c of src.pipe(z)) {
    n += (c as Buffer).length;
    if (n > MAX_CHART_EXPANDED) throw new PackError(`${file}: expands to more than ${MAX_CHART_EXPANDED >> 20} MiB`, "is this a pack?");
    chunks.push(c as Buffer);
  }
  return { entries: parseTar(Buffer.concat(chunks), file), compression };
}

/** Read and unpack a pack tarball (.tgz, .tar or Artifact Studio .zst) into a temp dir; keys verify its .sig.bin. */
export async function loadPack(file: string, opts: { keys?: PublicKey[] } = {}): Promise<LoadedPack> {
  if (isPackSignature(file)) throw new PackError(`${file} is a pack signature, not a pack`, "give the pack itself; its .sig.bin next to it is carried along");
  let entries: TarEntry[];
  let compression: LoadedPack["compression"];
  try {
    ({ entries, compression } = await readPackEntries(file));
  } catch (e) {
    if ((e as { code?: string }).code === "UNSUPPORTED") throw e;
    throw new PackError(`${file}: not a pack tarball (${(e as Error).message})`);
  }
  const work = await mkdtemp(join(tmpdir(), "ka-pack-"));
  const cleanup = () => import("node:fs/promises").then((f) => f.rm(work, { recursive: true, force: true }));
  try {
    for (const e of entries) {
      if (e.type !== "file") continue;
      const rel = safeRel(e.name);
      if (!rel) throw new PackError(`${file}: unsafe path "${e.name}"`);
      await mkdir(dirname(join(work, rel)), { recursive: true });
      await writeFile(join(work, rel), e.data);
    }
    // pack.json at the top or in one top-level folder
    const pj = entries.map((e) => safeRel(e.name)).filter((n): n is string => !!n && /^([^/]+\/)?pack\.json$/.test(n)).sort((a, b) => a.length - b.length)[0];
    if (!pj) throw new PackError(`${file}: no pack.json`, "is this a Palette pack tarball?");
    const root = join(work, dirname(pj));
    const pack = JSON.parse(entries.find((e) => safeRel(e.name) === pj)!.data.toString()) as { name?: string; version?: string; [k: string]: unknown };
    if (!pack.name || !pack.version) throw new PackError(`${file}: pack.json needs name and version`);
    const warnings: string[] = [];
    const vEntry = entries.find((e) => safeRel(e.name) === join(dirname(pj), "values.yaml").replace(/^\.\//, ""));
    const values = vEntry ? (parse(new TextDecoder().decode(vEntry.data)) as any) : undefined;
    const images: string[] = [];
    for (const [i, x] of ((values?.pack?.content?.images ?? []) as any[]).entries()) {
      const raw = typeof x === "string" ? x : x?.image;
      const n = tryNormalizeImage(raw);
      if (n) images.push(n);
      else warnings.push(`values.yaml pack.content.images[${i}]: not an image reference: ${JSON.stringify(raw)}`);
    }
    const chartsDir = join(root, "charts");
    const charts = (await readdir(chartsDir).catch(() => [] as string[])).filter((f) => /\.(tgz|tar\.gz)$/.test(f)).map((f) => join(chartsDir, f));
    let signature: PackSignature | undefined;
    const sigFile = packSignatureFile(file);
    if (!sigFile && opts.keys?.length) throw new PackError(`${file}: unsigned (no ${basename(file).replace(/\.(tar\.zst|tar\.gz|tgz|zst|tzst|tar)$/i, "")}.sig.bin next to it) and --pack-keyring requires every pack to be signed`, "get the pack again with its .sig.bin from Artifact Studio (an unsigned pack is refused like an altered one)");
    if (sigFile) {
      if (opts.keys?.length) {
        const r = await verifyDetached(file, sigFile, opts.keys).catch((e) => ({ ok: false, keyID: undefined, reason: (e as Error).message }));
        if (!r.ok) throw new PackError(`${file}: signature ${basename(sigFile)} does not verify: ${r.reason}`, "the pack may have been altered; get it again from Artifact Studio (or check --pack-keyring)");
        signature = { file: sigFile, verified: true, keyID: r.keyID };
      } else signature = { file: sigFile, verified: false, reason: "no --pack-keyring given" };
    }
    const layers: ArtifactInput["spec"]["layers"] = [{ mediaType: compression === "zstd" ? PACK_CONTENT_ZSTD_MT : PACK_CONTENT_MT, file, annotations: { "org.opencontainers.image.title": basename(file) } }];
    if (signature) layers.push({ mediaType: PACK_SIGNATURE_MT, file: signature.file, annotations: { "org.opencontainers.image.title": basename(signature.file), "io.kube-airgap.pack.signature.verified": String(signature.verified) } });
    const artifact: ArtifactInput = {
      kind: "pack",
      name: String(pack.name),
      version: String(pack.version),
      spec: {
        config: { mediaType: PACK_CONFIG_MT, bytes: entries.find((e) => safeRel(e.name) === pj)!.data },
        layers,
        annotations: { "org.opencontainers.image.title": String(pack.name), "org.opencontainers.image.version": String(pack.version) },
      },
      images,
      source: file,
    };
    return { name: String(pack.name), version: String(pack.version), file, compression, ...(signature ? { signature } : {}), images, charts, artifact, warnings, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Chart inputs for the charts inside a pack (discovered with the chart's defaults; rendering optional). */
export function packChartInputs(p: LoadedPack, request: Omit<ChartRequest, "chart">, discover: Omit<DiscoverOptions, "chartDir">): ChartInput[] {
  return p.charts.map((c) => ({ request: { ...request, chart: c }, discover }));
}

// ---------------------------------------------------------------- pack signatures inside an archive

/** What verifyArchivePacks reads: the archive's roots, their manifests, and blobs (by offset, or in archive order). */
export interface PackArchiveSource {
  roots: { desc: Descriptor; tag?: string }[];
  manifest(desc: Descriptor): Promise<Uint8Array>;
  /** random access to a blob's bytes */
  blob?(desc: Descriptor): Promise<Readable>;
  /** no random access (a compressed archive read in order): each wanted blob once, in archive order */
  walk?(wanted: Set<string>, handle: (desc: Descriptor, stream: Readable) => Promise<void>): Promise<void>;
}

export interface PackVerdict {
  /** the pack's ref name in the archive (packs/<name>:<version>) */
  ref: string;
  digest: string;
  keyID: string;
}

const MAX_SIGNATURE = 1 << 20;

/**
 * With --pack-keyring, where a bundle is used (push, serve): every pack artifact in the archive must carry its
 * detached signature layer, and that signature must verify its content layer with one of the keys. Unsigned is
 * refused like altered. Returns one verdict per pack (none: the archive holds no pack).
 */
export async function verifyArchivePacks(label: string, src: PackArchiveSource, keys: PublicKey[], opts: { tempDir?: string } = {}): Promise<PackVerdict[]> {
  const packs: { ref: string; digest: string; content: Descriptor; sig: Descriptor }[] = [];
  const seen = new Set<string>();
  for (const r of src.roots) {
    if (!isManifest(r.desc.mediaType) || seen.has(`${r.desc.digest} ${r.tag}`)) continue;
    seen.add(`${r.desc.digest} ${r.tag}`);
    let m: { config?: Descriptor; layers?: Descriptor[] };
    try {
      m = JSON.parse(Buffer.from(await src.manifest(r.desc)).toString("utf8"));
    } catch {
      continue; // not a manifest we can read: not a pack (push/serve report unreadable manifests themselves)
    }
    if (m.config?.mediaType !== PACK_CONFIG_MT) continue;
    const ref = r.tag ?? r.desc.digest;
    const content = m.layers?.find((l) => l.mediaType === PACK_CONTENT_MT || l.mediaType === PACK_CONTENT_ZSTD_MT);
    const sig = m.layers?.find((l) => l.mediaType === PACK_SIGNATURE_MT);
    if (!content) throw new PackError(`${label}: pack ${ref} has no content layer`, "the archive may have been altered: export the pack again");
    if (!sig) throw new PackError(`${label}: pack ${ref} is unsigned (no .sig.bin was carried with it) and --pack-keyring requires every pack to be signed`, "export it again from the pack and its .sig.bin (export-pack --pack-keyring refuses unsigned packs)");
    if (sig.size > MAX_SIGNATURE) throw new PackError(`${label}: pack ${ref}: signature layer of ${sig.size} bytes is not a detached signature`);
    packs.push({ ref, digest: r.desc.digest, content, sig });
  }
  const sigs = new Map<string, Buffer>();
  const verdicts: PackVerdict[] = [];
  const check = async (p: (typeof packs)[number], data: () => Readable | Promise<Readable>) => {
    const r = await verifyDetachedStream(data, sigs.get(p.sig.digest)!, `${label}: pack ${p.ref} signature`, keys);
    if (!r.ok) throw new PackError(`${label}: pack ${p.ref}: signature does not verify: ${r.reason}`, "the pack was altered after it was signed, or --pack-keyring holds the wrong key: get the bundle again");
    verdicts.push({ ref: p.ref, digest: p.digest, keyID: r.keyID });
  };
  const verified = (desc: Descriptor, s: Readable) => {
    const v = new VerifyStream(`blob ${desc.digest} in ${label}`, desc.digest, desc.size);
    s.on("error", (e) => v.destroy(e));
    return s.pipe(v);
  };
  const readAll = async (s: Readable) => {
    const chunks: Buffer[] = [];
    for await (const c of s) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };
  if (!packs.length) return verdicts;
  if (src.blob) {
    for (const p of packs) {
      if (!sigs.has(p.sig.digest)) sigs.set(p.sig.digest, await readAll(verified(p.sig, await src.blob(p.sig))));
      await check(p, async () => verified(p.content, await src.blob!(p.content)));
    }
    return verdicts;
  }
  // in archive order: signatures (small) kept in memory; a content blob met before its signature waits in a temp file
  let work: string | undefined;
  let unregister: (() => void) | undefined;
  const spooled = new Map<string, string>();
  try {
    const wanted = new Set(packs.flatMap((p) => [p.sig.digest, p.content.digest]));
    await src.walk!(wanted, async (desc, stream) => {
      const sig = packs.find((p) => p.sig.digest === desc.digest);
      if (sig) {
        const b = await readAll(stream);
        verifyBytes(`blob ${desc.digest} in ${label}`, b, desc.digest, sig.sig.size);
        sigs.set(desc.digest, b);
      }
      const users = packs.filter((p) => p.content.digest === desc.digest);
      if (!users.length) return sig ? undefined : void stream.resume();
      if (users.every((p) => sigs.has(p.sig.digest)) && users.length === 1) return check(users[0]!, () => stream);
      if (!work) {
        work = await mkdtemp(join(opts.tempDir ?? tmpdir(), "ka-pack-verify-"));
        unregister = removeOnInterrupt(`checking pack signatures in ${label}`, work);
      }
      const f = join(work, desc.digest.replace(":", "-"));
      await pipeline(stream, createWriteStream(f));
      spooled.set(desc.digest, f);
    });
    for (const p of packs) if (spooled.has(p.content.digest)) await check(p, () => createReadStream(spooled.get(p.content.digest)!, { highWaterMark: 1 << 20 }));
  } finally {
    if (work) await rm(work, { recursive: true, force: true });
    unregister?.();
  }
  return verdicts;
}
