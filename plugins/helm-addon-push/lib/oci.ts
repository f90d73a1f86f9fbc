// oci:// targets: push a packaged chart the way `helm push` does (Helm's config/content/provenance media
// types, manifest annotations, "+" → "_" in the tag) through the shared OCI core.
import { pushArtifact, type ArtifactLayer } from "../../../shared/oci/artifact.ts";
import { MT } from "../../../shared/oci/media-types.ts";
import { helmOciAnnotations, helmOciConfig, ociTagForVersion, type ChartMetadata } from "../../../shared/helm/chart.ts";
import type { PreparedChart } from "./package.ts";

/** `<base>/<chart name>:<version with + as _>` */
export function ociReference(base: string, m: ChartMetadata): string {
  return `${base.replace(/\/+$/, "")}/${m.name}:${ociTagForVersion(String(m.version))}`;
}

export async function pushChartOci(base: string, p: PreparedChart, registry: unknown): Promise<{ reference: string; digest: string; prov: boolean }> {
  const ref = ociReference(base, p.metadata);
  const layers: ArtifactLayer[] = [{ mediaType: MT.helmChart, file: p.file }];
  if (p.prov) layers.push({ mediaType: MT.helmProv, file: p.prov });
  const r = await pushArtifact(
    ref,
    {
      config: { mediaType: MT.helmConfig, bytes: helmOciConfig(p.metadata) },
      layers,
      annotations: helmOciAnnotations(p.metadata),
    },
    registry as Parameters<typeof pushArtifact>[2],
  );
  return { reference: ref, digest: r.digest, prov: !!p.prov };
}
