// `kubectl violet list` and `kubectl violet gc`: what is installed (OperatorView, ModulePlugin/ModulePluginView,
// chart Applications) and which Artifact/ArtifactVersion/ModulePlugin/ModuleConfig objects are left over.
import { KubeApiError, type KubeClient, type KubeObject } from "../../../shared/kube/index.ts";
import { table } from "../../../shared/cli/output.ts";
import { Clusters, GLOBAL, NAMESPACE } from "./clusters.ts";
import { APP_V1ALPHA1, CLUSTER_V1ALPHA1 } from "./resources.ts";

/** OperatorView's API group is not public (reference/violet.md §2.4); app.alauda.io/v1alpha1 is our reading. */
export const OPERATOR_VIEW = "app.alauda.io/v1alpha1";
export const MODULE_PLUGIN_VIEW = "app.alauda.io/v1alpha2";
export const APPLICATION = "app.k8s.io/v1beta1";
const LIFECYCLE = "cpaas.io/lifecycle-type";

export interface Installed {
  clusterName: string;
  version: string;
}
export interface AppEntry {
  displayName: string;
  type: "OperatorBundle" | "ModulePlugin" | "Chart";
  installed: Installed[];
}
export interface AppsFile {
  applications: Record<string, AppEntry>;
}

/** List a kind, or [] when the API is not served (CRD missing on that cluster). */
async function listOr(kube: KubeClient, apiVersion: string, kind: string, opts: Parameters<KubeClient["list"]>[2] = {}): Promise<KubeObject[]> {
  try {
    return await kube.list(apiVersion, kind, opts);
  } catch (e) {
    if (e instanceof KubeApiError && e.status === 404) return [];
    throw e;
  }
}

function isCore(o: KubeObject): boolean {
  return o.metadata.labels?.[LIFECYCLE] === "core";
}

function displayName(o: KubeObject, fallback: string): string {
  const dn = o.metadata.annotations?.["cpaas.io/display-name"];
  if (!dn) return fallback;
  try {
    const j = JSON.parse(dn);
    return typeof j === "string" ? j : (j.en ?? j.zh ?? fallback);
  } catch {
    return dn;
  }
}

/** "topolvm-operator.v2.3.0" → "2.3.0" */
export function csvVersion(csv: string): string {
  const m = /\.v?(\d[^]*)$/.exec(csv);
  return m ? m[1]! : csv;
}

interface OperatorState {
  cluster: string;
  artifact: string;
  installed: boolean;
  installedCSV?: string;
  displayName: string;
  core: boolean;
}

async function operatorStates(global: KubeClient): Promise<OperatorState[]> {
  const views = await listOr(global, OPERATOR_VIEW, "OperatorView", { allNamespaces: true });
  return views.map((v) => {
    const st = v.status?.operatorStatus ?? {};
    const inst = st.installation ?? {};
    const channels = v.status?.packageManifestStatus?.channels ?? [];
    return {
      cluster: String(v.metadata.namespace),
      artifact: String(inst.artifactName ?? v.metadata.name),
      installed: st.phase === "Installed",
      installedCSV: inst.subscription?.installedCSV,
      displayName: String(channels[0]?.currentCSVDesc?.displayName ?? inst.artifactName ?? v.metadata.name),
      core: isCore(v),
    };
  });
}

interface PluginState {
  plugin: KubeObject;
  installed: { cluster: string; version: string }[];
}

async function pluginStates(global: KubeClient): Promise<PluginState[]> {
  const [plugins, views] = await Promise.all([listOr(global, CLUSTER_V1ALPHA1, "ModulePlugin"), listOr(global, MODULE_PLUGIN_VIEW, "ModulePluginView")]);
  return plugins.map((p) => {
    const name = String(p.metadata.name);
    const view = views.find((v) => v.metadata.name === name || v.metadata.labels?.["cpaas.io/module-name"] === name);
    const inst = (view?.status?.installed ?? p.status?.installed ?? []) as { cluster?: string; version?: string }[];
    return { plugin: p, installed: inst.filter((i) => i.cluster).map((i) => ({ cluster: String(i.cluster), version: String(i.version ?? "") })) };
  });
}

export async function listApplications(clusters: Clusters, only: string[] = []): Promise<AppsFile> {
  const want = (c: string) => !only.length || only.includes(c);
  const global = clusters.global;
  const apps: Record<string, AppEntry> = {};
  const add = (name: string, displayName: string, type: AppEntry["type"], i: Installed) => {
    const e = (apps[name] ??= { displayName, type, installed: [] });
    if (!e.installed.some((x) => x.clusterName === i.clusterName && x.version === i.version)) e.installed.push(i);
  };
  for (const s of await pluginStates(global)) {
    if (isCore(s.plugin)) continue;
    const name = String(s.plugin.metadata.name);
    for (const i of s.installed) if (want(i.cluster)) add(name, displayName(s.plugin, name), "ModulePlugin", { clusterName: i.cluster, version: i.version });
  }
  for (const o of await operatorStates(global)) {
    if (o.core || !o.installed || !want(o.cluster)) continue;
    add(o.artifact, o.displayName, "OperatorBundle", { clusterName: o.cluster, version: o.installedCSV ? csvVersion(o.installedCSV) : "" });
  }
  const chartClusters = only.length ? only : [clusters.current];
  for (const c of chartClusters) {
    for (const a of await listOr(clusters.client(c), APPLICATION, "Application", { allNamespaces: true })) {
      const src = a.metadata.annotations?.["app.cpaas.io/chart.source"];
      if (!src) continue;
      const chart = src.split("/").pop()!;
      add(chart, chart, "Chart", { clusterName: c, version: String(a.metadata.annotations?.["app.cpaas.io/chart.version"] ?? "") });
    }
  }
  const sorted: Record<string, AppEntry> = {};
  for (const k of Object.keys(apps).sort()) sorted[k] = apps[k]!;
  return { applications: sorted };
}

// ------------------------------------------------------------------ gc

export interface GcRow {
  type: "Artifact" | "ArtifactVersion" | "ModulePlugin" | "ModuleConfig";
  name: string;
  cluster: string;
  reason: string;
}

export async function garbage(clusters: Clusters, only: string[] = []): Promise<GcRow[]> {
  const rows: GcRow[] = [];
  const global = clusters.global;
  const ops = await operatorStates(global);
  const opClusters = only.length ? only : [...new Set(ops.map((o) => o.cluster))].sort();
  for (const c of opClusters) {
    const kube = clusters.client(c);
    const artifacts = (await listOr(kube, APP_V1ALPHA1, "Artifact", { namespace: NAMESPACE })).filter((a) => a.spec?.type === "bundle");
    for (const a of artifacts) {
      const name = String(a.metadata.name);
      const view = ops.find((o) => o.cluster === c && o.artifact === name);
      if (!view || view.core) continue; // never seen installed, or core: keep
      if (!view.installed) {
        rows.push({ type: "Artifact", name, cluster: c, reason: "operator is not installed" });
        continue;
      }
      if (!view.installedCSV) continue;
      const avs = await listOr(kube, APP_V1ALPHA1, "ArtifactVersion", { namespace: NAMESPACE, labelSelector: { "cpaas.io/artifact-version": name } });
      for (const av of avs) {
        const csv = av.status?.version ?? av.metadata.annotations?.["cpaas.io/csv-name"];
        if (csv && csv !== view.installedCSV) rows.push({ type: "ArtifactVersion", name: String(av.metadata.name), cluster: c, reason: `installed is ${view.installedCSV}` });
      }
    }
  }
  if (!only.length || only.includes(GLOBAL)) {
    const plugins = await pluginStates(global);
    const configs = await listOr(global, CLUSTER_V1ALPHA1, "ModuleConfig");
    const byName = new Map(plugins.map((p) => [String(p.plugin.metadata.name), p]));
    for (const p of plugins) {
      if (isCore(p.plugin) || p.installed.length) continue;
      rows.push({ type: "ModulePlugin", name: String(p.plugin.metadata.name), cluster: GLOBAL, reason: "not installed on any cluster" });
    }
    for (const mc of configs) {
      const module = mc.metadata.labels?.["cpaas.io/module-name"];
      if (!module || isCore(mc)) continue;
      const p = byName.get(module);
      const name = String(mc.metadata.name);
      if (!p) rows.push({ type: "ModuleConfig", name, cluster: GLOBAL, reason: `ModulePlugin ${module} is gone` });
      else if (isCore(p.plugin)) continue;
      else if (!p.installed.length) rows.push({ type: "ModuleConfig", name, cluster: GLOBAL, reason: `ModulePlugin ${module} is not installed` });
      else {
        const keep = new Set([...p.installed.map((i) => i.version), String(p.plugin.spec?.version ?? "")]);
        if (!keep.has(String(mc.spec?.version ?? ""))) rows.push({ type: "ModuleConfig", name, cluster: GLOBAL, reason: `installed: ${[...new Set(p.installed.map((i) => i.version))].join(", ")}` });
      }
    }
  }
  return rows;
}

const KINDS: Record<GcRow["type"], { apiVersion: string; namespaced: boolean }> = {
  Artifact: { apiVersion: APP_V1ALPHA1, namespaced: true },
  ArtifactVersion: { apiVersion: APP_V1ALPHA1, namespaced: true },
  ModulePlugin: { apiVersion: CLUSTER_V1ALPHA1, namespaced: false },
  ModuleConfig: { apiVersion: CLUSTER_V1ALPHA1, namespaced: false },
};

/** Delete the rows (ModuleConfigs and ArtifactVersions before their owners); returns the deleted ones. */
/** Delete the rows (dryRun: as API-server dry runs, dryRun=All). */
export async function collect(clusters: Clusters, rows: GcRow[], onError: (r: GcRow, e: Error) => void, opts: { dryRun?: boolean } = {}): Promise<GcRow[]> {
  const order: GcRow["type"][] = ["ArtifactVersion", "ModuleConfig", "Artifact", "ModulePlugin"];
  const done: GcRow[] = [];
  for (const t of order) {
    for (const r of rows.filter((x) => x.type === t)) {
      const k = KINDS[t];
      try {
        if (await clusters.client(r.cluster).delete(k.apiVersion, t, r.name, { ...(k.namespaced ? { namespace: NAMESPACE } : {}), ignoreNotFound: true, dryRun: opts.dryRun })) done.push(r);
      } catch (e) {
        onError(r, e as Error);
      }
    }
  }
  return rows.filter((r) => done.includes(r));
}

export function gcSummary(rows: GcRow[], dryRun: boolean): string {
  if (!rows.length) return dryRun ? "No resources would be deleted.\n" : "No resources were deleted.\n";
  const t = table(["type", "name", "cluster"], rows.map((r) => [r.type, r.name, r.cluster])).split("\n");
  const width = Math.max(...t.map((l) => l.length));
  return [dryRun ? "GC Summary (dry run, nothing deleted):" : "GC Summary:", t[0], "-".repeat(width), ...t.slice(1)].join("\n");
}
