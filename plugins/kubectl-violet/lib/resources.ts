// The Kubernetes objects a push writes (shapes from reference/violet.md §2).
import type { KubeObject } from "../../../shared/kube/index.ts";
import { labelValue, NAMESPACE } from "./clusters.ts";
import type { PackageMetadata } from "./format.ts";

export const APP_V1ALPHA1 = "app.alauda.io/v1alpha1";
export const CLUSTER_V1ALPHA1 = "cluster.alauda.io/v1alpha1";
export const MANAGED_BY = "cpaas.io/managed-by";

/** platform and system are the built-in catalogs; anything else is a custom CatalogSource. */
function builtin(catalog: string): string {
  return catalog === "platform" || catalog === "system" ? "true" : "false";
}

export interface OperatorTarget {
  registry: string;
  repository: string;
  tag: string;
  catalogSource: string;
}

export function artifactObject(m: PackageMetadata, t: OperatorTarget): KubeObject {
  return {
    apiVersion: APP_V1ALPHA1,
    kind: "Artifact",
    metadata: {
      name: m.name,
      namespace: NAMESPACE,
      labels: {
        "cpaas.io/library": t.catalogSource,
        "cpaas.io/builtin": builtin(t.catalogSource),
        "cpaas.io/present": "true",
        "cpaas.io/type": "bundle",
        [MANAGED_BY]: "violet",
      },
    },
    spec: {
      type: "bundle",
      present: true,
      registry: t.registry,
      repository: t.repository,
      ...(m.displayName ? { displayName: m.displayName } : {}),
      ...(m.description ? { description: m.description } : {}),
      artifactVersionSelector: { matchLabels: { "cpaas.io/artifact-version": m.name } },
    },
  };
}

export function artifactVersionName(m: PackageMetadata, tag: string): string {
  return `${m.name}.${tag}`.toLowerCase().replace(/[^a-z0-9.-]/g, "-");
}

export function artifactVersionObject(m: PackageMetadata, t: OperatorTarget, owner?: { uid: string }): KubeObject {
  const bundleVersion = labelValue(m.version);
  return {
    apiVersion: APP_V1ALPHA1,
    kind: "ArtifactVersion",
    metadata: {
      name: artifactVersionName(m, t.tag),
      namespace: NAMESPACE,
      labels: {
        "cpaas.io/artifact-version": m.name,
        "cpaas.io/library": t.catalogSource,
        "cpaas.io/builtin": builtin(t.catalogSource),
        "cpaas.io/present": "true",
        "cpaas.io/type": "bundle",
        ...(bundleVersion ? { "cpaas.io/bundle-version": bundleVersion } : {}),
        [MANAGED_BY]: "violet",
      },
      annotations: {
        "cpaas.io/bundle-version": m.version,
        "cpaas.io/channels": (m.channels ?? []).join(","),
        "cpaas.io/default-channel": m.defaultChannel ?? m.channels?.[0] ?? "",
        ...(m.csv?.name ? { "cpaas.io/csv-name": m.csv.name } : {}),
        ...(m.csv?.replaces ? { "cpaas.io/replaces": m.csv.replaces } : {}),
        ...(m.csv?.skipRange ? { "olm.skipRange": m.csv.skipRange } : {}),
      },
      ...(owner ? { ownerReferences: [{ apiVersion: APP_V1ALPHA1, kind: "Artifact", name: m.name, uid: owner.uid, controller: true, blockOwnerDeletion: true }] } : {}),
    },
    spec: { present: true, tag: t.tag },
  };
}

/** The ModulePlugin from the package (resources/module-plugin.yaml), version aligned with the package. */
export function modulePluginObject(mp: Record<string, any>, m: PackageMetadata): KubeObject {
  const name = String(mp.metadata?.name ?? mp.spec?.name ?? m.name);
  return {
    apiVersion: CLUSTER_V1ALPHA1,
    kind: "ModulePlugin",
    metadata: {
      name,
      labels: { "cpaas.io/module-name": name, "cpaas.io/module-type": "plugin", ...(mp.metadata?.labels ?? {}) },
      ...(mp.metadata?.annotations ? { annotations: mp.metadata.annotations } : {}),
    },
    spec: { ...(mp.spec ?? {}), name: mp.spec?.name ?? name, version: m.version },
  };
}

/** One ModuleConfig per published version: `<module>-<version>`, the ModulePlugin's spec. */
export function moduleConfigObject(plugin: KubeObject, m: PackageMetadata): KubeObject {
  const name = String(plugin.metadata.name);
  return {
    apiVersion: CLUSTER_V1ALPHA1,
    kind: "ModuleConfig",
    metadata: {
      name: `${name}-${m.version}`.toLowerCase().replace(/[^a-z0-9.-]/g, "-"),
      labels: {
        "cpaas.io/module-name": name,
        "cpaas.io/module-type": "plugin",
        ...(plugin.metadata.labels?.["cpaas.io/lifecycle-type"] ? { "cpaas.io/lifecycle-type": plugin.metadata.labels["cpaas.io/lifecycle-type"] } : {}),
        [MANAGED_BY]: "violet",
      },
      ...(plugin.metadata.annotations ? { annotations: plugin.metadata.annotations } : {}),
    },
    spec: { ...plugin.spec, version: m.version },
  };
}
