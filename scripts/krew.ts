#!/usr/bin/env bun
// krew plugin manifests: render krew/<name>.yaml.tmpl into <out>/<name>.yaml with the archive URIs and
// sha256 values of a release, and validate them with krew's rules.
//
//   bun scripts/krew.ts                                   dist/release/*.sha256 → dist/krew/*.yaml
//   bun scripts/krew.ts --release-dir dist/release --out dist/krew --base-url https://example.com/dl/v0.1.0
//   bun scripts/krew.ts --allow-missing                   a partial build: list only the platforms packaged
//   bun scripts/krew.ts --validate dist/krew/violet.yaml  only validate (exit 1 with one line per problem)
//
// Template placeholders: {{version}} (v-prefixed semver), {{homepage}}, {{uri TARGET}}, {{sha256 TARGET}}
// (TARGET as in scripts/build.ts, e.g. linux-x64). A placeholder that cannot be filled is an error.
// Validation = krew's internal/index/validation/validate.go plus validate-krew-manifest's checks (.yaml
// extension, every selector matches a supported os/arch, no os/arch matched twice) plus ours: shortDescription
// ≤ 50 chars (krew search cuts there), `.exe` bin on Windows, LICENSE not filtered out by `files`.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename, extname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseDocument } from "yaml";
import { PLUGINS, projectVersion, ROOT, TARGETS, isTarget, type PluginName, type Target } from "./build.ts";
import { archiveName } from "./package.ts";

export const KREW_API_VERSION = "krew.googlecontainertools.github.com/v1alpha2";
export const TEMPLATES_DIR = join(ROOT, "krew");
export const SHORT_DESCRIPTION_MAX = 50;

/** os/arch pairs krew-index accepts (validate-krew-manifest). */
export const SUPPORTED_PLATFORMS: ReadonlyArray<{ os: string; arch: string }> = [
  ...["386", "amd64", "arm64"].map((arch) => ({ os: "windows", arch })),
  ...["386", "amd64", "arm", "arm64", "ppc64le"].map((arch) => ({ os: "linux", arch })),
  ...["386", "amd64", "arm64"].map((arch) => ({ os: "darwin", arch })),
];

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[1-9]|lpt[1-9])$/i;
const LICENSE_NAMES = new Set(["license", "license.txt", "license.md", "licenses", "licenses.txt", "licenses.md", "copying", "copying.txt"]);

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export interface KrewPlatform {
  selector?: LabelSelector;
  uri?: string;
  sha256?: string;
  bin?: string;
  files?: { from?: string; to?: string }[];
}

export interface KrewManifest {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
  spec?: { version?: string; homepage?: string; shortDescription?: string; description?: string; caveats?: string; platforms?: KrewPlatform[] };
}

export class KrewError extends Error {
  override name = "KrewError";
}

/** A Kubernetes LabelSelector match (what krew does with KREW_OS/KREW_ARCH or the host's GOOS/GOARCH). */
export function selectorMatches(sel: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const val = labels[e.key];
    switch (e.operator) {
      case "In":
        if (!has || !(e.values ?? []).includes(val!)) return false;
        break;
      case "NotIn":
        if (has && (e.values ?? []).includes(val!)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** The first platform whose selector matches os/arch (krew's rule), or undefined. */
export function matchPlatform(m: KrewManifest, os: string, arch: string): KrewPlatform | undefined {
  return m.spec?.platforms?.find((p) => p.selector && selectorMatches(p.selector, { os, arch }));
}

function globToRegExp(glob: string): RegExp {
  let re = "";
  for (const ch of glob) re += ch === "*" ? "[^/]*" : ch === "?" ? "[^/]" : /[.+^${}()|[\]\\]/.test(ch) ? `\\${ch}` : ch;
  return new RegExp(`^${re}$`);
}

function validateSelector(sel: unknown, where: string, problems: string[]): void {
  if (sel == null || typeof sel !== "object") return void problems.push(`${where}: selector is required`);
  const s = sel as Record<string, unknown>;
  if (!("matchLabels" in s) && !("matchExpressions" in s)) return void problems.push(`${where}: selector is empty`);
  for (const k of Object.keys(s)) if (k !== "matchLabels" && k !== "matchExpressions") problems.push(`${where}: unknown selector field "${k}"`);
  if ("matchLabels" in s) {
    const ml = s.matchLabels as Record<string, unknown> | null;
    if (!ml || typeof ml !== "object" || !Object.keys(ml).length) problems.push(`${where}: selector.matchLabels is present but empty`);
    else for (const [k, v] of Object.entries(ml)) {
      if (k !== "os" && k !== "arch") problems.push(`${where}: selector label "${k}" is not allowed (only os and arch)`);
      if (typeof v !== "string" || !v) problems.push(`${where}: selector label ${k} needs a string value`);
    }
  }
  if ("matchExpressions" in s) {
    const me = s.matchExpressions as unknown[] | null;
    if (!Array.isArray(me) || !me.length) problems.push(`${where}: selector.matchExpressions is present but empty`);
    else for (const e of me as { key?: string; operator?: string; values?: unknown }[]) {
      if (e.key !== "os" && e.key !== "arch") problems.push(`${where}: selector expression key "${e.key}" is not allowed (only os and arch)`);
      if (!["In", "NotIn", "Exists", "DoesNotExist"].includes(e.operator ?? "")) problems.push(`${where}: selector operator "${e.operator}" is invalid`);
      const vals = e.values;
      if ((e.operator === "In" || e.operator === "NotIn") && (!Array.isArray(vals) || !vals.length)) problems.push(`${where}: selector operator ${e.operator} needs values`);
      if ((e.operator === "Exists" || e.operator === "DoesNotExist") && Array.isArray(vals) && vals.length) problems.push(`${where}: selector operator ${e.operator} takes no values`);
    }
  }
}

/**
 * Check a krew manifest against krew's rules. `fileName` is the manifest's file name (its base name must be
 * `<metadata.name>.yaml`). Returns the problems, one line each; an empty array means valid.
 */
export function validateManifest(text: string, fileName: string): string[] {
  const problems: string[] = [];
  if (extname(fileName) !== ".yaml") problems.push(`${basename(fileName)}: manifest file extension must be .yaml`);
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) return [...problems, ...doc.errors.map((e) => `${basename(fileName)}: YAML: ${e.message.split("\n")[0]}`)];
  const m = doc.toJS() as KrewManifest;
  if (!m || typeof m !== "object") return [...problems, `${basename(fileName)}: not a YAML mapping`];
  if (m.apiVersion !== KREW_API_VERSION) problems.push(`apiVersion must be ${KREW_API_VERSION} (got ${JSON.stringify(m.apiVersion)})`);
  if (m.kind !== "Plugin") problems.push(`kind must be Plugin (got ${JSON.stringify(m.kind)})`);
  const name = m.metadata?.name;
  const fileBase = basename(fileName).replace(/\.[^.]*$/, "");
  if (!name) problems.push("metadata.name is required");
  else {
    if (!/^[\w-]+$/.test(name)) problems.push(`metadata.name "${name}" must match ^[\\w-]+$`);
    if (WINDOWS_RESERVED.test(name)) problems.push(`metadata.name "${name}" is a reserved Windows device name`);
    if (name !== fileBase) problems.push(`metadata.name "${name}" must equal the file name without .yaml ("${fileBase}")`);
  }
  const spec = m.spec;
  if (!spec || typeof spec !== "object") return [...problems, "spec is required"];
  const v = spec.version;
  if (typeof v !== "string" || !v) problems.push("spec.version is required");
  else if (!v.startsWith("v")) problems.push(`spec.version "${v}" must start with "v"`);
  else if (!SEMVER.test(v.slice(1))) problems.push(`spec.version "${v}" is not a semantic version (v1.2.3)`);
  const sd = spec.shortDescription;
  if (typeof sd !== "string" || !sd.trim()) problems.push("spec.shortDescription is required");
  else {
    if (/[\r\n]/.test(sd)) problems.push("spec.shortDescription must be a single line");
    if (sd.length > SHORT_DESCRIPTION_MAX) problems.push(`spec.shortDescription is ${sd.length} characters (at most ${SHORT_DESCRIPTION_MAX}; krew search cuts it)`);
  }
  if (typeof spec.description !== "string" || !spec.description.trim()) problems.push("spec.description is required");
  if (spec.homepage !== undefined && !/^https?:\/\//.test(String(spec.homepage))) problems.push(`spec.homepage "${spec.homepage}" is not an http(s) URL`);
  const platforms = spec.platforms;
  if (!Array.isArray(platforms) || !platforms.length) return [...problems, "spec.platforms needs at least one platform"];
  const claimed = new Map<string, number>();
  platforms.forEach((p, i) => {
    const where = `spec.platforms[${i}]`;
    if (!p || typeof p !== "object") return void problems.push(`${where}: not a mapping`);
    if (typeof p.uri !== "string" || !p.uri) problems.push(`${where}: uri is required`);
    else if (!/^https?:\/\//.test(p.uri)) problems.push(`${where}: uri "${p.uri}" is not an http(s) URL`);
    if (typeof p.sha256 !== "string" || !/^[a-f0-9]{64}$/.test(p.sha256)) problems.push(`${where}: sha256 must be 64 lowercase hex characters (got ${JSON.stringify(p.sha256)})`);
    if (typeof p.bin !== "string" || !p.bin) problems.push(`${where}: bin is required`);
    if (p.files !== undefined) {
      if (!Array.isArray(p.files) || !p.files.length) problems.push(`${where}: files is present but empty (omit it to install everything)`);
      else {
        p.files.forEach((f, j) => {
          if (!f?.from || !f?.to) problems.push(`${where}.files[${j}]: needs both from and to`);
        });
        const froms = p.files.map((f) => f?.from ?? "");
        const licensed = froms.some((f) => f === "*" || [...LICENSE_NAMES].some((l) => globToRegExp(f.toLowerCase().split("/").pop()!).test(l)));
        if (!licensed) problems.push(`${where}: files does not copy a LICENSE file (krew-index requires one among the installed files)`);
        if (typeof p.bin === "string" && p.bin) {
          const binBase = p.bin.replace(/^\.\//, "").split("/").pop()!;
          if (!froms.some((f) => globToRegExp(f.split("/").pop()!).test(binBase) || f === "*")) problems.push(`${where}: bin "${p.bin}" is not copied by any files entry`);
        }
      }
    }
    validateSelector(p.selector, where, problems);
    if (!p.selector || typeof p.selector !== "object") return;
    const matched = SUPPORTED_PLATFORMS.filter((sp) => selectorMatches(p.selector!, sp));
    if (!matched.length) problems.push(`${where}: selector matches no supported os/arch (${SUPPORTED_PLATFORMS.map((s) => `${s.os}/${s.arch}`).join(", ")})`);
    for (const sp of matched) {
      const key = `${sp.os}/${sp.arch}`;
      if (claimed.has(key)) problems.push(`${where}: ${key} is already matched by spec.platforms[${claimed.get(key)}] (overlapping selectors)`);
      else claimed.set(key, i);
      if (sp.os === "windows" && typeof p.bin === "string" && !p.bin.toLowerCase().endsWith(".exe")) problems.push(`${where}: bin "${p.bin}" for windows must end in .exe`);
    }
  });
  return problems;
}

export interface TemplateContext {
  /** v-prefixed */
  version: string;
  homepage: string;
  artifacts: Partial<Record<Target, { uri: string; sha256: string }>>;
}

/** Fill a template's placeholders; every placeholder must be known and every referenced target present. */
export function renderTemplate(template: string, ctx: TemplateContext, templateName = "template"): string {
  return template.replace(/\{\{\s*([a-z0-9]+)(?:\s+([\w-]+))?\s*\}\}/gi, (_all, key: string, arg?: string) => {
    if (key === "version" && !arg) return ctx.version;
    if (key === "homepage" && !arg) return ctx.homepage;
    if ((key === "uri" || key === "sha256") && arg) {
      if (!isTarget(arg)) throw new KrewError(`${templateName}: unknown target "${arg}" in {{${key} ${arg}}} (one of ${TARGETS.join(", ")})`);
      const a = ctx.artifacts[arg];
      if (!a) throw new KrewError(`${templateName}: no archive for ${arg} (package it first: bun scripts/package.ts --target ${arg})`);
      if (key === "sha256" && !/^[a-f0-9]{64}$/.test(a.sha256)) throw new KrewError(`${templateName}: sha256 for ${arg} is not lowercase hex`);
      return key === "uri" ? a.uri : a.sha256;
    }
    throw new KrewError(`${templateName}: unknown placeholder {{${key}${arg ? " " + arg : ""}}}`);
  });
}

/** Templates in krew/: plugin name → template path. */
export function krewTemplates(dir = TEMPLATES_DIR): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(dir).sort()) if (f.endsWith(".yaml.tmpl")) out.set(f.slice(0, -".yaml.tmpl".length), join(dir, f));
  return out;
}

/** package.json `homepage`, else its repository URL, else the project's GitHub URL. */
export function projectHomepage(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { homepage?: string; repository?: string | { url?: string } };
  const repo = typeof pkg.repository === "string" ? pkg.repository : pkg.repository?.url;
  const url = pkg.homepage ?? repo?.replace(/^git\+/, "").replace(/\.git$/, "");
  return url && /^https?:\/\//.test(url) ? url : "https://github.com/kube-airgap/kube-airgap";
}

export function defaultBaseUrl(version: string): string {
  return `${projectHomepage()}/releases/download/v${version.replace(/^v/, "")}`;
}

function pluginForKrewName(name: string): PluginName {
  const p = Object.values(PLUGINS).find((s) => s.krewName === name);
  if (!p) throw new KrewError(`krew/${name}.yaml.tmpl: no kubectl plugin is named "${name}" in scripts/build.ts PLUGINS`);
  return p.name;
}

/** Read `<archive>.sha256` (sha256sum format) and check it names the archive. */
export function readShaFile(shaFile: string): string {
  const line = readFileSync(shaFile, "utf8").trim();
  const m = /^([a-f0-9]{64})\s+\*?(.+)$/.exec(line);
  if (!m || m[2] !== basename(shaFile, ".sha256")) throw new KrewError(`${shaFile}: expected "<lowercase sha256>  ${basename(shaFile, ".sha256")}"`);
  return m[1]!;
}

const MISSING = "https://missing.invalid/archive";

/** Remove spec.platforms entries whose uri is `uri` (keeps comments and layout of the rest). */
function dropPlatforms(text: string, uri: string): string {
  const doc = parseDocument(text);
  const platforms = doc.getIn(["spec", "platforms"]) as { items: unknown[] } | undefined;
  if (platforms?.items) platforms.items = platforms.items.filter((item) => (item as { get(k: string): unknown }).get("uri") !== uri);
  return doc.toString({ lineWidth: 0 });
}

export interface RenderOptions {
  /** directory with the archives and their .sha256 files */
  releaseDir: string;
  outDir: string;
  version?: string;
  /** URL the archives are downloaded from (archive name appended) */
  baseUrl?: string;
  homepage?: string;
  templatesDir?: string;
  /** only these kubectl plugin names (violet, mirror, scar) */
  names?: string[];
  /** drop platforms whose archive is not in releaseDir (a partial build) instead of failing */
  allowMissing?: boolean;
  log?: (line: string) => void;
}

/** Render and validate every krew template; returns the written manifest paths. Throws on any problem. */
export function renderKrewManifests(o: RenderOptions): string[] {
  const version = (o.version ?? projectVersion()).replace(/^v/, "");
  const baseUrl = (o.baseUrl ?? defaultBaseUrl(version)).replace(/\/+$/, "");
  const homepage = o.homepage ?? projectHomepage();
  mkdirSync(o.outDir, { recursive: true });
  const written: string[] = [];
  for (const [name, tmpl] of krewTemplates(o.templatesDir)) {
    if (o.names && !o.names.includes(name)) continue;
    const plugin = pluginForKrewName(name);
    const artifacts: TemplateContext["artifacts"] = {};
    for (const t of TARGETS) {
      const archive = archiveName(plugin, version, t);
      const shaFile = join(o.releaseDir, `${archive}.sha256`);
      if (existsSync(shaFile)) artifacts[t] = { uri: `${baseUrl}/${archive}`, sha256: readShaFile(shaFile) };
    }
    const available = Object.keys(artifacts).length;
    let text: string;
    if (o.allowMissing) {
      if (!Object.keys(artifacts).length) throw new KrewError(`no archives of ${plugin} ${version} in ${o.releaseDir}`);
      for (const t of TARGETS) artifacts[t] ??= { uri: MISSING, sha256: "0".repeat(64) };
      text = dropPlatforms(renderTemplate(readFileSync(tmpl, "utf8"), { version: `v${version}`, homepage, artifacts }, basename(tmpl)), MISSING);
    } else text = renderTemplate(readFileSync(tmpl, "utf8"), { version: `v${version}`, homepage, artifacts }, basename(tmpl));
    text = `# Generated by scripts/krew.ts from krew/${basename(tmpl)} for v${version}; do not edit.\n${text.replace(/^(?:#.*\n)+/, "")}`;
    const out = join(o.outDir, `${name}.yaml`);
    const problems = validateManifest(text, out);
    if (problems.length) throw new KrewError(`${out} is not a valid krew manifest:\n  ${problems.join("\n  ")}`);
    writeFileSync(`${out}.tmp`, text);
    renameSync(`${out}.tmp`, out);
    o.log?.(`wrote ${out} (${available} of ${TARGETS.length} platforms)`);
    written.push(out);
  }
  if (!written.length) throw new KrewError(`no krew/*.yaml.tmpl templates found in ${o.templatesDir ?? TEMPLATES_DIR}`);
  return written;
}

if (import.meta.main) {
  try {
    const { values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        "release-dir": { type: "string" },
        out: { type: "string" },
        "base-url": { type: "string" },
        homepage: { type: "string" },
        "allow-missing": { type: "boolean" },
        validate: { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    });
    if (values.help) {
      console.log("usage: bun scripts/krew.ts [--release-dir dist/release] [--out dist/krew] [--base-url URL] [--homepage URL] [--allow-missing]\n       bun scripts/krew.ts --validate FILE.yaml [--validate …]");
      process.exit(0);
    }
    if (values.validate?.length) {
      let bad = 0;
      for (const f of values.validate) {
        const problems = validateManifest(readFileSync(f, "utf8"), f);
        for (const p of problems) console.error(`${f}: ${p}`);
        if (problems.length) bad++;
        else console.log(`${f}: valid`);
      }
      process.exit(bad ? 1 : 0);
    }
    const written = renderKrewManifests({
      releaseDir: resolve(values["release-dir"] ?? join(ROOT, "dist", "release")),
      outDir: resolve(values.out ?? join(ROOT, "dist", "krew")),
      baseUrl: values["base-url"],
      homepage: values.homepage,
      allowMissing: values["allow-missing"],
      log: (l) => console.error(l),
    });
    for (const w of written) console.log(w);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    process.exit(1);
  }
}

