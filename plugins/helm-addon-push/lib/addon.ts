// KubeVela addons: validation like vela's IsAddonDir and the metadata.yaml → Chart.yaml mapping of
// `vela addon package/push` (pkg/addon/utils.go generateChartMetadata/generateAnnotation).
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { parseGoYaml } from "../../../shared/helm/goyaml.ts";
import { chartYamlText, isSemver, parseYamlMap, type ChartMetadata } from "../../../shared/helm/chart.ts";

export class AddonError extends Error {
  override name = "AddonError";
}

/** metadata.yaml (vela pkg/addon/type.go Meta), the fields we map. */
export interface AddonMeta {
  name: string;
  version: string;
  description?: string;
  icon?: string;
  url?: string;
  tags?: string[];
  system?: { vela?: string; kubernetes?: string };
  [k: string]: unknown;
}

async function exists(path: string): Promise<"file" | "dir" | undefined> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? "dir" : s.isFile() ? "file" : undefined;
  } catch {
    return undefined;
  }
}

/** Is `dir` a KubeVela addon directory (has metadata.yaml)? */
export async function looksLikeAddon(dir: string): Promise<boolean> {
  return (await exists(join(dir, "metadata.yaml"))) === "file";
}

/**
 * Validate an addon directory the way vela does and return its metadata. Errors read
 * `<dir> is not an addon dir: <reason>`.
 */
export async function readAddon(dir: string): Promise<AddonMeta> {
  const fail = (why: string): never => {
    throw new AddonError(`${dir} is not an addon dir: ${why}`);
  };
  const kind = await exists(dir);
  if (kind !== "dir") fail(kind ? `"${dir}" is not a directory` : `"${dir}" does not exist`);
  if ((await exists(join(dir, "metadata.yaml"))) !== "file") fail(`no metadata.yaml exists in directory "${dir}"`);
  let text: string;
  try {
    text = await readFile(join(dir, "metadata.yaml"), "utf8");
  } catch (err) {
    return fail(`cannot read metadata.yaml: ${(err as Error).message}`);
  }
  let meta: Record<string, any>;
  try {
    meta = parseYamlMap(text, dir, "metadata.yaml", ["name", "version"]);
  } catch (err) {
    return fail((err as Error).message.replace(`${dir}: `, ""));
  }
  if (!meta || Object.keys(meta).length === 0) fail("metadata (metadata.yaml) missing");
  if (!meta.name) fail("addon name is empty in metadata.yaml");
  if (typeof meta.name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(meta.name)) fail(`addon name "${meta.name}" in metadata.yaml is not a valid chart name`);
  if (!meta.version) fail("addon version is empty in metadata.yaml");
  if (!isSemver(String(meta.version))) fail(`version "${meta.version}" in metadata.yaml is not valid semver (e.g. 1.2.0)`);
  if (meta.tags !== undefined && !Array.isArray(meta.tags)) fail("tags in metadata.yaml must be a list");

  const cue = (await exists(join(dir, "template.cue"))) === "file";
  const yml = (await exists(join(dir, "template.yaml"))) === "file";
  if (cue) {
    const t = await readFile(join(dir, "template.cue"), "utf8");
    if (!t.includes("output")) fail("no output field in template.cue");
  } else if (yml) {
    // vela: yaml.Unmarshal (sigs.k8s.io/yaml) into a v1beta1.Application: it must parse as go-yaml does and fit the
    // type (a map; metadata/spec maps; spec.components/policies a list); apiVersion and kind are not checked by vela
    let app: unknown;
    try {
      app = parseGoYaml(await readFile(join(dir, "template.yaml"), "utf8"), "template.yaml").toJS({ maxAliasCount: 100 });
    } catch (err) {
      return fail((err as Error).message);
    }
    if (app === null || app === undefined) fail("template (template.yaml) missing");
    const isMap = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
    const a = app as Record<string, any>;
    if (!isMap(app)) fail(`template.yaml: cannot unmarshal ${Array.isArray(app) ? "array" : typeof app} into a KubeVela Application (expected a map)`);
    for (const k of ["metadata", "spec"]) if (a[k] != null && !isMap(a[k])) fail(`template.yaml: ${k} must be a map`);
    for (const k of ["components", "policies"]) if (a.spec?.[k] != null && !Array.isArray(a.spec[k])) fail(`template.yaml: spec.${k} must be a list`);
    if (a.spec?.workflow != null && !isMap(a.spec.workflow)) fail("template.yaml: spec.workflow must be a map");
  } else {
    const res = await exists(join(dir, "resources"));
    fail(`no template.yaml or template.cue exists in directory "${dir}"${res ? " (resources/ alone is not enough: vela needs a template)" : ""}`);
  }
  return { ...meta, name: meta.name, version: String(meta.version) } as AddonMeta;
}

/** vela's mapping: metadata.yaml → Chart.yaml metadata. */
export function addonChartMetadata(meta: AddonMeta): ChartMetadata {
  const annotations: Record<string, string> = {};
  if (meta.system?.vela) annotations["system.vela"] = String(meta.system.vela);
  if (meta.system?.kubernetes) annotations["system.kubernetes"] = String(meta.system.kubernetes);
  annotations["addon.name"] = meta.name;
  const m: ChartMetadata = {
    apiVersion: "v2",
    name: meta.name,
    version: meta.version,
    appVersion: meta.version,
    description: meta.description ? String(meta.description) : undefined,
    icon: meta.icon ? String(meta.icon) : undefined,
    home: meta.url ? String(meta.url) : undefined,
    keywords: meta.tags?.map(String),
    type: "library",
    annotations,
  };
  for (const k of Object.keys(m)) if (m[k] === undefined) delete m[k];
  return m;
}

/** The generated Chart.yaml bytes, as vela writes them (sigs.k8s.io/yaml on go-yaml v2: see shared/helm/goyaml.ts). */
export function addonChartYaml(meta: AddonMeta): string {
  return chartYamlText(addonChartMetadata(meta));
}
