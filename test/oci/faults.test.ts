// Faults injected by a proxy in front of the real registry: resets mid-blob (resumed with Range), 500s, 429 with
// Retry-After, truncated and altered bodies, resets mid-upload. The copy either finishes with correct digests or
// fails with a clear error — and never leaves a tag pointing at missing or corrupt content.
// The registries are the realistic kind (TLS, own private CA each, + htpasswd); the fault proxies in front of them
// speak plain HTTP (verifying each registry's CA upstream), so only the proxies' hosts are plain HTTP.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { pushWithSkopeo, skopeoInspectRaw, writeImageLayout, type WrittenLayout } from "../support/images.ts";
import { createClient } from "../../shared/oci/client.ts";
import { CopyEngine, type CopyResult } from "../../shared/oci/copy.ts";
import { RegistryRepository } from "../../shared/oci/registry.ts";
import { chainCredentials, staticCredentials } from "../../shared/oci/transport/credentials.ts";

const tmp = mkdtempSync(join(tmpdir(), "ka-faults-"));
let src: TestRegistry, dst: TestRegistry;
let srcProxy: FaultProxy, dstProxy: FaultProxy;
let img: WrittenLayout;
let n = 0;

beforeAll(async () => {
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  [srcProxy, dstProxy] = await Promise.all([startFaultProxy(src.url, { ca: readFileSync(src.caFile!, "utf8") }), startFaultProxy(dst.url, { ca: readFileSync(dst.caFile!, "utf8") })]);
  img = await writeImageLayout(join(tmp, "img"), { tag: "1.0", layers: [{ size: 3 << 20 }, { size: 1 << 20 }], gzipLevel: 0 } as any);
  await pushWithSkopeo(join(tmp, "img"), "1.0", `${src.host}/app/img:1.0`, src.skopeo);
}, 120_000);
afterAll(async () => {
  await Promise.all([srcProxy.stop(), dstProxy.stop(), src.stop(), dst.stop()]);
  rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  srcProxy.clear();
  dstProxy.clear();
});

/** copy through the proxies (in process: the proxies live in this process too) */
async function copyThrough(): Promise<{ result: CopyResult; repo: string }> {
  const repo = `faults/run${++n}`;
  const credentials = chainCredentials(staticCredentials({ username: src.username, password: src.password }, [srcProxy.host]), staticCredentials({ username: dst.username, password: dst.password }, [dstProxy.host]));
  const client = createClient({ plainHttp: [srcProxy.host, dstProxy.host], credentials, backoffMs: 20, retries: 4 });
  const [result] = await new CopyEngine({}).run([{ src: new RegistryRepository(client, srcProxy.host, "app/img"), srcRef: "1.0", dst: new RegistryRepository(client, dstProxy.host, repo), dstTags: ["1.0"] }]);
  client.transport.close();
  return { result: result!, repo };
}

/** straight to the destination registry: TLS with its CA, basic auth */
function atDst(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${dst.url}${path}`, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Basic ${Buffer.from(`${dst.username}:${dst.password}`).toString("base64")}` }, tls: { ca: readFileSync(dst.caFile!, "utf8") } } as RequestInit);
}

async function tagDigest(repo: string): Promise<string | undefined> {
  const r = await atDst(`/v2/${repo}/manifests/1.0`, { method: "HEAD", headers: { accept: "application/vnd.oci.image.manifest.v1+json" } });
  // only 200 or 404 answer the question (a 401 must not pass for "not tagged")
  if (r.status !== 200 && r.status !== 404) throw new Error(`HEAD ${repo}:1.0: HTTP ${r.status}`);
  return r.status === 200 ? r.headers.get("docker-content-digest") ?? undefined : undefined;
}

async function expectIntact(repo: string): Promise<void> {
  expect(await tagDigest(repo)).toBe(img.images[0]!.digest);
  expect((await skopeoInspectRaw(`${dst.host}/${repo}:1.0`, dst.skopeo)).digest).toBe(img.images[0]!.digest);
  // every blob under the tag is present and intact: fetch and hash each layer
  for (const l of img.images[0]!.manifests[0]!.layers) {
    const b = Buffer.from(await (await atDst(`/v2/${repo}/blobs/${l.digest}`)).arrayBuffer());
    expect("sha256:" + require("node:crypto").createHash("sha256").update(b).digest("hex")).toBe(l.digest);
  }
}

describe("recoverable faults", () => {
  test("a reset mid-blob is resumed with a Range request, not restarted", async () => {
    const big = img.images[0]!.manifests[0]!.layers[0]!.digest;
    srcProxy.setRules([{ method: "GET", path: new RegExp(`/blobs/${big}`), fault: "reset", afterBytes: 1 << 20, times: 1 }]);
    const { result, repo } = await copyThrough();
    expect(result.error).toBeUndefined();
    await expectIntact(repo);
    expect(srcProxy.calls.some((c) => c.range?.startsWith("bytes=") && c.status === 206)).toBe(true);
  });

  test("500s on manifests are retried", async () => {
    srcProxy.setRules([{ path: /\/manifests\//, fault: "500", times: 2 }]);
    const { result, repo } = await copyThrough();
    expect(result.error).toBeUndefined();
    await expectIntact(repo);
    expect(srcProxy.rules[0]!.hits).toBe(2);
  });

  test("429 with Retry-After is honoured", async () => {
    dstProxy.setRules([{ method: "HEAD", path: /\/blobs\//, fault: "429", retryAfter: 1, times: 1 }]);
    const t0 = Date.now();
    const { result, repo } = await copyThrough();
    expect(result.error).toBeUndefined();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    await expectIntact(repo);
  });

  test("a truncated body (full Content-Length, early close) is completed", async () => {
    srcProxy.setRules([{ method: "GET", path: /\/blobs\/sha256:/, fault: "truncate", afterBytes: 100_000, times: 1 }]);
    const { result, repo } = await copyThrough();
    expect(result.error).toBeUndefined();
    await expectIntact(repo);
  });

  test("an altered byte is caught by the digest check and the blob fetched again", async () => {
    srcProxy.setRules([{ method: "GET", path: /\/blobs\/sha256:/, fault: "corrupt", afterBytes: 10, times: 1 }]);
    const { result, repo } = await copyThrough();
    expect(result.error).toBeUndefined();
    await expectIntact(repo);
  });

  test("a reset mid-upload restarts that upload", async () => {
    dstProxy.setRules([{ method: "PUT", path: /\/blobs\/uploads\//, fault: "reset", side: "request", afterBytes: 512 * 1024, times: 1 }]);
    const { result, repo } = await copyThrough();
    expect(result.error).toBeUndefined();
    await expectIntact(repo);
  });
});

describe("persistent faults fail clearly and never tag", () => {
  test.each([
    ["always corrupt", { method: "GET", path: /\/blobs\/sha256:/, fault: "corrupt", afterBytes: 10, times: Infinity }, "src", /does not match/],
    ["always 500 on manifest PUT", { method: "PUT", path: /\/manifests\//, fault: "500", times: Infinity }, "dst", /HTTP 500|500/],
    ["always reset mid-upload", { method: "PUT", path: /\/blobs\/uploads\//, fault: "reset", side: "request", afterBytes: 1000, times: Infinity }, "dst", /upload of .* broke|reset|socket/i],
  ] as const)("%s", async (_name, rule, side, msg) => {
    (side === "src" ? srcProxy : dstProxy).setRules([rule as any]);
    const { result, repo } = await copyThrough();
    expect(result.status).toBe("failed");
    expect(result.error).toMatch(msg);
    expect(await tagDigest(repo)).toBeUndefined();
  });
});
