// Registry API details against the real registry: chunked uploads (forced, and after a 413 from a proxy),
// tag listing and catalog with Link pagination, dry runs that write nothing.
// The registry is the realistic one (TLS with a private CA + htpasswd); the fault proxy in front of it speaks plain
// HTTP (it verifies the registry's CA upstream), so only the proxy's host is plain HTTP for the client.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { runCli } from "../support/cli.ts";
import { pushArtifact } from "../../shared/oci/artifact.ts";
import { createClient } from "../../shared/oci/client.ts";
import { catalog, RegistryRepository } from "../../shared/oci/registry.ts";
import { CopyEngine } from "../../shared/oci/copy.ts";
import { sha256 } from "../../shared/oci/digest.ts";
import { Readable } from "node:stream";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";
import { UploadJournal } from "../../shared/oci/upload-journal.ts";

let reg: TestRegistry;
let proxy: FaultProxy;
const tmp = mkdtempSync(join(tmpdir(), "ka-registry-api-"));
/** our client's options: the registry's CA and its credentials (the proxy's host is plain HTTP) */
const conn = () => ({ caFiles: [{ host: reg.host, file: reg.caFile! }], plainHttp: [proxy.host], credentials: staticCredentials({ username: reg.username, password: reg.password }) });
/** the CLI: docker config.json with the credentials, and the CA */
const cliConn = () => ["--registry-config", join(tmp, "config.json"), "--ca-file", `${reg.host}=${reg.caFile}`];
beforeAll(async () => {
  reg = await startRegistry(); // TLS (private CA) + htpasswd
  writeFileSync(join(tmp, "config.json"), JSON.stringify(reg.dockerConfig()));
  proxy = await startFaultProxy(reg.url, { ca: readFileSync(reg.caFile!, "utf8") });
  for (const t of ["a", "b", "c", "d", "e"]) await pushArtifact(`${reg.host}/paged/app:${t}`, { config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from(`{"t":"${t}"}`) }, layers: [] }, conn());
});
afterAll(async () => {
  await proxy.stop();
  await reg.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe("uploads", () => {
  test("forced chunked upload (PATCH with Content-Range, then PUT ?digest)", async () => {
    const client = createClient({ ...conn(), chunkSize: 100_000 });
    const repo = new RegistryRepository(client, proxy.host, "chunked/app", { chunkSize: 100_000 });
    const data = Buffer.alloc(350_000, 3);
    const desc = { mediaType: "application/octet-stream", digest: sha256(data), size: data.length };
    await repo.pushBlob(desc, async () => Readable.from([data]));
    expect(await repo.exists(desc)).toBe(true);
    expect(proxy.calls.filter((c) => c.method === "PATCH").length).toBe(4);
    client.transport.close();
  });

  test("a 413 on the monolithic PUT switches to chunks", async () => {
    proxy.clear();
    proxy.setRules([{ method: "PUT", path: /\/blobs\/uploads\//, fault: "status", status: 413, times: 1 }]);
    const client = createClient(conn());
    const repo = new RegistryRepository(client, proxy.host, "chunked/after413");
    const data = Buffer.alloc(9 << 20, 4);
    const desc = { mediaType: "application/octet-stream", digest: sha256(data), size: data.length };
    await repo.pushBlob(desc, async () => Readable.from([data]));
    expect(await repo.exists(desc)).toBe(true);
    expect(proxy.calls.some((c) => c.method === "PATCH")).toBe(true);
    client.transport.close();
  });


  test("a 411 on a streamed PATCH (a proxy that wants lengths) switches to chunks with Content-Length, continuing the noted session", async () => {
    proxy.clear();
    proxy.setRules([{ method: "PATCH", path: /\/blobs\/uploads\//, fault: "status", status: 411, times: 1 }]);
    const client = createClient(conn());
    const journal = new UploadJournal(join(tmp, "journal"));
    // a large blob (here: from 1 MiB up) whose source reads from an offset goes through a noted session
    const repo = new RegistryRepository(client, proxy.host, "chunked/after411", { journal, resumableMin: 1 << 20 });
    const data = Buffer.alloc(3 << 20, 5);
    const desc = { mediaType: "application/octet-stream", digest: sha256(data), size: data.length };
    await repo.pushBlob(desc, async () => Readable.from([data]), { openAt: async (o) => Readable.from([data.subarray(o)]), download: true });
    expect(await repo.exists(desc)).toBe(true);
    const patches = proxy.calls.filter((c) => c.method === "PATCH");
    expect(patches.map((c) => c.status)).toEqual([411, 202]);
    // the retry asked the session where it stood (distribution: 204, Range 0--1 while empty) instead of opening another
    expect(proxy.calls.filter((c) => c.method === "POST" && c.status === 202).length).toBe(1);
    expect(proxy.calls.some((c) => c.method === "GET" && c.path.includes("/blobs/uploads/") && c.status === 204)).toBe(true);
    expect(await journal.get(proxy.host, "chunked/after411", desc.digest)).toBeUndefined();
    client.transport.close();
  });

  test("content that does not match its digest is refused by the registry and never stored", async () => {
    const client = createClient({ ...conn(), retries: 0 });
    const repo = new RegistryRepository(client, reg.host, "lying/app");
    const claimed = Buffer.alloc(50_000, 1);
    const desc = { mediaType: "application/octet-stream", digest: sha256(claimed), size: claimed.length };
    await expect(repo.pushBlob(desc, async () => Readable.from([Buffer.alloc(50_000, 2)]))).rejects.toThrow(/DIGEST_INVALID|digest/i);
    expect(await repo.exists(desc)).toBe(false);
    client.transport.close();
  });
});

describe("listing", () => {
  test("tags and catalog follow Link pagination", async () => {
    proxy.clear();
    const client = createClient(conn());
    const repo = new RegistryRepository(client, reg.host, "paged/app");
    expect((await repo.tags(2)).sort()).toEqual(["a", "b", "c", "d", "e"]);
    const repos = await catalog(client, reg.host, 1);
    expect(repos).toContain("paged/app");
    expect(repos).toContain("chunked/app");
    client.transport.close();
  });
});

describe("--dry-run", () => {
  test("reports what would move and writes nothing", async () => {
    const r = await runCli("kubectl-mirror", ["copy", `${reg.host}/paged/app:a`, `${reg.host}/dry/app:a`, ...cliConn(), "--dry-run", "-o", "json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.items[0].status).toBe("would-copy");
    const head = await fetch(`${reg.url}/v2/dry/app/manifests/a`, { method: "HEAD", headers: { authorization: `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString("base64")}` }, tls: { ca: readFileSync(reg.caFile!, "utf8") } } as RequestInit);
    expect(head.status).toBe(404);
  });

  test("bad flags and references are one clear line", async () => {
    const odd = await runCli("kubectl-mirror", ["copy", "only-one-arg"]);
    expect(odd.code).toBe(2);
    expect(odd.stderr).toMatch(/^error: expected SRC DST pairs/m);
    const bad = await runCli("kubectl-mirror", ["copy", "a/b:c", "reg.io/Bad:y", ...cliConn()]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim()).toMatch(/^error: invalid reference "reg\.io\/Bad:y": bad repository path component "Bad"/);
    const conc = await runCli("kubectl-mirror", ["copy", "a", "b", "--concurrency", "0"]);
    expect(conc.stderr).toMatch(/--concurrency: expected a positive whole number/);
    const missing = await runCli("kubectl-mirror", ["copy", `${reg.host}/paged/app:nope`, `${reg.host}/x/y:z`, ...cliConn()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/manifest 127\.0\.0\.1:\d+\/paged\/app:nope not found/);
  });
});
