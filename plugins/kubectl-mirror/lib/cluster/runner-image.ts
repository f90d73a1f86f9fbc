// The in-cluster runner image, built without docker: the base image the user names (any glibc image already in
// the registry, e.g. a distroless "cc" image) plus one layer holding this plugin's linux binary at
// /usr/local/bin/kubectl-mirror, pushed into the destination registry so an air-gapped cluster can pull it.
// Rebuilt only when the base or the binary changed (both are recorded as annotations on the manifest).
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { Readable, Transform } from "node:stream";
import { fileURLToPath } from "node:url";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { version } from "../../../../shared/cli/version.ts";
import type { AuthClient } from "../../../../shared/oci/transport/auth.ts";
import { sha256 } from "../../../../shared/oci/digest.ts";
import { NotFoundError, OciError } from "../../../../shared/oci/errors.ts";
import { isIndex, MT } from "../../../../shared/oci/media-types.ts";
import { parseRegistryReference } from "../../../../shared/oci/reference.ts";
import { RegistryRepository } from "../../../../shared/oci/registry.ts";
import type { Descriptor, ImageIndex, ImageManifest } from "../../../../shared/oci/types.ts";
import { tarStream } from "../../../../shared/tar/stream.ts";

export const RUNNER_PATH = "/usr/local/bin/kubectl-mirror";
const A_BINARY = "io.kube-airgap.runner.binary";
const A_BASE = "io.kube-airgap.runner.base";

export type Arch = "amd64" | "arm64";

/**
 * The plugin's linux binary for `arch`: --runner-binary, else this very executable when it is a compiled linux
 * kubectl-mirror of that arch, else dist/bin/linux-<x64|arm64>/kubectl-mirror of a source checkout.
 */
export function findRunnerBinary(arch: Arch, explicit?: string): string {
  if (explicit) {
    if (!existsSync(explicit)) throw new OciError(`--runner-binary ${explicit}: no such file`, "BAD_INPUT");
    return resolve(explicit);
  }
  const nodeArch = arch === "amd64" ? "x64" : "arm64";
  if (process.platform === "linux" && process.arch === nodeArch && basename(process.execPath).startsWith("kubectl-mirror")) return process.execPath;
  const dist = resolve(fileURLToPath(new URL("../../../../dist/bin", import.meta.url)), `linux-${nodeArch}`, "kubectl-mirror");
  if (existsSync(dist)) return dist;
  throw new OciError(
    `no linux/${arch} kubectl-mirror binary to put in the runner image`,
    "BAD_INPUT",
    `run the released linux/${arch} binary of kubectl mirror, or give --runner-binary FILE (build one with: bun scripts/build.ts --plugin kubectl-mirror --target linux-${nodeArch})`,
  );
}

async function fileSha256(file: string): Promise<string> {
  const h = createHash("sha256");
  await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), h);
  return `sha256:${h.digest("hex")}`;
}

/** tar.gz of usr/local/bin/kubectl-mirror (0755): diffID (tar) and digest (gzip), written to a temp file. */
async function binaryLayer(binary: string, dir: string): Promise<{ file: string; diffId: string; desc: Descriptor }> {
  const size = (await stat(binary)).size;
  const file = join(dir, "layer.tar.gz");
  const tarHash = createHash("sha256");
  const gzHash = createHash("sha256");
  let gzSize = 0;
  const tap = (h: ReturnType<typeof createHash>, count?: (n: number) => void) =>
    new Transform({
      transform(chunk: Buffer, _e, cb) {
        h.update(chunk);
        count?.(chunk.length);
        cb(null, chunk);
      },
    });
  const tar = Readable.from(tarStream([{ name: RUNNER_PATH.slice(1), size, mode: 0o755, mtime: 0, data: () => createReadStream(binary, { highWaterMark: 1 << 20 }) }]));
  await pipeline(tar, tap(tarHash), createGzip({ level: 6 }), tap(gzHash, (n) => (gzSize += n)), createWriteStream(file));
  return { file, diffId: `sha256:${tarHash.digest("hex")}`, desc: { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: `sha256:${gzHash.digest("hex")}`, size: gzSize } };
}

export interface RunnerImage {
  /** repo@digest, what the pods run */
  image: string;
  tag: string;
  built: boolean;
}

/** The runner repository next to the mirrored content: <dest>/kube-airgap/mirror-runner */
export function runnerRepository(dest: string): string {
  return `${dest.replace(/\/+$/, "")}/kube-airgap/mirror-runner`;
}

export function runnerTag(arch: Arch): string {
  return `${version.replace(/[^A-Za-z0-9_.-]/g, "_")}-linux-${arch}`;
}

/** Build (or reuse) the runner image in `repository` from `base` (both on registries the client reaches). */
export async function buildRunnerImage(client: AuthClient, o: { base: string; repository: string; arch: Arch; binary: string; log?: (m: string) => void }): Promise<RunnerImage> {
  const baseRef = parseRegistryReference(o.base);
  const baseRepo = RegistryRepository.fromReference(client, baseRef);
  const dstRef = parseRegistryReference(`${o.repository}:x`);
  const dst = RegistryRepository.fromReference(client, dstRef);
  const tag = runnerTag(o.arch);
  // the base manifest for linux/<arch>
  let root: Descriptor;
  try {
    root = await baseRepo.resolve(baseRef.digest ?? baseRef.tag ?? "latest");
  } catch (e) {
    if (e instanceof NotFoundError) throw new OciError(`--runner-base ${o.base}: not found`, "NOT_FOUND", "name an image that is in your registry (e.g. a distroless cc image you mirrored)");
    throw e;
  }
  let mbytes = await baseRepo.fetchManifest(root);
  let mdesc = root;
  if (isIndex(root.mediaType)) {
    const idx = JSON.parse(Buffer.from(mbytes).toString("utf8")) as ImageIndex;
    const child = idx.manifests.find((m) => m.platform?.os === "linux" && m.platform.architecture === o.arch);
    if (!child) throw new OciError(`--runner-base ${o.base}: no linux/${o.arch} image in it (has: ${idx.manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`).join(", ")})`, "PLATFORM_NOT_FOUND");
    mdesc = child;
    mbytes = await baseRepo.fetchManifest(child);
  }
  const binDigest = await fileSha256(o.binary);
  // reuse: the tag already points at an image of this base and this binary
  try {
    const have = await dst.resolve(tag);
    const m = JSON.parse(Buffer.from(await dst.fetchManifest(have)).toString("utf8")) as ImageManifest;
    const labels = JSON.parse((await readAll(await dst.fetchBlob(m.config))).toString("utf8"))?.config?.Labels ?? {};
    if (labels[A_BINARY] === binDigest && labels[A_BASE] === mdesc.digest) return { image: `${o.repository}@${have.digest}`, tag, built: false };
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
  }
  o.log?.(`building the runner image ${o.repository}:${tag} (${o.base} + ${basename(o.binary)})`);
  const base = JSON.parse(Buffer.from(mbytes).toString("utf8")) as ImageManifest;
  const cfg = JSON.parse(Buffer.from(await readAll(await baseRepo.fetchBlob(base.config))).toString("utf8"));
  if (cfg.architecture && cfg.architecture !== o.arch) throw new OciError(`--runner-base ${o.base} is ${cfg.os}/${cfg.architecture}; the cluster needs linux/${o.arch}`, "PLATFORM_NOT_FOUND");
  const dir = await mkdtemp(join(tmpdir(), "ka-runner-"));
  try {
    const layer = await binaryLayer(o.binary, dir);
    const docker = base.mediaType === MT.dockerManifest;
    layer.desc.mediaType = docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip" : "application/vnd.oci.image.layer.v1.tar+gzip";
    const config = {
      ...cfg,
      config: { ...(cfg.config ?? {}), Entrypoint: [RUNNER_PATH], Cmd: ["--help"], Labels: { ...(cfg.config?.Labels ?? {}), [A_BINARY]: binDigest, [A_BASE]: mdesc.digest } },
      rootfs: { type: "layers", diff_ids: [...(cfg.rootfs?.diff_ids ?? []), layer.diffId] },
      history: [...(cfg.history ?? []), { created: new Date(0).toISOString(), created_by: `kubectl mirror runner image: ${RUNNER_PATH} (${version})` }],
    };
    const cbytes = Buffer.from(JSON.stringify(config));
    const cdesc: Descriptor = { mediaType: base.config.mediaType, digest: sha256(cbytes), size: cbytes.length };
    // base layers: present, mounted from the base repository, or copied
    for (const l of base.layers) {
      if (await dst.exists(l)) continue;
      if (await dst.mountFrom(l, baseRepo)) continue;
      await dst.pushBlob(l, () => baseRepo.fetchBlob(l));
    }
    if (!(await dst.exists(layer.desc))) await dst.pushBlob(layer.desc, async () => createReadStream(layer.file, { highWaterMark: 1 << 20 }));
    if (!(await dst.exists(cdesc))) await dst.pushBlob(cdesc, async () => Readable.from([cbytes]));
    const manifest: ImageManifest = { ...base, config: cdesc, layers: [...base.layers, layer.desc] };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const desc: Descriptor = { mediaType: base.mediaType ?? MT.ociManifest, digest: sha256(bytes), size: bytes.length };
    await dst.pushManifest(desc, bytes, [tag]);
    return { image: `${o.repository}@${desc.digest}`, tag, built: true };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
