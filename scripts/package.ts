#!/usr/bin/env bun
// Release archives from the compiled binaries (scripts/build.ts) plus a `.sha256` per archive.
//
//   bun scripts/package.ts                          host target, all plugins: dist/bin → dist/release
//   bun scripts/package.ts --target all --bin dist/bin --out dist/release
//
// kubectl plugins (krew): <plugin>-<version>-<os>-<arch>.tar.gz holding `<plugin>` (0755), LICENSE and the
//   completion helper `kubectl_complete-<name>` (0755) that kubectl ≥ 1.26 runs from PATH to complete
//   `kubectl <name> …`;
//   Windows: .zip holding `<plugin>.exe` and LICENSE (krew sniffs the content: gzip or zip only).
// helm-addon-push: helm-addon-push-<version>-<os>-<arch>.tar.gz holding the plugin in a top-level folder
//   helm-addon-push/ like `helm plugin package` makes (plugin.yaml with the package version, helm-addon-push.sh
//   (0755, not on Windows), bin/helm-addon-push[.exe] (0755), LICENSE) — Helm 4 installs a local archive from
//   that folder — plus plugin.yaml, the launcher and LICENSE at the top, whose command runs the folder's binary:
//   Helm 3 (URL install, or the archive extracted into a directory) and Helm 4 URL installs use those. The
//   binary is stored once.
//   Windows gets a .tar.gz too: `helm plugin install` only extracts .tar.gz/.tgz (no zip extractor in Helm).
//   The name keeps Helm's rule: the install dir is the archive name up to "-<digit>" (helm-addon-push).
// Archives contain only regular files and directories (krew and Helm refuse links), modes set explicitly,
// mtimes = SOURCE_DATE_EPOCH / commit time, streamed (TarWriter/ZipWriter → gzip → sha256 → temp file → rename).
import { spawnSync } from "node:child_process";
import { DigestStream } from "../shared/oci/digest.ts";
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { createGzip } from "node:zlib";
import { TarWriter } from "../shared/tar/stream.ts";
import { binaryName, hostTarget, parseSelection, PLUGIN_NAMES, PLUGINS, projectVersion, ROOT, sourceDateEpoch, targetInfo, TARGETS, type PluginName, type Target } from "./build.ts";
import { ZipWriter } from "./zip.ts";

export type ArchiveFormat = "tar.gz" | "zip";

export interface ArchiveFile {
  /** path inside the archive (forward slashes, relative) */
  name: string;
  /** a file on disk (streamed) or bytes */
  source: string | Uint8Array;
  mode: number;
}

export interface ArchiveResult {
  file: string;
  sha256: string;
  bytes: number;
}

export interface PackageResult extends ArchiveResult {
  plugin: PluginName;
  target: Target;
  format: ArchiveFormat;
  /** the `.sha256` file next to the archive */
  shaFile: string;
  /** the binary's path inside the archive */
  bin: string;
}

export function archiveFormat(plugin: PluginName, target: Target): ArchiveFormat {
  return targetInfo(target).os === "windows" && PLUGINS[plugin].kind === "kubectl" ? "zip" : "tar.gz";
}

export function archiveName(plugin: PluginName, version: string, target: Target): string {
  const t = targetInfo(target);
  return `${plugin}-${version}-${t.os}-${t.arch}.${archiveFormat(plugin, target)}`;
}

/** The top-level folder of the Helm plugin archive: Helm 4 looks for <archive name up to "-<digit>">/plugin.yaml. */
export const HELM_PLUGIN_FOLDER = "helm-addon-push";

/**
 * plugin.yaml of helm-addon-push with `version:` set to the release version (no leading v). `outer`: the copy at
 * the archive's top, whose Windows command runs the binary inside HELM_PLUGIN_FOLDER (the launcher finds it too).
 */
export function helmPluginYaml(version: string, opts: { outer?: boolean } = {}): string {
  const src = readFileSync(join(ROOT, "plugins/helm-addon-push/plugin.yaml"), "utf8");
  if (!/^version:.*$/m.test(src)) throw new Error("plugins/helm-addon-push/plugin.yaml has no top-level version: line");
  let y = src.replace(/^version:.*$/m, `version: "${version.replace(/^v/, "")}"`);
  if (opts.outer) {
    const win = String.raw`$HELM_PLUGIN_DIR\\bin\\helm-addon-push.exe`; // as written in plugin.yaml (YAML-escaped)
    if (!y.includes(win)) throw new Error(`plugins/helm-addon-push/plugin.yaml: no Windows command ${win}`);
    y = y.replace(win, String.raw`$HELM_PLUGIN_DIR\\` + HELM_PLUGIN_FOLDER + String.raw`\\bin\\helm-addon-push.exe`);
  }
  return y;
}

/** kubectl's completion helper name: kubectl_complete-<plugin name with - → _>. */
export function kubectlCompleteName(plugin: PluginName): string {
  return `kubectl_complete-${PLUGINS[plugin].krewName!.replace(/-/g, "_")}`;
}

/** The helper kubectl runs with the words after `kubectl <name>`: the plugin next to it (or on PATH) answers. */
export function kubectlCompleteScript(plugin: PluginName): string {
  return `#!/bin/sh
# kubectl (>= 1.26) runs this from PATH to complete \`kubectl ${PLUGINS[plugin].krewName} ...\`; put it next to ${plugin}
# (krew: ln -s ~/.krew/store/${PLUGINS[plugin].krewName}/*/${kubectlCompleteName(plugin)} ~/.krew/bin/).
case $0 in */*) if [ -x "\${0%/*}/${plugin}" ]; then exec "\${0%/*}/${plugin}" __complete "$@"; fi ;; esac
exec ${plugin} __complete "$@"
`;
}

/** What goes into a plugin's archive for a target. `binary` is the compiled file on disk. */
export function archiveFiles(plugin: PluginName, target: Target, binary: string, version: string): ArchiveFile[] {
  const license = join(ROOT, "LICENSE");
  if (!existsSync(license)) throw new Error(`${license} is missing: every archive must carry the license (krew refuses plugins without one)`);
  const exeName = binaryName(plugin, target);
  if (PLUGINS[plugin].kind === "kubectl") {
    const files: ArchiveFile[] = [{ name: exeName, source: binary, mode: 0o755 }];
    if (targetInfo(target).os !== "windows") files.push({ name: kubectlCompleteName(plugin), source: Buffer.from(kubectlCompleteScript(plugin)), mode: 0o755 });
    files.push({ name: "LICENSE", source: license, mode: 0o644 });
    return files;
  }
  const unix = targetInfo(target).os !== "windows";
  const launcher = join(ROOT, "plugins/helm-addon-push/helm-addon-push.sh");
  const F = HELM_PLUGIN_FOLDER;
  const files: ArchiveFile[] = [{ name: "plugin.yaml", source: Buffer.from(helmPluginYaml(version, { outer: true })), mode: 0o644 }];
  // plugin.complete: Helm's dynamic completion for `helm addon-push …` (runs the launcher's __complete)
  const complete = join(ROOT, "plugins/helm-addon-push/plugin.complete");
  if (unix) files.push({ name: "helm-addon-push.sh", source: launcher, mode: 0o755 }, { name: "plugin.complete", source: complete, mode: 0o755 });
  files.push({ name: "LICENSE", source: license, mode: 0o644 }, { name: `${F}/plugin.yaml`, source: Buffer.from(helmPluginYaml(version)), mode: 0o644 });
  if (unix) files.push({ name: `${F}/helm-addon-push.sh`, source: launcher, mode: 0o755 }, { name: `${F}/plugin.complete`, source: complete, mode: 0o755 });
  files.push({ name: `${F}/bin/${exeName}`, source: binary, mode: 0o755 }, { name: `${F}/LICENSE`, source: license, mode: 0o644 });
  return files;
}

function sizeOf(f: ArchiveFile): number {
  return typeof f.source === "string" ? statSync(f.source).size : f.source.byteLength;
}

function contentOf(f: ArchiveFile): Uint8Array | Readable {
  return typeof f.source === "string" ? createReadStream(f.source, { highWaterMark: 1 << 20 }) : f.source;
}

function dirsOf(files: ArchiveFile[]): string[] {
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.name.split("/").slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  return [...dirs].sort();
}

/** Stream an archive to `out` (temp file + rename) and return its sha256 (lowercase hex) and size. */
/** `level`: gzip/deflate level, default 9 (release); tests pass 1 to save time. */
export async function writeArchive(out: string, format: ArchiveFormat, files: ArchiveFile[], opts: { mtime?: number; level?: number } = {}): Promise<ArchiveResult> {
  const level = opts.level ?? 9;
  const mtime = opts.mtime ?? 0;
  const tmp = `${out}.tmp-${process.pid}`;
  const hasher = new DigestStream();
  const head = format === "tar.gz" ? createGzip({ level }) : new PassThrough();
  const done = pipeline(head, hasher, createWriteStream(tmp));
  try {
    if (format === "tar.gz") {
      const tar = new TarWriter(head, { mtime });
      for (const d of dirsOf(files)) await tar.addDirectory(d, { mode: 0o755 });
      for (const f of files) await tar.addFile(f.name, sizeOf(f), contentOf(f), { mode: f.mode });
      await tar.finish();
    } else {
      const zip = new ZipWriter(head, { mtime });
      for (const d of dirsOf(files)) await zip.addDirectory(d, { mode: 0o755 });
      for (const f of files) await zip.addFile(f.name, contentOf(f), { mode: f.mode, level });
      await zip.finish();
    }
    head.end();
    await done;
    renameSync(tmp, out);
  } catch (e) {
    head.destroy();
    await done.catch(() => {});
    rmSync(tmp, { force: true });
    throw e;
  }
  return { file: out, sha256: hasher.digest().slice("sha256:".length), bytes: hasher.size };
}

/** The `.sha256` file content, sha256sum format: `<hex>  <archive name>`. */
export function shaLine(sha256: string, archive: string): string {
  return `${sha256}  ${basename(archive)}\n`;
}

export interface PackageOptions {
  plugin: PluginName;
  target: Target;
  /** where build.ts put the binaries: <binDir>/<target>/<plugin>[.exe] */
  binDir: string;
  outDir: string;
  version?: string;
  mtime?: number;
  /** compression level (default 9) */
  level?: number;
  log?: (line: string) => void;
}

export async function packagePlugin(o: PackageOptions): Promise<PackageResult> {
  const version = o.version ?? projectVersion();
  const binary = join(resolve(o.binDir), o.target, binaryName(o.plugin, o.target));
  if (!existsSync(binary)) throw new Error(`${binary} not found: build it first (bun scripts/build.ts --plugin ${o.plugin} --target ${o.target})`);
  mkdirSync(o.outDir, { recursive: true });
  const format = archiveFormat(o.plugin, o.target);
  const file = join(resolve(o.outDir), archiveName(o.plugin, version, o.target));
  const files = archiveFiles(o.plugin, o.target, binary, version);
  const r = await writeArchive(file, format, files, { mtime: o.mtime ?? sourceDateEpoch(), level: o.level });
  const shaFile = `${file}.sha256`;
  writeFileSync(`${shaFile}.tmp`, shaLine(r.sha256, file));
  renameSync(`${shaFile}.tmp`, shaFile);
  o.log?.(`packaged ${file} (${(r.bytes / 1e6).toFixed(1)} MB, sha256 ${r.sha256})`);
  const bin = files.find((f) => f.source === binary)!.name;
  return { ...r, plugin: o.plugin, target: o.target, format, shaFile, bin };
}

export async function packageAll(o: { plugins?: PluginName[]; targets?: Target[]; binDir: string; outDir: string; version?: string; mtime?: number; level?: number; log?: (line: string) => void }): Promise<PackageResult[]> {
  const version = o.version ?? projectVersion();
  const mtime = o.mtime ?? sourceDateEpoch();
  const out: PackageResult[] = [];
  for (const target of o.targets ?? [hostTarget()]) {
    for (const plugin of o.plugins ?? PLUGIN_NAMES) out.push(await packagePlugin({ plugin, target, binDir: o.binDir, outDir: o.outDir, version, mtime, level: o.level, log: o.log }));
  }
  return out;
}

/**
 * The provenance message Helm 4 checks for a plugin tarball (internal/plugin/verify.go via pkg/provenance):
 * a YAML head, "...", then `files:` mapping the tarball's file name to `sha256:<hex>`.
 */
export function helmProvMessage(archive: string, sha256: string, version: string): string {
  const name = /^name:\s*"?([\w-]+)"?\s*$/m.exec(helmPluginYaml(version))?.[1];
  if (!name) throw new Error("plugins/helm-addon-push/plugin.yaml has no name: line");
  return `name: ${name}\nversion: ${version.replace(/^v/, "")}\n\n...\nfiles:\n  ${basename(archive)}: sha256:${sha256}\n`;
}

export interface SignOptions {
  /** gpg key id, fingerprint or user id */
  key: string;
  /** GNUPGHOME (default: gpg's) */
  gnupgHome?: string;
  /** file holding the key's passphrase (gpg --pinentry-mode loopback) */
  passphraseFile?: string;
}

/**
 * Write `<archive>.prov` for Helm 4's default `helm plugin install` verification: the message above,
 * clearsigned by gpg with SHA-256. Users verify with `--keyring <exported public keyring>`.
 */
export function signHelmArchive(archive: string, sha256: string, version: string, o: SignOptions): string {
  const prov = `${archive}.prov`;
  const tmp = `${prov}.tmp-${process.pid}`;
  const args = ["--batch", "--yes", "--armor", "--digest-algo", "SHA256", "--local-user", o.key, ...(o.passphraseFile ? ["--pinentry-mode", "loopback", "--passphrase-file", o.passphraseFile] : []), "--clearsign", "--output", tmp];
  const r = spawnSync("gpg", args, { input: helmProvMessage(archive, sha256, version), encoding: "utf8", env: { ...process.env, ...(o.gnupgHome ? { GNUPGHOME: o.gnupgHome } : {}) } });
  if (r.error || r.status !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`gpg --clearsign for ${basename(prov)} failed: ${(r.stderr || String(r.error)).trim().split("\n").pop()}`);
  }
  renameSync(tmp, prov);
  return prov;
}

/** SHA256SUMS for a set of archives (sorted by name). */
export function sha256sums(results: { file: string; sha256: string }[]): string {
  return [...results].sort((a, b) => basename(a.file).localeCompare(basename(b.file))).map((r) => shaLine(r.sha256, r.file)).join("");
}

if (import.meta.main) {
  try {
    const { values } = parseArgs({
      args: process.argv.slice(2),
      options: { plugin: { type: "string", multiple: true }, target: { type: "string", multiple: true }, bin: { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } },
      strict: true,
    });
    if (values.help) {
      console.log(`usage: bun scripts/package.ts [--plugin NAME[,NAME]|all] [--target TARGET[,TARGET]|all] [--bin dist/bin] [--out dist/release]`);
      process.exit(0);
    }
    const plugins = parseSelection(values.plugin, PLUGIN_NAMES, "plugin", PLUGIN_NAMES) as PluginName[];
    const targets = parseSelection(values.target, TARGETS, "target", [hostTarget()]) as Target[];
    const results = await packageAll({ plugins, targets, binDir: values.bin ?? join(ROOT, "dist", "bin"), outDir: values.out ?? join(ROOT, "dist", "release"), log: (l) => console.error(l) });
    for (const r of results) console.log(`${r.file}\t${r.bytes}\t${r.sha256}`);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    process.exit(1);
  }
}
