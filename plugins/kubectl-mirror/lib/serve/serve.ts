// kubectl mirror serve: the read side of the OCI distribution API straight from an archive (plain tar read by
// offset; split parts NAME.part001… read across part files without joining them; gzip/zstd archives are
// decompressed ONCE into a temp plain tar — compressed streams cannot be read by offset) or an OCI layout
// directory. Constant memory: blobs are streamed from the file(s) with positioned reads; only index.json and
// manifests (≤ 4 MiB each) are read into memory, on demand.
//
// Repositories: each index.json ref name that is an image reference is served at its path without the
// registry host ("quay.io/acme/app:1.0" → acme/app:1.0); artifact refs ("charts/app:1.2.3", "packs/x:1") as
// they are; bare tags (skopeo/oci-archive:FILE:TAG) under --repository (default: the archive's base name).
// cosign tags sha256-<hex>.sig/.att/.sbom go to the repositories holding that digest.
//
// Endpoints: GET/HEAD /v2/, /v2/_catalog (n, last), /v2/<repo>/tags/list (n, last), /v2/<repo>/manifests/<tag|digest>,
// /v2/<repo>/blobs/<digest> (Range: bytes=a-b | a- | -n → 206), /v2/<repo>/referrers/<digest> (artifactType filter).
// Anything else that writes (POST, PUT, PATCH, DELETE) → 405 UNSUPPORTED.
//
// A server people can trust: the archive is read by the same entry checks as push (a duplicate index.json or
// blob entry is refused, not "the last one wins"); every blob is checked against its digest the first time it
// is served (hashed as it flows, its last chunk withheld until the digest matched: a client never receives a
// whole blob that does not match; a mismatch aborts the response, marks the blob bad and is logged) or all at
// start with --verify; --htpasswd FILE asks for Basic auth (bcrypt entries, as distribution and Zot) and
// --tls-cert/--tls-key serve HTTPS; the banner says where it really listens and warns when that is beyond
// loopback; the decompressed copy of a .tar.gz/.tar.zst is removed on every stop signal (SIGINT/TERM/HUP);
// --pack-keyring checks every pack's signature before serving. A client that goes away mid-blob releases its
// file handle at once (pipeline, not pipe).
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, statSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import bcrypt from "bcryptjs";
import { blobName, checkEntry } from "../../../../shared/oci/archive.ts";
import { digestAlgorithm, digestOf } from "../../../../shared/oci/digest.ts";
import { removeOnInterrupt } from "../../../../shared/runtime/interrupt.ts";
import type { PublicKey } from "../../../../shared/signing/gpg.ts";
import { verifyArchivePacks, type PackVerdict } from "../inputs/pack.ts";
import { checkArchive, type ArchiveTrust, type ArchiveView } from "../transfer/archive-sign.ts";
import { METADATA_FILE } from "../transfer/archive.ts";
import type { VerifyKey } from "../../../../shared/signing/dsse.ts";
import { createDecompressor, detectCompression } from "../../../../shared/oci/compression.ts";
import { isManifest, MT } from "../../../../shared/oci/media-types.ts";
import { parseRegistryReference } from "../../../../shared/oci/reference.ts";
import { REF_NAME, type Descriptor, type ImageIndex } from "../../../../shared/oci/types.ts";
import { readTar } from "../../../../shared/tar/stream.ts";

const SMALL = 4 << 20;

export class ServeError extends Error {
  override name = "ServeError";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

/** A set of files read as one byte sequence (one archive, or the parts of a split one). */
class Segments {
  private starts: number[] = [];
  readonly size: number;
  constructor(private files: { path: string; size: number }[]) {
    let off = 0;
    for (const f of files) this.starts.push(off), (off += f.size);
    this.size = off;
  }
  /** bytes [start, end] (inclusive) as a stream, crossing part boundaries */
  stream(start: number, end: number): Readable {
    const files = this.files;
    const starts = this.starts;
    async function* gen() {
      for (let i = 0; i < files.length && start <= end; i++) {
        const fs = starts[i]!;
        const fe = fs + files[i]!.size - 1;
        if (fe < start || files[i]!.size === 0) continue;
        const s = Math.max(start, fs) - fs;
        const e = Math.min(end, fe) - fs;
        for await (const c of createReadStream(files[i]!.path, { start: s, end: e, highWaterMark: 1 << 20 })) yield c as Buffer;
        start = fs + e + 1;
      }
    }
    return Readable.from(gen(), { objectMode: false });
  }
  async read(start: number, length: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    if (length === 0) return Buffer.alloc(0);
    for await (const c of this.stream(start, start + length - 1)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }
}

interface Loc {
  offset: number;
  size: number;
}

/** Where blobs and index.json live: a tar (by offset) or a layout directory. */
interface Source {
  has(digest: string): boolean;
  size(digest: string): number | undefined;
  stream(digest: string, start: number, end: number): Readable;
  read(digest: string): Promise<Buffer>;
  index(): Promise<ImageIndex>;
  /** every blob digest present (for --verify) */
  digests(): Promise<string[]>;
  /** a small non-blob file (kubectl-mirror.json, the signature); undefined if absent */
  file(name: string, limit?: number): Promise<Buffer | undefined>;
  close(): Promise<void>;
}

const BLOB_PATH = /^blobs\/([a-z0-9]+)\/([a-f0-9]{32,})$/;


async function tarSource(files: { path: string; size: number; sha256?: string; name?: string }[], label: string, cleanup?: () => Promise<void>): Promise<Source> {
  const seg = new Segments(files);
  const entries = new Map<string, Loc>();
  // one pass over the bytes: the entry index (and each part's sha256 when the .parts file gives it)
  const hashes = files.map(() => createHash("sha256"));
  async function* hashed() {
    for (let i = 0; i < files.length; i++) {
      const hash = files[i]!.sha256 ? hashes[i]! : undefined; // only parts listed in NAME.parts are checked
      for await (const c of createReadStream(files[i]!.path, { highWaterMark: 1 << 20 })) {
        hash?.update(c as Buffer);
        yield c as Buffer;
      }
    }
  }
  // the entry checks push and verify use: only files/directories, safe paths, each name once (a second
  // index.json or blob would be served by "the last one wins" here while push refuses the archive)
  const seen = new Set<string>();
  for await (const e of readTar(hashed())) {
    const name = checkEntry(e, label, seen);
    if (!name) continue;
    entries.set(name, { offset: e.offset, size: e.header.size });
  }
  for (const [i, f] of files.entries()) {
    if (f.sha256 && `sha256:${hashes[i]!.digest("hex")}` !== f.sha256) throw new ServeError(`split archive ${label}: part ${f.name ?? basename(f.path)} is corrupt (sha256 mismatch)`, "copy it again");
  }
  if (!entries.has("index.json") || !entries.has("oci-layout")) throw new ServeError(`${label} is not an OCI archive (no index.json / oci-layout)`, "serve archives written by `kubectl mirror export`, `copy … oci-archive:FILE` or skopeo");
  const loc = (d: string) => entries.get(blobName(d));
  return {
    has: (d) => !!loc(d),
    size: (d) => loc(d)?.size,
    stream: (d, s, e) => seg.stream(loc(d)!.offset + s, loc(d)!.offset + e),
    read: async (d) => {
      const l = loc(d)!;
      if (l.size > SMALL) throw new ServeError(`${d} is too large to be a manifest`);
      return seg.read(l.offset, l.size);
    },
    index: async () => {
      const l = entries.get("index.json")!;
      return JSON.parse((await seg.read(l.offset, l.size)).toString("utf8")) as ImageIndex;
    },
    digests: async () => [...entries.keys()].map((n) => BLOB_PATH.exec(n)).filter((m) => !!m).map((m) => `${m![1]}:${m![2]}`),
    file: async (name, limit = SMALL) => {
      const l = entries.get(name);
      if (!l) return undefined;
      if (l.size > limit) throw new ServeError(`${name} in ${label} is larger than ${limit} bytes`);
      return seg.read(l.offset, l.size);
    },
    close: async () => {
      await cleanup?.();
    },
  };
}

async function layoutSource(dir: string): Promise<Source> {
  if (!existsSync(join(dir, "oci-layout")) || !existsSync(join(dir, "index.json"))) throw new ServeError(`oci-layout:${dir} is not an OCI layout (no oci-layout / index.json)`);
  const sizes = new Map<string, number>();
  const sizeOf = (d: string): number | undefined => {
    if (!/^[a-z0-9]+:[a-f0-9]{32,}$/.test(d)) return undefined;
    if (sizes.has(d)) return sizes.get(d);
    try {
      const st = statSync(join(dir, blobName(d)));
      sizes.set(d, st.size);
      return st.size;
    } catch {
      return undefined;
    }
  };
  return {
    has: (d) => sizeOf(d) !== undefined,
    size: sizeOf,
    stream: (d, s, e) => (e < s ? Readable.from([]) : createReadStream(join(dir, blobName(d)), { start: s, end: e, highWaterMark: 1 << 20 })),
    read: async (d) => readFile(join(dir, blobName(d))),
    index: async () => JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as ImageIndex,
    digests: async () => {
      const out: string[] = [];
      for (const alg of await readdir(join(dir, "blobs")).catch(() => [] as string[])) for (const hex of await readdir(join(dir, "blobs", alg)).catch(() => [] as string[])) if (BLOB_PATH.test(`blobs/${alg}/${hex}`)) out.push(`${alg}:${hex}`);
      return out;
    },
    file: async (name) => (BLOB_PATH.test(name) || name.includes("..") ? undefined : readFile(join(dir, name)).catch(() => undefined)),
    close: async () => {},
  };
}

/** Open ARCHIVE (plain / gzip / zstd / split) or oci-layout:DIR. */
export async function openServeSource(arg: string, opts: { tempDir?: string; onInfo?: (msg: string) => void } = {}): Promise<{ source: Source; label: string }> {
  if (arg.startsWith("oci-layout:")) {
    const dir = arg.slice("oci-layout:".length);
    return { source: await layoutSource(dir), label: dir };
  }
  const path = arg.replace(/^oci-archive:/, "");
  const base = path.replace(/\.parts$/, "").replace(/\.part\d{3}$/, "");
  let files: { path: string; size: number; sha256?: string; name?: string }[];
  if (existsSync(path) && !/\.part\d{3}$|\.parts$/.test(path)) files = [{ path, size: (await stat(path)).size }];
  else if (existsSync(`${base}.parts`)) {
    const idx = JSON.parse(await readFile(`${base}.parts`, "utf8")) as { parts: { file: string; size: number; sha256: string }[] };
    files = [];
    for (const p of idx.parts) {
      const f = join(dirname(`${base}.parts`), p.file);
      const st = await stat(f).catch(() => undefined);
      if (!st) throw new ServeError(`split archive ${base}: part ${p.file} is missing`, `all ${idx.parts.length} parts must be next to ${basename(base)}.parts`);
      if (st.size !== p.size) throw new ServeError(`split archive ${base}: part ${p.file} has ${st.size} bytes, expected ${p.size}`, "copy it again");
      files.push({ path: f, size: p.size, sha256: p.sha256, name: p.file });
    }
  } else throw new ServeError(`archive ${arg}: no such file`, "check the path (a split archive needs NAME.parts next to its parts)");
  // compressed: one pass into a temp plain tar (parts are joined by the stream)
  const kind = await detectCompression(files[0]!.path);
  if (kind === "none") return { source: await tarSource(files, base), label: base };
  const work = await mkdtemp(join(opts.tempDir ?? tmpdir(), "ka-mirror-serve-"));
  // removed on every stop signal (the entry's handler), on stop() and on failure: never left behind
  const unregister = removeOnInterrupt(`serving ${basename(base)} (its decompressed copy)`, work);
  const plain = join(work, "archive.tar");
  opts.onInfo?.(`${basename(base)} is ${kind}-compressed: decompressing it once into ${plain} (compressed streams cannot be read by offset; use --temp-dir for another disk)`);
  const cleanup = async () => {
    await rm(work, { recursive: true, force: true });
    unregister();
  };
  try {
    const src = new Segments(files).stream(0, files.reduce((n, f) => n + f.size, 0) - 1);
    const z = createDecompressor(kind, base);
    await pipeline(src, z, createWriteStream(plain, { highWaterMark: 1 << 20 }));
    const partsSha = files.some((f) => f.sha256);
    if (partsSha) {
      // verify the parts' sha256 against the .parts file (the decompression pass did not hash them)
      for (const f of files) {
        const h = createHash("sha256");
        for await (const c of createReadStream(f.path, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
        if (`sha256:${h.digest("hex")}` !== f.sha256) throw new ServeError(`split archive ${base}: part ${f.name} is corrupt (sha256 mismatch)`, "copy it again");
      }
    }
    return { source: await tarSource([{ path: plain, size: (await stat(plain)).size }], base, cleanup), label: base };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

export interface Catalog {
  /** repository → tag → descriptor */
  repos: Map<string, Map<string, Descriptor>>;
  /** every manifest digest known from index.json (roots and their children) */
  manifests: Map<string, string>;
  /** subject digest → referrer descriptors */
  referrers: Map<string, Descriptor[]>;
}

const COSIGN_TAG = /^(sha256)-([a-f0-9]{64})\.(sig|att|sbom)$/;

/** Build repositories/tags from index.json and walk the manifest graph (children of indexes). */
export async function buildCatalog(src: Source, defaultRepo: string): Promise<Catalog> {
  const index = await src.index();
  const repos = new Map<string, Map<string, Descriptor>>();
  const manifests = new Map<string, string>();
  const referrers = new Map<string, Descriptor[]>();
  const add = (repo: string, tag: string, d: Descriptor) => {
    const m = repos.get(repo) ?? new Map<string, Descriptor>();
    m.set(tag, d);
    repos.set(repo, m);
  };
  const cosign: { tag: string; target: string; d: Descriptor }[] = [];
  const walk = async (d: Descriptor, depth = 0) => {
    if (manifests.has(d.digest) || depth > 8 || !src.has(d.digest)) return;
    manifests.set(d.digest, d.mediaType);
    const j = JSON.parse((await src.read(d.digest)).toString("utf8")) as { manifests?: Descriptor[]; subject?: Descriptor; artifactType?: string; config?: Descriptor; mediaType?: string; annotations?: Record<string, string> };
    if (j.mediaType && isManifest(j.mediaType)) manifests.set(d.digest, j.mediaType);
    if (j.subject?.digest) {
      const list = referrers.get(j.subject.digest) ?? [];
      if (!list.some((x) => x.digest === d.digest)) list.push({ mediaType: manifests.get(d.digest)!, digest: d.digest, size: d.size, artifactType: j.artifactType ?? j.config?.mediaType, ...(j.annotations ? { annotations: j.annotations } : {}) });
      referrers.set(j.subject.digest, list);
    }
    for (const c of j.manifests ?? []) if (isManifest(c.mediaType)) await walk(c, depth + 1);
  };
  for (const m of index.manifests ?? []) {
    const d: Descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.size };
    await walk(d);
    const ref = m.annotations?.[REF_NAME];
    if (!ref) continue;
    const cs = COSIGN_TAG.exec(ref);
    if (cs) {
      cosign.push({ tag: ref, target: `${cs[1]}:${cs[2]}`, d });
      continue;
    }
    if (!/[/:@]/.test(ref)) {
      add(defaultRepo, ref, d); // a bare tag (skopeo … oci-archive:FILE:TAG)
      continue;
    }
    try {
      // "quay.io/acme/app:1.0" → acme/app; artifact refs ("charts/app:1.2.3") keep their path
      const r = parseRegistryReference(ref);
      add(r.repository, r.tag ?? (r.digest ? r.digest.replace(":", "-") : "latest"), d);
    } catch {
      add(defaultRepo, ref.replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 128), d);
    }
  }
  for (const c of cosign) for (const [, tags] of repos) if ([...tags.values()].some((d) => d.digest === c.target)) tags.set(c.tag, c.d);
  return { repos, manifests, referrers };
}

export interface ServeOptions {
  address?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** htpasswd file (bcrypt entries, `htpasswd -B`): Basic auth on every /v2/ request */
  htpasswd?: string;
  /** realm of the Basic challenge */
  realm?: string;
  /** check every blob's digest before serving (otherwise each blob is checked the first time it is served) */
  verify?: boolean;
  /** every pack in the archive must carry a signature that verifies with these keys */
  packKeys?: PublicKey[];
  /** --key: the archive must be signed by one of these and intact (checked before listening) */
  keys?: VerifyKey[];
  repository?: string;
  tempDir?: string;
  onInfo?: (msg: string) => void;
  onWarn?: (msg: string) => void;
  onRequest?: (info: { method: string; path: string; status: number }) => void;
}

export interface RunningServer {
  /** where clients on this machine reach it */
  url: string;
  host: string;
  /** where it really listens (HOST:PORT as bound; 0.0.0.0 / :: = every interface) */
  listen: string;
  /** reachable beyond this machine (not loopback only) */
  exposed: boolean;
  /** URLs of the machine's other interfaces when exposed */
  urls: string[];
  auth: "none" | "htpasswd";
  tls: boolean;
  verified: number;
  packSignatures?: PackVerdict[];
  /** signature verdict (verified / signed, not verified / unsigned) */
  trust: ArchiveTrust;
  catalog: Catalog;
  stop(): Promise<void>;
}

function ociError(res: http.ServerResponse, status: number, code: string, message: string, method: string): void {
  const body = JSON.stringify({ errors: [{ code, message }] });
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), "docker-distribution-api-version": "registry/2.0" });
  res.end(method === "HEAD" ? undefined : body);
}

function page<T>(items: T[], key: (t: T) => string, q: URLSearchParams): { items: T[]; next?: string } {
  let list = items;
  const last = q.get("last");
  if (last) list = list.filter((x) => key(x) > last);
  const n = q.get("n");
  if (n !== null && /^\d+$/.test(n)) {
    const k = Number(n);
    if (list.length > k) return { items: list.slice(0, k), next: key(list[k - 1]!) };
  }
  return { items: list };
}


const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost|::ffff:127\.\d+\.\d+\.\d+)$/i;

/** --address HOST:PORT | :PORT | [V6]:PORT → what to bind; `:PORT` binds every interface (as Go's net.Listen). */
export function parseAddress(addr: string): { hostname: string; port: number } {
  const mm = /^(?:\[([^\]]*)\]|([^:[\]]*))?:(\d+)$/.exec(addr) ?? /^()()(\d+)$/.exec(addr);
  if (!mm || Number(mm[3]) > 65535) throw new ServeError(`--address ${addr}: expected HOST:PORT, [IPv6]:PORT or :PORT`, "e.g. --address 127.0.0.1:5000 (this machine only) or --address 0.0.0.0:5000 (every interface)");
  return { hostname: mm[1] ?? mm[2] ?? "", port: Number(mm[3]) };
}

/** htpasswd entries (user:bcrypt-hash), refused unless bcrypt — what distribution and Zot accept. */
export async function readHtpasswd(file: string): Promise<Map<string, string>> {
  const text = await readFile(file, "utf8").catch((e) => {
    throw new ServeError(`--htpasswd ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, "create it with `htpasswd -Bbn USER PASSWORD > FILE`");
  });
  const users = new Map<string, string>();
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const c = line.indexOf(":");
    const user = line.slice(0, c);
    const hash = line.slice(c + 1);
    if (c <= 0) throw new ServeError(`--htpasswd ${file} line ${i + 1}: not USER:HASH`, "create entries with `htpasswd -B FILE USER`");
    if (!/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) throw new ServeError(`--htpasswd ${file} line ${i + 1}: the entry of ${user} is not bcrypt`, "only bcrypt entries are accepted (as distribution and Zot): `htpasswd -B FILE USER`");
    users.set(user, hash);
  }
  if (!users.size) throw new ServeError(`--htpasswd ${file}: no users`, "add one with `htpasswd -B FILE USER`");
  return users;
}

/** Checks Basic credentials against htpasswd entries; a verified pair is remembered (as a keyed hash) so that the
 * dozens of requests of one pull cost one bcrypt each. */
function basicAuth(users: Map<string, string>) {
  const key = createHash("sha256").update(String(Math.random()) + process.pid + Date.now()).digest();
  const good = new Set<string>();
  const dummy = bcrypt.hashSync("x", 4);
  return async (header: string | undefined): Promise<boolean> => {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
    if (!m) return false;
    const plain = Buffer.from(m[1]!, "base64").toString("utf8");
    const c = plain.indexOf(":");
    if (c < 0) return false;
    const user = plain.slice(0, c);
    const token = createHash("sha256").update(key).update(plain).digest("hex");
    if (good.has(token)) return true;
    const hash = users.get(user);
    const ok = await bcrypt.compare(plain.slice(c + 1), hash ?? dummy); // same work for unknown users
    if (ok && hash) good.add(token);
    return ok && !!hash;
  };
}

/**
 * The first full read of a blob: hashed as it flows, each chunk sent only when the next one arrived, the last one
 * only when the digest matched. On a mismatch the stream fails (the response is aborted short of its
 * Content-Length), so a client never receives a whole blob that does not match.
 */
class CheckedBlob extends Transform {
  private hash;
  private held?: Buffer;
  private n = 0;
  constructor(
    private digest: string,
    private size: number,
    private done: (actual: string | undefined) => void,
  ) {
    super({ highWaterMark: 1 << 20 });
    this.hash = createHash(digestAlgorithm(digest));
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.n += chunk.length;
    const prev = this.held;
    this.held = chunk;
    if (prev) this.push(prev);
    cb();
  }
  override _flush(cb: TransformCallback): void {
    const actual = `${digestAlgorithm(this.digest)}:${this.hash.digest("hex")}`;
    if (actual !== this.digest || this.n !== this.size) {
      this.done(actual);
      return cb(new ServeError(`blob ${this.digest} does not match its digest (${this.n} bytes hashing to ${actual})`));
    }
    this.done(undefined);
    cb(null, this.held);
  }
}

export async function serveArchive(arg: string, opts: ServeOptions = {}): Promise<RunningServer> {
  const { hostname, port } = parseAddress(opts.address ?? "127.0.0.1:5000");
  if (!!opts.tlsCert !== !!opts.tlsKey) throw new ServeError("--tls-cert and --tls-key go together");
  const [tls, users] = await Promise.all([
    opts.tlsCert ? Promise.all([readFile(opts.tlsCert, "utf8"), readFile(opts.tlsKey!, "utf8")]).catch((e) => {
      throw new ServeError(`cannot read the TLS certificate/key: ${(e as Error).message}`);
    }) : undefined,
    opts.htpasswd ? readHtpasswd(opts.htpasswd) : undefined,
  ]);
  const { source, label } = await openServeSource(arg, opts);
  const defaultRepo = (opts.repository ?? basename(label).replace(/\.(tar(\.(gz|zst|zstd))?|tgz|tzst)$/i, "")).toLowerCase().replace(/[^a-z0-9._/-]/g, "-") || "archive";
  // blobs whose digest was checked (served whole once, or --verify) and those found not to match
  const verified = new Set<string>();
  const bad = new Map<string, string>();
  const markBad = (digest: string, actual: string) => {
    if (bad.has(digest)) return;
    bad.set(digest, actual);
    opts.onWarn?.(`blob ${digest} in ${basename(label)} does not match its digest (it hashes to ${actual}): not served; the archive was altered or damaged — get it again from its source`);
  };
  const checking = new Map<string, Promise<void>>();
  /** hash a whole blob without sending it (ranges, --verify, pack signatures): once per blob */
  const checkBlob = (digest: string): Promise<void> => {
    if (verified.has(digest) || bad.has(digest)) return Promise.resolve();
    let p = checking.get(digest);
    if (!p) {
      p = (async () => {
        const size = source.size(digest)!;
        const h = createHash(digestAlgorithm(digest));
        let n = 0;
        if (size > 0) for await (const c of source.stream(digest, 0, size - 1)) (h.update(c as Buffer), (n += (c as Buffer).length));
        const actual = `${digestAlgorithm(digest)}:${h.digest("hex")}`;
        if (actual === digest && n === size) verified.add(digest);
        else markBad(digest, actual);
      })().finally(() => checking.delete(digest));
      checking.set(digest, p);
    }
    return p;
  };
  /** a manifest's bytes, checked against their digest */
  const readManifest = async (digest: string): Promise<Buffer> => {
    const bytes = await source.read(digest);
    const actual = digestOf(bytes, digestAlgorithm(digest));
    if (actual !== digest) markBad(digest, actual);
    else verified.add(digest);
    return bytes;
  };
  /** a whole blob, checked as it flows the first time */
  const fullBlob = (digest: string): Readable => {
    const size = source.size(digest)!;
    const s = size === 0 ? Readable.from([]) : source.stream(digest, 0, size - 1);
    if (verified.has(digest)) return s;
    const c = new CheckedBlob(digest, size, (actual) => (actual ? markBad(digest, actual) : verified.add(digest)));
    s.on("error", (e) => c.destroy(e));
    c.on("close", () => s.destroy());
    return s.pipe(c);
  };
  let catalog: Catalog;
  let packSignatures: PackVerdict[] | undefined;
  let trust: ArchiveTrust;
  try {
    catalog = await buildCatalog(source, defaultRepo);
    // push's verdict before the first request: index.json against the metadata; with --key, signed and intact
    const index = await source.index();
    const view: ArchiveView = {
      readFile: (name, limit) => source.file(name, limit),
      roots: () => (index.manifests ?? []).map((m) => ({ desc: { mediaType: m.mediaType, digest: m.digest, size: m.size }, tag: m.annotations?.[REF_NAME] })),
      fetchManifest: async (d) => {
        if (!source.has(d.digest)) throw new ServeError(`manifest ${d.digest} is not in ${basename(label)}`);
        const b = await readManifest(d.digest);
        if (bad.has(d.digest)) throw new ServeError(`manifest ${d.digest} in ${basename(label)} does not match its digest`);
        return b;
      },
      exists: async (d) => source.has(d.digest),
      verifyBlobs: async (wanted) => {
        let n = 0;
        for (const d of wanted) if (source.has(d)) (await checkBlob(d), n++);
        const wrong = [...wanted].find((d) => bad.has(d));
        if (wrong) throw new ServeError(`blob ${wrong} does not match its digest (it hashes to ${bad.get(wrong)})`);
        return n;
      },
    };
    trust = await checkArchive(view, { keys: opts.keys, metadataFile: METADATA_FILE, label: basename(label) });
    if (opts.verify) {
      const all = await source.digests();
      for (const d of all) await checkBlob(d);
      if (bad.size) throw new ServeError(`--verify: ${bad.size} of ${all.length} blobs in ${basename(label)} do not match their digest (${[...bad.keys()].slice(0, 3).join(", ")}${bad.size > 3 ? ", …" : ""})`, "the archive was altered or damaged: get it again from its source");
      opts.onInfo?.(`--verify: all ${all.length} blobs of ${basename(label)} match their digests`);
    }
    if (opts.packKeys) {
      const index = await source.index();
      const roots = (index.manifests ?? []).map((m) => ({ desc: { mediaType: m.mediaType, digest: m.digest, size: m.size }, tag: m.annotations?.[REF_NAME] }));
      packSignatures = await verifyArchivePacks(basename(label), {
        roots,
        manifest: async (d) => {
          if (!source.has(d.digest)) throw new ServeError(`manifest ${d.digest} is not in ${basename(label)}`);
          const b = await readManifest(d.digest);
          if (bad.has(d.digest)) throw new ServeError(`manifest ${d.digest} in ${basename(label)} does not match its digest`, "the archive was altered or damaged");
          return b;
        },
        blob: async (d) => {
          if (!source.has(d.digest)) throw new ServeError(`blob ${d.digest} is not in ${basename(label)}`);
          return fullBlob(d.digest);
        },
      }, opts.packKeys, { tempDir: opts.tempDir });
    }
  } catch (e) {
    await source.close();
    throw e;
  }
  const authorized = users ? basicAuth(users) : undefined;
  const realm = opts.realm ?? "kubectl-mirror serve";
  const handler = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "http://x");
    const path = url.pathname;
    res.on("finish", () => opts.onRequest?.({ method, path, status: res.statusCode }));
    try {
      // distribution/Zot with htpasswd: every /v2/ request needs Basic credentials, 401 with the challenge otherwise
      if (authorized && (path === "/v2" || path.startsWith("/v2/")) && !(await authorized(req.headers.authorization))) {
        res.setHeader("www-authenticate", `Basic realm="${realm.replace(/"/g, "'")}"`);
        return ociError(res, 401, "UNAUTHORIZED", "authentication required", method);
      }
      if (method !== "GET" && method !== "HEAD") return ociError(res, 405, "UNSUPPORTED", `this registry is read-only (served from ${basename(label)}); ${method} is not allowed`, method);
      if (path === "/v2/" || path === "/v2") {
        res.writeHead(200, { "content-type": "application/json", "docker-distribution-api-version": "registry/2.0", "content-length": 2 });
        return res.end(method === "HEAD" ? undefined : "{}");
      }
      if (path === "/v2/_catalog") {
        const p = page([...catalog.repos.keys()].sort(), (x) => x, url.searchParams);
        const body = JSON.stringify({ repositories: p.items });
        const h: Record<string, string | number> = { "content-type": "application/json", "content-length": Buffer.byteLength(body) };
        if (p.next) h.link = `</v2/_catalog?n=${url.searchParams.get("n")}&last=${encodeURIComponent(p.next)}>; rel="next"`;
        res.writeHead(200, h);
        return res.end(method === "HEAD" ? undefined : body);
      }
      const m = /^\/v2\/(.+)\/(tags\/list|manifests\/[^/]+|blobs\/[^/]+|referrers\/[^/]+)$/.exec(path);
      if (!m) return ociError(res, 404, "NOT_FOUND", `no route for ${path}`, method);
      const repo = decodeURIComponent(m[1]!);
      const [kind, ...restParts] = m[2]!.split("/");
      const rest = decodeURIComponent(restParts.join("/"));
      const tags = catalog.repos.get(repo);
      if (kind === "tags") {
        if (!tags) return ociError(res, 404, "NAME_UNKNOWN", `repository ${repo} is not in ${basename(label)}`, method);
        const p = page([...tags.keys()].sort(), (x) => x, url.searchParams);
        const body = JSON.stringify({ name: repo, tags: p.items });
        const h: Record<string, string | number> = { "content-type": "application/json", "content-length": Buffer.byteLength(body) };
        if (p.next) h.link = `</v2/${repo}/tags/list?n=${url.searchParams.get("n")}&last=${encodeURIComponent(p.next)}>; rel="next"`;
        res.writeHead(200, h);
        return res.end(method === "HEAD" ? undefined : body);
      }
      if (kind === "manifests") {
        let digest: string | undefined;
        let mediaType: string | undefined;
        if (/^[a-z0-9]+:[a-f0-9]{32,}$/.test(rest)) {
          if (catalog.manifests.has(rest) || source.has(rest)) digest = rest;
          mediaType = catalog.manifests.get(rest);
        } else {
          const d = tags?.get(rest);
          if (!tags) return ociError(res, 404, "NAME_UNKNOWN", `repository ${repo} is not in ${basename(label)}`, method);
          if (d) (digest = d.digest), (mediaType = catalog.manifests.get(d.digest) ?? d.mediaType);
        }
        if (!digest || !source.has(digest)) return ociError(res, 404, "MANIFEST_UNKNOWN", `manifest ${rest} not found in ${repo}`, method);
        const bytes = await readManifest(digest);
        if (bad.has(digest)) return ociError(res, 500, "UNKNOWN", `manifest ${digest} in ${basename(label)} does not match its digest: not served (the archive was altered or damaged)`, method);
        if (!mediaType) {
          try {
            const j = JSON.parse(bytes.toString("utf8"));
            mediaType = j.mediaType ?? (j.manifests ? MT.ociIndex : MT.ociManifest);
          } catch {
            return ociError(res, 404, "MANIFEST_UNKNOWN", `${rest} is not a manifest`, method);
          }
        }
        res.writeHead(200, { "content-type": mediaType!, "content-length": bytes.length, "docker-content-digest": digest, etag: `"${digest}"` });
        return res.end(method === "HEAD" ? undefined : bytes);
      }
      if (kind === "blobs") {
        const size = source.size(rest);
        if (size === undefined) return ociError(res, 404, "BLOB_UNKNOWN", `blob ${rest} not found`, method);
        const corrupt = () => ociError(res, 500, "UNKNOWN", `blob ${rest} in ${basename(label)} does not match its digest: not served (the archive was altered or damaged)`, method);
        if (bad.has(rest)) return corrupt();
        const range = req.headers.range;
        let start = 0;
        let end = size - 1;
        let status = 200;
        if (range) {
          const r = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
          if (!r || (r[1] === "" && r[2] === "")) return ociError(res, 416, "RANGE_INVALID", `bad Range ${range}`, method);
          if (r[1] === "") start = Math.max(0, size - Number(r[2]));
          else {
            start = Number(r[1]);
            end = r[2] === "" ? size - 1 : Math.min(Number(r[2]), size - 1);
          }
          if (start > end || start >= size) {
            res.writeHead(416, { "content-range": `bytes */${size}` });
            return res.end();
          }
          status = 206;
          // a part of a blob never checked: hash the whole blob first (a part alone cannot be checked)
          if (method !== "HEAD" && !verified.has(rest)) {
            await checkBlob(rest);
            if (bad.has(rest)) return corrupt();
          }
        }
        const h: Record<string, string | number> = { "content-type": "application/octet-stream", "content-length": end - start + 1, "docker-content-digest": rest, "accept-ranges": "bytes", etag: `"${rest}"` };
        if (status === 206) h["content-range"] = `bytes ${start}-${end}/${size}`;
        res.writeHead(status, h);
        if (method === "HEAD") return res.end();
        // pipeline, not pipe: a client that goes away mid-blob destroys the file stream (and closes its handle)
        const body = status === 200 ? fullBlob(rest) : source.stream(rest, start, end);
        return await pipeline(body, res).catch((e) => {
          res.destroy();
          if (!(e instanceof ServeError) && (e as NodeJS.ErrnoException).code !== "ERR_STREAM_PREMATURE_CLOSE") opts.onWarn?.(`GET ${path}: ${(e as Error).message}`);
        });
      }
      // referrers
      const want = url.searchParams.get("artifactType");
      let list = catalog.referrers.get(rest) ?? [];
      if (want) list = list.filter((d) => d.artifactType === want);
      const body = JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: list });
      const h: Record<string, string | number> = { "content-type": MT.ociIndex, "content-length": Buffer.byteLength(body) };
      if (want) h["oci-filters-applied"] = "artifactType";
      res.writeHead(200, h);
      return res.end(method === "HEAD" ? undefined : body);
    } catch (e) {
      if (!res.headersSent) ociError(res, 500, "UNKNOWN", (e as Error).message, method);
      else res.destroy(e as Error);
    }
  };
  let server: http.Server;
  if (tls) server = https.createServer({ cert: tls[0], key: tls[1] }, (q, r) => void handler(q, r));
  else server = http.createServer((q, r) => void handler(q, r));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e) => reject(new ServeError(`cannot listen on ${opts.address ?? "127.0.0.1:5000"}: ${(e as Error).message}`, "pick another --address")));
      // no host (":PORT") binds every interface, as Go's net.Listen(":PORT") does for distribution and Zot
      server.listen(port, hostname || "0.0.0.0", () => resolve());
    });
  } catch (e) {
    await source.close();
    throw e;
  }
  const bound = server.address() as { address: string; port: number };
  const actual = bound.port;
  const wildcard = bound.address === "0.0.0.0" || bound.address === "::";
  const exposed = !LOOPBACK.test(bound.address);
  const scheme = tls ? "https" : "http";
  const hostPort = (h: string) => (isIP(h) === 6 ? `[${h}]:${actual}` : `${h}:${actual}`);
  // every interface: clients here use loopback; the others are listed so that nobody believes it is private
  const local = wildcard ? (bound.address === "::" ? "::1" : "127.0.0.1") : bound.address;
  const urls = wildcard
    ? Object.values(networkInterfaces())
        .flat()
        .filter((i) => !!i && !i.internal && (i.family === "IPv4" || bound.address === "::") && !i.address.startsWith("fe80:"))
        .map((i) => `${scheme}://${hostPort(i!.address)}`)
    : [];
  return {
    url: `${scheme}://${hostPort(local)}`,
    host: hostPort(local),
    listen: hostPort(bound.address),
    exposed,
    urls,
    auth: users ? "htpasswd" : "none",
    tls: !!tls,
    verified: verified.size,
    ...(packSignatures ? { packSignatures } : {}),
    trust,
    catalog,
    async stop() {
      (server as http.Server & { closeAllConnections?: () => void }).closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
      await source.close();
    },
  };
}
