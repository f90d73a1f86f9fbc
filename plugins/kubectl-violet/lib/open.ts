// Opening a package's OCI layout for push. Packages written by `kubectl violet package` list the graph
// (index.json, manifests, configs) before the layers, so the compressed file is read in one sequential pass.
// A package re-packed by hand (`tar czf` in directory order) may have the graph after the layers: then the
// package is decompressed once to a temporary plain tar (streamed, constant memory) and read by random access.
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { isIndex, isManifest, OciArchiveReader, OciError, type Descriptor } from "../../../shared/oci/index.ts";
import { removeOnInterrupt } from "../../../shared/runtime/interrupt.ts";

/** Can every manifest, index and config the roots reach be read from what was opened? */
async function graphComplete(src: OciArchiveReader): Promise<boolean> {
  const seen = new Set<string>();
  const walk = async (d: Descriptor): Promise<void> => {
    if (seen.has(d.digest)) return;
    seen.add(d.digest);
    const j = JSON.parse(Buffer.from(await src.fetchManifest(d)).toString("utf8"));
    if (isIndex(d.mediaType) || Array.isArray(j.manifests)) for (const m of j.manifests ?? []) await walk(m);
    else if (j.config && !src.canFetch(j.config)) throw new OciError(`config ${j.config.digest} not reachable`, "NOT_FOUND");
  };
  try {
    for (const r of src.roots()) if (isManifest(r.desc.mediaType) || isIndex(r.desc.mediaType) || r.desc.mediaType === undefined) await walk(r.desc);
    return true;
  } catch (e) {
    if (e instanceof OciError) return false;
    throw e;
  }
}

export interface OpenedPackage {
  src: OciArchiveReader;
  close(): Promise<void>;
}

export async function openPackageLayout(file: string, log?: (line: string) => void): Promise<OpenedPackage> {
  let src: OciArchiveReader | undefined;
  try {
    src = await OciArchiveReader.open(file);
    if (!src.sequential || (await graphComplete(src))) return { src, close: () => src!.close() };
    await src.close();
  } catch (e) {
    await src?.close().catch(() => {});
    if (!(e instanceof OciError && (e.code === "BAD_ARCHIVE" || e.code === "NOT_FOUND"))) throw e;
  }
  log?.(`note: ${file} lists its layers before index.json (re-packed by hand?); unpacking it to a temporary file first`);
  const dir = await mkdtemp(join(tmpdir(), "violet-spill-"));
  const unregister = removeOnInterrupt(`unpacking ${file}`, dir);
  try {
    const tar = join(dir, "package.tar");
    await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), createGunzip(), createWriteStream(tar));
    const plain = await OciArchiveReader.open(tar);
    return {
      src: plain,
      close: async () => {
        await plain.close();
        await rm(dir, { recursive: true, force: true });
        unregister();
      },
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    unregister();
    throw e;
  }
}
