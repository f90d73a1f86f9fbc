// Where things go and where they are pulled from:
//   destinations  charts/packs → <dest>/<chart-prefix>/<name>:<tag>; images → mapImages (mapping.ts)
//   source mirrors --source-mirror docker.io=proxy.local/dockerhub pulls docker.io/* through a registry
//                  mirror or proxy cache (like containerd/RKE2 registries.yaml mirrors) — names stay original
import { parseImage, repositoryOf } from "../../../../shared/helm/image-ref.ts";
import { parseRegistryReference } from "../../../../shared/oci/reference.ts";
import { RegistryRepository } from "../../../../shared/oci/registry.ts";
import type { AuthClient } from "../../../../shared/oci/transport/auth.ts";
import { mapImages, matchRegistryMap, normalizeDest, normalizePrefix, MappingError, type MapMode, type RegistryMapEntry } from "../plan/mapping.ts";
import type { PlannedArtifact } from "../plan/plan.ts";

export interface DestinationOptions {
  /** registry[/path] */
  dest: string;
  mode?: MapMode;
  /** path between dest and image paths (default "images") */
  imagePrefix?: string;
  registryMap?: RegistryMapEntry[];
}

export interface MappedImage {
  source: string;
  destination: string;
}

export interface Destinations {
  artifacts: { artifact: PlannedArtifact; destination: string }[];
  images: MappedImage[];
  registryMap: RegistryMapEntry[];
}

/** Map artifacts and images to the destination (throws MappingError on collisions / bad dest). */
export function destinations(artifacts: PlannedArtifact[], images: string[], d: DestinationOptions): Destinations {
  const base = normalizeDest(d.dest);
  const mapped = mapImages(images, base, d.mode ?? "strip-host", d.registryMap ?? [], { prefix: d.imagePrefix });
  const arts = artifacts.map((a) => ({ artifact: a, destination: `${base}/${a.repository}:${a.tag}` }));
  // an image must not land on a chart repository
  const chartRepos = new Set(arts.map((a) => a.destination.replace(/:[^:/]+$/, "")));
  for (const m of mapped.images) {
    const repo = repositoryOf(parseImage(m.destination));
    if (chartRepos.has(repo)) throw new MappingError(`image ${m.source} would be mirrored to the chart repository ${repo}`, "use another --image-prefix or a --registry-map entry");
  }
  return { artifacts: arts, images: mapped.images, registryMap: mapped.registryMap };
}

/** Parse --source-mirror values: SOURCE=MIRROR (registry or registry/path prefix on both sides). */
export function parseSourceMirrors(values: string[]): RegistryMapEntry[] {
  return values.map((v) => {
    const m = /^([^=\s]+)=([^=\s]+)$/.exec(v.trim());
    if (!m) throw new MappingError(`--source-mirror ${v}: expected SOURCE=MIRROR, e.g. docker.io=proxy.local:5000/dockerhub`);
    try {
      normalizeDest(m[2]!);
    } catch (e) {
      throw new MappingError(`--source-mirror ${v}: ${(e as Error).message}`);
    }
    return { source: m[1]!, destination: m[2]! };
  });
}

/** The reference to pull an image from (through a source mirror when one matches). */
export function pullReference(image: string, mirrors: RegistryMapEntry[]): string {
  const ref = parseImage(image);
  const repo = repositoryOf(ref);
  const hit = matchRegistryMap(repo, mirrors);
  if (!hit) return image;
  const rest = repo.slice(normalizePrefix(hit.source).length);
  const base = hit.destination.replace(/^(oci|docker|https?):\/\//, "").replace(/\/+$/, "");
  return `${base}${rest}${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}

/** One RegistryRepository per repository name (shared manifest caches, one client). */
export class RepoCache {
  private repos = new Map<string, RegistryRepository>();
  constructor(readonly client: AuthClient, private chunkSize?: number) {}
  /** "host/repo[:tag][@digest]" → { store, reference (tag or digest), tag?, digest? } */
  open(ref: string): { store: RegistryRepository; reference: string; tag?: string; digest?: string } {
    const r = parseRegistryReference(ref);
    const key = `${r.registry}/${r.repository}`;
    let store = this.repos.get(key);
    if (!store) this.repos.set(key, (store = RegistryRepository.fromReference(this.client, r, { chunkSize: this.chunkSize })));
    const explicitTag = /:[^/@]+(@|$)/.test(ref.slice(ref.lastIndexOf("/") + 1)) ? r.tag : undefined;
    return { store, reference: r.digest ?? r.tag ?? "latest", tag: explicitTag ?? (r.digest ? undefined : r.tag), digest: r.digest };
  }
}
