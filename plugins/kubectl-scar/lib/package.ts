// Archive the manifests directory into manifests.tgz like `cd DIR && tar -czf manifests.tgz .`: entries are
// "./", "./a.yaml", "./sub/", … (relative), regular files, directories and symbolic links (stored as links, like
// tar: never followed, so a link pointing outside DIR adds nothing from outside) with their mode and mtime. Streamed
// (TarWriter → gzip → sha256 + temp file → rename); the output file is never archived into itself. Entries are
// sorted, so the same tree gives the same bytes (and the same digest: a re-run does not upload again).
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { lstat, mkdir, mkdtemp, readdir, readlink, realpath, rename, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, isAbsolute, join, resolve, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { TarWriter } from "../../../shared/tar/stream.ts";
import { DigestStream } from "../../../shared/oci/digest.ts";
import { ScarError } from "./errors.ts";
import { removeOnInterrupt } from "../../../shared/runtime/interrupt.ts";

export interface PackageResult {
  file: string;
  digest: string;
  size: number;
  files: number;
  directories: number;
  /** entries skipped (sockets, FIFOs, devices) */
  skipped: string[];
  /** symbolic links stored (as links) */
  symlinks: number;
  /** symbolic links whose target is outside DIR (stored as links; the target is not in the archive) */
  outsideLinks: string[];
  /** fingerprint of the source tree (paths, sizes, mtimes, modes) */
  fingerprint: string;
}

interface Entry {
  rel: string; // "./a/b"
  abs: string;
  kind: "file" | "directory" | "symlink";
  size: number;
  linkname?: string;
  mode: number;
  mtime: number;
}

interface Scan {
  entries: Entry[];
  skipped: string[];
  outsideLinks: string[];
  fingerprint: string;
}

/** Check that DIR exists, is a directory and holds at least one regular file. */
export async function checkManifestsDir(dir: string): Promise<{ files: number }> {
  let st;
  try {
    st = await stat(dir);
  } catch {
    throw new ScarError(`manifests directory ${dir} does not exist`, "give the directory your SCAR file server serves, e.g. /var/www/html");
  }
  if (!st.isDirectory()) throw new ScarError(`${dir} is not a directory`, "give the directory your SCAR file server serves");
  const scan = await scanTree(dir, []);
  const files = scan.entries.filter((e) => e.kind === "file").length;
  if (!files) throw new ScarError(`manifests directory ${dir} is empty`, "it must hold the Palette manifests your SCAR serves");
  return { files };
}

/** Walk DIR (sorted, never following symlinks), skipping `exclude` (absolute real paths) and special files. */
export async function scanTree(dir: string, exclude: string[]): Promise<Scan> {
  const root = await realpath(dir);
  const entries: Entry[] = [];
  const skipped: string[] = [];
  const outsideLinks: string[] = [];
  const h = createHash("sha256");
  const rootSt = await stat(root);
  entries.push({ rel: "./", abs: root, kind: "directory", size: 0, mode: rootSt.mode & 0o7777, mtime: Math.floor(rootSt.mtimeMs / 1000) });
  const walk = async (abs: string, rel: string): Promise<void> => {
    const names = (await readdir(abs)).sort();
    for (const name of names) {
      const a = join(abs, name);
      const r = `${rel}${name}`;
      if (exclude.includes(a)) continue;
      const st = await lstat(a);
      if (st.isDirectory()) {
        entries.push({ rel: `${r}/`, abs: a, kind: "directory", size: 0, mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000) });
        h.update(`d ${r} ${st.mode & 0o7777} ${Math.floor(st.mtimeMs)}\n`);
        await walk(a, `${r}/`);
      } else if (st.isFile()) {
        entries.push({ rel: r, abs: a, kind: "file", size: st.size, mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000) });
        h.update(`f ${r} ${st.size} ${st.mode & 0o7777} ${Math.floor(st.mtimeMs)}\n`);
      } else if (st.isSymbolicLink()) {
        const target = await readlink(a);
        entries.push({ rel: r, abs: a, kind: "symlink", size: 0, linkname: target, mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000) });
        h.update(`l ${r} ${JSON.stringify(target)} ${Math.floor(st.mtimeMs)}\n`);
        const resolved = isAbsolute(target) ? target : resolve(abs, target);
        if (resolved !== root && !resolved.startsWith(root + sep)) outsideLinks.push(`${r} -> ${target}`);
      } else skipped.push(r);
    }
  };
  await walk(root, "./");
  return { entries, skipped, outsideLinks, fingerprint: `sha256:${h.digest("hex")}` };
}

/** Fingerprint of DIR as package() would archive it (cheap: stats only). */
export async function treeFingerprint(dir: string, out?: string): Promise<string> {
  return (await scanTree(dir, await excludes(dir, out))).fingerprint;
}

async function excludes(dir: string, out?: string): Promise<string[]> {
  if (!out) return [];
  const root = await realpath(dir);
  const parent = await realpath(dirname(resolve(out))).catch(() => dirname(resolve(out)));
  const abs = join(parent, basename(out));
  if (abs !== root && !abs.startsWith(root + sep)) return [];
  // the output and its temp name live inside the source dir: never archive them
  return [abs, `${abs}.tmp`];
}

/**
 * Write DIR as a gzip'd tar to OUT (temp name, then rename). Returns the digest and size of the archive.
 * Symbolic links are stored as links (never followed); sockets, FIFOs and devices are skipped (listed in `skipped`).
 */
export async function packageManifests(dir: string, out: string): Promise<PackageResult> {
  await checkManifestsDir(dir);
  const target = resolve(out);
  await mkdir(dirname(target), { recursive: true });
  const scan = await scanTree(dir, await excludes(dir, target));
  const tmp = `${target}.tmp`;
  const unregister = removeOnInterrupt(`writing ${target}`, tmp);
  const gzip = createGzip({ level: 6 });
  const counter = new DigestStream();
  const sink = pipeline(gzip, counter, createWriteStream(tmp, { mode: 0o644 }));
  const tar = new TarWriter(gzip);
  try {
    const produce = (async () => {
      for (const e of scan.entries) {
        if (e.kind === "directory") await tar.addDirectory(e.rel, { mode: e.mode, mtime: e.mtime });
        else if (e.kind === "symlink") await tar.addSymlink(e.rel, e.linkname!, { mode: e.mode, mtime: e.mtime });
        else {
          const st = await stat(e.abs);
          if (st.size !== e.size) throw new ScarError(`${join(dir, e.rel)} changed while it was archived`, "stop writers to the manifests directory and run again");
          await tar.addFile(e.rel, e.size, createReadStream(e.abs, { highWaterMark: 1 << 20 }), { mode: e.mode, mtime: e.mtime });
        }
      }
      await tar.finish();
      gzip.end();
    })();
    produce.catch((e) => gzip.destroy(e));
    await Promise.all([produce, sink]);
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    if (e instanceof ScarError) throw e;
    throw new ScarError(`cannot write ${target}: ${(e as Error).message}`, "check that the output path is a writable file location");
  } finally {
    unregister();
  }
  return {
    file: target,
    digest: counter.digest(),
    size: counter.size,
    files: scan.entries.filter((e) => e.kind === "file").length,
    directories: scan.entries.filter((e) => e.kind === "directory").length,
    skipped: scan.skipped,
    symlinks: scan.entries.filter((e) => e.kind === "symlink").length,
    outsideLinks: scan.outsideLinks,
    fingerprint: scan.fingerprint,
  };
}

/**
 * `push DIR`: oras push accepts a directory (it tars it itself); Specman only reads a layer titled manifests.tgz
 * that is `tar -czf manifests.tgz .` of the manifests, so a directory is archived exactly as `kubectl scar package`
 * does (to a temp file, removed afterwards) and that archive is pushed. A file is used as it is.
 */
export async function withManifestsArchive<T>(path: string, fn: (file: string, packaged?: PackageResult) => Promise<T>): Promise<T> {
  const st = await stat(path).catch(() => undefined);
  if (!st?.isDirectory()) return fn(path);
  const tmp = await mkdtemp(join(tmpdir(), "kubectl-scar-push-"));
  const unregister = removeOnInterrupt(`archiving ${path}`, tmp);
  try {
    const pk = await packageManifests(path, join(tmp, "manifests.tgz"));
    return await fn(pk.file, pk);
  } finally {
    unregister();
    await rm(tmp, { recursive: true, force: true });
  }
}

export { fileDigest } from "../../../shared/oci/digest.ts";

