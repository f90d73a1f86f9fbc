// The kubectl-violet package format (see ../PACKAGE-FORMAT.md). A package is a gzip-compressed tar that is at
// the same time an OCI image layout archive (oci-layout, index.json, blobs/…) with two extra parts in front:
//
//   violet-package.yaml          metadata (always the first entry, so `show` reads a few KiB of a multi-GB file)
//   resources/…                  type-specific resources (cluster plugins: resources/module-plugin.yaml)
//   oci-layout, index.json       the OCI layout; index.json tags each root with its source reference
//   blobs/sha256/…               manifests and configs first, then layers (largest first)
//
// The working directory written by `create` has the same parts unpacked: OUTDIR/violet-package.yaml,
// OUTDIR/resources/, OUTDIR/oci/ (an OCI layout directory).
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createGunzip } from "node:zlib";
import { parse as parseYaml } from "yaml";
import { readTar, TarError } from "../../../shared/tar/stream.ts";
import { toYaml } from "../../../shared/cli/output.ts";

export const METADATA_FILE = "violet-package.yaml";
export const API_VERSION = "violet.kube-airgap.io/v1";
export const KIND = "Package";
/** the OCI layout inside a working directory */
export const LAYOUT_DIR = "oci";
export const RESOURCES_DIR = "resources";
export const MODULE_PLUGIN_FILE = "resources/module-plugin.yaml";

/** `bundle` = OLM operator bundle (what violet's `show` prints as Type), `moduleplugin` = cluster plugin, `chart` = Helm chart. */
export type PackageType = "bundle" | "moduleplugin" | "chart";
export const PACKAGE_TYPES: PackageType[] = ["bundle", "moduleplugin", "chart"];

export interface PackageImage {
  /** the source reference (registry/repository:tag[@digest]) */
  ref: string;
  /** the root manifest/index digest inside the package layout; absent when the image is not in the package */
  digest?: string;
  mediaType?: string;
}

export interface PackageMetadata {
  apiVersion: string;
  kind: string;
  type: PackageType;
  /** operator package name / plugin module name / chart name */
  name: string;
  displayName?: string;
  description?: string;
  version: string;
  /** OLM channels (bundles) */
  channels?: string[];
  defaultChannel?: string;
  /** os/arch[/variant] platforms kept in the package (empty: all) */
  architectures: string[];
  /** the main artifact: the bundle image or the OCI chart */
  artifact: PackageImage & { tag: string };
  /** every other image the package carries (or refers to, with imagesIncluded false) */
  relatedImages: PackageImage[];
  /** CatalogSource the operator is published to unless push says otherwise */
  defaultCatalogSource?: string;
  /** false when built with --skip-package-images: only the main artifact is inside */
  imagesIncluded: boolean;
  /** bundles: the ClusterServiceVersion */
  csv?: { name: string; replaces?: string; skipRange?: string; minKubeVersion?: string };
  /** charts and plugins: Chart.yaml basics */
  chart?: { name: string; version: string; appVersion?: string; description?: string };
  /** files under resources/ (paths relative to the package root) */
  resources: string[];
  createdBy?: string;
  created?: string;
}

export class PackageFormatError extends Error {
  override name = "PackageFormatError";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

/** Parse and check violet-package.yaml. */
export function parseMetadata(text: string, where: string): PackageMetadata {
  let m: any;
  try {
    m = parseYaml(text);
  } catch (e) {
    throw new PackageFormatError(`${where}: ${METADATA_FILE} is not valid YAML (${(e as Error).message.split("\n")[0]})`);
  }
  if (!m || typeof m !== "object") throw new PackageFormatError(`${where}: ${METADATA_FILE} is empty`);
  if (m.apiVersion !== API_VERSION || m.kind !== KIND) throw new PackageFormatError(`${where}: ${METADATA_FILE} has apiVersion/kind ${m.apiVersion}/${m.kind}, expected ${API_VERSION}/${KIND}`, "the package was made by another tool or a newer version");
  if (!PACKAGE_TYPES.includes(m.type)) throw new PackageFormatError(`${where}: unknown package type "${m.type}" (expected ${PACKAGE_TYPES.join(", ")})`);
  for (const f of ["name", "version"]) if (typeof m[f] !== "string" || !m[f]) throw new PackageFormatError(`${where}: ${METADATA_FILE} misses "${f}"`);
  if (!m.artifact?.ref || !m.artifact?.tag) throw new PackageFormatError(`${where}: ${METADATA_FILE} misses artifact.ref/artifact.tag`);
  m.architectures ??= [];
  m.relatedImages ??= [];
  m.resources ??= [];
  m.imagesIncluded ??= true;
  return m as PackageMetadata;
}

export function metadataText(m: PackageMetadata): string {
  return toYaml(m);
}

/**
 * Read the metadata of a package file by streaming only its first entries (constant memory, fast on multi-GB
 * files). Also returns the small resources under resources/ that come before the layout.
 */
export async function readPackage(file: string, opts: { resources?: boolean } = {}): Promise<{ metadata: PackageMetadata; resources: Map<string, string> }> {
  const st = await stat(file).catch((e: NodeJS.ErrnoException) => {
    throw new PackageFormatError(e.code === "ENOENT" ? `${file}: no such file` : `${file}: ${e.message}`);
  });
  if (st.isDirectory()) throw new PackageFormatError(`${file} is a directory`, "give one package file (.tgz); verify and push also take a directory");
  const src = createReadStream(file, { highWaterMark: 1 << 16 });
  const gunzip = createGunzip();
  src.on("error", (e) => gunzip.destroy(e));
  const resources = new Map<string, string>();
  let metadata: PackageMetadata | undefined;
  let laidOut = false;
  try {
    for await (const e of readTar(src.pipe(gunzip))) {
      const name = e.header.name.replace(/^\.\//, "");
      if (e.header.type === "directory") continue;
      if (name === METADATA_FILE) {
        // a second copy means tampering (tar tools disagree on which copy wins): refuse it
        if (metadata) throw new PackageFormatError(`${file}: duplicate ${METADATA_FILE} entry (the package was tampered with)`, "get the package again from its source");
        metadata = parseMetadata((await e.bytes(4 << 20)).toString("utf8"), file);
        continue; // decide on the next entry, so a second copy right behind it is seen
      }
      if (name.startsWith(`${RESOURCES_DIR}/`)) {
        if (opts.resources) resources.set(name, (await e.bytes(16 << 20)).toString("utf8"));
      } else if (metadata) break; // the layout starts: metadata and resources come before it (packages we write)
      else laidOut = true; // re-packed in another order: keep looking (layers are skipped, not read)
      if (metadata && (!opts.resources || (laidOut && metadata.resources.every((r) => resources.has(r))))) break;
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new PackageFormatError(`${file}: no such file`);
    if (e instanceof PackageFormatError) throw e;
    if (e instanceof TarError || /Z_|incorrect header|unexpected end/i.test(`${code} ${(e as Error).message}`)) throw new PackageFormatError(`${file}: not a package (${(e as Error).message})`, "packages are .tgz files written by `kubectl violet package`");
    throw e;
  } finally {
    src.destroy();
    gunzip.destroy();
  }
  if (!metadata) throw new PackageFormatError(`${file}: not a kubectl-violet package (no ${METADATA_FILE} in it)`, "packages are .tgz files written by `kubectl violet package`");
  return { metadata, resources };
}

/** The arch segment of file names: amd64 / arm64 for one architecture, ALL otherwise. */
export function archSegment(architectures: string[]): string {
  const arches = [...new Set(architectures.map((p) => p.split("/")[1]).filter(Boolean))];
  return arches.length === 1 ? arches[0]! : "ALL";
}

/** `<name>.<channel>.<arch>.<version>.tgz` for bundles, `<name>.<arch>.<version>.tgz` otherwise. */
export function packageFileName(m: PackageMetadata): string {
  const version = m.type === "bundle" && !m.version.startsWith("v") ? `v${m.version}` : m.version;
  const parts = [m.name, ...(m.type === "bundle" && m.defaultChannel ? [m.defaultChannel] : []), archSegment(m.architectures), version];
  return `${parts.join(".").replace(/[^\w.+-]/g, "_")}.tgz`;
}
