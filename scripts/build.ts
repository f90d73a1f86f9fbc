#!/usr/bin/env bun
// Compile the plugins into self-contained executables with `bun build --compile`.
//
//   bun scripts/build.ts                              all plugins for the host platform → dist/bin/<target>/
//   bun scripts/build.ts --target all                 the release matrix (linux/darwin x64+arm64, windows x64)
//   bun scripts/build.ts --plugin kubectl-violet --target linux-arm64,darwin-arm64 --out dist/bin
//   bun scripts/build.ts --no-bytecode                plain JS bundle inside the binary (slower startup)
//
// Every binary gets --minify, JSC bytecode (with --format=esm: a dependency uses import.meta, the default CJS
// bytecode build fails), the version from package.json and the git commit via --define, and
// --no-compile-autoload-dotenv --no-compile-autoload-bunfig: without them a `.env` or `bunfig.toml` in the
// user's working directory changes the binary's environment (test/ship/dotenv.test.ts).
// Bytecode "where it works": if a bytecode build fails, or a host-runnable bytecode binary fails its
// `--version` smoke run, the plugin is rebuilt without bytecode and the result says so.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { arch as hostArch, platform as hostPlatform } from "node:os";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";

export const ROOT = resolve(import.meta.dir, "..");

export type PluginName = "kubectl-violet" | "kubectl-mirror" | "kubectl-scar" | "helm-addon-push";

export interface PluginSpec {
  name: PluginName;
  /** entry file, relative to the repository root */
  entry: string;
  /** "kubectl": shipped through krew; "helm": shipped as a Helm plugin archive */
  kind: "kubectl" | "helm";
  /** the kubectl plugin name (krew manifest metadata.name, `kubectl <krewName>`) */
  krewName?: string;
}

export const PLUGINS: Record<PluginName, PluginSpec> = {
  "kubectl-violet": { name: "kubectl-violet", entry: "plugins/kubectl-violet/main.ts", kind: "kubectl", krewName: "violet" },
  "kubectl-mirror": { name: "kubectl-mirror", entry: "plugins/kubectl-mirror/main.ts", kind: "kubectl", krewName: "mirror" },
  "kubectl-scar": { name: "kubectl-scar", entry: "plugins/kubectl-scar/main.ts", kind: "kubectl", krewName: "scar" },
  "helm-addon-push": { name: "helm-addon-push", entry: "plugins/helm-addon-push/main.ts", kind: "helm" },
};
export const PLUGIN_NAMES = Object.keys(PLUGINS) as PluginName[];

/** Release targets (bun's names). */
export const TARGETS = ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64", "windows-x64"] as const;
export type Target = (typeof TARGETS)[number];

export interface TargetInfo {
  target: Target;
  /** krew / Go names */
  os: "linux" | "darwin" | "windows";
  arch: "amd64" | "arm64";
  bunTarget: string;
  exe: "" | ".exe";
}

export function targetInfo(target: Target): TargetInfo {
  const [os, cpu] = target.split("-") as ["linux" | "darwin" | "windows", "x64" | "arm64"];
  return { target, os, arch: cpu === "x64" ? "amd64" : "arm64", bunTarget: `bun-${target}`, exe: os === "windows" ? ".exe" : "" };
}

export function isTarget(s: string): s is Target {
  return (TARGETS as readonly string[]).includes(s);
}

/** The target this machine runs, if it is one we ship. */
export function hostTarget(): Target {
  const os = hostPlatform() === "win32" ? "windows" : hostPlatform();
  const cpu = hostArch() === "arm64" ? "arm64" : "x64";
  const t = `${os}-${cpu}`;
  if (!isTarget(t)) throw new Error(`host platform ${t} is not a release target; pass --target (one of ${TARGETS.join(", ")})`);
  return t;
}

/** Binary file name of a plugin on a target (`kubectl-violet`, `kubectl-violet.exe`). */
export function binaryName(plugin: PluginName, target: Target): string {
  return plugin + targetInfo(target).exe;
}

export function projectVersion(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version?: string };
  if (!pkg.version || !/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.test(pkg.version)) {
    throw new Error(`package.json: "version" must be a semver like 1.2.3 (got ${JSON.stringify(pkg.version)})`);
  }
  return pkg.version;
}

/** `git rev-parse --short HEAD`, or "unknown" outside a git checkout. KUBE_AIRGAP_COMMIT overrides. */
export function gitCommit(): string {
  if (process.env.KUBE_AIRGAP_COMMIT) return process.env.KUBE_AIRGAP_COMMIT;
  const r = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" });
  const c = r.status === 0 ? r.stdout.trim() : "";
  return /^[0-9a-f]{4,40}$/.test(c) ? c : "unknown";
}

/** Timestamp (seconds) for archive entries: SOURCE_DATE_EPOCH, else the commit time, else 0. Reproducible archives. */
export function sourceDateEpoch(): number {
  const env = Number(process.env.SOURCE_DATE_EPOCH);
  if (Number.isInteger(env) && env > 0) return env;
  const r = spawnSync("git", ["log", "-1", "--format=%ct"], { cwd: ROOT, encoding: "utf8" });
  const t = Number(r.stdout?.trim());
  return r.status === 0 && Number.isInteger(t) && t > 0 ? t : 0;
}

export function bunBinary(): string {
  const local = join(ROOT, "node_modules", ".bin", "bun");
  return existsSync(local) ? local : process.execPath;
}

export interface BuildOptions {
  plugin: PluginName;
  target: Target;
  /** output root; the binary goes to <outDir>/<target>/<plugin>[.exe] */
  outDir: string;
  version?: string;
  commit?: string;
  /** default true; falls back to a plain build when bytecode does not work */
  bytecode?: boolean;
  /** extra `bun build` flags (tests use this to build a control binary) */
  extraFlags?: string[];
  /** override the autoload-disabling flags (tests only: to prove the .env test can fail) */
  autoloadConfig?: boolean;
  log?: (line: string) => void;
}

export interface BuildResult {
  plugin: PluginName;
  target: Target;
  file: string;
  bytes: number;
  bytecode: boolean;
  ms: number;
  version: string;
  commit: string;
}

function runBun(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(bunBinary(), args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code: code ?? -1, output }));
  });
}

/** The exact `bun build` argv for one plugin and target. */
export function buildArgs(o: { plugin: PluginName; target: Target; outfile: string; version: string; commit: string; bytecode: boolean; autoloadConfig?: boolean; extraFlags?: string[] }): string[] {
  const spec = PLUGINS[o.plugin];
  return [
    "build",
    "--compile",
    `--target=${targetInfo(o.target).bunTarget}`,
    "--minify",
    ...(o.bytecode ? ["--bytecode", "--format=esm"] : []),
    ...(o.autoloadConfig ? [] : ["--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig"]),
    "--define",
    `KUBE_AIRGAP_VERSION=${JSON.stringify(o.version)}`,
    "--define",
    `KUBE_AIRGAP_COMMIT=${JSON.stringify(o.commit)}`,
    ...(o.extraFlags ?? []),
    join(ROOT, spec.entry),
    "--outfile",
    o.outfile,
  ];
}

/** Compile one plugin for one target. Writes to a temp name in the output dir, then renames. */
export async function buildPlugin(o: BuildOptions): Promise<BuildResult> {
  const version = o.version ?? projectVersion();
  const commit = o.commit ?? gitCommit();
  const log = o.log ?? (() => {});
  const dir = join(resolve(o.outDir), o.target);
  mkdirSync(dir, { recursive: true });
  const final = join(dir, binaryName(o.plugin, o.target));
  const exe = targetInfo(o.target).exe;
  const tmp = join(dir, `.${o.plugin}.tmp-${process.pid}-${Date.now()}${exe}`);
  const started = performance.now();
  let bytecode = o.bytecode ?? true;
  for (;;) {
    rmSync(tmp, { force: true });
    const r = await runBun(buildArgs({ plugin: o.plugin, target: o.target, outfile: tmp, version, commit, bytecode, autoloadConfig: o.autoloadConfig, extraFlags: o.extraFlags }));
    let failure = r.code !== 0 || !existsSync(tmp) ? `bun build exited ${r.code}:\n${r.output.trim()}` : "";
    if (!failure && o.target === safeHostTarget()) {
      // smoke run: a broken bytecode build crashes here rather than on the user's machine
      const v = spawnSync(tmp, ["--version"], { encoding: "utf8", timeout: 30_000, cwd: dir });
      if (v.status !== 0 || !v.stdout.includes(version)) failure = `${basename(final)} --version failed (exit ${v.status}): ${(v.stderr || v.stdout).trim().slice(0, 500)}`;
    }
    if (!failure) break;
    rmSync(tmp, { force: true });
    if (!bytecode) throw new Error(`build of ${o.plugin} for ${o.target} failed: ${failure}`);
    log(`warning: ${o.plugin} ${o.target}: bytecode build did not work, building without --bytecode (${failure.split("\n")[0]})`);
    bytecode = false;
  }
  renameSync(tmp, final);
  const result: BuildResult = { plugin: o.plugin, target: o.target, file: final, bytes: statSync(final).size, bytecode, ms: Math.round(performance.now() - started), version, commit };
  log(`built ${final} (${(result.bytes / 1e6).toFixed(1)} MB${bytecode ? ", bytecode" : ""}, ${(result.ms / 1000).toFixed(1)} s)`);
  return result;
}

function safeHostTarget(): Target | undefined {
  try {
    return hostTarget();
  } catch {
    return undefined;
  }
}

/** Build plugins × targets, one at a time (each bun build already uses the cores; memory stays low). */
export async function buildAll(o: { plugins?: PluginName[]; targets?: Target[]; outDir: string; version?: string; commit?: string; bytecode?: boolean; log?: (line: string) => void }): Promise<BuildResult[]> {
  const version = o.version ?? projectVersion();
  const commit = o.commit ?? gitCommit();
  const out: BuildResult[] = [];
  for (const target of o.targets ?? [hostTarget()]) {
    for (const plugin of o.plugins ?? PLUGIN_NAMES) {
      out.push(await buildPlugin({ plugin, target, outDir: o.outDir, version, commit, bytecode: o.bytecode, log: o.log }));
    }
  }
  return out;
}

/** Parse `--plugin` / `--target` values: comma lists, repeated flags, "all". */
export function parseSelection(values: string[] | undefined, all: readonly string[], what: string, fallback: string[]): string[] {
  const list = (values ?? []).flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
  if (!list.length) return fallback;
  if (list.includes("all")) return [...all];
  for (const v of list) if (!all.includes(v)) throw new Error(`unknown ${what} "${v}" (one of: ${all.join(", ")}, all)`);
  return [...new Set(list)];
}

export function cliOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      plugin: { type: "string", multiple: true },
      target: { type: "string", multiple: true },
      out: { type: "string" },
      "no-bytecode": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
  return {
    help: !!values.help,
    plugins: parseSelection(values.plugin, PLUGIN_NAMES, "plugin", PLUGIN_NAMES) as PluginName[],
    targets: parseSelection(values.target, TARGETS, "target", [hostTarget()]) as Target[],
    outDir: resolve(values.out ?? join(ROOT, "dist", "bin")),
    bytecode: !values["no-bytecode"],
  };
}

export const BUILD_USAGE = `usage: bun scripts/build.ts [--plugin NAME[,NAME]|all] [--target TARGET[,TARGET]|all] [--out DIR] [--no-bytecode]
  plugins: ${PLUGIN_NAMES.join(", ")} (default all)
  targets: ${TARGETS.join(", ")} (default: this machine's)
  output:  <out>/<target>/<plugin>[.exe] (default dist/bin)`;

if (import.meta.main) {
  try {
    const o = cliOptions(process.argv.slice(2));
    if (o.help) {
      console.log(BUILD_USAGE);
      process.exit(0);
    }
    const version = projectVersion();
    const commit = gitCommit();
    console.error(`kube-airgap ${version} (commit ${commit}): ${o.plugins.length} plugin(s) × ${o.targets.length} target(s) → ${o.outDir}`);
    const results = await buildAll({ ...o, version, commit, log: (l) => console.error(l) });
    for (const r of results) console.log(`${r.file}\t${r.bytes}\t${r.bytecode ? "bytecode" : "no-bytecode"}`);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    process.exit(1);
  }
}

