// Shared bits of the fault suite (test/faults/): hand-built OCI archives (so each test can break one thing),
// the realistic registry (TLS with a private CA + htpasswd) and the CLI run against it.
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { runCli, type CliResult } from "../support/cli.ts";
import type { TestRegistry } from "../support/registry.ts";
import { rawHeader } from "../support/tar-fixtures.ts";

export const sha = (b: Buffer) => "sha256:" + createHash("sha256").update(b).digest("hex");
const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
export const file = (name: string, data: Buffer | string) => {
  const d = Buffer.isBuffer(data) ? data : Buffer.from(data);
  return Buffer.concat([rawHeader(name, d.length, "0"), pad(d)]);
};
export const END = Buffer.alloc(1024);
export const OCI_LAYOUT = '{"imageLayoutVersion":"1.0.0"}';

export interface Image {
  manifest: Buffer;
  config: Buffer;
  layers: Buffer[];
  digest: string;
  /** tar entries of its blobs (manifest, config, layers) */
  blobs: Buffer[];
}

/** A small image: a config and layers with the given contents. */
export function image(layers: Buffer[], arch = "amd64"): Image {
  const config = Buffer.from(JSON.stringify({ architecture: arch, os: "linux", rootfs: { type: "layers", diff_ids: layers.map(sha) } }));
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha(config), size: config.length }, layers: layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha(l), size: l.length })) }));
  const blobs = [manifest, config, ...layers].map((b) => file(`blobs/sha256/${sha(b).slice(7)}`, b));
  return { manifest, config, layers, digest: sha(manifest), blobs };
}

/** index.json naming each image by a tag */
export function indexJson(roots: { img: Image; tag?: string }[]): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: roots.map((r) => ({ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: r.img.digest, size: r.img.manifest.length, ...(r.tag ? { annotations: { "org.opencontainers.image.ref.name": r.tag } } : {}) })) }));
}

export function writeArchive(dir: string, name: string, entries: Buffer[], gzip = /\.(t?gz)$/.test(name)): string {
  const p = join(dir, name);
  const tar = Buffer.concat([...entries, END]);
  writeFileSync(p, gzip ? gzipSync(tar) : tar);
  return p;
}

/**
 * Registry flags for the realistic registry: its CA, and its credentials in a docker config.json stored for
 * its host (and for `alsoFor` hosts: fault proxies in front of it), so they go to those hosts only.
 */
export function regFlags(reg: TestRegistry, alsoFor: string[] = []): string[] {
  const f: string[] = [];
  if (reg.tls) f.push("--ca-file", reg.caFile!);
  else f.push("--plain-http");
  if (reg.username) {
    const dir = mkdtempSync(join(tmpdir(), "ka-faults-cfg-"));
    const auth = reg.dockerConfig().auths[reg.host]!;
    writeFileSync(join(dir, "config.json"), JSON.stringify({ auths: Object.fromEntries([reg.host, ...alsoFor].map((h) => [h, auth])) }));
    f.push("--registry-config", join(dir, "config.json"));
  }
  return f;
}

export function mirror(reg: TestRegistry, args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number; alsoFor?: string[] } = {}): Promise<CliResult> {
  return runCli("kubectl-mirror", [...args, ...regFlags(reg, opts.alsoFor)], { env: { DOCKER_CONFIG: "/nonexistent", REGISTRY_USERNAME: undefined, REGISTRY_PASSWORD: undefined, ...opts.env }, cwd: opts.cwd, timeoutMs: opts.timeoutMs });
}

/** The digest a tag points at on the registry, or undefined (checked with the registry's own credentials). */
export async function tagDigest(reg: TestRegistry, repo: string, tag: string): Promise<string | undefined> {
  const { request } = await import(reg.tls ? "node:https" : "node:http");
  return new Promise((resolve, reject) => {
    const r = request(`${reg.url}/v2/${repo}/manifests/${tag}`, { method: "HEAD", ca: reg.ca?.certPem, headers: { accept: "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json", ...(reg.username ? { authorization: `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString("base64")}` } : {}) } } as any, (res: any) => {
      res.resume();
      resolve(res.statusCode === 200 ? res.headers["docker-content-digest"] : undefined);
    });
    r.on("error", reject);
    r.end();
  });
}
