#!/usr/bin/env bun
// The whole release in one command: build the matrix → re-sign darwin binaries → package → krew manifests.
//
//   bun scripts/release.ts                      all plugins × all targets into dist/{bin,release,krew}
//   bun scripts/release.ts --base-url https://github.com/ORG/REPO/releases/download/v0.1.0 --out dist
//   bun scripts/release.ts --target linux-x64   a partial release (krew manifests list only built platforms)
//
// Output: dist/bin/<target>/<binary>, dist/release/<archive> + <archive>.sha256 + SHA256SUMS (+ <archive>.prov
// for the Helm plugin archives with --sign-key: Helm 4 verifies plugin tarballs by default),
// dist/krew/<name>.yaml (validated). Upload dist/release/* to the release; the krew manifests reference
// them under --base-url (default <homepage>/releases/download/v<version>).
//
// macOS: Bun's ad-hoc signature of a cross-compiled darwin-x64 binary is broken (Bun 1.4.4 from Linux: 75 page
// hashes wrong, ~2.3 MB outside the signed range; several Bun releases shipped such binaries), and macOS kills
// binaries with bad signatures. This script
// re-signs darwin binaries with `rcodesign sign` (Linux) or `codesign --force -s -` (macOS) when one is on
// PATH, and otherwise says loudly that the darwin archives are unsigned-as-built.
import { spawnSync } from "node:child_process";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { buildAll, gitCommit, parseSelection, PLUGIN_NAMES, projectVersion, ROOT, targetInfo, TARGETS, type BuildResult, type PluginName, type Target } from "./build.ts";
import { renderKrewManifests } from "./krew.ts";
import { packageAll, sha256sums, signHelmArchive, type PackageResult, type SignOptions } from "./package.ts";

function onPath(cmd: string): boolean {
  return spawnSync(cmd, ["--version"], { stdio: "ignore" }).error === undefined;
}

/** Re-sign a darwin binary ad hoc; returns the tool used, or "none". Throws when a tool fails. */
export function resignDarwin(file: string): "rcodesign" | "codesign" | "none" {
  if (onPath("rcodesign")) {
    const r = spawnSync("rcodesign", ["sign", file], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`rcodesign sign ${file} failed: ${r.stderr.trim()}`);
    return "rcodesign";
  }
  if (process.platform === "darwin" && onPath("codesign")) {
    spawnSync("codesign", ["--remove-signature", file]);
    const r = spawnSync("codesign", ["--force", "-s", "-", file], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`codesign ${file} failed: ${r.stderr.trim()}`);
    const v = spawnSync("codesign", ["--verify", "--strict", file], { encoding: "utf8" });
    if (v.status !== 0) throw new Error(`codesign --verify ${file} failed: ${v.stderr.trim()}`);
    return "codesign";
  }
  return "none";
}

export interface ReleaseResult {
  version: string;
  commit: string;
  builds: BuildResult[];
  archives: PackageResult[];
  manifests: string[];
  provs: string[];
  unsignedDarwin: string[];
}

export async function release(o: { outDir: string; plugins?: PluginName[]; targets?: Target[]; baseUrl?: string; level?: number; sign?: SignOptions; log?: (l: string) => void }): Promise<ReleaseResult> {
  const log = o.log ?? (() => {});
  const version = projectVersion();
  const commit = gitCommit();
  const targets = o.targets ?? [...TARGETS];
  const binDir = join(o.outDir, "bin");
  const releaseDir = join(o.outDir, "release");
  const krewDir = join(o.outDir, "krew");
  log(`kube-airgap ${version} (commit ${commit}): ${(o.plugins ?? PLUGIN_NAMES).length} plugins × ${targets.length} targets`);
  const builds = await buildAll({ plugins: o.plugins, targets, outDir: binDir, version, commit, log });
  const unsignedDarwin: string[] = [];
  for (const b of builds) {
    if (targetInfo(b.target).os !== "darwin") continue;
    const tool = resignDarwin(b.file);
    if (tool === "none") unsignedDarwin.push(b.file);
    else log(`re-signed ${b.file} with ${tool}`);
  }
  if (unsignedDarwin.length) log(`warning: no rcodesign/codesign on PATH: ${unsignedDarwin.length} darwin binaries keep Bun's ad-hoc signature (darwin-x64's is known to be invalid with Bun 1.4.4); re-sign before publishing`);
  const archives = await packageAll({ plugins: o.plugins, targets, binDir, outDir: releaseDir, version, level: o.level, log });
  const provs: string[] = [];
  if (o.sign) for (const a of archives) if (a.plugin === "helm-addon-push") provs.push(signHelmArchive(a.file, a.sha256, version, o.sign));
  if (provs.length) log(`signed ${provs.length} Helm plugin archives (.prov) with gpg key ${o.sign!.key}`);
  else if (archives.some((a) => a.plugin === "helm-addon-push")) log("warning: Helm plugin archives are unsigned (no --sign-key): Helm 4 users must pass --verify=false");
  mkdirSync(releaseDir, { recursive: true });
  writeFileSync(join(releaseDir, "SHA256SUMS.tmp"), sha256sums(archives));
  renameSync(join(releaseDir, "SHA256SUMS.tmp"), join(releaseDir, "SHA256SUMS"));
  const kubectlPlugins = (o.plugins ?? PLUGIN_NAMES).filter((p) => p !== "helm-addon-push").map((p) => p.replace(/^kubectl-/, ""));
  const manifests = kubectlPlugins.length
    ? renderKrewManifests({ releaseDir, outDir: krewDir, version, baseUrl: o.baseUrl, names: kubectlPlugins, allowMissing: targets.length < TARGETS.length, log })
    : [];
  return { version, commit, builds, archives, manifests, provs, unsignedDarwin };
}

/** A size table: binary and archive bytes per plugin and target. */
export function sizeTable(r: { builds: BuildResult[]; archives: PackageResult[] }): string {
  const rows = [["plugin", "target", "binary MB", "archive MB", "bytecode"]];
  for (const b of r.builds) {
    const a = r.archives.find((x) => x.plugin === b.plugin && x.target === b.target);
    rows.push([b.plugin, b.target, (b.bytes / 1e6).toFixed(1), a ? (a.bytes / 1e6).toFixed(1) : "-", b.bytecode ? "yes" : "no"]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((c, i) => c.padEnd(w[i]!)).join("  ").trimEnd()).join("\n");
}

if (import.meta.main) {
  try {
    const { values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        plugin: { type: "string", multiple: true },
        target: { type: "string", multiple: true },
        out: { type: "string" },
        "base-url": { type: "string" },
        "sign-key": { type: "string" },
        "passphrase-file": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    });
    if (values.help) {
      console.log("usage: bun scripts/release.ts [--plugin NAME[,NAME]|all] [--target TARGET[,TARGET]|all] [--out dist] [--base-url URL] [--sign-key GPG_KEY [--passphrase-file FILE]]");
      process.exit(0);
    }
    const started = performance.now();
    const r = await release({
      outDir: resolve(values.out ?? join(ROOT, "dist")),
      plugins: parseSelection(values.plugin, PLUGIN_NAMES, "plugin", PLUGIN_NAMES) as PluginName[],
      targets: parseSelection(values.target, TARGETS, "target", [...TARGETS]) as Target[],
      baseUrl: values["base-url"],
      sign: values["sign-key"] ? { key: values["sign-key"], passphraseFile: values["passphrase-file"] } : undefined,
      log: (l) => console.error(l),
    });
    console.log(sizeTable(r));
    console.log(`\n${r.archives.length} archives, ${r.manifests.length} krew manifests in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    if (r.unsignedDarwin.length) console.log(`warning: ${r.unsignedDarwin.length} darwin binaries not re-signed (no rcodesign/codesign)`);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    process.exit(1);
  }
}
