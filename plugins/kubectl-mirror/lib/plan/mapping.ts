// Destination naming for mirrored images, and the registry map file (source prefix → destination prefix).
//
//   strip-host (default)  docker.io/library/nginx:1.27 → <dest>/images/library/nginx:1.27   (PaletteAI layout)
//   keep-host             docker.io/library/nginx:1.27 → <dest>/images/docker.io/library/nginx:1.27
//   flat                  docker.io/library/nginx:1.27 → <dest>/images/nginx:1.27
// The "images" path segment is the prefix (any path, or none). A registry map entry whose source is a prefix
// of the image's repository (on a path boundary; the longest wins) replaces the mode for that image.
// Tags and digests are always kept unchanged.
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { parse } from "yaml";
import { parseImage, repositoryOf, type ImageRef } from "../../../../shared/helm/image-ref.ts";
import { toYaml } from "../../../../shared/cli/output.ts";

export type MapMode = "strip-host" | "keep-host" | "flat";
export const MAP_MODES: MapMode[] = ["strip-host", "keep-host", "flat"];
export const DEFAULT_IMAGE_PREFIX = "images";

export interface RegistryMapEntry {
  /** source prefix: "docker.io/bitnami", "quay.io", "ghcr.io/acme/app" */
  source: string;
  /** destination prefix: "harbor.local/mirror/bitnami" */
  destination: string;
}

export interface MapOptions {
  /** path under the destination before the image path; default "images"; "" for none */
  prefix?: string;
}

export class MappingError extends Error {
  override name = "MappingError";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

/** "oci://reg:5000/team/" → "reg:5000/team" */
export function normalizeDest(dest: string): string {
  const d = dest.trim().replace(/^(oci|docker|https?):\/\//, "").replace(/\/+$/, "");
  if (!d) throw new MappingError(`destination "${dest}" is empty`);
  if (/\s|@/.test(d)) throw new MappingError(`destination "${dest}" is not a registry[/path]`);
  const [host, ...path] = d.split("/");
  if (!/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:.]+\](:\d+)?$/.test(host!)) throw new MappingError(`destination "${dest}": bad registry host "${host}"`);
  for (const c of path) {
    if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/.test(c)) throw new MappingError(`destination "${dest}": bad path component "${c}" (lowercase letters, digits, . _ - only)`);
  }
  return d;
}

/** Normalise a registry-map source prefix: Docker Hub spellings, no trailing slash, no tag. */
export function normalizePrefix(p: string): string {
  let s = p.trim().replace(/^(oci|docker|https?):\/\//, "").replace(/\/+$/, "");
  const first = s.split("/")[0]!;
  const hasHost = s.includes("/") ? first.includes(".") || first.includes(":") || first === "localhost" : first.includes(".") || first.includes(":") || first === "localhost";
  if (!hasHost) s = `docker.io/${s}`;
  s = s.replace(/^(index\.docker\.io|registry-1\.docker\.io)(?=\/|$)/, "docker.io");
  return s;
}

function hostSegment(registry: string): string {
  // ":" and brackets are not allowed in repository paths: localhost:5000 → localhost-5000
  return registry.replace(/^\[|\]$/g, "").replace(/[:\[\]]/g, "-").toLowerCase();
}

function suffix(ref: ImageRef): string {
  return `${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}

/** The registry map entry that applies to a repository (longest source prefix on a path boundary). */
export function matchRegistryMap(repository: string, registryMap: RegistryMapEntry[]): RegistryMapEntry | undefined {
  let best: RegistryMapEntry | undefined;
  for (const e of registryMap) {
    const src = normalizePrefix(e.source);
    if (repository === src || repository.startsWith(`${src}/`)) {
      if (!best || normalizePrefix(best.source).length < src.length) best = e;
    }
  }
  return best;
}

/** Destination repository (no tag) for a source image. Pure. */
export function mapRepository(src: string, dest: string, mode: MapMode = "strip-host", registryMap: RegistryMapEntry[] = [], opts: MapOptions = {}): string {
  const ref = parseImage(src);
  const repo = repositoryOf(ref);
  const hit = matchRegistryMap(repo, registryMap);
  if (hit) {
    const rest = repo.slice(normalizePrefix(hit.source).length);
    return `${hit.destination.replace(/^(oci|docker|https?):\/\//, "").replace(/\/+$/, "")}${rest}`;
  }
  if (!dest) throw new MappingError(`no registry map entry matches ${repo} and no destination is set`, "add --dest or a --registry-map entry for it");
  const base = normalizeDest(dest);
  const prefix = (opts.prefix ?? DEFAULT_IMAGE_PREFIX).replace(/^\/+|\/+$/g, "");
  const head = prefix ? `${base}/${prefix}` : base;
  switch (mode) {
    case "strip-host":
      return `${head}/${ref.repository}`;
    case "keep-host":
      return `${head}/${hostSegment(ref.registry)}/${ref.repository}`;
    case "flat":
      return `${head}/${ref.repository.split("/").pop()}`;
    default:
      throw new MappingError(`unknown mapping mode "${mode}"`, `use one of ${MAP_MODES.join(", ")}`);
  }
}

/** Destination reference for a source image: mapped repository + the unchanged tag/digest. Pure. */
export function mapImage(src: string, dest: string, mode: MapMode = "strip-host", registryMap: RegistryMapEntry[] = [], opts: MapOptions = {}): string {
  return mapRepository(src, dest, mode, registryMap, opts) + suffix(parseImage(src));
}

export interface ImageMapping {
  source: string;
  destination: string;
}

export interface MappingResult {
  images: ImageMapping[];
  /** the repository-level map actually used (source repository → destination repository), sorted */
  registryMap: RegistryMapEntry[];
}

/**
 * Map a set of images and check that no two source repositories land on the same destination repository
 * (which would silently overwrite tags). Throws MappingError on a collision.
 */
export function mapImages(images: string[], dest: string, mode: MapMode = "strip-host", registryMap: RegistryMapEntry[] = [], opts: MapOptions = {}): MappingResult {
  const byDest = new Map<string, string>();
  const repoMap = new Map<string, string>();
  const out: ImageMapping[] = [];
  for (const img of images) {
    const srcRepo = repositoryOf(parseImage(img));
    const destRepo = mapRepository(img, dest, mode, registryMap, opts);
    const other = byDest.get(destRepo);
    if (other && other !== srcRepo) {
      throw new MappingError(`${other} and ${srcRepo} would both be mirrored to ${destRepo}`, mode === "flat" ? "use --dest-mode strip-host or keep-host, or add a --registry-map entry" : "use --dest-mode keep-host or add a --registry-map entry for one of them");
    }
    byDest.set(destRepo, srcRepo);
    repoMap.set(srcRepo, destRepo);
    out.push({ source: img, destination: destRepo + suffix(parseImage(img)) });
  }
  const entries = [...repoMap.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([source, destination]) => ({ source, destination }));
  return { images: out, registryMap: entries };
}

/**
 * Parse a registry map file. Accepted forms:
 *   YAML/JSON mapping      docker.io/bitnami: harbor.local/mirror/bitnami
 *   YAML/JSON list         - {source: docker.io/bitnami, destination: harbor.local/mirror/bitnami}  (from/to also accepted)
 *   {registryMap: <either of the above>}  (the -o yaml output of this command)
 *   plain lines            docker.io/bitnami=harbor.local/mirror/bitnami   or "SRC DST"; # comments
 */
export function parseRegistryMap(text: string, file = "registry map"): RegistryMapEntry[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    doc = undefined;
  }
  if (doc && typeof doc === "object" && !Array.isArray(doc) && "registryMap" in (doc as object)) doc = (doc as any).registryMap;
  const entries: RegistryMapEntry[] = [];
  const push = (source: unknown, destination: unknown, where: string) => {
    if (typeof source !== "string" || typeof destination !== "string" || !source.trim() || !destination.trim()) {
      throw new MappingError(`${file}: ${where}: needs a source and a destination prefix`);
    }
    entries.push({ source: source.trim(), destination: destination.trim() });
  };
  if (Array.isArray(doc)) {
    doc.forEach((e, i) => {
      if (typeof e === "string") return lineEntry(e, `entry ${i + 1}`);
      if (!e || typeof e !== "object") throw new MappingError(`${file}: entry ${i + 1}: expected {source, destination}`);
      push(e.source ?? e.from, e.destination ?? e.to, `entry ${i + 1}`);
    });
  } else if (doc && typeof doc === "object") {
    for (const [k, v] of Object.entries(doc)) push(k, v, `key ${k}`);
  } else {
    text.split(/\r?\n/).forEach((l, i) => {
      const line = l.replace(/#.*$/, "").trim();
      if (line) lineEntry(line, `line ${i + 1}`);
    });
  }
  function lineEntry(line: string, where: string) {
    const m = /^(\S+?)\s*(?:=|\s)\s*(\S+)$/.exec(line.trim());
    if (!m) throw new MappingError(`${file}: ${where}: expected SOURCE=DESTINATION`);
    push(m[1], m[2], where);
  }
  for (const e of entries) {
    try {
      normalizeDest(e.destination);
    } catch (err) {
      throw new MappingError(`${file}: ${(err as Error).message}`);
    }
  }
  return entries;
}

export async function readRegistryMap(file: string): Promise<RegistryMapEntry[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new MappingError(`--registry-map ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  return parseRegistryMap(text, `--registry-map ${file}`);
}

/** The map as YAML (source: destination), readable again by --registry-map. */
export function formatRegistryMap(entries: RegistryMapEntry[]): string {
  const obj: Record<string, string> = {};
  for (const e of entries) obj[e.source] = e.destination;
  return `# registry map written by kubectl mirror (source repository: destination repository)\n${entries.length ? toYaml(obj) : "{}\n"}`;
}

/** Write the map file atomically (temp name, then rename). */
export async function writeRegistryMap(file: string, entries: RegistryMapEntry[]): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  try {
    await writeFile(tmp, formatRegistryMap(entries));
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new MappingError(`--map-out ${file}: ${(e as Error).message}`);
  }
}
