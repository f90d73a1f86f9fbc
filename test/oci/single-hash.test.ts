// Registry → registry copies hash each byte once: the destination checks the upload's ?digest= and stores
// nothing corrupt, so the copy does not hash the source stream as well on the first try. A corrupt byte is then
// refused by the registry (DIGEST_INVALID) — or, when the registry answers before the body ends, the upload
// breaks — and is fetched again with our own check; the image lands intact.
// TLS + htpasswd on both sides; the corrupting proxy sits in front of the source.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { createCA } from "../support/pki.ts";
import { pushArtifact } from "../../shared/oci/artifact.ts";
import { createClient } from "../../shared/oci/client.ts";
import { CopyEngine } from "../../shared/oci/copy.ts";
import { RegistryRepository } from "../../shared/oci/registry.ts";
import { OciArchiveReader, OciArchiveWriter } from "../../shared/oci/archive.ts";
import { DigestStream } from "../../shared/oci/digest.ts";
import type { TransformCallback } from "node:stream";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";

const tmp = mkdtempSync(join(tmpdir(), "ka-single-hash-"));
let src: TestRegistry, dst: TestRegistry, proxy: FaultProxy;
let layer: Buffer;
let digest: string;

beforeAll(async () => {
  const ca = createCA(mkdtempSync(join(tmp, "ca-")));
  [src, dst] = await Promise.all([startRegistry({ auth: "htpasswd", tls: ca }), startRegistry({ auth: "htpasswd", tls: ca })]);
  proxy = await startFaultProxy(src.url, { ca: readFileSync(src.caFile!, "utf8") });
  layer = randomBytes(2 << 20);
  const r = await pushArtifact(`${src.host}/app/img:1.0`, { config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from("{}") }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", bytes: layer }] }, { caFiles: [{ file: ca.cert }], credentials: staticCredentials({ username: src.username, password: src.password }) });
  digest = r.digest;
}, 120_000);
afterAll(async () => {
  await Promise.all([proxy?.stop(), src?.stop(), dst?.stop()]);
  rmSync(tmp, { recursive: true, force: true });
});

function clientFor(): ReturnType<typeof createClient> {
  const creds = new Map([[proxy.host, { username: src.username, password: src.password }], [dst.host, { username: dst.username, password: dst.password }]]);
  return createClient({ caFiles: [{ file: src.caFile! }], plainHttp: [proxy.host], credentials: async (h) => creds.get(h), backoffMs: 20 });
}

test("registry → registry: the first fetch of each blob leaves the digest to the destination", async () => {
  const client = clientFor();
  try {
    const from = new RegistryRepository(client, proxy.host, "app/img");
    const seen: { digest: string; verify?: boolean }[] = [];
    const fetchBlob = from.fetchBlob.bind(from);
    from.fetchBlob = (d, o) => (seen.push({ digest: d.digest, verify: o?.verify }), fetchBlob(d, o));
    const [r] = await new CopyEngine({}).run([{ src: from, srcRef: "1.0", dst: new RegistryRepository(client, dst.host, "spy/img"), dstTags: ["1.0"] }]);
    expect(r!.error).toBeUndefined();
    expect(seen.length).toBe(2); // config + layer
    for (const x of seen) expect(x.verify).toBe(false);
  } finally {
    client.transport.close();
  }
}, 60_000);

test("fetchBlob({ verify: false }) passes bytes through unhashed; the default still refuses a corrupt body", async () => {
  const client = clientFor();
  try {
    const from = new RegistryRepository(client, proxy.host, "app/img");
    const layerDesc = { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: `sha256:${createHash("sha256").update(layer).digest("hex")}`, size: layer.length };
    proxy.setRules([{ method: "GET", path: /\/blobs\/sha256:/, fault: "corrupt", afterBytes: 1000, times: Infinity }]);
    const chunks: Buffer[] = [];
    for await (const c of await from.fetchBlob(layerDesc, { verify: false })) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).length).toBe(layer.length);
    expect(Buffer.concat(chunks).equals(layer)).toBe(false);
    const drain = async () => {
      for await (const _ of await from.fetchBlob(layerDesc)) void _;
    };
    await expect(drain()).rejects.toThrow(/does not match/);
    proxy.clear();
  } finally {
    client.transport.close();
  }
}, 60_000);

test("a corrupt source byte is refused by the destination, fetched again, and the image lands intact", async () => {
  proxy.setRules([{ method: "GET", path: /\/blobs\/sha256:/, fault: "corrupt", afterBytes: 1000, times: 1 }]);
  const client = clientFor();
  try {
    const [r] = await new CopyEngine({}).run([{ src: new RegistryRepository(client, proxy.host, "app/img"), srcRef: "1.0", dst: new RegistryRepository(client, dst.host, "mirror/img"), dstTags: ["1.0"] }]);
    expect(r!.error).toBeUndefined();
    expect(r!.digest).toBe(digest);
    const got = Buffer.from(await (await fetch(`${dst.url}/v2/mirror/img/blobs/sha256:${createHash("sha256").update(layer).digest("hex")}`, { headers: { authorization: `Basic ${Buffer.from(`${dst.username}:${dst.password}`).toString("base64")}` }, tls: { ca: readFileSync(dst.caFile!, "utf8") } } as any)).arrayBuffer());
    expect(got.equals(layer)).toBe(true);
  } finally {
    client.transport.close();
  }
}, 60_000);

test("progress counts each byte of a registry download once, in the verifying stream the upload reads", async () => {
  const client = clientFor();
  try {
    const from = new RegistryRepository(client, proxy.host, "app/img");
    const streams = new Map<string, unknown>();
    const fetchBlob = from.fetchBlob.bind(from);
    from.fetchBlob = async (d, o) => {
      const s = await fetchBlob(d, o);
      streams.set(d.digest, s);
      return s;
    };
    let progress = 0;
    const [r] = await new CopyEngine({ onEvent: (e) => void (e.type === "progress" && (progress += e.bytes)) }).run([{ src: from, srcRef: "1.0", dst: new RegistryRepository(client, dst.host, "progress/img"), dstTags: ["1.0"] }]);
    expect(r!.error).toBeUndefined();
    // every blob uploaded (config "{}" and layer) counted exactly once, bytes read before the hook included
    expect(progress).toBe(layer.length + 2);
    // no pass-through layer on top of the download: the upload reads the verifying stream itself
    const layerDigest = `sha256:${createHash("sha256").update(layer).digest("hex")}`;
    expect(typeof (streams.get(layerDigest) as { onBytes?: unknown }).onBytes).toBe("function");
  } finally {
    client.transport.close();
  }
}, 60_000);

test("registry → archive: each byte is hashed once (the download's check, not a second one by the archive writer); the archive reads back intact", async () => {
  const client = clientFor();
  const out = join(tmp, "once.tar");
  let hashed = 0;
  const transform = DigestStream.prototype._transform;
  DigestStream.prototype._transform = function (this: DigestStream, chunk: Buffer, enc: BufferEncoding, cb: TransformCallback) {
    hashed += chunk.length;
    return transform.call(this, chunk, enc, cb);
  };
  try {
    const dstArchive = new OciArchiveWriter(out, {});
    const [r] = await new CopyEngine({}).run([{ src: new RegistryRepository(client, proxy.host, "app/img"), srcRef: "1.0", dst: dstArchive, dstTags: ["1.0"] }]);
    expect(r!.error).toBeUndefined();
    await dstArchive.close();
    expect(hashed).toBeGreaterThanOrEqual(layer.length);
    expect(hashed).toBeLessThan(layer.length + 4096); // before: twice the layer
  } finally {
    DigestStream.prototype._transform = transform;
    client.transport.close();
  }
  const reader = await OciArchiveReader.open(out);
  try {
    const chunks: Buffer[] = [];
    for await (const c of await reader.fetchBlob({ mediaType: "application/octet-stream", digest: `sha256:${createHash("sha256").update(layer).digest("hex")}`, size: layer.length })) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(layer)).toBe(true);
  } finally {
    await reader.close();
  }
}, 60_000);

test("registry → archive: a corrupt source byte still fails the blob (the download's own check)", async () => {
  proxy.setRules([{ method: "GET", path: /\/blobs\/sha256:/, fault: "corrupt", afterBytes: 1000, times: Infinity }]);
  const client = clientFor();
  try {
    const dstArchive = new OciArchiveWriter(join(tmp, "corrupt.tar"), {});
    const [r] = await new CopyEngine({}).run([{ src: new RegistryRepository(client, proxy.host, "app/img"), srcRef: "1.0", dst: dstArchive, dstTags: ["1.0"] }]);
    expect(String(r!.error)).toMatch(/does not match/);
    await dstArchive.close().catch(() => {});
  } finally {
    proxy.clear();
    client.transport.close();
  }
}, 60_000);
