// kubectl mirror inspect: what an archive (plain, gzip, zstd, split parts), an OCI layout or a registry reference
// holds — like `zarf package inspect`, `hauler store info`, `skopeo inspect`, `crane manifest` — without a
// registry and without extracting anything. An archive is read once as a stream (split parts in order, joined by
// the stream, their sha256 checked against NAME.parts); only JSON blobs up to 4 MiB (manifests, configs, index.json,
// kubectl-mirror.json) are kept, layers are skipped.
import { createReadStream } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { Readable } from "node:stream";
import { blobName, explainOpenError } from "../../../../shared/oci/archive.ts";
import { OciError } from "../../../../shared/oci/errors.ts";
import { createDecompressor, detectCompression, type Compression } from "../../../../shared/oci/compression.ts";
import { verifyBytes } from "../../../../shared/oci/digest.ts";
import { isIndex, isManifest } from "../../../../shared/oci/media-types.ts";
import { formatPlatform } from "../../../../shared/oci/platform.ts";
import type { Store } from "../../../../shared/oci/store.ts";
import { REF_NAME, type Descriptor, type ImageIndex, type Platform } from "../../../../shared/oci/types.ts";
import { readTar, safeEntryPath, TarError } from "../../../../shared/tar/stream.ts";
import { ArchiveError, METADATA_FILE, METADATA_KIND, splitParts, type ArchiveMetadata } from "../transfer/archive.ts";

const SMALL = 4 << 20;
const COSIGN_TAG = /^(sha256)-([a-f0-9]{64})\.(sig|att|sbom)$/;

export interface InspectedArtifact {
  kind: "chart" | "pack";
  name: string;
  version: string;
  /** where it is in the archive (index.json ref name), e.g. charts/app/app:1.2.3 */
  ref: string;
  digest?: string;
  size?: number;
  images: number;
}

export interface InspectedReferrer {
  digest: string;
  artifactType?: string;
  /** the cosign tag (sha256-….sig|att|sbom) it travels under, when it is one */
  tag?: string;
}

export interface InspectedImage {
  /** the image reference (its index.json ref name): `image`, as in images/export reports and the archive's metadata */
  image: string;
  digest: string;
  mediaType: string;
  platforms: string[];
  /** bytes of every manifest, config and layer of the image (each blob once) */
  size: number;
  /** cosign signatures/attestations/SBOMs (tags) and OCI referrers (subject) of the image */
  referrers: InspectedReferrer[];
}

export interface InspectReport {
  source: string;
  type: "oci-archive" | "oci-layout";
  compression?: Compression;
  /** archive size on disk (all parts) */
  fileSize?: number;
  parts?: { file: string; size: number; sha256: string }[];
  /** what kubectl mirror export recorded: who, when, with which flags */
  created?: { at?: string; by?: string; user?: string; host?: string; version?: string; args?: string[]; platforms?: string[]; extras?: boolean; incremental?: ArchiveMetadata["incremental"] };
  artifacts: InspectedArtifact[];
  images: InspectedImage[];
  /** roots of index.json that are neither a listed artifact nor an image nor a referrer (bare tags, …) */
  other: { ref?: string; digest: string; mediaType: string }[];
  totals: { charts: number; packs: number; images: number; referrers: number; blobs: number; bytes: number };
}

/** What the inspection reads: index.json, kubectl-mirror.json, JSON blobs, and the size of every blob. */
interface Contents {
  index: ImageIndex;
  rawIndex: Buffer;
  metadata?: ArchiveMetadata;
  json(digest: string): unknown;
  sizes: Map<string, number>;
}

function parseJson(b: Buffer): unknown {
  if (b[0] !== 0x7b) return undefined;
  try {
    return JSON.parse(b.toString("utf8"));
  } catch {
    return undefined;
  }
}

async function* concat(files: string[], hashes?: ReturnType<typeof createHash>[]): AsyncGenerator<Uint8Array> {
  for (const [i, f] of files.entries()) {
    for await (const c of createReadStream(f, { highWaterMark: 1 << 20 })) {
      hashes?.[i]!.update(c as Buffer);
      yield c as Buffer;
    }
  }
}

/** One pass over an archive (its parts concatenated), decompressed when needed. */
async function readArchive(files: string[], label: string, parts?: { sha256: string; file: string }[]): Promise<{ contents: Contents; compression: Compression }> {
  const compression = await detectCompression(files[0]!);
  const hashes = parts ? files.map(() => createHash("sha256")) : undefined;
  let src: AsyncIterable<Uint8Array> = concat(files, hashes);
  if (compression !== "none") src = Readable.from(src).pipe(createDecompressor(compression, label));
  const small = new Map<string, Buffer>();
  const json = new Map<string, unknown>();
  const sizes = new Map<string, number>();
  const seen = new Set<string>();
  for await (const e of readTar(src)) {
    if (e.header.type === "directory") continue;
    const name = safeEntryPath(e.header.name);
    if (e.header.type !== "file") throw new TarError(`archive ${label}: refusing ${e.header.type} entry "${e.header.name}" (only files and directories are allowed)`, "the archive may be malicious");
    if (seen.has(name)) throw new TarError(`archive ${label}: duplicate entry "${name}" (an archive holds each file once; a second copy means it was tampered with)`, "get it again from its source");
    seen.add(name);
    const m = /^blobs\/([a-z0-9]+)\/([a-f0-9]+)$/.exec(name);
    if (m) {
      const digest = `${m[1]}:${m[2]}`;
      sizes.set(digest, e.header.size);
      if (e.header.size > SMALL) continue;
      const b = await e.bytes(SMALL);
      const j = parseJson(b);
      if (j !== undefined) {
        verifyBytes(`blob ${digest} in ${label}`, b, digest, e.header.size);
        json.set(digest, j);
      }
    } else if (e.header.size <= SMALL && (name === "index.json" || name === "oci-layout" || name === METADATA_FILE)) small.set(name, await e.bytes(SMALL));
  }
  if (parts) for (const [i, p] of parts.entries()) if (`sha256:${hashes![i]!.digest("hex")}` !== p.sha256) throw new ArchiveError(`split archive ${label}: part ${p.file} is corrupt (sha256 mismatch)`, "copy it again");
  if (!small.has("oci-layout") || !small.has("index.json")) throw new OciError(`${label} is not an OCI archive (no ${small.has("index.json") ? "oci-layout" : "index.json"} entry)`, "BAD_ARCHIVE", "inspect archives written by `kubectl mirror export`, `kubectl mirror copy … oci-archive:FILE` or skopeo");
  return { contents: { index: JSON.parse(small.get("index.json")!.toString("utf8")) as ImageIndex, rawIndex: small.get("index.json")!, metadata: metadataOf(small.get(METADATA_FILE), label), json: (d) => json.get(d), sizes }, compression };
}

function metadataOf(b: Buffer | undefined, label: string): ArchiveMetadata | undefined {
  if (!b) return undefined;
  const m = parseJson(b) as ArchiveMetadata | undefined;
  if (!m || m.kind !== METADATA_KIND || !Array.isArray(m.artifacts) || !Array.isArray(m.images)) throw new ArchiveError(`${label}: ${METADATA_FILE} is not a ${METADATA_KIND}`);
  return m;
}

async function readLayout(dir: string): Promise<Contents> {
  const rawIndex = await readFile(join(dir, "index.json")).catch(() => {
    throw new ArchiveError(`oci-layout:${dir} is not an OCI layout (no index.json)`, "give an OCI layout directory (oci-layout, index.json, blobs/)");
  });
  const index = JSON.parse(rawIndex.toString("utf8")) as ImageIndex;
  const sizes = new Map<string, number>();
  const json = new Map<string, unknown>();
  for (const alg of await readdir(join(dir, "blobs")).catch(() => [] as string[])) {
    for (const hex of await readdir(join(dir, "blobs", alg))) {
      const digest = `${alg}:${hex}`;
      const st = await stat(join(dir, blobName(digest)));
      sizes.set(digest, st.size);
      if (st.size <= SMALL) {
        const fh = await readFile(join(dir, blobName(digest)));
        const j = parseJson(fh);
        if (j !== undefined) json.set(digest, j);
      }
    }
  }
  const meta = await readFile(join(dir, METADATA_FILE)).catch(() => undefined);
  return { index, rawIndex, metadata: metadataOf(meta, dir), json: (d) => json.get(d), sizes };
}

interface ManifestJson {
  mediaType?: string;
  manifests?: Descriptor[];
  config?: Descriptor;
  layers?: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
}

/** Platforms, size (each blob once) and the child digests of a manifest or index. */
function describe(c: Contents, desc: Descriptor): { platforms: string[]; size: number; digests: Set<string> } {
  const blobs = new Map<string, number>();
  const platforms: string[] = [];
  const walk = (d: Descriptor, platform?: Platform, depth = 0) => {
    if (blobs.has(d.digest) || depth > 8) return;
    blobs.set(d.digest, d.size);
    const j = c.json(d.digest) as ManifestJson | undefined;
    if (!j) return;
    if (j.manifests) {
      for (const m of j.manifests) walk(m, m.platform, depth + 1);
      return;
    }
    if (j.config) {
      blobs.set(j.config.digest, j.config.size);
      const cfg = c.json(j.config.digest) as { os?: string; architecture?: string; variant?: string } | undefined;
      const p = platform ?? (cfg?.os && cfg.architecture ? { os: cfg.os, architecture: cfg.architecture, variant: cfg.variant } : undefined);
      // buildkit attestation manifests (unknown/unknown) are not a platform of the image
      if (p && !(p.os === "unknown" && p.architecture === "unknown")) platforms.push(formatPlatform(p));
    }
    for (const l of j.layers ?? []) blobs.set(l.digest, l.size);
  };
  walk(desc);
  return { platforms: [...new Set(platforms)], size: [...blobs.values()].reduce((a, b) => a + b, 0), digests: new Set(blobs.keys()) };
}

function analyse(c: Contents): Omit<InspectReport, "source" | "type"> {
  const meta = c.metadata;
  const roots = (c.index.manifests ?? []).map((m) => ({ desc: m, ref: m.annotations?.[REF_NAME] }));
  // referrers: cosign tags (sha256-<hex>.sig) and manifests whose subject is another root's graph
  const bySubject = new Map<string, InspectedReferrer[]>();
  const referrerDigests = new Set<string>();
  const add = (subject: string, r: InspectedReferrer) => {
    const list = bySubject.get(subject) ?? [];
    if (!list.some((x) => x.digest === r.digest && x.tag === r.tag)) list.push(r);
    bySubject.set(subject, list);
    referrerDigests.add(r.digest);
  };
  for (const { desc, ref } of roots) {
    const j = c.json(desc.digest) as ManifestJson | undefined;
    const cs = ref ? COSIGN_TAG.exec(ref) : null;
    const artifactType = j?.artifactType ?? (j?.config?.mediaType && !/image\.config|container\.image/.test(j.config.mediaType) ? j.config.mediaType : undefined) ?? j?.layers?.[0]?.mediaType;
    if (cs) add(`${cs[1]}:${cs[2]}`, { digest: desc.digest, artifactType, tag: ref });
    else if (j?.subject?.digest) add(j.subject.digest, { digest: desc.digest, artifactType });
  }
  const artifacts: InspectedArtifact[] = [];
  const artifactRefs = new Set<string>();
  for (const a of meta?.artifacts ?? []) {
    const root = roots.find((r) => r.ref === a.ref);
    artifacts.push({ kind: a.kind, name: a.name, version: a.version, ref: a.ref, ...(root ? { digest: root.desc.digest, size: describe(c, root.desc).size } : {}), images: a.images?.length ?? 0 });
    artifactRefs.add(a.ref);
  }
  const images: InspectedImage[] = [];
  const other: InspectReport["other"] = [];
  const imageRefs = new Set((meta?.images ?? []).map((i) => i.ref));
  for (const { desc, ref } of roots) {
    if (ref && artifactRefs.has(ref)) continue;
    if (referrerDigests.has(desc.digest) && (!ref || COSIGN_TAG.test(ref))) continue;
    // without kubectl-mirror.json (skopeo, copy): every root named by an image reference is an image
    const isImage = ref && (meta ? imageRefs.has(ref) : ref.includes("/") || isManifest(desc.mediaType));
    if (!isImage) {
      other.push({ ...(ref ? { ref } : {}), digest: desc.digest, mediaType: desc.mediaType });
      continue;
    }
    const d = describe(c, desc);
    const referrers: InspectedReferrer[] = [];
    for (const x of d.digests) referrers.push(...(bySubject.get(x) ?? []));
    images.push({ image: ref!, digest: desc.digest, mediaType: (c.json(desc.digest) as ManifestJson | undefined)?.mediaType ?? desc.mediaType, platforms: d.platforms, size: d.size, referrers });
  }
  let bytes = 0;
  for (const s of c.sizes.values()) bytes += s;
  return {
    ...(meta
      ? { created: { at: meta.created || undefined, by: meta.createdBy, ...(meta.createdByUser ? { user: meta.createdByUser } : {}), ...(meta.createdOnHost ? { host: meta.createdOnHost } : {}), ...(meta.toolVersion ? { version: meta.toolVersion } : {}), ...(meta.args ? { args: meta.args } : {}), ...(meta.platforms ? { platforms: meta.platforms } : {}), extras: meta.extras, ...(meta.incremental ? { incremental: meta.incremental } : {}) } }
      : {}),
    artifacts,
    images,
    other,
    totals: {
      charts: artifacts.filter((a) => a.kind === "chart").length,
      packs: artifacts.filter((a) => a.kind === "pack").length,
      images: images.length,
      referrers: referrerDigests.size,
      blobs: c.sizes.size,
      bytes,
    },
  };
}

/** Inspect ARCHIVE (plain/gzip/zstd; NAME, NAME.parts or NAME.partNNN of a split one) or oci-layout:DIR. */
export async function inspectLocal(arg: string): Promise<{ report: InspectReport; rawIndex: Buffer }> {
  if (arg.startsWith("oci-layout:")) {
    const dir = arg.slice("oci-layout:".length);
    const c = await readLayout(dir);
    return { report: { source: arg, type: "oci-layout", ...analyse(c) }, rawIndex: c.rawIndex };
  }
  const path = arg.replace(/^oci-archive:/, "");
  const split = await splitParts(path);
  if (split) {
    const { contents, compression } = await readArchive(split.files, split.base, split.parts).catch(async (e) => {
      throw await explainOpenError(split.base, e, split.files);
    });
    return { report: { source: arg, type: "oci-archive", compression, fileSize: split.parts.reduce((n, p) => n + p.size, 0), parts: split.parts, ...analyse(contents) }, rawIndex: contents.rawIndex };
  }
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new ArchiveError(`archive ${path}: no such file`, "check the path (a split archive needs NAME.parts next to its parts)");
  if (st.isDirectory()) throw new ArchiveError(`${path} is a directory`, `for an OCI layout directory run: kubectl mirror inspect oci-layout:${path}`);
  const { contents, compression } = await readArchive([path], path).catch(async (e) => {
    throw await explainOpenError(path, e);
  });
  return { report: { source: arg, type: "oci-archive", compression, fileSize: st.size, ...analyse(contents) }, rawIndex: contents.rawIndex };
}

export interface ReferenceReport {
  reference: string;
  digest: string;
  mediaType: string;
  size: number;
  platforms: string[];
  /** index: its entries; image: its config and layers */
  manifests?: { digest: string; mediaType: string; size: number; platform?: string }[];
  config?: { digest: string; mediaType: string; size: number };
  layers?: { digest: string; mediaType: string; size: number }[];
  /** the image config (os, architecture, created, labels, …) of a single-platform image */
  imageConfig?: unknown;
  referrers: InspectedReferrer[];
}

async function blobJson(store: Store, d: Descriptor): Promise<{ bytes: Buffer; json: unknown }> {
  if (d.size > SMALL) throw new ArchiveError(`${d.digest} is larger than ${SMALL} bytes: not a config`);
  const chunks: Buffer[] = [];
  for await (const c of await store.fetchBlob(d)) chunks.push(c as Buffer);
  const bytes = Buffer.concat(chunks);
  return { bytes, json: parseJson(bytes) };
}

/** A registry reference (or oci-archive:FILE:TAG / oci-layout:DIR:TAG): its manifest, config, platforms, referrers. */
export async function inspectReference(store: Store, reference: string, label: string, raw?: "manifest" | "config"): Promise<{ report: ReferenceReport; raw?: Uint8Array }> {
  const desc = await store.resolve(reference);
  const bytes = await store.fetchManifest(desc);
  const j = JSON.parse(Buffer.from(bytes).toString("utf8")) as ManifestJson;
  const mediaType = j.mediaType ?? desc.mediaType;
  if (raw === "manifest") return { report: undefined as never, raw: bytes };
  const referrers: InspectedReferrer[] = [];
  if (store.referrers) for (const r of await store.referrers({ ...desc, mediaType }).catch(() => [] as Descriptor[])) referrers.push({ digest: r.digest, artifactType: r.artifactType });
  if (store.tags) {
    const tags = await store.tags().catch(() => [] as string[]);
    for (const t of tags) if (t.startsWith(desc.digest.replace(":", "-") + ".")) referrers.push({ digest: (await store.resolve(t)).digest, tag: t });
  }
  if (isIndex(mediaType) || j.manifests) {
    if (raw === "config") throw new ArchiveError(`${label} is an index (${j.manifests?.length ?? 0} manifests): it has no config`, "give one platform's manifest by digest (NAME@sha256:…) for its config");
    const platforms = (j.manifests ?? []).map((m) => formatPlatform(m.platform)).filter((p) => p && p !== "unknown/unknown");
    let size = bytes.byteLength;
    for (const m of j.manifests ?? []) {
      size += m.size;
      try {
        const mj = JSON.parse(Buffer.from(await store.fetchManifest(m)).toString("utf8")) as ManifestJson;
        size += (mj.config?.size ?? 0) + (mj.layers ?? []).reduce((n, l) => n + l.size, 0);
      } catch {}
    }
    return { report: { reference: label, digest: desc.digest, mediaType, size, platforms: [...new Set(platforms)], manifests: (j.manifests ?? []).map((m) => ({ digest: m.digest, mediaType: m.mediaType, size: m.size, ...(m.platform ? { platform: formatPlatform(m.platform) } : {}) })), referrers } };
  }
  const cfg = j.config ? await blobJson(store, j.config) : undefined;
  if (raw === "config") return { report: undefined as never, raw: cfg?.bytes ?? new Uint8Array() };
  const c = cfg?.json as { os?: string; architecture?: string; variant?: string } | undefined;
  return {
    report: {
      reference: label,
      digest: desc.digest,
      mediaType,
      size: bytes.byteLength + (j.config?.size ?? 0) + (j.layers ?? []).reduce((n, l) => n + l.size, 0),
      platforms: c?.os && c.architecture ? [formatPlatform({ os: c.os, architecture: c.architecture, variant: c.variant })] : [],
      ...(j.config ? { config: { digest: j.config.digest, mediaType: j.config.mediaType, size: j.config.size } } : {}),
      layers: (j.layers ?? []).map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size })),
      ...(cfg?.json !== undefined ? { imageConfig: cfg.json } : {}),
      referrers,
    },
  };
}

