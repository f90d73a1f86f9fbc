// OCI image layout directory store: oci-layout, index.json, blobs/<alg>/<hex>. Content is ingested to a temp
// file and renamed into place only after its size and digest check out; index.json is replaced atomically.
import { createReadStream, createWriteStream, existsSync, mkdirSync } from "node:fs";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { randomBytes } from "node:crypto";
import { digestAlgorithm, digestHex, verifyBytes, VerifyStream } from "./digest.ts";
import { NotFoundError, OciError } from "./errors.ts";
import { isManifest, MT } from "./media-types.ts";
import type { Store } from "./store.ts";
import { REF_NAME, type Descriptor, type ImageIndex } from "./types.ts";

export class OciLayoutStore implements Store {
  readonly name: string;
  readonly id: string;
  private indexLock: Promise<unknown> = Promise.resolve();

  constructor(readonly dir: string) {
    this.name = `oci-layout:${dir}`;
    this.id = `layout:${dir}`;
  }

  /** Open for reading: the directory must be a layout. */
  static async open(dir: string): Promise<OciLayoutStore> {
    if (!existsSync(join(dir, "oci-layout"))) throw new NotFoundError(`OCI layout ${dir} (no oci-layout file)`, "point at a directory written by skopeo/oras/kubectl mirror, or create one with a copy to oci-layout:DIR");
    return new OciLayoutStore(dir);
  }

  /** Open for writing: create the layout if missing. */
  static async create(dir: string): Promise<OciLayoutStore> {
    mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
    if (!existsSync(join(dir, "oci-layout"))) await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    if (!existsSync(join(dir, "index.json"))) await writeFile(join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] }));
    return new OciLayoutStore(dir);
  }

  blobPath(digest: string): string {
    return join(this.dir, "blobs", digestAlgorithm(digest), digestHex(digest));
  }

  async readIndex(): Promise<ImageIndex> {
    try {
      return JSON.parse(await readFile(join(this.dir, "index.json"), "utf8")) as ImageIndex;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] };
      throw new OciError(`cannot read ${join(this.dir, "index.json")}: ${(e as Error).message}`, "BAD_LAYOUT");
    }
  }

  async resolve(ref: string): Promise<Descriptor> {
    const idx = await this.readIndex();
    if (ref.includes(":") && /^[a-z0-9]+:[a-f0-9]+$/.test(ref)) {
      const hit = idx.manifests.find((m) => m.digest === ref);
      if (hit) return strip(hit);
      const bytes = await readFile(this.blobPath(ref)).catch(() => undefined);
      if (!bytes) throw new NotFoundError(`manifest ${ref} in ${this.name}`);
      const j = JSON.parse(bytes.toString("utf8")) as { mediaType?: string; manifests?: unknown };
      return { mediaType: j.mediaType ?? (j.manifests ? MT.ociIndex : MT.ociManifest), digest: ref, size: bytes.length };
    }
    const hit = idx.manifests.find((m) => m.annotations?.[REF_NAME] === ref) ?? (ref === "latest" && idx.manifests.length === 1 ? idx.manifests[0] : undefined);
    if (!hit) {
      const tags = idx.manifests.map((m) => m.annotations?.[REF_NAME]).filter(Boolean);
      throw new NotFoundError(`tag "${ref}" in ${this.name}`, tags.length ? `tags there: ${tags.slice(0, 10).join(", ")}` : "the layout has no tagged manifests");
    }
    return strip(hit);
  }

  async tags(): Promise<string[]> {
    return (await this.readIndex()).manifests.map((m) => m.annotations?.[REF_NAME]).filter((t): t is string => !!t);
  }

  async fetchManifest(desc: Descriptor): Promise<Uint8Array> {
    const bytes = await readFile(this.blobPath(desc.digest)).catch((e) => {
      if (e.code === "ENOENT") throw new NotFoundError(`manifest ${desc.digest} in ${this.name}`);
      throw e;
    });
    verifyBytes(`manifest ${desc.digest} in ${this.name}`, bytes, desc.digest, desc.size);
    return bytes;
  }

  async fetchBlob(desc: Descriptor): Promise<Readable> {
    const p = this.blobPath(desc.digest);
    if (!existsSync(p)) throw new NotFoundError(`blob ${desc.digest} in ${this.name}`);
    const v = new VerifyStream(`blob ${desc.digest} in ${this.name}`, desc.digest, desc.size);
    const src = createReadStream(p, { highWaterMark: 1 << 20 });
    src.on("error", (e) => v.destroy(e));
    return src.pipe(v);
  }

  async fetchBlobFrom(desc: Descriptor, offset: number): Promise<Readable> {
    const p = this.blobPath(desc.digest);
    if (!existsSync(p)) throw new NotFoundError(`blob ${desc.digest} in ${this.name}`);
    const v = new VerifyStream(`blob ${desc.digest} in ${this.name} from byte ${offset}`, desc.digest, desc.size - offset, false);
    const src = createReadStream(p, { start: offset, highWaterMark: 1 << 20 });
    src.on("error", (e) => v.destroy(e));
    return src.pipe(v);
  }

  async exists(desc: Descriptor): Promise<boolean> {
    try {
      const s = await stat(this.blobPath(desc.digest));
      return desc.size < 0 || s.size === desc.size;
    } catch {
      return false;
    }
  }

  /** Write content to ingest/, verify, then rename into blobs/. */
  async ingest(desc: Descriptor, src: Readable | Uint8Array): Promise<void> {
    if (await this.exists(desc)) {
      if (!(src instanceof Uint8Array)) src.destroy();
      return;
    }
    const ingestDir = join(this.dir, "ingest");
    await mkdir(ingestDir, { recursive: true });
    await mkdir(join(this.dir, "blobs", digestAlgorithm(desc.digest)), { recursive: true });
    const tmp = join(ingestDir, `${digestHex(desc.digest).slice(0, 16)}-${randomBytes(6).toString("hex")}`);
    try {
      if (src instanceof Uint8Array) {
        verifyBytes(`blob ${desc.digest}`, src, desc.digest, desc.size);
        await writeFile(tmp, src);
      } else {
        // a source that already checks this digest and size (a registry download) is not hashed a second time
        if (src instanceof VerifyStream && src.checks(desc.digest, desc.size)) await pipeline(src, createWriteStream(tmp));
        else await pipeline(src, new VerifyStream(`blob ${desc.digest} for ${this.name}`, desc.digest, desc.size), createWriteStream(tmp));
      }
      await rename(tmp, this.blobPath(desc.digest));
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async pushBlob(desc: Descriptor, open: () => Promise<Readable>): Promise<void> {
    if (await this.exists(desc)) return;
    await this.ingest(desc, await open());
  }

  async pushManifest(desc: Descriptor, bytes: Uint8Array, tags: string[] = []): Promise<void> {
    await this.ingest(desc, bytes);
    if (tags.length) for (const t of tags) await this.tag(desc, bytes, t);
  }

  async tag(desc: Descriptor, _bytes: Uint8Array, tag: string): Promise<void> {
    await this.updateIndex((idx) => {
      idx.manifests = idx.manifests.filter((m) => m.annotations?.[REF_NAME] !== tag);
      idx.manifests.push({ mediaType: desc.mediaType, digest: desc.digest, size: desc.size, ...(desc.platform ? { platform: desc.platform } : {}), annotations: { [REF_NAME]: tag } });
    });
  }

  /** Add an untagged root (copied by digest) to index.json so the layout stays valid. */
  async addRoot(desc: Descriptor): Promise<void> {
    await this.updateIndex((idx) => {
      if (!idx.manifests.some((m) => m.digest === desc.digest)) idx.manifests.push({ mediaType: desc.mediaType, digest: desc.digest, size: desc.size });
    });
  }

  private updateIndex(fn: (idx: ImageIndex) => void): Promise<void> {
    const next = this.indexLock.then(async () => {
      const idx = await this.readIndex();
      fn(idx);
      const tmp = join(this.dir, `index.json.tmp-${randomBytes(4).toString("hex")}`);
      await writeFile(tmp, JSON.stringify(idx));
      await rename(tmp, join(this.dir, "index.json"));
    });
    this.indexLock = next.catch(() => {});
    return next;
  }

  async referrers(desc: Descriptor): Promise<Descriptor[]> {
    // layouts keep referrers as index entries whose manifests carry a subject; scan the index
    const idx = await this.readIndex();
    const out: Descriptor[] = [];
    for (const m of idx.manifests) {
      if (!isManifest(m.mediaType) || m.digest === desc.digest) continue;
      try {
        const j = JSON.parse(Buffer.from(await this.fetchManifest(m)).toString("utf8")) as { subject?: Descriptor; artifactType?: string; config?: Descriptor };
        if (j.subject?.digest === desc.digest) out.push({ ...strip(m), artifactType: j.artifactType ?? j.config?.mediaType });
      } catch {}
    }
    return out;
  }
}

function strip(d: Descriptor): Descriptor {
  const { mediaType, digest, size, annotations, platform } = d;
  return { mediaType, digest, size, ...(annotations ? { annotations } : {}), ...(platform ? { platform } : {}) };
}

