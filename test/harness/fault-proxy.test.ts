// Self-tests of test/support/fault-proxy.ts in front of the real docker-registry: pass-through, Range,
// Location rewriting, every fault kind (seen by curl/fetch), and streaming of big blobs both ways.
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { pushWithSkopeo, run, skopeoInspectRaw, writeImageLayout, type WrittenLayout } from "../support/images.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";

// bunfig's [test] timeout is not applied by this bun; these tests run real registries/skopeo/helm.
setDefaultTimeout(60_000);

let work: string;
let reg: TestRegistry;
let proxy: FaultProxy;
let layout: WrittenLayout;
let blob: { digest: string; bytes: Buffer; path: string };

const sha = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** curl through the proxy: exit code, bytes received, http status */
async function curl(url: string, extra: string[] = [], out = "/dev/null") {
  const r = await run("curl", ["-sS", "-o", out, "-w", "%{http_code} %{size_download}", ...extra, url], { timeoutMs: 30_000 });
  const [code, size] = r.stdout.toString().trim().split(" ");
  return { exit: r.code, status: Number(code), size: Number(size), stderr: r.stderr };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "ka-harness-proxy-"));
  reg = await startRegistry({ auth: "none", tls: false });
  proxy = await startFaultProxy(reg.url);
  layout = await writeImageLayout(join(work, "layout"), { tag: "v1", layers: [{ size: 300_000 }] });
  await pushWithSkopeo(layout.dir, "v1", `${reg.host}/p/app:v1`, reg.skopeo);
  const l = layout.images[0]!.manifests[0]!.layers[0]!;
  const path = join(layout.dir, "blobs/sha256", l.digest.slice(7));
  blob = { digest: l.digest, bytes: readFileSync(path), path };
});

afterAll(async () => {
  await proxy?.stop();
  await reg?.stop();
  rmSync(work, { recursive: true, force: true });
});

const blobUrl = () => `${proxy.url}/v2/p/app/blobs/${blob.digest}`;

describe("pass-through", () => {
  test("GET a blob through the proxy returns the exact bytes; the call is logged", async () => {
    proxy.clear();
    const r = await fetch(blobUrl());
    expect(r.status).toBe(200);
    const got = Buffer.from(await r.arrayBuffer());
    expect(sha(got)).toBe(blob.digest);
    expect(proxy.calls).toHaveLength(1);
    expect(proxy.calls[0]).toMatchObject({ method: "GET", path: `/v2/p/app/blobs/${blob.digest}`, status: 200, bytesOut: blob.bytes.length, contentLength: blob.bytes.length });
    expect(proxy.calls[0]!.fault).toBeUndefined();
  });

  test("Range requests are forwarded (206 with the right slice)", async () => {
    const r = await fetch(blobUrl(), { headers: { range: "bytes=1000-1999" } });
    expect(r.status).toBe(206);
    expect(r.headers.get("content-range")).toBe(`bytes 1000-1999/${blob.bytes.length}`);
    expect(Buffer.from(await r.arrayBuffer()).equals(blob.bytes.subarray(1000, 2000))).toBe(true);
    expect(proxy.calls.at(-1)!.range).toBe("bytes=1000-1999");
  });

  test("upload Location headers are rewritten to the proxy, and a whole skopeo push via the proxy works", async () => {
    const r = await fetch(`${proxy.url}/v2/p/up/blobs/uploads/`, { method: "POST" });
    expect(r.status).toBe(202);
    expect(r.headers.get("location")!.startsWith(`${proxy.url}/v2/p/up/blobs/uploads/`)).toBe(true);
    await fetch(r.headers.get("location")!, { method: "DELETE" });
    proxy.clear();
    await pushWithSkopeo(layout.dir, "v1", `${proxy.host}/p/via-proxy:v1`, { tlsVerify: false });
    expect(proxy.calls.some((c) => c.method === "PATCH" || c.method === "PUT")).toBe(true);
    expect((await skopeoInspectRaw(`${reg.host}/p/via-proxy:v1`)).digest).toBe(layout.images[0]!.digest);
  });
});

describe("faults", () => {
  test("reset: the connection is reset after N body bytes (curl: recv failure; fetch rejects), then passes", async () => {
    proxy.setRules([{ method: "GET", path: /\/blobs\/sha256:/, fault: "reset", afterBytes: 100_000 }]);
    const c = await curl(blobUrl());
    expect(c.exit).toBe(56);
    expect(c.stderr).toMatch(/reset/i);
    expect(c.size).toBeLessThanOrEqual(100_000);
    expect(proxy.calls.at(-1)).toMatchObject({ fault: "reset", bytesOut: 100_000 });
    expect(proxy.rules[0]).toMatchObject({ hits: 1, remaining: 0 });
    // rule used up → next request passes
    expect(sha(Buffer.from(await (await fetch(blobUrl())).arrayBuffer()))).toBe(blob.digest);
    proxy.setRules([{ method: "GET", path: /\/blobs\//, fault: "reset", afterBytes: 0 }]);
    await expect(fetch(blobUrl()).then((r) => r.arrayBuffer())).rejects.toThrow();
  });

  test("500 twice, then the real answer", async () => {
    proxy.setRules([{ path: /\/manifests\/v1$/, fault: "500", times: 2 }]);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${proxy.url}/v2/p/app/manifests/v1`, { headers: { accept: "application/vnd.oci.image.manifest.v1+json" } });
      statuses.push(r.status);
      if (r.status === 500) expect((await r.json()).errors[0].message).toContain("injected");
      else expect(sha(new Uint8Array(await r.arrayBuffer()))).toBe(layout.images[0]!.digest);
    }
    expect(statuses).toEqual([500, 500, 200]);
  });

  test("429 with Retry-After: 1; custom status; method filter", async () => {
    proxy.setRules([
      { method: "HEAD", path: /\/manifests\//, fault: "status", status: 503 },
      { path: /\/tags\/list/, fault: "429" },
    ]);
    const r = await fetch(`${proxy.url}/v2/p/app/tags/list`);
    expect(r.status).toBe(429);
    expect(r.headers.get("retry-after")).toBe("1");
    expect((await r.json()).errors[0].code).toBe("TOOMANYREQUESTS");
    expect((await fetch(`${proxy.url}/v2/p/app/tags/list`)).status).toBe(200);
    // GET on manifests is not affected by the HEAD rule
    expect((await fetch(`${proxy.url}/v2/p/app/manifests/v1`, { headers: { accept: "application/vnd.oci.image.manifest.v1+json" } })).status).toBe(200);
    expect((await fetch(`${proxy.url}/v2/p/app/manifests/v1`, { method: "HEAD" })).status).toBe(503);
    proxy.setRules([{ path: "/tags/", fault: "429", retryAfter: 7, times: Infinity }]);
    for (let i = 0; i < 3; i++) expect((await fetch(`${proxy.url}/v2/p/app/tags/list`)).headers.get("retry-after")).toBe("7");
    expect(proxy.rules[0]!.hits).toBe(3);
  });

  test("truncate: full Content-Length declared, N bytes sent, connection closed (curl: transfer closed)", async () => {
    proxy.setRules([{ method: "GET", path: /\/blobs\//, fault: "truncate", afterBytes: 5000 }]);
    const c = await curl(blobUrl());
    expect(c.exit).toBe(18);
    expect(c.status).toBe(200);
    expect(c.size).toBe(5000);
    expect(c.stderr).toContain(`${blob.bytes.length - 5000} bytes remaining`);
  });

  test("corrupt: same length, exactly one byte altered at the offset, digest no longer matches", async () => {
    proxy.setRules([{ method: "GET", path: /\/blobs\//, fault: "corrupt", afterBytes: 123_456 }]);
    const got = Buffer.from(await (await fetch(blobUrl())).arrayBuffer());
    expect(got.length).toBe(blob.bytes.length);
    expect(sha(got)).not.toBe(blob.digest);
    const diffs: number[] = [];
    for (let i = 0; i < got.length; i++) if (got[i] !== blob.bytes[i]) diffs.push(i);
    expect(diffs).toEqual([123_456]);
    expect(got[123_456]).toBe(blob.bytes[123_456]! ^ 0xff);
  });

  test("request-side reset: an upload PATCH is cut after N bytes", async () => {
    proxy.setRules([{ method: "PATCH", path: /\/blobs\/uploads\//, fault: "reset", side: "request", afterBytes: 1000 }]);
    const r = await fetch(`${proxy.url}/v2/p/up2/blobs/uploads/`, { method: "POST" });
    const loc = r.headers.get("location")!;
    const c = await curl(loc, ["-X", "PATCH", "-H", "content-type: application/octet-stream", "--data-binary", `@${blob.path}`]);
    expect(c.exit).not.toBe(0);
    expect(proxy.calls.at(-1)).toMatchObject({ method: "PATCH", fault: "reset", bytesIn: 1000 });
    // distribution 2.8: if part of the body landed, the old Location's _state (offset 0) no longer matches
    // and the session answers 404 BLOB_UPLOAD_INVALID (a client must restart the upload); if nothing
    // landed yet it is still 204 with Range 0-0. Either way no more than what got through is stored.
    const status = await fetch(loc);
    if (status.status === 404) expect((await status.json()).errors[0].code).toBe("BLOB_UPLOAD_INVALID");
    else {
      expect(status.status).toBe(204);
      const end = Number(/^0-(\d+)$/.exec(status.headers.get("range") ?? "")?.[1] ?? -1);
      expect(end).toBeGreaterThanOrEqual(0);
      expect(end).toBeLessThan(1000);
    }
    // later requests pass again
    expect((await fetch(`${proxy.url}/v2/p/up2/blobs/uploads/`, { method: "POST" })).status).toBe(202);
  });

  test("delay holds the request, then passes it", async () => {
    proxy.setRules([{ path: /\/tags\/list/, fault: "delay", delayMs: 300 }]);
    const t0 = Date.now();
    expect((await fetch(`${proxy.url}/v2/p/app/tags/list`)).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
  });
});

describe("streaming", () => {
  test("a 160 MiB layer goes up and down through the proxy without the proxy buffering it", async () => {
    proxy.clear();
    const big = await writeImageLayout(join(work, "big"), { tag: "big", layers: [{ size: 160 << 20 }] });
    const layer = big.images[0]!.manifests[0]!.layers[0]!;
    const base = process.memoryUsage().rss;
    let peak = base;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25);
    try {
      await pushWithSkopeo(big.dir, "big", `${proxy.host}/p/big:1`, { tlsVerify: false });
      const out = join(work, "big.down");
      const c = await curl(`${proxy.url}/v2/p/big/blobs/${layer.digest}`, [], out);
      expect(c.exit).toBe(0);
      expect(c.size).toBe(layer.size);
      const h = createHash("sha256");
      for await (const chunk of (await import("node:fs")).createReadStream(out)) h.update(chunk as Buffer);
      expect(`sha256:${h.digest("hex")}`).toBe(layer.digest);
    } finally {
      clearInterval(timer);
    }
    const up = proxy.calls.filter((c) => c.method === "PATCH" || c.method === "PUT").reduce((n, c) => n + c.bytesIn, 0);
    expect(up).toBeGreaterThanOrEqual(layer.size);
    if (process.env.KA_DEBUG) console.error("proxy streaming rss growth MiB", (peak - base) >> 20);
    expect(peak - base).toBeLessThan(100 << 20);
  }, 120_000);
});
