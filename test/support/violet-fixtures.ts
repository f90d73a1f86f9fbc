// Fixtures for kubectl-violet tests, built in a real registry (never downloaded):
//   pushImage(reg, "acp/app:1.0", { platforms: ["linux/amd64", "linux/arm64"] })   synthetic (multi-arch) image
//   pushBundle(reg, "acp/foo-operator-bundle:v1.2.0", { packageName, version, relatedImages, … })   OLM bundle image
//   pushChart(reg, "acp/chart-foo:1.0.0", { name, version, values, modulePlugin?, templates? })   OCI Helm chart
//   chartTgz(dir, spec)   the chart as a .tgz file (for repository charts)
//   violetCrds   the CRDs for startFakeApiServer (Artifact, ArtifactVersion, ModulePlugin, ModuleConfig, OperatorView,
//                ModulePluginView, ChartRepo, Application, ProductBase), shaped as reference/violet.md describes them
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTarGzip } from "nanotar";
import { stringify } from "yaml";
import { createClient, MT, openTarget, pushArtifactTo, sha256, type Descriptor } from "../../shared/oci/index.ts";
import type { TestRegistry } from "./registry.ts";
import type { FakeResourceDef } from "./kube-apiserver.ts";

export const violetCrds: FakeResourceDef[] = [
  { group: "app.alauda.io", version: "v1alpha1", kind: "Artifact", plural: "artifacts", namespaced: true, status: true },
  { group: "app.alauda.io", version: "v1alpha1", kind: "ArtifactVersion", plural: "artifactversions", namespaced: true, status: true, shortNames: ["av"] },
  { group: "cluster.alauda.io", version: "v1alpha1", kind: "ModulePlugin", plural: "moduleplugins", namespaced: false, status: true, shortNames: ["mplugin"] },
  { group: "cluster.alauda.io", version: "v1alpha1", kind: "ModuleConfig", plural: "moduleconfigs", namespaced: false, status: true, shortNames: ["mconfig"] },
  { group: "app.alauda.io", version: "v1alpha1", kind: "OperatorView", plural: "operatorviews", namespaced: true, status: true },
  { group: "app.alauda.io", version: "v1alpha2", kind: "ModulePluginView", plural: "modulepluginviews", namespaced: false, status: true },
  { group: "app.alauda.io", version: "v1beta1", kind: "ChartRepo", plural: "chartrepos", namespaced: true, status: true, shortNames: ["ctr"] },
  { group: "app.k8s.io", version: "v1beta1", kind: "Application", plural: "applications", namespaced: true, status: true },
  { group: "product.alauda.io", version: "v1alpha2", kind: "ProductBase", plural: "productbases", namespaced: false, status: true },
];

function client(reg: TestRegistry) {
  return createClient({ plainHttp: !reg.tls, caFiles: reg.caFile ? [{ host: reg.host, file: reg.caFile }] : undefined, credentials: async () => (reg.username ? { username: reg.username, password: reg.password } : undefined) });
}

async function target(reg: TestRegistry, ref: string) {
  return openTarget(`${reg.host}/${ref}`, client(reg));
}

function tgz(files: Record<string, string | Uint8Array>): Promise<Uint8Array> {
  return createTarGzip(Object.entries(files).map(([name, data]) => ({ name, data: typeof data === "string" ? new TextEncoder().encode(data) : data })));
}

export interface PushedImage {
  ref: string;
  digest: string;
  /** per-platform manifest digests (multi-arch) */
  manifests: Record<string, string>;
}

/** A synthetic image: one random layer per platform; an index when several platforms are given. */
export async function pushImage(reg: TestRegistry, ref: string, opts: { platforms?: string[]; layerBytes?: number } = {}): Promise<PushedImage> {
  const platforms = opts.platforms ?? ["linux/amd64"];
  const t = await target(reg, ref);
  const manifests: Record<string, string> = {};
  const descs: Descriptor[] = [];
  for (const p of platforms) {
    const [os, architecture, variant] = p.split("/");
    const layer = await tgz({ [`data-${architecture}.bin`]: randomBytes(opts.layerBytes ?? 2048) });
    const config = Buffer.from(JSON.stringify({ architecture, os, ...(variant ? { variant } : {}), rootfs: { type: "layers", diff_ids: [sha256(layer)] }, config: { Cmd: ["/bin/true"] } }));
    const r = await pushArtifactTo(t.store, platforms.length === 1 ? t.tags : [], { config: { mediaType: MT.ociConfig, bytes: config }, layers: [{ mediaType: MT.ociLayerGzip, bytes: layer }] });
    manifests[p] = r.digest;
    descs.push({ mediaType: MT.ociManifest, digest: r.digest, size: r.size, platform: { os: os!, architecture: architecture!, ...(variant ? { variant } : {}) } });
  }
  if (platforms.length === 1) return { ref: `${reg.host}/${ref}`, digest: descs[0]!.digest, manifests };
  const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: descs }));
  const d = { mediaType: MT.ociIndex, digest: sha256(idx), size: idx.length };
  await t.store.pushManifest(d, idx, t.tags);
  return { ref: `${reg.host}/${ref}`, digest: d.digest, manifests };
}

export interface BundleSpec {
  packageName: string;
  version: string;
  displayName?: string;
  channels?: string[];
  defaultChannel?: string;
  relatedImages?: string[];
  replaces?: string;
  skipRange?: string;
}

/** An OLM bundle image (registry+v1 format): manifests/<pkg>.clusterserviceversion.yaml + metadata/annotations.yaml. */
export async function pushBundle(reg: TestRegistry, ref: string, b: BundleSpec): Promise<PushedImage & { csvName: string }> {
  const csvName = `${b.packageName}.v${b.version}`;
  const channels = b.channels ?? ["stable"];
  const csv = {
    apiVersion: "operators.coreos.com/v1alpha1",
    kind: "ClusterServiceVersion",
    metadata: { name: csvName, annotations: { description: `${b.displayName ?? b.packageName} operator`, ...(b.skipRange ? { "olm.skipRange": b.skipRange } : {}) } },
    spec: {
      displayName: b.displayName ?? b.packageName,
      version: b.version,
      ...(b.replaces ? { replaces: b.replaces } : {}),
      relatedImages: (b.relatedImages ?? []).map((image, i) => ({ name: `image-${i}`, image })),
      install: { strategy: "deployment", spec: { deployments: [{ name: `${b.packageName}-controller`, spec: { template: { spec: { containers: [{ name: "manager", image: b.relatedImages?.[0] ?? "busybox" }] } } } }] } },
    },
  };
  const annotations = {
    annotations: {
      "operators.operatorframework.io.bundle.mediatype.v1": "registry+v1",
      "operators.operatorframework.io.bundle.manifests.v1": "manifests/",
      "operators.operatorframework.io.bundle.metadata.v1": "metadata/",
      "operators.operatorframework.io.bundle.package.v1": b.packageName,
      "operators.operatorframework.io.bundle.channels.v1": channels.join(","),
      "operators.operatorframework.io.bundle.channel.default.v1": b.defaultChannel ?? channels[0],
    },
  };
  const layer = await tgz({ [`manifests/${b.packageName}.clusterserviceversion.yaml`]: stringify(csv), "metadata/annotations.yaml": stringify(annotations) });
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", config: { Labels: annotations.annotations }, rootfs: { type: "layers", diff_ids: [sha256(layer)] } }));
  const t = await target(reg, ref);
  const r = await pushArtifactTo(t.store, t.tags, { config: { mediaType: MT.ociConfig, bytes: config }, layers: [{ mediaType: MT.ociLayerGzip, bytes: layer }] });
  return { ref: `${reg.host}/${ref}`, digest: r.digest, manifests: {}, csvName };
}

export interface ChartSpec {
  name: string;
  version: string;
  appVersion?: string;
  description?: string;
  values?: Record<string, unknown>;
  /** module-plugin.yaml content (object) for a cluster plugin chart */
  modulePlugin?: Record<string, unknown>;
  templates?: Record<string, string>;
}

export function chartFiles(c: ChartSpec): Record<string, string> {
  const files: Record<string, string> = {
    [`${c.name}/Chart.yaml`]: stringify({ apiVersion: "v2", name: c.name, version: c.version, ...(c.appVersion ? { appVersion: c.appVersion } : {}), description: c.description ?? `${c.name} chart` }),
    [`${c.name}/values.yaml`]: stringify(c.values ?? {}),
  };
  for (const [n, t] of Object.entries(c.templates ?? {})) files[`${c.name}/templates/${n}`] = t;
  if (c.modulePlugin) {
    files[`${c.name}/module-plugin.yaml`] = stringify(c.modulePlugin);
    files[`${c.name}/scripts/plugin-config.yaml`] = stringify({ config: {} });
  }
  return files;
}

/** The chart as a .tgz in dir; returns its path. */
export async function chartTgz(dir: string, c: ChartSpec): Promise<string> {
  const p = join(dir, `${c.name}-${c.version}.tgz`);
  writeFileSync(p, await tgz(chartFiles(c)));
  return p;
}

/** Push the chart as an OCI artifact (Helm's media types). */
export async function pushChart(reg: TestRegistry, ref: string, c: ChartSpec): Promise<PushedImage> {
  const bytes = await tgz(chartFiles(c));
  const config = Buffer.from(JSON.stringify({ name: c.name, version: c.version, apiVersion: "v2", ...(c.appVersion ? { appVersion: c.appVersion } : {}) }));
  const t = await target(reg, ref);
  const r = await pushArtifactTo(t.store, t.tags, { config: { mediaType: MT.helmConfig, bytes: config }, layers: [{ mediaType: MT.helmChart, bytes }] });
  return { ref: `${reg.host}/${ref}`, digest: r.digest, manifests: {} };
}

/** A ModulePlugin manifest as a plugin chart carries it. */
export function modulePlugin(name: string, version: string, opts: { lifecycle?: string; displayName?: string } = {}): Record<string, unknown> {
  return {
    apiVersion: "cluster.alauda.io/v1alpha1",
    kind: "ModulePlugin",
    metadata: {
      name,
      labels: { "cpaas.io/module-name": name, "cpaas.io/module-type": "plugin", "cpaas.io/lifecycle-type": opts.lifecycle ?? "agnostic" },
      annotations: { "cpaas.io/display-name": JSON.stringify({ en: opts.displayName ?? name, zh: opts.displayName ?? name }), "cpaas.io/module-name": JSON.stringify({ en: name, zh: name }) },
    },
    spec: {
      name,
      logo: "",
      description: { en: `${name} plugin`, zh: `${name} plugin` },
      deleteable: true,
      mainChart: `acp/chart-${name}`,
      version,
      appReleases: [{ name, chartVersions: [{ name: `acp/chart-${name}`, releaseName: name, version }] }],
      affinity: { clusterAffinity: { matchLabels: { "is-global": "true" } } },
    },
  };
}
