// Looking inside the main artifact of a package: an OLM bundle image (CSV + metadata/annotations.yaml) or an
// OCI Helm chart (Chart.yaml, values.yaml, module-plugin.yaml). Only small files are read; layers are streamed.
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { isIndex, MT, type Descriptor, type ImageIndex, type ImageManifest, type Platform, platformMatches, formatPlatform, type Store } from "../../../shared/oci/index.ts";
import { readTar } from "../../../shared/tar/stream.ts";
import { readChartArchive } from "../../../shared/helm/chart.ts";

export class ArtifactError extends Error {
  override name = "ArtifactError";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

const dec = new TextDecoder();
export function json<T>(b: Uint8Array): T {
  return JSON.parse(dec.decode(b)) as T;
}

/** Resolve a root and, for an index, pick one image manifest (matching `platforms` if given). */
export async function imageManifest(store: Store, root: Descriptor, platforms: Platform[] = []): Promise<{ desc: Descriptor; manifest: ImageManifest }> {
  const bytes = await store.fetchManifest(root);
  if (!isIndex(root.mediaType)) return { desc: root, manifest: json<ImageManifest>(bytes) };
  const idx = json<ImageIndex>(bytes);
  const pick = idx.manifests.find((m) => m.platform && platformMatches(m.platform, platforms.length ? platforms : [m.platform!]) && m.platform.os !== "unknown") ?? idx.manifests[0];
  if (!pick) throw new ArtifactError(`${store.name}: the image index is empty`);
  return imageManifest(store, pick, platforms);
}

/** Platforms an image offers: index entries, or the config's os/arch for a single manifest. */
export async function imagePlatforms(store: Store, root: Descriptor): Promise<string[]> {
  const bytes = await store.fetchManifest(root);
  if (isIndex(root.mediaType)) {
    const idx = json<ImageIndex>(bytes);
    return idx.manifests.map((m) => formatPlatform(m.platform)).filter((p) => p && !p.startsWith("unknown/"));
  }
  const m = json<ImageManifest>(bytes);
  if (!/image\.config|container\.image/.test(m.config.mediaType)) return [];
  const cfg = json<{ os?: string; architecture?: string; variant?: string }>(await readBlob(store, m.config, 4 << 20));
  return cfg.os && cfg.architecture ? [formatPlatform({ os: cfg.os, architecture: cfg.architecture, ...(cfg.variant ? { variant: cfg.variant } : {}) })] : [];
}

export async function readBlob(store: Store, desc: Descriptor, limit: number): Promise<Uint8Array> {
  if (desc.size > limit) throw new ArtifactError(`${store.name}: blob ${desc.digest} is ${desc.size} bytes, more than expected (${limit})`);
  const chunks: Buffer[] = [];
  for await (const c of await store.fetchBlob(desc)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export type ArtifactKind = "bundle" | "chart";

export function artifactKind(m: ImageManifest): ArtifactKind | undefined {
  if (m.config.mediaType === MT.helmConfig || m.layers.some((l) => l.mediaType === MT.helmChart)) return "chart";
  if (m.layers.some((l) => /tar/.test(l.mediaType))) return "bundle";
  return undefined;
}

// ---------------------------------------------------------------- OLM bundles

export interface BundleInfo {
  packageName: string;
  channels: string[];
  defaultChannel?: string;
  csv: Record<string, any>;
  csvName: string;
  version: string;
  displayName?: string;
  description?: string;
  relatedImages: string[];
  replaces?: string;
  skipRange?: string;
  minKubeVersion?: string;
}

/** Read manifests/*.yaml and metadata/annotations.yaml from the bundle image layers. */
export async function readBundle(store: Store, manifest: ImageManifest, label: string): Promise<BundleInfo> {
  const files = new Map<string, string>();
  for (const layer of manifest.layers) {
    const body = await store.fetchBlob(layer);
    const gz = /gzip/.test(layer.mediaType) || layer.mediaType === MT.dockerLayerGzip;
    const src = gz ? body.pipe(createGunzip()) : body;
    body.on("error", (e) => src.destroy(e));
    for await (const e of readTar(src)) {
      const name = e.header.name.replace(/^\.?\//, "");
      if (e.header.type === "file" && /^(manifests|metadata)\/[^/]+\.(ya?ml|json)$/.test(name)) files.set(name, (await e.bytes(8 << 20)).toString("utf8"));
    }
  }
  const annText = files.get("metadata/annotations.yaml") ?? files.get("metadata/annotations.yml");
  if (!annText) throw new ArtifactError(`${label}: not an OLM bundle image (no metadata/annotations.yaml)`, "give --artifact an operator bundle image or an OCI Helm chart");
  const ann = (parseYaml(annText)?.annotations ?? {}) as Record<string, string>;
  const packageName = ann["operators.operatorframework.io.bundle.package.v1"];
  if (!packageName) throw new ArtifactError(`${label}: metadata/annotations.yaml has no operators.operatorframework.io.bundle.package.v1`);
  const channels = String(ann["operators.operatorframework.io.bundle.channels.v1"] ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const defaultChannel = ann["operators.operatorframework.io.bundle.channel.default.v1"] || channels[0];
  let csv: Record<string, any> | undefined;
  for (const [name, text] of files) {
    if (!name.startsWith("manifests/")) continue;
    for (const doc of parseAllDocuments(text)) {
      const o = doc.toJS();
      if (o?.kind === "ClusterServiceVersion") csv = o;
    }
  }
  if (!csv) throw new ArtifactError(`${label}: the bundle has no ClusterServiceVersion under manifests/`);
  const csvName = String(csv.metadata?.name ?? "");
  const version = String(csv.spec?.version ?? csvName.replace(/^.*?\.v(?=\d)/, ""));
  if (!csvName || !version) throw new ArtifactError(`${label}: the ClusterServiceVersion has no metadata.name or spec.version`);
  const related = new Set<string>();
  for (const r of csv.spec?.relatedImages ?? []) if (r?.image) related.add(String(r.image));
  for (const d of csv.spec?.install?.spec?.deployments ?? []) {
    for (const c of [...(d?.spec?.template?.spec?.containers ?? []), ...(d?.spec?.template?.spec?.initContainers ?? [])]) if (c?.image) related.add(String(c.image));
  }
  return {
    packageName,
    channels,
    defaultChannel,
    csv,
    csvName,
    version,
    displayName: csv.spec?.displayName,
    description: csv.metadata?.annotations?.description ?? (typeof csv.spec?.description === "string" ? csv.spec.description.split("\n")[0] : undefined),
    relatedImages: [...related],
    replaces: csv.spec?.replaces,
    skipRange: csv.metadata?.annotations?.["olm.skipRange"],
    minKubeVersion: csv.spec?.minKubeVersion,
  };
}

// ---------------------------------------------------------------- charts

export interface ChartInfo {
  /** the chart .tgz written to a temp dir */
  archive: string;
  metadata: Record<string, any>;
  values: Record<string, any>;
  modulePlugin?: string;
  pluginConfig?: string;
  cleanup(): Promise<void>;
}

/** Fetch the chart layer of an OCI chart to a temp file and read Chart.yaml, values.yaml, module-plugin.yaml. */
export async function readOciChart(store: Store, manifest: ImageManifest, label: string): Promise<ChartInfo> {
  const layer = manifest.layers.find((l) => l.mediaType === MT.helmChart) ?? manifest.layers[0];
  if (!layer) throw new ArtifactError(`${label}: the chart artifact has no layers`);
  const dir = await mkdtemp(join(tmpdir(), "violet-chart-"));
  const archive = join(dir, "chart.tgz");
  try {
    await pipeline(await store.fetchBlob(layer), createWriteStream(archive));
    return { ...(await readChartFile(archive, label)), cleanup: () => rm(dir, { recursive: true, force: true }) };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

export async function readChartFile(archive: string, label: string): Promise<Omit<ChartInfo, "cleanup">> {
  const info = await readChartArchive(archive, ["values.yaml", "module-plugin.yaml", "scripts/plugin-config.yaml"]).catch((e) => {
    throw new ArtifactError(`${label}: ${(e as Error).message}`);
  });
  const valuesText = info.files.get("values.yaml");
  const values = valuesText ? (parseYaml(dec.decode(valuesText)) ?? {}) : {};
  const mp = info.files.get("module-plugin.yaml");
  const pc = info.files.get("scripts/plugin-config.yaml");
  return { archive, metadata: info.metadata as Record<string, any>, values, ...(mp ? { modulePlugin: dec.decode(mp) } : {}), ...(pc ? { pluginConfig: dec.decode(pc) } : {}) };
}

/**
 * Images of a cluster plugin chart: values.yaml `global.images.<name>{repository, tag}`; a repository without a
 * registry host is prefixed with `global.registry.address`, else with the chart's own registry.
 */
export function pluginImages(values: Record<string, any>, fallbackRegistry: string): string[] {
  const images = values?.global?.images;
  if (!images || typeof images !== "object") return [];
  const registry = String(values?.global?.registry?.address ?? "").replace(/\/+$/, "") || fallbackRegistry;
  const out: string[] = [];
  for (const [name, v] of Object.entries(images as Record<string, any>)) {
    if (!v || typeof v !== "object" || !v.repository) continue;
    let repo = String(v.repository);
    const first = repo.split("/")[0]!;
    if (!(repo.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost"))) repo = `${registry}/${repo}`;
    const tag = v.tag !== undefined && v.tag !== null && v.tag !== "" ? String(v.tag) : undefined;
    const digest = v.digest ? String(v.digest) : undefined;
    if (!tag && !digest) throw new ArtifactError(`values.yaml global.images.${name}: no tag`, "set global.images.<name>.tag");
    out.push(`${repo}${tag ? `:${tag}` : ""}${digest ? `@${digest}` : ""}`);
  }
  return out;
}
