// Helm values without helm: coalescing chart defaults with user values (-f, --set, --set-string,
// --set-json), globals, and subchart enablement (dependency condition/tags, aliases). Used for the static
// discovery sources so they see the same values a render would.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { extractChartArchive } from "./chart-tar.ts";
import { parseYaml } from "../runtime/yaml.ts";

export type Values = Record<string, unknown>;

export class ValuesError extends Error {
  override name = "ValuesError";
}

export function isMap(v: unknown): v is Values {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Helm coalescing: `over` wins, maps merge deeply, null in `over` deletes the key. */
export function mergeValues(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) {
      delete out[k];
    } else if (isMap(v) && isMap(out[k])) {
      out[k] = mergeValues(out[k] as Values, v);
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** Value at a dotted path ("a.b.c"), or undefined. */
export function getPath(values: unknown, path: string): unknown {
  let cur: unknown = values;
  for (const part of path.split(".").filter(Boolean)) {
    if (!isMap(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

// ---- --set parsing (Helm strvals, the common subset) ----

function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = "";
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "\\" && i + 1 < s.length) {
      cur += c + s[++i];
      continue;
    }
    if (c === "{" || c === "[") depth++;
    if (c === "}" || c === "]") depth = Math.max(0, depth - 1);
    if (c === sep && depth === 0) {
      out.push(cur);
      cur = "";
      continue;
    }
    cur += c;
  }
  out.push(cur);
  return out;
}

function typed(v: string): unknown {
  if (v === "true") return true;
  if (v === "false") return false;
  if (v === "null") return null;
  if (/^-?(0|[1-9]\d{0,15})$/.test(v)) return Number(v);
  return v;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, "$1");
}

/** Key path "a.b\.c[0].d" → ["a", "b.c", 0, "d"]. */
function keyPath(key: string): (string | number)[] {
  const parts: (string | number)[] = [];
  let cur = "";
  for (let i = 0; i < key.length; i++) {
    const c = key[i]!;
    if (c === "\\" && i + 1 < key.length) {
      cur += key[++i];
    } else if (c === ".") {
      if (cur) parts.push(cur);
      cur = "";
    } else if (c === "[") {
      if (cur) parts.push(cur);
      cur = "";
      const end = key.indexOf("]", i);
      if (end < 0) throw new ValuesError(`bad --set key "${key}": missing ]`);
      const n = Number(key.slice(i + 1, end));
      if (!Number.isInteger(n) || n < 0) throw new ValuesError(`bad --set key "${key}": bad index`);
      parts.push(n);
      i = end;
    } else {
      cur += c;
    }
  }
  if (cur) parts.push(cur);
  if (!parts.length) throw new ValuesError(`bad --set key "${key}"`);
  return parts;
}

function setIn(target: Values, path: (string | number)[], value: unknown): void {
  let cur: any = target;
  for (let i = 0; i < path.length; i++) {
    const k = path[i]!;
    const last = i === path.length - 1;
    if (last) {
      cur[k] = value;
      return;
    }
    const nextIsIndex = typeof path[i + 1] === "number";
    if (cur[k] === undefined || cur[k] === null || typeof cur[k] !== "object") cur[k] = nextIsIndex ? [] : {};
    cur = cur[k];
  }
}

/** Apply one --set / --set-string / --set-json expression to `target` (mutates). */
export function applySet(target: Values, expr: string, kind: "set" | "string" | "json" = "set"): void {
  if (kind === "json" && expr.trim().startsWith("{")) {
    let obj: unknown;
    try {
      obj = JSON.parse(expr);
    } catch (e) {
      throw new ValuesError(`bad --set-json "${expr}": ${(e as Error).message}`);
    }
    if (!isMap(obj)) throw new ValuesError(`bad --set-json "${expr}": not an object`);
    Object.assign(target, mergeValues(target, obj));
    return;
  }
  for (const pair of splitTop(expr, ",")) {
    if (!pair.trim()) continue;
    const eq = pair.search(/(?<!\\)=/);
    if (eq < 0) throw new ValuesError(`bad --set value "${pair}": expected key=value`);
    const path = keyPath(pair.slice(0, eq));
    const raw = pair.slice(eq + 1);
    let value: unknown;
    if (kind === "json") {
      try {
        value = JSON.parse(raw);
      } catch (e) {
        throw new ValuesError(`bad --set-json "${pair}": ${(e as Error).message}`);
      }
    } else if (raw.startsWith("{") && raw.endsWith("}")) {
      value = splitTop(raw.slice(1, -1), ",").filter((x) => x !== "").map((x) => (kind === "string" ? unescape(x) : typed(unescape(x))));
    } else {
      value = kind === "string" ? unescape(raw) : typed(unescape(raw));
    }
    setIn(target, path, value);
  }
}

export interface UserValues {
  valuesFiles?: string[];
  set?: string[];
  setString?: string[];
  setJson?: string[];
}

/** The user-supplied values, merged in Helm's order: -f files left to right, then --set-json, --set, --set-string. */
export async function loadUserValues(u: UserValues): Promise<Values> {
  let vals: Values = {};
  for (const f of u.valuesFiles ?? []) {
    let text: string;
    try {
      text = await readFile(f, "utf8");
    } catch (e) {
      throw new ValuesError(`--values ${f}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
    }
    let v: unknown;
    try {
      v = parseYaml(text);
    } catch (e) {
      throw new ValuesError(`--values ${f}: not valid YAML (${(e as Error).message.split("\n")[0]})`);
    }
    if (v != null && !isMap(v)) throw new ValuesError(`--values ${f}: must be a YAML mapping`);
    vals = deepAssign(vals, (v as Values) ?? {});
  }
  const over: Values = {};
  for (const s of u.setJson ?? []) applySet(over, s, "json");
  for (const s of u.set ?? []) applySet(over, s, "set");
  for (const s of u.setString ?? []) applySet(over, s, "string");
  // user --set null removes a default only when merged against chart values, so keep nulls here
  return deepAssign(vals, over);
}

function deepAssign(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isMap(v) && isMap(out[k]) ? deepAssign(out[k] as Values, v) : v;
  }
  return out;
}

/** Coalesce user values over chart defaults, keeping user nulls as deletions (Helm semantics). */
export function coalesce(defaults: Values, user: Values): Values {
  return mergeValues(defaults, user);
}

// ---- chart tree ----

export interface ChartMeta {
  apiVersion?: string;
  name: string;
  version: string;
  appVersion?: string;
  annotations?: Record<string, string>;
  dependencies?: { name: string; version?: string; repository?: string; condition?: string; tags?: string[]; alias?: string; enabled?: boolean }[];
  [k: string]: unknown;
}

export interface ChartNode {
  meta: ChartMeta;
  dir: string;
  /** display path: "app", "app/charts/redis" */
  path: string;
  /** values path prefix users set from the top chart: "" for the top, "redis." for a subchart */
  valuesPrefix: string;
  /** effective values of this chart (defaults + everything passed down) */
  values: Values;
  enabled: boolean;
  reason?: string;
  children: ChartNode[];
}

export async function readChartMeta(dir: string): Promise<ChartMeta> {
  let text: string;
  try {
    text = await readFile(join(dir, "Chart.yaml"), "utf8");
  } catch {
    throw new ValuesError(`${dir}: no Chart.yaml (not a Helm chart directory)`);
  }
  return parseChartMeta(text, join(dir, "Chart.yaml"));
}

/** Chart.yaml text as readChartMeta reads it (`where` names the file in errors). */
export function parseChartMeta(text: string, where: string): ChartMeta {
  let meta: unknown;
  try {
    meta = parseYaml(text);
  } catch (e) {
    throw new ValuesError(`${where}: not valid YAML (${(e as Error).message.split("\n")[0]})`);
  }
  if (!isMap(meta) || typeof meta.name !== "string") throw new ValuesError(`${where}: missing name`);
  const m = meta as ChartMeta;
  m.version = m.version == null ? "" : String(m.version);
  if (m.appVersion != null) m.appVersion = String(m.appVersion);
  return m;
}

async function readValuesFile(dir: string): Promise<Values> {
  for (const n of ["values.yaml", "values.yml"]) {
    let text: string;
    try {
      text = await readFile(join(dir, n), "utf8");
    } catch {
      continue;
    }
    let v: unknown;
    try {
      v = parseYaml(text);
    } catch (e) {
      throw new ValuesError(`${join(dir, n)}: not valid YAML (${(e as Error).message.split("\n")[0]})`);
    }
    return isMap(v) ? v : {};
  }
  return {};
}

/** Helm's condition rule: the first path in "a.enabled,b.enabled" that holds a boolean decides. */
export function evalCondition(condition: string, values: Values): boolean | undefined {
  for (const p of condition.split(",").map((s) => s.trim()).filter(Boolean)) {
    const v = getPath(values, p);
    if (typeof v === "boolean") return v;
  }
  return undefined;
}

interface SubchartDir {
  dir: string;
  meta: ChartMeta;
  rel: string;
}

async function subchartDirs(dir: string, tmp: () => Promise<string>): Promise<SubchartDir[]> {
  const chartsDir = join(dir, "charts");
  let names: string[];
  try {
    names = (await readdir(chartsDir)).sort();
  } catch {
    return [];
  }
  const out: SubchartDir[] = [];
  for (const n of names) {
    const p = join(chartsDir, n);
    const st = await stat(p).catch(() => undefined);
    if (!st) continue;
    if (st.isDirectory()) {
      const meta = await readChartMeta(p).catch(() => undefined);
      if (meta) out.push({ dir: p, meta, rel: `charts/${n}` });
    } else if (/\.(tgz|tar\.gz)$/.test(n)) {
      const sub = await extractChartArchive(p, await tmp());
      out.push({ dir: sub, meta: await readChartMeta(sub), rel: `charts/${n}` });
    }
  }
  return out;
}

/**
 * Build the chart tree with effective values and enablement. `user` are the user values for the top chart;
 * `tmp()` returns a fresh temp dir (for subcharts packed as .tgz inside charts/).
 */
export async function chartTree(dir: string, user: Values, tmp: () => Promise<string>): Promise<ChartNode> {
  const meta = await readChartMeta(dir);
  const top = coalesce(await readValuesFile(dir), user);
  return build(dir, meta, meta.name, "", top, top, tmp);
}

async function build(dir: string, meta: ChartMeta, path: string, prefix: string, values: Values, topValues: Values, tmp: () => Promise<string>): Promise<ChartNode> {
  const node: ChartNode = { meta, dir, path, valuesPrefix: prefix, values, enabled: true, children: [] };
  const subs = await subchartDirs(dir, tmp);
  const deps = meta.dependencies ?? [];
  const used = new Set<SubchartDir>();
  const entries: { sub: SubchartDir; dep?: (typeof deps)[number] }[] = [];
  for (const dep of deps) {
    // one charts/ entry may serve several dependencies under different aliases
    const sub = subs.find((s) => s.meta.name === dep.name && (!dep.version || !/^[\d.]+$/.test(dep.version) || s.meta.version === dep.version))
      ?? subs.find((s) => s.meta.name === dep.name);
    if (!sub) {
      node.children.push({ meta: { name: dep.alias ?? dep.name, version: dep.version ?? "" }, dir: "", path: `${path}/charts/${dep.alias ?? dep.name}`, valuesPrefix: `${prefix}${dep.alias ?? dep.name}.`, values: {}, enabled: false, reason: `dependency ${dep.name} is missing from charts/ (run "helm dependency build")`, children: [] });
      continue;
    }
    used.add(sub);
    entries.push({ sub, dep });
  }
  for (const s of subs) if (!used.has(s)) entries.push({ sub: s });
  const globals = isMap(values.global) ? values.global : {};
  for (const { sub, dep } of entries) {
    const key = dep?.alias ?? sub.meta.name;
    let enabled = true;
    let reason: string | undefined;
    if (dep) {
      if (dep.tags?.length) {
        const tagVals = isMap(topValues.tags) ? topValues.tags : {};
        const set = dep.tags.map((t) => tagVals[t]).filter((v) => typeof v === "boolean");
        if (set.length && !set.some(Boolean)) {
          enabled = false;
          reason = `tags ${dep.tags.join(",")} are false`;
        }
      }
      if (dep.condition) {
        const c = evalCondition(dep.condition, values);
        if (c === false) {
          enabled = false;
          reason = `condition ${dep.condition} is false`;
        } else if (c === true) {
          enabled = true;
          reason = undefined;
        }
      }
    }
    const passed = isMap(values[key]) ? (values[key] as Values) : {};
    let childVals = coalesce(await readValuesFile(sub.dir), passed);
    childVals = { ...childVals, global: mergeValues(isMap(childVals.global) ? childVals.global : {}, globals) };
    const child = await build(sub.dir, sub.meta, `${path}/charts/${key}`, `${prefix}${key}.`, childVals, topValues, tmp);
    child.enabled = enabled;
    child.reason = reason;
    if (!enabled) child.children.forEach(function off(c) {
      c.enabled = false;
      c.reason ??= `parent ${key} is disabled`;
      c.children.forEach(off);
    });
    node.children.push(child);
  }
  return node;
}

/** Every node of the tree, depth first. */
export function walkTree(n: ChartNode): ChartNode[] {
  return [n, ...n.children.flatMap(walkTree)];
}
