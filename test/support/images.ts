// Synthetic container images WITHOUT docker, and the real skopeo CLI to move them.
//
// writeImageLayout(dir, spec | spec[]) writes (or extends) an OCI image layout — `oci-layout`,
// `index.json`, `blobs/sha256/*` — with real tar layers (gzip'ed by default), config JSON whose
// `rootfs.diff_ids` are the sha256 of the uncompressed tars, per-platform manifests and, for several
// platforms (or `index: true`), an image index; each top-level entry carries the tag as
// `org.opencontainers.image.ref.name`. Content is deterministic from the seed (same spec → same digests).
// Layers are streamed to disk (1 GiB layers are fine: constant memory; use gzipLevel 0 — still a valid
// gzip stream, of stored blocks — to make them fast). OCI media types by default, `mediaTypes: "docker"` for
// Docker v2 schema 2 manifests / manifest lists.
//
//   const out = await writeImageLayout(dir, { tag: "1.0", platforms: ["linux/amd64", "linux/arm64"], layers: [{ size: 4096 }, { size: 1 << 20 }] });
//   out.images[0].digest      digest of the index (or of the manifest for one platform)
//   out.images[0].manifests   per platform: digest, size, config {digest,size}, layers [{digest,size,diffId}]
//   await pushWithSkopeo(dir, "1.0", `${reg.host}/team/app:1.0`, reg.skopeo);   // skopeo copy --all --preserve-digests
//   const raw = await skopeoInspectRaw(`${reg.host}/team/app:1.0`, reg.skopeo); // exact bytes + digest
//   await skopeoCopy(`docker://${a.host}/x:1`, `oci:${dir}:x`, { src: a.skopeo, all: true });
//
// Skopeo runs asynchronously (never execFileSync: the token server and fault proxy live in this process),
// with --insecure-policy and an empty temp auth file (host credentials never leak in). Refs given to
// pushWithSkopeo/skopeoInspectRaw may omit the `docker://` prefix. A failing skopeo throws SkopeoError
// with its stderr. Helm helpers (makeChart, helmPushChart, helmPullChart) live in helm.ts and are
// re-exported here.
import { spawn } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";

export * from "./helm.ts";

export const MT = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerTar: "application/vnd.oci.image.layer.v1.tar",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  dockerLayerTar: "application/vnd.docker.image.rootfs.diff.tar",
} as const;

export const REF_NAME = "org.opencontainers.image.ref.name";

export interface FileSpec {
  path: string;
  content: string | Uint8Array;
  mode?: number;
}

export interface LayerSpec {
  /** bytes of the generated data file `data/<seed>.bin` (default 1024 when no `files`, else 0 = none) */
  size?: number;
  /** content seed; when given, the layer is identical wherever the same seed+size+files is used (shared blob) */
  seed?: string;
  /** explicit files (written before the data file) */
  files?: FileSpec[];
  /** "random" (incompressible, default) or "text" (compressible lines) */
  content?: "random" | "text";
  /** default "gzip" */
  compression?: "gzip" | "none";
  /** zlib level; default 6, or 0 (stored blocks, fast) when size > 32 MiB */
  gzipLevel?: number;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ImageSpec {
  /** tag, stored as the org.opencontainers.image.ref.name annotation of the top-level entry */
  tag: string;
  /** layers, or a count of default 1 KiB layers (default 1) */
  layers?: LayerSpec[] | number;
  /** "linux/amd64", "linux/arm64/v8" or objects; default ["linux/amd64"] */
  platforms?: Array<string | Platform>;
  /** force an index even for one platform (default: index when > 1 platform) */
  index?: boolean;
  mediaTypes?: "oci" | "docker";
  /** seed for all generated content (default: the tag) */
  seed?: string;
  /** merged into the config's `config` object (Env, Cmd, Labels, …) */
  config?: Record<string, unknown>;
  /** manifest annotations (OCI only) */
  annotations?: Record<string, string>;
  /** index annotations (OCI only) */
  indexAnnotations?: Record<string, string>;
}

export interface WrittenLayer {
  digest: string;
  size: number;
  diffId: string;
  uncompressedSize: number;
  mediaType: string;
}

export interface WrittenManifest {
  platform: Platform;
  digest: string;
  size: number;
  mediaType: string;
  config: { digest: string; size: number; mediaType: string };
  layers: WrittenLayer[];
}

export interface WrittenImage {
  tag: string;
  /** digest of the top-level object (index when there is one, else the manifest) */
  digest: string;
  size: number;
  mediaType: string;
  manifests: WrittenManifest[];
  /** every blob digest of this image (index, manifests, configs, layers) */
  blobs: string[];
}

export interface WrittenLayout {
  dir: string;
  images: WrittenImage[];
}

const sha256 = (b: Uint8Array | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

export function parsePlatform(p: string | Platform): Platform {
  if (typeof p !== "string") return p;
  const [os, architecture, variant] = p.split("/");
  if (!os || !architecture) throw new Error(`bad platform "${p}" (want os/arch[/variant])`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

const platformString = (p: Platform) => [p.os, p.architecture, p.variant].filter(Boolean).join("/");

function blobPath(dir: string, digest: string): string {
  return join(dir, "blobs", "sha256", digest.slice("sha256:".length));
}

let tmpCounter = 0;
function tmpName(dir: string): string {
  return join(dir, "blobs", "sha256", `.tmp-${process.pid}-${Date.now()}-${tmpCounter++}`);
}

/** Write bytes as a blob (temp + rename); returns the digest. */
export function writeBlob(dir: string, bytes: Uint8Array | string): { digest: string; size: number } {
  const buf = typeof bytes === "string" ? Buffer.from(bytes) : Buffer.from(bytes);
  const digest = sha256(buf);
  const p = blobPath(dir, digest);
  if (!existsSync(p)) {
    const t = tmpName(dir);
    writeFileSync(t, buf);
    renameSync(t, p);
  }
  return { digest, size: buf.length };
}

// ---- tar (ustar) -------------------------------------------------------------------------------

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

export function tarHeader(path: string, size: number, mode = 0o644, mtime = 1700000000): Buffer {
  const h = Buffer.alloc(512);
  let name = path;
  let prefix = "";
  if (Buffer.byteLength(name) > 100) {
    const i = path.lastIndexOf("/", 155);
    if (i <= 0 || Buffer.byteLength(path.slice(i + 1)) > 100) throw new Error(`tar path too long: ${path}`);
    prefix = path.slice(0, i);
    name = path.slice(i + 1);
  }
  if (size > 0o77777777777) throw new Error(`tar entry too large for ustar: ${size}`);
  h.write(name, 0, 100, "utf8");
  h.write(octal(mode, 8), 100, "ascii");
  h.write(octal(0, 8), 108, "ascii");
  h.write(octal(0, 8), 116, "ascii");
  h.write(octal(size, 12), 124, "ascii");
  h.write(octal(mtime, 12), 136, "ascii");
  h.write("        ", 148, "ascii");
  h.write("0", 156, "ascii");
  h.write("ustar\0", 257, "ascii");
  h.write("00", 263, "ascii");
  h.write("root", 265, "ascii");
  h.write("root", 297, "ascii");
  h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "ascii");
  return h;
}

const CHUNK = 1 << 20;

/** Deterministic bytes: a 1 MiB AES-CTR block from the seed, each chunk stamped with its index (so no two
 * MiB are equal and deflate's 32 KiB window cannot compress it). */
async function* randomBytesFromSeed(seed: string, size: number): AsyncGenerator<Buffer> {
  const key = createHash("sha256").update(`ka-layer:${seed}`).digest();
  const base = createCipheriv("aes-128-ctr", key.subarray(0, 16), key.subarray(16, 32)).update(Buffer.alloc(CHUNK));
  for (let off = 0, i = 0; off < size; off += CHUNK, i++) {
    const n = Math.min(CHUNK, size - off);
    const b = Buffer.allocUnsafe(n);
    base.copy(b, 0, 0, n);
    if (n >= 4) b.writeUInt32BE(i >>> 0, 0);
    yield b;
  }
}

async function* textBytesFromSeed(seed: string, size: number): AsyncGenerator<Buffer> {
  let line = 0;
  let pending: Buffer[] = [];
  let pendingLen = 0;
  let produced = 0;
  while (produced < size) {
    const s = Buffer.from(`${seed} line ${line++} lorem ipsum dolor sit amet, consectetur adipiscing elit\n`);
    pending.push(s);
    pendingLen += s.length;
    if (pendingLen >= 64 * 1024 || produced + pendingLen >= size) {
      let b = Buffer.concat(pending);
      if (produced + b.length > size) b = b.subarray(0, size - produced);
      produced += b.length;
      pending = [];
      pendingLen = 0;
      yield b;
    }
  }
}

async function* tarStream(files: FileSpec[], data?: { path: string; size: number; seed: string; content: "random" | "text" }): AsyncGenerator<Buffer> {
  const pad = (n: number) => (n % 512 ? Buffer.alloc(512 - (n % 512)) : undefined);
  for (const f of files) {
    const body = typeof f.content === "string" ? Buffer.from(f.content) : Buffer.from(f.content);
    yield tarHeader(f.path.replace(/^\/+/, ""), body.length, f.mode ?? 0o644);
    if (body.length) yield body;
    const p = pad(body.length);
    if (p) yield p;
  }
  if (data) {
    yield tarHeader(data.path, data.size);
    yield* (data.content === "text" ? textBytesFromSeed : randomBytesFromSeed)(data.seed, data.size);
    const p = pad(data.size);
    if (p) yield p;
  }
  yield Buffer.alloc(1024);
}

function counter(hash: ReturnType<typeof createHash>, count: { n: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      count.n += chunk.length;
      cb(null, chunk);
    },
  });
}

/** Stream one generated layer into the layout (temp + rename). Memory stays constant for any size. */
export async function writeLayer(dir: string, spec: LayerSpec, seed: string): Promise<Omit<WrittenLayer, "mediaType"> & { compressed: boolean }> {
  const size = spec.size ?? (spec.files?.length ? 0 : 1024);
  const compressed = (spec.compression ?? "gzip") === "gzip";
  const level = spec.gzipLevel ?? (size > 32 * CHUNK ? 0 : 6);
  const data = size > 0 ? { path: `data/${createHash("sha256").update(seed).digest("hex").slice(0, 12)}.bin`, size, seed, content: spec.content ?? "random" } : undefined;
  const diff = createHash("sha256");
  const raw = { n: 0 };
  const comp = createHash("sha256");
  const out = { n: 0 };
  const t = tmpName(dir);
  try {
    const stages: NodeJS.ReadWriteStream[] = [counter(diff, raw)];
    if (compressed) stages.push(createGzip({ level }), counter(comp, out));
    await pipeline(Readable.from(tarStream(spec.files ?? [], data)), ...(stages as [Transform]), createWriteStream(t));
  } catch (e) {
    rmSync(t, { force: true });
    throw e;
  }
  const diffId = `sha256:${diff.digest("hex")}`;
  const digest = compressed ? `sha256:${comp.digest("hex")}` : diffId;
  const p = blobPath(dir, digest);
  if (existsSync(p)) rmSync(t);
  else renameSync(t, p);
  return { digest, size: compressed ? out.n : raw.n, diffId, uncompressedSize: raw.n, compressed };
}

function readIndex(dir: string): { schemaVersion: number; mediaType?: string; manifests: Array<Record<string, unknown>> } {
  const p = join(dir, "index.json");
  if (!existsSync(p)) return { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] };
  return JSON.parse(readFileSync(p, "utf8"));
}

/** Write (or extend) an OCI image layout at `dir` with the given images. */
export async function writeImageLayout(dir: string, spec: ImageSpec | ImageSpec[]): Promise<WrittenLayout> {
  const specs = Array.isArray(spec) ? spec : [spec];
  mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const top = readIndex(dir);
  const images: WrittenImage[] = [];

  for (const img of specs) {
    const docker = img.mediaTypes === "docker";
    const seed = img.seed ?? img.tag;
    const platforms = (img.platforms ?? ["linux/amd64"]).map(parsePlatform);
    const layerSpecs: LayerSpec[] = typeof img.layers === "number" ? Array.from({ length: img.layers }, () => ({})) : (img.layers ?? [{}]);
    const manifests: WrittenManifest[] = [];
    const blobs: string[] = [];
    for (const platform of platforms) {
      const layers: WrittenLayer[] = [];
      for (let i = 0; i < layerSpecs.length; i++) {
        const ls = layerSpecs[i]!;
        const lseed = ls.seed ?? `${seed}/${platformString(platform)}/${i}`;
        const w = await writeLayer(dir, ls, lseed);
        const mediaType = docker ? (w.compressed ? MT.dockerLayerGzip : MT.dockerLayerTar) : (w.compressed ? MT.ociLayerGzip : MT.ociLayerTar);
        layers.push({ digest: w.digest, size: w.size, diffId: w.diffId, uncompressedSize: w.uncompressedSize, mediaType });
      }
      const config = {
        created: "2024-01-01T00:00:00Z",
        architecture: platform.architecture,
        os: platform.os,
        ...(platform.variant ? { variant: platform.variant } : {}),
        config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["/bin/sh"], Labels: { "kube-airgap.test/seed": seed }, ...img.config },
        rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
        history: layers.map((_, i) => ({ created: "2024-01-01T00:00:00Z", created_by: `kube-airgap test layer ${i}` })),
      };
      const cfgMt = docker ? MT.dockerConfig : MT.ociConfig;
      const cfg = writeBlob(dir, JSON.stringify(config));
      const manifest: Record<string, unknown> = {
        schemaVersion: 2,
        mediaType: docker ? MT.dockerManifest : MT.ociManifest,
        config: { mediaType: cfgMt, digest: cfg.digest, size: cfg.size },
        layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      };
      if (!docker && img.annotations) manifest.annotations = img.annotations;
      const m = writeBlob(dir, JSON.stringify(manifest));
      manifests.push({ platform, digest: m.digest, size: m.size, mediaType: manifest.mediaType as string, config: { digest: cfg.digest, size: cfg.size, mediaType: cfgMt }, layers });
      blobs.push(m.digest, cfg.digest, ...layers.map((l) => l.digest));
    }
    let topDesc: { mediaType: string; digest: string; size: number };
    if (platforms.length > 1 || img.index) {
      const index: Record<string, unknown> = {
        schemaVersion: 2,
        mediaType: docker ? MT.dockerList : MT.ociIndex,
        manifests: manifests.map((m) => ({ mediaType: m.mediaType, digest: m.digest, size: m.size, platform: m.platform })),
      };
      if (!docker && img.indexAnnotations) index.annotations = img.indexAnnotations;
      const w = writeBlob(dir, JSON.stringify(index));
      topDesc = { mediaType: index.mediaType as string, digest: w.digest, size: w.size };
      blobs.unshift(w.digest);
    } else {
      const m = manifests[0]!;
      topDesc = { mediaType: m.mediaType, digest: m.digest, size: m.size };
    }
    top.manifests = top.manifests.filter((d) => (d.annotations as Record<string, string> | undefined)?.[REF_NAME] !== img.tag);
    top.manifests.push({ ...topDesc, annotations: { [REF_NAME]: img.tag } });
    images.push({ tag: img.tag, ...topDesc, manifests, blobs: [...new Set(blobs)] });
  }
  const t = join(dir, `.index.json.tmp-${process.pid}`);
  writeFileSync(t, JSON.stringify(top, null, 2));
  renameSync(t, join(dir, "index.json"));
  return { dir, images };
}

/** Read a blob of a layout as text/JSON (small blobs only). */
export function readLayoutBlob(dir: string, digest: string): Buffer {
  return readFileSync(blobPath(dir, digest));
}

export function layoutBlobSize(dir: string, digest: string): number {
  return statSync(blobPath(dir, digest)).size;
}

// ---- skopeo ------------------------------------------------------------------------------------

export class SkopeoError extends Error {
  constructor(public args: string[], public code: number | null, public stderr: string) {
    super(`skopeo ${args.filter((a) => !/creds/.test(a)).slice(0, 3).join(" ")} … failed (exit ${code}): ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
  }
}

export interface SkopeoSide {
  /** "user:password" */
  creds?: string;
  /** default false (plain http / unverified TLS) */
  tlsVerify?: boolean;
  /** dir holding ca.crt (and client.cert/.key) */
  certDir?: string;
}

export interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** skopeo never sees host credentials: auth file and DOCKER_CONFIG point at paths that do not exist
 * (containers/image treats a missing auth file as empty; copy/inspect never write it). */
function isolatedEnv(): NodeJS.ProcessEnv {
  const none = join(tmpdir(), `ka-skopeo-noauth-${process.pid}-does-not-exist`);
  return { ...process.env, REGISTRY_AUTH_FILE: join(none, "auth.json"), DOCKER_CONFIG: none };
}

/** Run a command asynchronously; stdout as bytes, stderr as text. Never throws on exit code. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    c.stdout!.on("data", (d: Buffer) => out.push(d));
    c.stderr!.on("data", (d: Buffer) => err.push(d));
    const timer = opts.timeoutMs ? setTimeout(() => c.kill("SIGKILL"), opts.timeoutMs) : undefined;
    c.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    c.on("close", (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString("utf8") });
    });
    if (opts.input !== undefined) c.stdin!.end(opts.input);
  });
}

function sideArgs(prefix: "src" | "dest" | "", s: SkopeoSide | undefined, ref: string): string[] {
  if (!ref.startsWith("docker://")) return [];
  const p = prefix ? `--${prefix}-` : "--";
  const a = [`${p}tls-verify=${s?.tlsVerify ?? false}`];
  if (s?.creds) a.push(`${p}creds=${s.creds}`);
  else a.push(`${p}no-creds`);
  if (s?.certDir) a.push(`${p}cert-dir=${s.certDir}`);
  return a;
}

const dockerRef = (ref: string) => (/^[a-z-]+:/.test(ref) && !/^[\w.-]+:\d+\//.test(ref) ? ref : `docker://${ref}`);

export async function skopeo(args: string[], timeoutMs = 300_000): Promise<RunResult> {
  const full = ["--insecure-policy", ...args];
  const r = await run("skopeo", full, { env: isolatedEnv(), timeoutMs });
  if (r.code !== 0) throw new SkopeoError(full, r.code, r.stderr);
  return r;
}

export interface SkopeoCopyOptions {
  src?: SkopeoSide;
  dest?: SkopeoSide;
  /** alias of `dest` */
  dst?: SkopeoSide;
  /** --all (default true) */
  all?: boolean;
  /** --preserve-digests (default true) */
  preserveDigests?: boolean;
  retryTimes?: number;
  extraArgs?: string[];
  timeoutMs?: number;
}

/** `skopeo copy` between any transports (`docker://`, `oci:DIR:TAG`, `dir:` …; a bare `host/repo:tag` means docker://). */
export async function skopeoCopy(src: string, dst: string, opts: SkopeoCopyOptions = {}): Promise<RunResult> {
  const s = dockerRef(src);
  const d = dockerRef(dst);
  const args = ["copy", ...sideArgs("src", opts.src, s), ...sideArgs("dest", opts.dest ?? opts.dst, d)];
  if (opts.all ?? true) args.push("--all");
  if (opts.preserveDigests ?? true) args.push("--preserve-digests");
  if (opts.retryTimes) args.push(`--retry-times=${opts.retryTimes}`);
  args.push(...(opts.extraArgs ?? []), s, d);
  return skopeo(args, opts.timeoutMs);
}

export interface PushOptions extends SkopeoSide {
  all?: boolean;
  preserveDigests?: boolean;
  extraArgs?: string[];
  timeoutMs?: number;
}

/** The index.json descriptor of `tag` in a layout (undefined when absent). */
export function layoutEntry(layoutDir: string, tag: string): { mediaType: string; digest: string; size: number } | undefined {
  const d = readIndex(layoutDir).manifests.find((m) => (m.annotations as Record<string, string> | undefined)?.[REF_NAME] === tag);
  return d as { mediaType: string; digest: string; size: number } | undefined;
}

/**
 * Stage image `tag` of an OCI layout as a skopeo `dir:` directory (format 1.1: `version`, `manifest.json`,
 * `<hex>.manifest.json` per index entry, blobs by hex digest — symlinked, not copied). skopeo 1.9's `oci:`
 * transport ignores index.json entries with Docker media types, so Docker-typed images go through this.
 */
export function layoutToSkopeoDir(layoutDir: string, tag: string, outDir: string): void {
  const top = layoutEntry(layoutDir, tag);
  if (!top) throw new Error(`no image tagged "${tag}" in ${layoutDir}/index.json`);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "version"), "Directory Transport Version: 1.1\n");
  const link = (digest: string, name: string) => {
    const p = join(outDir, name);
    if (!existsSync(p)) symlinkSync(blobPath(layoutDir, digest), p);
  };
  const addManifest = (digest: string, name: string) => {
    link(digest, name);
    const m = JSON.parse(readLayoutBlob(layoutDir, digest).toString("utf8"));
    if (Array.isArray(m.manifests)) {
      for (const d of m.manifests) addManifest(d.digest, `${d.digest.slice(7)}.manifest.json`);
    } else {
      if (m.config?.digest) link(m.config.digest, m.config.digest.slice(7));
      for (const l of m.layers ?? []) link(l.digest, l.digest.slice(7));
    }
  };
  addManifest(top.digest, "manifest.json");
}

/** skopeo copy [--all] oci:LAYOUT:TAG docker://HOST/REPO:TAG with the destination credentials/TLS options
 * (Docker-typed images are copied from a staged `dir:` instead, see layoutToSkopeoDir). */
export async function pushWithSkopeo(layoutDir: string, tag: string, registryRef: string, opts: PushOptions = {}): Promise<RunResult> {
  const copyOpts = { dest: opts, all: opts.all, preserveDigests: opts.preserveDigests, extraArgs: opts.extraArgs, timeoutMs: opts.timeoutMs };
  const top = layoutEntry(layoutDir, tag);
  if (top && top.mediaType !== MT.ociManifest && top.mediaType !== MT.ociIndex) {
    const stage = mkdtempSync(join(tmpdir(), "ka-skopeo-dir-"));
    try {
      layoutToSkopeoDir(layoutDir, tag, stage);
      return await skopeoCopy(`dir:${stage}`, dockerRef(registryRef), copyOpts);
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  }
  return skopeoCopy(`oci:${layoutDir}:${tag}`, dockerRef(registryRef), copyOpts);
}

export interface RawManifest {
  bytes: Buffer;
  text: string;
  digest: string;
  mediaType: string;
  json: Record<string, any>;
}

/** `skopeo inspect --raw` — the exact manifest/index bytes the registry serves, and their sha256 digest. */
export async function skopeoInspectRaw(ref: string, opts: SkopeoSide = {}): Promise<RawManifest> {
  const r = dockerRef(ref);
  const res = await skopeo(["inspect", "--raw", ...sideArgs("", opts, r), r], 60_000);
  const bytes = res.stdout;
  const text = bytes.toString("utf8");
  const json = JSON.parse(text);
  return { bytes, text, digest: sha256(bytes), mediaType: json.mediaType ?? "", json };
}

/** `skopeo list-tags` → tags. */
export async function skopeoListTags(repoRef: string, opts: SkopeoSide = {}): Promise<string[]> {
  const r = dockerRef(repoRef);
  const res = await skopeo(["list-tags", ...sideArgs("", opts, r), r], 60_000);
  return JSON.parse(res.stdout.toString("utf8")).Tags ?? [];
}
