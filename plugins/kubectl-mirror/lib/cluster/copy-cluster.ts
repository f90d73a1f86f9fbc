// `kubectl mirror copy --in-cluster`: registry → registry pairs through the in-cluster Job (in-cluster.ts).
import { formatReference, parseReference, type RegistryReference } from "../../../../shared/oci/reference.ts";
import { OciError } from "../../../../shared/oci/errors.ts";
import { hasExplicitVersion, type CopyPair } from "../transfer/copy.ts";
import { runInCluster, type ClusterItem, type InClusterOptions, type InClusterResult } from "./in-cluster.ts";

export function clusterItemsFromPairs(pairs: CopyPair[]): ClusterItem[] {
  return pairs.map(({ src, dst }) => {
    const s = parseReference(src);
    const d = parseReference(dst);
    if (s.kind !== "registry" || d.kind !== "registry") throw new OciError(`--in-cluster copies between registries only: ${s.kind !== "registry" ? src : dst} is not a registry reference`, "BAD_INPUT", "copy files and archives without --in-cluster");
    const tags = hasExplicitVersion(dst, d) ? (d.tag && !d.digest ? [d.tag] : []) : s.tag ? [s.tag] : [];
    const dr: RegistryReference = { ...d, tag: tags[0], digest: tags.length ? undefined : (d.digest ?? s.digest) };
    return { kind: "copy", source: src, pull: formatReference(s), destination: formatReference(dr), tags };
  });
}

export async function copyInCluster(pairs: CopyPair[], o: Omit<InClusterOptions, "dest">): Promise<InClusterResult> {
  const items = clusterItemsFromPairs(pairs);
  const first = parseReference(pairs[0]!.dst) as RegistryReference;
  return runInCluster(items, { ...o, dest: first.registry });
}
