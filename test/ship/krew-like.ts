// What `kubectl krew install --manifest=<file>` does, step by step (krew internal/installation/install.go,
// internal/download/downloader.go, move.go), so the install test exercises our manifests and archives the way
// krew will: validate the manifest, pick the platform by selector, download, verify the sha256, sniff the
// archive type from its content (gzip or zip only), extract regular files and directories only (anything else
// aborts; no chmod, modes come from the archive), apply `files` copy ops, require a license file, then link
// <root>/bin/kubectl-<name with - → _> to `bin`.
import { createHash } from "node:crypto";
import { cpSync, createWriteStream, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, createReadStream, chmodSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { parse as parseYaml } from "yaml";
import { matchPlatform, validateManifest, type KrewManifest } from "../../scripts/krew.ts";
import { readTar, safeEntryPath } from "../../shared/tar/stream.ts";

export class KrewInstallError extends Error {
  override name = "KrewInstallError";
}

const LICENSE_NAMES = ["license", "license.txt", "license.md", "licenses", "licenses.txt", "licenses.md", "copying", "copying.txt"];

export interface KrewInstall {
  name: string;
  installDir: string;
  /** <root>/bin/kubectl-<name> */
  link: string;
  sha256: string;
}

async function download(uri: string, to: string): Promise<string> {
  const res = await fetch(uri);
  if (!res.ok || !res.body) throw new KrewInstallError(`download ${uri}: HTTP ${res.status}`);
  const hash = createHash("sha256");
  const body = Readable.fromWeb(res.body as unknown as import("node:stream/web").ReadableStream<Uint8Array>);
  body.on("data", (c: Buffer) => hash.update(c));
  await pipeline(body, createWriteStream(to));
  return hash.digest("hex");
}

function sniff(file: string): "tar.gz" | "zip" {
  const head = readFileSync(file).subarray(0, 4);
  if (head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) return "tar.gz";
  if (head.toString("latin1") === "PK\x03\x04") return "zip";
  throw new KrewInstallError(`mime type of the archive is not application/x-gzip or application/zip`);
}

async function extractTarGz(file: string, into: string): Promise<void> {
  for await (const e of readTar(createReadStream(file).pipe(createGunzip()))) {
    const name = safeEntryPath(e.header.name);
    if (!name || name === "pax_global_header") continue;
    const path = join(into, name);
    if (e.header.type === "directory") {
      mkdirSync(path, { recursive: true, mode: e.header.mode });
      continue;
    }
    if (e.header.type !== "file") throw new KrewInstallError(`unable to handle file type ${e.header.type} for ${e.header.name}`);
    mkdirSync(dirname(path), { recursive: true });
    await pipeline(e.body(), createWriteStream(path, { mode: e.header.mode }));
    chmodSync(path, e.header.mode & 0o7777); // the tar mode exactly (krew uses it as the file mode)
  }
}

function globToRegExp(glob: string): RegExp {
  let re = "";
  for (const ch of glob) re += ch === "*" ? "[^/]*" : ch === "?" ? "[^/]" : /[.+^${}()|[\]\\]/.test(ch) ? `\\${ch}` : ch;
  return new RegExp(`^${re}$`);
}

function walk(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.push(relative(base, p));
    if (e.isDirectory()) out.push(...walk(p, base));
  }
  return out;
}

/**
 * Install the plugin of a manifest file for os/arch under a krew-like root (<root>/store/<name>/<sha256>,
 * <root>/bin, <root>/receipts). Throws KrewInstallError with krew-like messages.
 */
export async function krewInstall(manifestFile: string, root: string, platform: { os: string; arch: string }): Promise<KrewInstall> {
  const text = readFileSync(manifestFile, "utf8");
  const problems = validateManifest(text, manifestFile);
  if (problems.length) throw new KrewInstallError(`invalid manifest ${manifestFile}: ${problems.join("; ")}`);
  const m = parseYaml(text) as KrewManifest;
  const name = m.metadata!.name!;
  const p = matchPlatform(m, platform.os, platform.arch);
  if (!p) throw new KrewInstallError(`plugin "${name}" does not offer installation for this platform (${platform.os}/${platform.arch})`);
  const work = join(root, "tmp", `${name}-${process.pid}-${Date.now()}`);
  mkdirSync(work, { recursive: true });
  try {
    const archive = join(work, "download");
    const sha = await download(p.uri!, archive);
    if (sha !== p.sha256) throw new KrewInstallError(`checksum does not match, want: ${p.sha256}, got ${sha}`);
    const type = sniff(archive);
    const extracted = join(work, "extracted");
    mkdirSync(extracted);
    if (type === "tar.gz") await extractTarGz(archive, extracted);
    else throw new KrewInstallError("zip extraction is not needed on this platform in the test");
    const installDir = join(root, "store", name, p.sha256!);
    rmSync(installDir, { recursive: true, force: true });
    mkdirSync(installDir, { recursive: true });
    const ops = p.files ?? [{ from: "*", to: "." }];
    const all = walk(extracted);
    for (const op of ops) {
      const re = globToRegExp(op.from!.replace(/^\.\//, ""));
      const matches = all.filter((f) => re.test(f));
      if (!matches.length) throw new KrewInstallError(`files: "${op.from}" matched nothing in the archive`);
      for (const f of matches) {
        const dest = join(installDir, op.to!, f.split("/").pop()!);
        mkdirSync(dirname(dest), { recursive: true });
        if (lstatSync(join(extracted, f)).isDirectory()) cpSync(join(extracted, f), dest, { recursive: true });
        else renameSync(join(extracted, f), dest);
      }
    }
    const installed = walk(installDir).map((f) => f.split("/").pop()!.toLowerCase());
    if (!installed.some((f) => LICENSE_NAMES.includes(f))) throw new KrewInstallError(`no license file among the installed files of ${name}`);
    const bin = join(installDir, p.bin!);
    if (!existsSync(bin)) throw new KrewInstallError(`bin "${p.bin}" does not exist in the installation`);
    const binDir = join(root, "bin");
    mkdirSync(binDir, { recursive: true });
    const link = join(binDir, `kubectl-${name.replace(/-/g, "_")}${platform.os === "windows" ? ".exe" : ""}`);
    rmSync(link, { force: true });
    symlinkSync(bin, link);
    mkdirSync(join(root, "receipts"), { recursive: true });
    writeFileSync(join(root, "receipts", `${name}.yaml`), text);
    return { name, installDir, link, sha256: sha };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
