// `kubectl violet package DIR`: copy the related images into DIR/oci (unless the package is metadata-only),
// then stream DIR into the .tgz: violet-package.yaml, resources/, oci-layout, index.json, manifests and
// configs, then layers largest first. A `.sha256` (sha256sum format) is written next to it. Constant memory;
// the file appears under its final name only when complete.
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { createHash } from "node:crypto";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import {
  CopyEngine,
  createClient,
  isIndex,
  isManifest,
  OciLayoutStore,
  openSource,
  parsePlatform,
  type AuthClient,
  type CopyEvent,
  type CopyJob,
  type ImageIndex,
  type ImageManifest,
  type RegistryOptions,
} from "../../../shared/oci/index.ts";
import { TarWriter } from "../../../shared/tar/stream.ts";
import { checksumLine } from "../../../shared/signing/checksum.ts";
import { LAYOUT_DIR, METADATA_FILE, metadataText, packageFileName, parseMetadata, RESOURCES_DIR, type PackageMetadata } from "./format.ts";
import { removeOnInterrupt } from "../../../shared/runtime/interrupt.ts";

export interface PackOptions {
  /** output file (default: the conventional name in the current directory) */
  output?: string;
  registry?: RegistryOptions;
  client?: AuthClient;
  concurrency?: number;
  onEvent?: (e: CopyEvent) => void;
  log?: (line: string) => void;
}

export interface PackResult {
  file: string;
  checksumFile: string;
  sha256: string;
  size: number;
  metadata: PackageMetadata;
}

export class PackError extends Error {
  override name = "PackError";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

/**
 * The registry the work dir's main artifact came from (the host the registry credential flags belong to), or
 * undefined when it came from a chart URL, repository or file (its ref then names no host: `charts/NAME:TAG`).
 */
export function workDirRegistryHost(meta: PackageMetadata): string | undefined {
  const ref = meta.artifact.ref;
  const first = ref.split("/")[0]!;
  if (!ref.includes("/") || !(first.includes(".") || first.includes(":") || first === "localhost")) return undefined;
  return first.toLowerCase();
}

export async function readWorkDir(dir: string): Promise<PackageMetadata> {
  const f = join(dir, METADATA_FILE);
  const text = await readFile(f, "utf8").catch(() => {
    throw new PackError(`${dir}: not a package directory (no ${METADATA_FILE})`, "make one with `kubectl violet create DIR --artifact REF`");
  });
  return parseMetadata(text, dir);
}

/** Copy the related images into the working directory's layout and record their digests. */
export async function pullImages(dir: string, meta: PackageMetadata, opts: PackOptions): Promise<void> {
  if (!meta.imagesIncluded) return;
  const missing = meta.relatedImages.filter((i) => !i.digest);
  if (!missing.length) return;
  const client = opts.client ?? createClient(opts.registry);
  const layout = await OciLayoutStore.open(join(dir, LAYOUT_DIR));
  const platforms = meta.architectures.map((p) => parsePlatform(p));
  const jobs: CopyJob[] = [];
  for (const img of missing) {
    const src = await openSource(img.ref, client, opts.registry);
    jobs.push({ src: src.store, srcRef: src.reference, dst: layout, dstTags: [img.ref], label: img.ref });
  }
  const engine = new CopyEngine({ concurrency: opts.concurrency ?? 4, platforms, onEvent: opts.onEvent });
  const results = await engine.run(jobs);
  const failed = results.filter((r) => r.status === "failed");
  results.forEach((r, i) => {
    if (r.status !== "failed") Object.assign(missing[i]!, { digest: r.digest, mediaType: r.mediaType });
  });
  // remember what was copied even when some failed, so a re-run only fetches the rest
  await writeFile(join(dir, METADATA_FILE), metadataText(meta));
  if (failed.length) throw new PackError(`${failed.length} of ${jobs.length} images could not be copied: ${failed.map((f) => `${f.label}: ${f.error}`).join("; ")}`, "fix access to the source registry and run package again (copied images are kept)");
}

/** Hashes what passes through. */
class Hasher extends Transform {
  hash = createHash("sha256");
  size = 0;
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: (e?: Error | null, d?: Buffer) => void): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
}

/** Every blob the layout's roots reference, split into manifests/configs (small, first) and layers. */
async function layoutBlobs(layoutDir: string): Promise<{ meta: string[]; layers: { digest: string; size: number }[] }> {
  const store = await OciLayoutStore.open(layoutDir);
  const idx = JSON.parse(await readFile(join(layoutDir, "index.json"), "utf8")) as ImageIndex;
  const metaBlobs: string[] = [];
  const layers = new Map<string, number>();
  const seen = new Set<string>();
  const walk = async (d: { digest: string; mediaType: string; size: number }) => {
    if (seen.has(d.digest)) return;
    seen.add(d.digest);
    const bytes = await store.fetchManifest(d);
    const j = JSON.parse(Buffer.from(bytes).toString("utf8"));
    const mt = d.mediaType || j.mediaType;
    if (isIndex(mt) || Array.isArray(j.manifests)) {
      for (const m of (j as ImageIndex).manifests) if (isManifest(m.mediaType)) await walk(m);
    } else {
      const m = j as ImageManifest;
      if (!metaBlobs.includes(m.config.digest)) metaBlobs.push(m.config.digest);
      for (const l of m.layers) layers.set(l.digest, l.size);
    }
    metaBlobs.unshift(d.digest);
  };
  for (const r of idx.manifests) await walk(r);
  for (const d of metaBlobs) layers.delete(d);
  return { meta: [...new Set(metaBlobs)], layers: [...layers].map(([digest, size]) => ({ digest, size })).sort((a, b) => b.size - a.size) };
}

function blobPath(layoutDir: string, digest: string): string {
  const [alg, hex] = digest.split(":");
  return join(layoutDir, "blobs", alg!, hex!);
}

/** Stream the working directory into the package file. */
export async function writePackage(dir: string, meta: PackageMetadata, output: string): Promise<{ sha256: string; size: number }> {
  const layoutDir = join(dir, LAYOUT_DIR);
  const tmp = `${output}.partial-${process.pid}`;
  const unregister = removeOnInterrupt(`writing ${output}`, tmp);
  const gz = createGzip({ level: 6 });
  const hasher = new Hasher();
  const done = pipeline(gz, hasher, createWriteStream(tmp, { highWaterMark: 1 << 20 }));
  done.catch(() => {});
  const tar = new TarWriter(gz, { mtime: Math.floor(Date.now() / 1000) });
  try {
    const mb = Buffer.from(metadataText(meta));
    await tar.addFile(METADATA_FILE, mb.length, mb);
    const resDir = join(dir, RESOURCES_DIR);
    if (existsSync(resDir)) {
      for (const n of (await readdir(resDir)).sort()) {
        const p = join(resDir, n);
        const st = await stat(p);
        if (st.isFile()) await tar.addFile(`${RESOURCES_DIR}/${n}`, st.size, createReadStream(p));
      }
    }
    for (const n of ["oci-layout", "index.json"]) {
      const b = await readFile(join(layoutDir, n));
      await tar.addFile(n, b.length, b);
    }
    const { meta: metaBlobs, layers } = await layoutBlobs(layoutDir);
    for (const d of [...metaBlobs, ...layers.map((l) => l.digest)]) {
      const p = blobPath(layoutDir, d);
      const st = await stat(p).catch(() => {
        throw new PackError(`${dir}: blob ${d} is missing from ${LAYOUT_DIR}/`, "the working directory is damaged; create it again");
      });
      await tar.addFile(`blobs/${d.replace(":", "/")}`, st.size, createReadStream(p, { highWaterMark: 1 << 20 }));
    }
    await tar.finish();
    gz.end();
    await done;
    await rename(tmp, output);
    return { sha256: hasher.hash.digest("hex"), size: hasher.size };
  } catch (e) {
    gz.destroy();
    await rm(tmp, { force: true });
    throw e;
  } finally {
    unregister();
  }
}

/** package: pull images (if needed) and write the .tgz + .sha256. */
export async function packageDir(dir: string, opts: PackOptions = {}): Promise<PackResult> {
  const abs = resolve(dir);
  const meta = await readWorkDir(abs);
  await pullImages(abs, meta, opts);
  const output = resolve(opts.output ? (opts.output.endsWith(".tgz") ? opts.output : `${opts.output}.tgz`) : packageFileName(meta));
  if (output.startsWith(abs + "/")) throw new PackError(`--output ${opts.output}: the package cannot be written inside the directory it packs`);
  opts.log?.(`writing ${output}`);
  const { sha256, size } = await writePackage(abs, meta, output);
  const checksumFile = `${output}.sha256`;
  await writeFile(`${checksumFile}.tmp`, checksumLine(sha256, output));
  await rename(`${checksumFile}.tmp`, checksumFile);
  return { file: output, checksumFile, sha256, size, metadata: meta };
}

export { basename };
