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
// keyring is given — otherwise the run says plainly that it was carried but NOT verified.
import { existsSync } from "node:fs";
import { createReadStream } from "node:fs";
import { basename } from "node:path";
import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parse } from "yaml";
import { MAX_CHART_EXPANDED, parseTar, readChartArchive as readTarGz, type TarEntry } from "../../../shared/helm/chart-tar.ts";
import { createDecompressor, detectCompression } from "../../../shared/oci/compression.ts";
import { verifyDetached, type PublicKey } from "../../../shared/signing/gpg.ts";
import { tryNormalizeImage } from "../../../shared/helm/image-ref.ts";
import type { DiscoverOptions } from "../../../shared/helm/discover.ts";
import type { ChartRequest } from "../../../shared/helm/chart-source.ts";
import { PACK_CONFIG_MT, PACK_CONTENT_MT, PACK_CONTENT_ZSTD_MT, PACK_SIGNATURE_MT, type ArtifactInput, type ChartInput } from "./plan.ts";

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
