// The manifests.tgz artifact, shaped exactly like ORAS 1.0.0's default `oras push REF manifests.tgz`:
// OCI image manifest; config `{}` typed application/vnd.unknown.config.v1+json; one layer
// application/vnd.oci.image.layer.v1.tar titled manifests.tgz; annotation org.opencontainers.image.created
// (RFC 3339, UTC, seconds); no artifactType. Blobs go up monolithically (POST → PUT ?digest=), which ECR needs.
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { createGunzip } from "node:zlib";
import { readTar } from "../../../shared/tar/stream.ts";
import { createClient, type RegistryOptions } from "../../../shared/oci/client.ts";
import { NotFoundError, OciError, RegistryError } from "../../../shared/oci/errors.ts";
import { MT } from "../../../shared/oci/media-types.ts";
import { apiHost, parseReference, type RegistryReference } from "../../../shared/oci/reference.ts";
import { RegistryRepository } from "../../../shared/oci/registry.ts";
import { pushArtifact, type ArtifactSpec } from "../../../shared/oci/artifact.ts";
import { pushScope, type AuthClient } from "../../../shared/oci/transport/auth.ts";
import type { ImageManifest } from "../../../shared/oci/types.ts";
import { sortVersions } from "../../../shared/version/order.ts";
import { ARCHIVE_NAME, manifestRepository } from "./constants.ts";
import { ScarError } from "./errors.ts";
import { fileDigest } from "./package.ts";

export const TITLE = "org.opencontainers.image.title";
export const CREATED = "org.opencontainers.image.created";
/** the 2-byte config ORAS 1.0.0 writes */
export const EMPTY_CONFIG = new TextEncoder().encode("{}");

export interface Target {
  registry: string;
  basePath: string;
  tag: string;
}

export function targetReference(t: Target): string {
  const ref = `${t.registry.replace(/^(https?|oci):\/\//, "").replace(/\/+$/, "")}/${manifestRepository(t.basePath)}:${t.tag}`;
  try {
    const r = parseReference(ref);
    if (r.kind !== "registry") throw new Error("not a registry");
  } catch (e) {
    throw new ScarError(`invalid target ${ref}: ${(e as Error).message}`, "check --registry (HOST[:PORT]), --base-path and --tag");
  }
  return ref;
}

function registryRef(t: Target): RegistryReference {
  return parseReference(targetReference(t)) as RegistryReference;
}

/** RFC 3339, UTC, second precision (Go's time.RFC3339 of time.Now().UTC()). */
export function createdNow(now = new Date()): string {
  return now.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function orasSpec(file: string, created = createdNow()): ArtifactSpec {
  return {
    config: { mediaType: MT.unknownConfig, bytes: EMPTY_CONFIG },
    layers: [{ mediaType: MT.ociLayer, file, annotations: { [TITLE]: ARCHIVE_NAME } }],
    annotations: { [CREATED]: created },
  };
}

export interface PushResult {
  reference: string;
  digest: string;
  layerDigest: string;
  size: number;
  created: string;
  /** false when the tag already held this archive (nothing pushed) */
  pushed: boolean;
}

export interface Pushed {
  digest: string;
  layerDigest?: string;
  created?: string;
  /** the manifest has the ORAS 1.0.0 shape */
  orasShape: boolean;
}

/** What the tag holds now (undefined when the tag or repository does not exist). */
export async function inspectPushed(t: Target, client: AuthClient): Promise<Pushed | undefined> {
  const ref = registryRef(t);
  const repo = RegistryRepository.fromReference(client, ref);
  let desc;
  try {
    desc = await repo.resolve(t.tag);
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    if (e instanceof RegistryError && e.status === 404) return undefined;
    throw e;
  }
  const bytes = await repo.fetchManifest(desc);
  let m: ImageManifest;
  try {
    m = JSON.parse(Buffer.from(bytes).toString("utf8")) as ImageManifest;
  } catch {
    return { digest: desc.digest, orasShape: false };
  }
  const layer = m.layers?.length === 1 ? m.layers[0] : undefined;
  return { digest: desc.digest, layerDigest: layer?.digest, created: m.annotations?.[CREATED], orasShape: checkOrasShape(m).length === 0 };
}

/** Differences from the ORAS 1.0.0 shape (empty = conforming). */
export function checkOrasShape(m: ImageManifest): string[] {
  const bad: string[] = [];
  if (m.schemaVersion !== 2) bad.push("schemaVersion is not 2");
  if (m.mediaType !== MT.ociManifest) bad.push(`mediaType ${m.mediaType} is not ${MT.ociManifest}`);
  if ("artifactType" in m) bad.push("has artifactType");
  if (m.config?.mediaType !== MT.unknownConfig) bad.push(`config mediaType ${m.config?.mediaType} is not ${MT.unknownConfig}`);
  if (m.config?.size !== 2) bad.push("config is not the 2-byte {}");
  if (m.layers?.length !== 1) bad.push(`has ${m.layers?.length ?? 0} layers, not 1`);
  const l = m.layers?.[0];
  if (l && l.mediaType !== MT.ociLayer) bad.push(`layer mediaType ${l.mediaType} is not ${MT.ociLayer}`);
  if (l && l.annotations?.[TITLE] !== ARCHIVE_NAME) bad.push(`layer title is not ${ARCHIVE_NAME}`);
  if (!m.annotations?.[CREATED]) bad.push(`no ${CREATED} annotation`);
  return bad;
}

/**
 * Push FILE as the ORAS-shaped artifact to <registry>/<base>/spectro-manifests/manifest:<tag>. When the tag
 * already holds an ORAS-shaped manifest of the same archive (same layer digest), nothing is pushed (idempotent).
 */
export async function pushManifests(file: string, t: Target, opts: { registry: RegistryOptions; client?: AuthClient; force?: boolean; dryRun?: boolean }): Promise<PushResult> {
  const reference = targetReference(t);
  const client = opts.client ?? createClient(opts.registry);
  await checkGzipTar(file);
  const { digest: layerDigest, size } = await fileDigest(file).catch((e) => {
    throw new ScarError(`cannot read ${file}: ${(e as Error).message}`, "give the manifests.tgz made by `kubectl scar package`");
  });
  if (!opts.force) {
    const cur = await inspectPushed(t, client).catch(() => undefined);
    if (cur && cur.orasShape && cur.layerDigest === layerDigest) {
      return { reference, digest: cur.digest, layerDigest, size, created: cur.created ?? "", pushed: false };
    }
  }
  const created = createdNow();
  if (opts.dryRun) return { reference, digest: "", layerDigest, size, created, pushed: false };
  try {
    const r = await pushArtifact(reference, orasSpec(file, created), { client });
    return { reference, digest: r.digest, layerDigest, size, created, pushed: true };
  } catch (e) {
    throw explainRegistryError(e, t);
  }
}

function explainRegistryError(e: unknown, t: Target): unknown {
  if (e instanceof NotFoundError || (e instanceof RegistryError && (e.status === 404 || e.code === "NAME_UNKNOWN"))) {
    return new ScarError(
      `registry ${t.registry} has no repository ${manifestRepository(t.basePath)}: ${(e as Error).message}`,
      `ECR: aws ecr create-repository --repository-name ${manifestRepository(t.basePath)}; Harbor: create the project "${t.basePath.split("/")[0]}" first`,
    );
  }
  return e;
}

/**
 * Check that the credentials may push to the repository without writing anything: open an upload session
 * (POST /v2/<repo>/blobs/uploads/ → 202) and cancel it (DELETE).
 */
export async function probePush(t: Target, client: AuthClient): Promise<void> {
  const ref = registryRef(t);
  const host = apiHost(ref.registry);
  const base = `${client.transport.baseUrl(host)}/v2/${ref.repository}`;
  let res;
  try {
    res = await client.request({ method: "POST", url: `${base}/blobs/uploads/`, host, scopes: [pushScope(ref.repository)], headers: { "content-length": "0" }, body: "", retry: true });
  } catch (e) {
    throw explainRegistryError(e, t);
  }
  if (res.status === 202) {
    const loc = res.header("location");
    await res.drain();
    if (loc) {
      const r2 = await client.request({ method: "DELETE", url: new URL(loc, base).toString(), host, scopes: [pushScope(ref.repository)] }).catch(() => undefined);
      await r2?.drain();
    }
    return;
  }
  const text = await res.text().catch(() => "");
  if (res.status === 401 || res.status === 403) throw new ScarError(`registry ${ref.registry} does not allow pushing to ${ref.repository} (HTTP ${res.status})`, "use credentials with push permission (--registry-username + --password-stdin, or docker config.json)");
  if (res.status === 404) throw explainRegistryError(new RegistryError(404, "POST", `${base}/blobs/uploads/`, [{ code: "NAME_UNKNOWN", message: text.slice(0, 200) }]), t);
  throw new OciError(`registry ${ref.registry} refused an upload to ${ref.repository}: HTTP ${res.status} ${text.slice(0, 200).replace(/\s+/g, " ")}`, `HTTP_${res.status}`);
}

/** Tags of the manifest repository, sorted (versions numerically: 0.0.0 4.5.9 4.5.13); empty when it does not exist yet. */
export async function repositoryTags(t: Target, client: AuthClient): Promise<string[]> {
  const repo = RegistryRepository.fromReference(client, registryRef(t));
  return sortTags(await repo.tags());
}

export function sortTags(tags: string[]): string[] {
  return sortVersions(tags);
}

/**
 * Check that FILE is a gzip'd tar (what `tar -czf` and `kubectl scar package` write), reading it as a stream:
 * the whole gzip stream (its CRC included) and every tar header. Specman extracts it, so anything else would
 * be published as manifests.tgz and break the sync.
 */
export async function checkGzipTar(file: string): Promise<{ entries: number }> {
  const hint = "push the manifests.tgz made by `kubectl scar package DIR` (or `cd DIR && tar -czf manifests.tgz .`)";
  const fh = await open(file, "r").catch((e) => {
    throw new ScarError(`cannot read ${file}: ${(e as Error).message}`, hint);
  });
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    if (bytesRead < 2 || head[0] !== 0x1f || head[1] !== 0x8b) throw new ScarError(`${file} is not a gzip'd tar archive (it does not start with the gzip signature)`, hint);
  } finally {
    await fh.close();
  }
  let entries = 0;
  try {
    const gunzip = createReadStream(file).pipe(createGunzip());
    for await (const e of readTar(gunzip)) {
      void e;
      entries++;
    }
  } catch (e) {
    throw new ScarError(`${file} is not a valid gzip'd tar archive: ${(e as Error).message}`, hint);
  }
  if (!entries) throw new ScarError(`${file} is an empty tar archive`, hint);
  return { entries };
}
