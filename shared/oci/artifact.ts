// Push a small artifact (config + layers from files or bytes) as an OCI image manifest — Helm charts,
// ORAS-shaped pushes, package metadata. Layers from files are streamed; blobs are uploaded before the manifest.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { createClient, openTarget, type RegistryOptions } from "./client.ts";
import { fileDigest, sha256 } from "./digest.ts";
import { MT } from "./media-types.ts";
import type { Store } from "./store.ts";
import type { Descriptor, ImageManifest } from "./types.ts";
import type { AuthClient } from "./transport/auth.ts";
import { formatReference } from "./reference.ts";

export interface ArtifactLayer {
  mediaType: string;
  file?: string;
  bytes?: Uint8Array;
  annotations?: Record<string, string>;
}

export interface ArtifactSpec {
  config: { mediaType: string; bytes: Uint8Array };
  layers: ArtifactLayer[];
  annotations?: Record<string, string>;
  artifactType?: string;
  subject?: Descriptor;
}

/** Build the manifest and push blobs + manifest into a store; tags point at it only at the end. */
export async function pushArtifactTo(store: Store, tags: string[], spec: ArtifactSpec): Promise<{ digest: string; size: number; manifest: ImageManifest; bytes: Uint8Array }> {
  const configDesc: Descriptor = { mediaType: spec.config.mediaType, digest: sha256(spec.config.bytes), size: spec.config.bytes.byteLength };
  const layers: Descriptor[] = [];
  for (const l of spec.layers) {
    const { digest, size } = l.file ? await fileDigest(l.file) : { digest: sha256(l.bytes!), size: l.bytes!.byteLength };
    if (l.file && (await stat(l.file)).size !== size) throw new Error(`${l.file} changed while it was read`);
    layers.push({ mediaType: l.mediaType, digest, size, ...(l.annotations ? { annotations: l.annotations } : {}) });
  }
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    ...(spec.artifactType ? { artifactType: spec.artifactType } : {}),
    config: configDesc,
    layers,
    ...(spec.subject ? { subject: spec.subject } : {}),
    ...(spec.annotations ? { annotations: spec.annotations } : {}),
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const desc: Descriptor = { mediaType: MT.ociManifest, digest: sha256(bytes), size: bytes.length };
  if (!(await store.exists(configDesc))) await store.pushBlob(configDesc, async () => Readable.from([Buffer.from(spec.config.bytes)]));
  for (let i = 0; i < layers.length; i++) {
    const l = spec.layers[i]!;
    const d = layers[i]!;
    if (await store.exists(d)) continue;
    await store.pushBlob(d, async () => (l.file ? createReadStream(l.file, { highWaterMark: 1 << 20 }) : Readable.from([Buffer.from(l.bytes!)])));
  }
  await store.pushManifest(desc, bytes, tags);
  return { digest: desc.digest, size: desc.size, manifest, bytes };
}

/** Push an artifact to a reference (registry, oci-layout:DIR). */
export async function pushArtifact(ref: string, spec: ArtifactSpec, opts: RegistryOptions | { client: AuthClient; chunkSize?: number } = {}): Promise<{ digest: string; size: number; reference: string; manifest: ImageManifest }> {
  const client = "client" in opts ? opts.client : createClient(opts);
  const t = await openTarget(ref, client, "client" in opts ? { chunkSize: opts.chunkSize } : opts);
  const r = await pushArtifactTo(t.store, t.tags, spec);
  await t.store.close?.();
  return { digest: r.digest, size: r.size, reference: formatReference({ ...t.ref, digest: undefined }), manifest: r.manifest };
}
