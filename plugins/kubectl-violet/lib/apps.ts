// `kubectl violet list` and `kubectl violet gc`: what is installed (OperatorView, ModulePlugin/ModulePluginView,
// chart Applications) and which Artifact/ArtifactVersion/ModulePlugin/ModuleConfig objects are left over.
import { KubeApiError, type KubeClient, type KubeObject } from "../../../shared/kube/index.ts";
import { table } from "../../../shared/cli/output.ts";
import { compareVersions, parseVersion, versionText } from "../../../shared/version/order.ts";
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

/** "topolvm-operator.v2.3.0" → "2.3.0", "v2.0.0-rc.1" → "2.0.0-rc.1"; a value holding no version is returned as is. */
export function csvVersion(csv: string): string {
  return versionText(csv) ?? csv;
}

interface OperatorState {
  cluster: string;
  artifact: string;
  installed: boolean;
  installedCSV?: string;
  phase: string;
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
      installedCSV: inst.subscription?.installedCSV || undefined,
      phase: String(st.phase ?? ""),
      displayName: String(channels[0]?.currentCSVDesc?.displayName ?? inst.artifactName ?? v.metadata.name),
      core: isCore(v),
    };
  });
}

interface PluginState {
  plugin: KubeObject;
  installed: { cluster: string; version: string }[];
  /** a ModulePluginView (or status.installed) says where it is installed */
  known: boolean;
}

async function pluginStates(global: KubeClient): Promise<PluginState[]> {
  const [plugins, views] = await Promise.all([listOr(global, CLUSTER_V1ALPHA1, "ModulePlugin"), listOr(global, MODULE_PLUGIN_VIEW, "ModulePluginView")]);
  return plugins.map((p) => {
    const name = String(p.metadata.name);
    const view = views.find((v) => v.metadata.name === name || v.metadata.labels?.["cpaas.io/module-name"] === name);
    const inst = (view?.status?.installed ?? p.status?.installed ?? []) as { cluster?: string; version?: string }[];
    // no view and no status.installed: nobody has said where it is installed (just uploaded, controller behind)
    const known = !!view || Array.isArray(p.status?.installed);
    return { plugin: p, known, installed: inst.filter((i) => i.cluster).map((i) => ({ cluster: String(i.cluster), version: String(i.version ?? "") })) };
  });
}

/**
 * Installed applications. Operators and plugins come from the global cluster's views; chart applications are
 * listed on every cluster in `everyCluster` (default: every cluster the views mention, plus global).
 */
export async function listApplications(clusters: Clusters, only: string[] = [], everyCluster?: (mentioned: string[]) => Promise<string[]>): Promise<AppsFile> {
  const want = (c: string) => !only.length || only.includes(c);
  const global = clusters.global;
  const apps: Record<string, AppEntry> = {};
  const add = (name: string, displayName: string, type: AppEntry["type"], i: Installed) => {
    const e = (apps[name] ??= { displayName, type, installed: [] });
    if (!e.installed.some((x) => x.clusterName === i.clusterName && x.version === i.version)) e.installed.push(i);
  };
  const plugins = await pluginStates(global);
  const operators = await operatorStates(global);
  const mentioned = [...new Set([GLOBAL, ...plugins.flatMap((p) => p.installed.map((i) => i.cluster)), ...operators.map((o) => o.cluster)])];
  for (const s of plugins) {
    if (isCore(s.plugin)) continue;
    const name = String(s.plugin.metadata.name);
    for (const i of s.installed) if (want(i.cluster)) add(name, displayName(s.plugin, name), "ModulePlugin", { clusterName: i.cluster, version: i.version });
  }
  for (const o of operators) {
    if (o.core || !o.installed || !want(o.cluster)) continue;
    add(o.artifact, o.displayName, "OperatorBundle", { clusterName: o.cluster, version: o.installedCSV ? csvVersion(o.installedCSV) : "" });
  }
  const chartClusters = only.length ? only : everyCluster ? await everyCluster(mentioned) : mentioned;
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

export interface GcPlan {
  /** what goes */
  delete: GcRow[];
  /** what stays, and why (printed by `gc -v`) */
  keep: GcRow[];
}

/** The version an ArtifactVersion carries: its CSV (status.version or annotation), bundle version, else its tag. */
function avVersion(av: KubeObject): { csv?: string; version?: string } {
  const csv = (av.status?.version as string | undefined) || av.metadata.annotations?.["cpaas.io/csv-name"];
  const version = av.metadata.annotations?.["cpaas.io/bundle-version"] || versionText(csv) || (av.spec?.tag as string | undefined);
  return { csv, version };
}

/**
 * May `version` go, given what is installed? Only when it is older than the installed version on every cluster
 * that has the operator/plugin; anything equal, newer or not comparable stays. The reason names every comparison
 * (shown by `gc -v`), in the suite's version order (shared/version/order.ts).
 */
export function judgeVersion(version: string | undefined, installed: { cluster: string; version: string }[]): { drop: boolean; reason: string } {
  if (!installed.length) return { drop: false, reason: "nothing installed to compare with" };
  const v = parseVersion(version);
  if (!v) return { drop: false, reason: `version ${JSON.stringify(version ?? "")} cannot be compared with the installed one (not a version)` };
  const each = installed.map((i) => {
    const c = compareVersions(version, i.version);
    const rel = c === undefined ? `not comparable with ${JSON.stringify(i.version)}` : c < 0 ? `older than ${i.version}` : c > 0 ? `newer than ${i.version}` : `the same as ${i.version}`;
    return { c, text: `${v.text} is ${rel} installed on ${i.cluster}` };
  });
  const drop = each.every((e) => e.c !== undefined && e.c < 0);
  const list = each.map((e) => e.text).join("; ");
  return { drop, reason: drop ? `older than every installed version: ${list}` : list };
}

/** OperatorView phases meaning "nothing installed here"; any other non-Installed phase is in progress: keep. */
const UNINSTALLED = new Set(["Uninstalled", "NotInstalled", "Absent", "Deleted", ""]);

export async function garbage(clusters: Clusters, only: string[] = []): Promise<GcPlan> {
  const plan: GcPlan = { delete: [], keep: [] };
  const drop = (r: GcRow) => plan.delete.push(r);
  const keep = (r: GcRow) => plan.keep.push(r);
  const global = clusters.global;
  const ops = await operatorStates(global);
  const opClusters = only.length ? only : [...new Set(ops.map((o) => o.cluster))].sort();
  for (const c of opClusters) {
    const kube = clusters.client(c);
    const artifacts = (await listOr(kube, APP_V1ALPHA1, "Artifact", { namespace: NAMESPACE })).filter((a) => a.spec?.type === "bundle");
    for (const a of artifacts) {
      const name = String(a.metadata.name);
      const view = ops.find((o) => o.cluster === c && o.artifact === name);
      if (!view) {
        keep({ type: "Artifact", name, cluster: c, reason: "no OperatorView for it on this cluster" });
        continue;
      }
      if (view.core) {
        keep({ type: "Artifact", name, cluster: c, reason: "core operator" });
        continue;
      }
      if (!view.installed) {
        if (UNINSTALLED.has(view.phase)) drop({ type: "Artifact", name, cluster: c, reason: `operator is not installed on ${c} (phase ${view.phase || "empty"})` });
        else keep({ type: "Artifact", name, cluster: c, reason: `operator phase is ${view.phase}` });
        continue;
      }
      // every cluster that has this operator installed bounds what may go (not only the clusters asked for)
      const everywhere = ops.filter((o) => o.artifact === name && !o.core);
      const busy = everywhere.find((o) => !o.installed && !UNINSTALLED.has(o.phase));
      const installed = everywhere.filter((o) => o.installed).map((o) => ({ cluster: o.cluster, version: o.installedCSV ? csvVersion(o.installedCSV) : "", csv: o.installedCSV }));
      const avs = await listOr(kube, APP_V1ALPHA1, "ArtifactVersion", { namespace: NAMESPACE, labelSelector: { "cpaas.io/artifact-version": name } });
      for (const av of avs) {
        const avName = String(av.metadata.name);
        const { csv, version } = avVersion(av);
        if (busy) {
          keep({ type: "ArtifactVersion", name: avName, cluster: c, reason: `operator phase is ${busy.phase} on ${busy.cluster}` });
          continue;
        }
        const same = installed.find((i) => csv && i.csv === csv);
        if (same) {
          keep({ type: "ArtifactVersion", name: avName, cluster: c, reason: `installed on ${same.cluster}` });
          continue;
        }
        if (installed.some((i) => !i.csv)) {
          keep({ type: "ArtifactVersion", name: avName, cluster: c, reason: "an OperatorView reports no installed CSV" });
          continue;
        }
        const j = judgeVersion(version, installed);
        (j.drop ? drop : keep)({ type: "ArtifactVersion", name: avName, cluster: c, reason: j.reason });
      }
    }
  }
  if (!only.length || only.includes(GLOBAL)) {
    const plugins = await pluginStates(global);
    const configs = await listOr(global, CLUSTER_V1ALPHA1, "ModuleConfig");
    const byName = new Map(plugins.map((p) => [String(p.plugin.metadata.name), p]));
    for (const p of plugins) {
      const name = String(p.plugin.metadata.name);
      if (isCore(p.plugin)) keep({ type: "ModulePlugin", name, cluster: GLOBAL, reason: "core plugin" });
      else if (p.installed.length) keep({ type: "ModulePlugin", name, cluster: GLOBAL, reason: `installed on ${[...new Set(p.installed.map((i) => i.cluster))].join(", ")}` });
      else if (!p.known) keep({ type: "ModulePlugin", name, cluster: GLOBAL, reason: "no ModulePluginView for it yet: cannot tell whether it is installed" });
      else drop({ type: "ModulePlugin", name, cluster: GLOBAL, reason: "not installed on any cluster" });
    }
    for (const mc of configs) {
      const module = mc.metadata.labels?.["cpaas.io/module-name"];
      const name = String(mc.metadata.name);
      if (!module) {
        keep({ type: "ModuleConfig", name, cluster: GLOBAL, reason: "no cpaas.io/module-name label" });
        continue;
      }
      const p = byName.get(module);
      const version = String(mc.spec?.version ?? "");
      if (isCore(mc) || (p && isCore(p.plugin))) keep({ type: "ModuleConfig", name, cluster: GLOBAL, reason: "core plugin" });
      else if (!p) drop({ type: "ModuleConfig", name, cluster: GLOBAL, reason: `ModulePlugin ${module} is gone` });
      else if (!p.installed.length && !p.known) keep({ type: "ModuleConfig", name, cluster: GLOBAL, reason: `no ModulePluginView for ${module} yet: cannot tell whether it is installed` });
      else if (!p.installed.length) drop({ type: "ModuleConfig", name, cluster: GLOBAL, reason: `ModulePlugin ${module} is not installed` });
      else if (version && version === String(p.plugin.spec?.version ?? "")) keep({ type: "ModuleConfig", name, cluster: GLOBAL, reason: `the ModulePlugin's current version` });
      else {
        const j = judgeVersion(version, p.installed);
        (j.drop ? drop : keep)({ type: "ModuleConfig", name, cluster: GLOBAL, reason: j.reason });
      }
    }
  }
  return plan;
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

export function gcSummary(rows: GcRow[], dryRun: boolean, kept?: GcRow[]): string {
  const out: string[] = [];
  if (!rows.length) out.push(dryRun ? "No resources would be deleted." : "No resources were deleted.");
  else {
    const withReason = !!kept;
    const t = table(withReason ? ["type", "name", "cluster", "reason"] : ["type", "name", "cluster"], rows.map((r) => (withReason ? [r.type, r.name, r.cluster, r.reason] : [r.type, r.name, r.cluster]))).split("\n");
    const width = Math.max(...t.map((l) => l.length));
    out.push(dryRun ? "GC Summary (dry run, nothing deleted):" : "GC Summary:", t[0]!, "-".repeat(width), ...t.slice(1).filter(Boolean));
  }
  if (kept?.length) {
    const t = table(["type", "name", "cluster", "reason"], kept.map((r) => [r.type, r.name, r.cluster, r.reason])).split("\n");
    out.push("", "Kept:", t[0]!, "-".repeat(Math.max(...t.map((l) => l.length))), ...t.slice(1).filter(Boolean));
  }
  return out.join("\n") + "\n";
}
