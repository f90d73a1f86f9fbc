// Issue 26.2 (second half): a SIGKILLed copy continues an interrupted blob upload from the registry's upload session
// (GET <location> → Range, PATCH from the next byte, PUT ?digest=) where the registry kept it, and starts a new upload
// where it did not; the upload journal never holds credentials.
//
// Which registries keep what (read from their source, see test/support/zot-uploads.ts): zot keeps the bytes of
// every PATCH it accepted and answers GET with Range, but deletes a session whose PATCH broke (client killed
// mid-request); distribution 2.8 answers GET with 404 BLOB_UPLOAD_INVALID once a broken request left bytes its
// signed `_state` does not count. So a session survives a kill that lands between requests: a copy from a registry
// uploads in chunks and waits for its source between them, which is where a slow download spends its time.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, ROOT } from "../support/cli.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { writeImageLayout, type WrittenImage } from "../support/images.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startZotUploads, type ZotUploads } from "../support/zot-uploads.ts";
import { UploadJournal } from "../../shared/oci/upload-journal.ts";
import { mirror, regFlags, tagDigest } from "./helpers.ts";

const MiB = 1 << 20;
const LAYER = 200 * MiB;
const tmp = mkdtempSync(join(tmpdir(), "ka-resume-"));
const cache = join(tmp, "cache");
const journalDir = join(cache, "uploads");
let reg: TestRegistry;
let zot: ZotUploads;
let src: FaultProxy;
let img: WrittenImage;
let layout: string;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const env = { KUBE_AIRGAP_CACHE_DIR: cache };

beforeAll(async () => {
  reg = await startRegistry();
  zot = await startZotUploads(reg);
  // the source registry, reached through a proxy that can slow its downloads down
  src = await startFaultProxy(reg.url, { ca: reg.ca!.certPem });
  layout = join(tmp, "layout");
  img = (await writeImageLayout(layout, { tag: "v1", layers: [{ size: LAYER - 2048, compression: "none", seed: "resume" }] })).images[0]!;
  const r = await mirror(reg, ["copy", `oci-layout:${layout}:v1`, `${reg.host}/src/big:v1`], { env, timeoutMs: 120_000 });
  expect(r.stderr).toBe(r.code === 0 ? r.stderr : "");
  expect(r.code).toBe(0);
  rmSync(journalDir, { recursive: true, force: true });
}, 120_000);

afterAll(async () => {
  await zot?.stop();
  await src?.stop();
  await reg?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const layerDesc = () => img.manifests[0]!.layers[0]!;

/** Start `kubectl mirror copy SRC DST`, wait until `ready()`, SIGKILL it. */
async function killWhen(args: string[], alsoFor: string[], ready: () => boolean, what: string): Promise<void> {
  const child = spawn(BUN, [join(ROOT, "plugins/kubectl-mirror/main.ts"), ...args, ...regFlags(reg, alsoFor)], { env: { ...process.env, ...env, NO_COLOR: "1", DOCKER_CONFIG: "/nonexistent" }, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<void>((r) => child.on("close", () => r()));
  let done = false;
  void exited.then(() => (done = true));
  const t0 = Date.now();
  while (!done && !ready() && Date.now() - t0 < 45_000) await sleep(5);
  if (done) throw new Error(`the copy ended before ${what}: ${stderr}`);
  if (!ready()) {
    child.kill("SIGKILL");
    throw new Error(`never reached ${what}`);
  }
  child.kill("SIGKILL");
  await exited;
}

/** sha256 of a blob as the registry serves it (the test's own check, not the tool's) */
function registryDigest(repo: string, digest: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    const r = httpsRequest(`${reg.url}/v2/${repo}/blobs/${digest}`, { ca: reg.ca!.certPem, headers: { authorization: `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString("base64")}` } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`GET blob: ${res.statusCode}`));
      res.on("data", (c) => h.update(c));
      res.on("end", () => resolve(`sha256:${h.digest("hex")}`));
      res.on("error", reject);
    });
    r.on("error", reject);
    r.end();
  });
}

/** the journal's files and their contents; the checks of point (c) on each */
function journal(): { name: string; text: string }[] {
  if (!existsSync(journalDir)) return [];
  expect(statSync(journalDir).mode & 0o777).toBe(0o700);
  return readdirSync(journalDir).map((name) => {
    const p = join(journalDir, name);
    expect(statSync(p).mode & 0o777).toBe(0o600);
    const text = readFileSync(p, "utf8");
    // (c) no credentials: no password, no basic credentials in any form, no user name
    for (const secret of [reg.password, Buffer.from(`${reg.username}:${reg.password}`).toString("base64"), `${reg.username}:`, reg.username]) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/authorization|basic |bearer /i);
    return { name, text };
  });
}

describe("an interrupted upload continues where the registry kept it (issue 26.2)", () => {
  /**
   * Copy from the source registry (slowed to a drip at 60 % of the layer) to `target`, SIGKILL once the target
   * received 55 % and nothing more arrives for 2.5 s (the copy ends its streamed PATCH after 1 s without source
   * bytes, so it is between requests), re-run without the drip: the target receives only what it lacked.
   */
  async function killWhileSourceStalls(target: { host: string; mark: () => number; bytes: (since: number) => number }, repo: string) {
    const layer = layerDesc();
    src.setRules([{ method: "GET", path: new RegExp(`/blobs/${layer.digest}`), fault: "drip", afterBytes: Math.floor(layer.size * 0.6), dripMs: 60_000, times: Infinity }]);
    const args = ["copy", `${src.host}/src/big:v1`, `${target.host}/${repo}:v1`, "--plain-http-host", src.host, "--plain-http-host", target.host];
    const enough = Math.floor(layer.size * 0.55);
    const start = target.mark();
    let last = -1;
    let still = 0;
    await killWhen(
      args,
      [src.host, target.host],
      () => {
        const got = target.bytes(start);
        if (got !== last) (last = got), (still = Date.now());
        return got >= enough && Date.now() - still > 2500;
      },
      "55 % of the layer received by the registry",
    );
    src.clear();
    const received = target.bytes(start);
    expect(received).toBeLessThan(layer.size);
    // nothing half-written is tagged
    expect(await tagDigest(reg, repo, "v1")).toBeUndefined();
    // the journal notes the session, without credentials (its content is checked after the re-run's bytes)
    const noted = journal();

    const since = target.mark();
    const r = await mirror(reg, [...args, "--debug"], { env, alsoFor: [src.host, target.host], timeoutMs: 90_000 });
    expect(r.stderr).toBe(r.code === 0 ? r.stderr : "");
    expect(r.code).toBe(0);
    // the registry received only what it lacked (+ the config and a little slack), not the layer again: it had
    // kept every byte it received before the kill
    const sent = target.bytes(since);
    expect(sent).toBeGreaterThanOrEqual(layer.size - received);
    expect(sent).toBeLessThan(layer.size - received + MiB);
    expect(noted.length).toBe(1);
    expect(JSON.parse(noted[0]!.text)).toMatchObject({ repository: repo, digest: layer.digest, size: layer.size });
    expect(r.stderr).toMatch(new RegExp(`resuming the earlier session at byte \\d+ of ${layer.size}`));
    expect(await tagDigest(reg, repo, "v1")).toBe(img.digest);
    expect(await registryDigest(repo, layer.digest)).toBe(layer.digest);
    expect(journal()).toEqual([]);
    return since;
  }

  test("zot-like registry: killed at ~60 % of a 200 MiB layer while the download waits, the re-run sends only the missing bytes", async () => {
    const since = await killWhileSourceStalls({ host: zot.host, mark: () => zot.calls.length, bytes: (n) => zot.uploadBytes(n) }, "dst/big");
    // it asked the session where it stood (204 + Range), and continued with a PATCH
    const again = zot.calls.slice(since).filter((c) => c.session);
    expect(again.find((c) => c.method === "GET")?.status).toBe(204);
    expect(again.some((c) => c.method === "PATCH" && c.status === 202)).toBe(true);
  }, 120_000);

  test("distribution 2.8: the same kill between requests (its signed state matches the bytes it holds) resumes as well", async () => {
    // a counting proxy in front of the real registry
    const dst = await startFaultProxy(reg.url, { ca: reg.ca!.certPem });
    try {
      const uploads = (c: { method: string; path: string }) => (c.method === "PATCH" || c.method === "PUT") && c.path.includes("/blobs/uploads/");
      await killWhileSourceStalls({ host: dst.host, mark: () => dst.calls.length, bytes: (n) => dst.calls.slice(n).reduce((a, c) => a + (uploads(c) ? c.bytesIn : 0), 0) }, "dst/dist");
    } finally {
      await dst.stop();
    }
  }, 120_000);

  test("zot-like registry: killed in the middle of a PATCH, zot deletes the session; the re-run starts a new upload and succeeds", async () => {
    const layer = layerDesc();
    const args = ["copy", `oci-layout:${layout}:v1`, `${zot.host}/dst/mid:v1`, "--plain-http-host", zot.host];
    await killWhen(args, [zot.host], () => zot.busy() > 0 && zot.stored() >= layer.size * 0.6, "60 % of the layer mid-PATCH");
    await sleep(200);
    expect(await tagDigest(reg, "dst/mid", "v1")).toBeUndefined();
    expect(journal().length).toBe(1);
    const since = zot.calls.length;
    const r = await mirror(reg, [...args, "--debug"], { env, alsoFor: [zot.host], timeoutMs: 90_000 });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/earlier session not resumed \(GET \S+ answered 404 BLOB_UPLOAD_UNKNOWN\); starting a new upload/);
    const again = zot.calls.slice(since).filter((c) => c.session);
    expect(again.find((c) => c.method === "GET")?.status).toBe(404);
    expect(zot.uploadBytes(since)).toBeGreaterThanOrEqual(layer.size);
    expect(await tagDigest(reg, "dst/mid", "v1")).toBe(img.digest);
    expect(journal()).toEqual([]);
  }, 120_000);

  test("distribution 2.8: killed mid-upload, the re-run finds the session unusable (404 BLOB_UPLOAD_INVALID), uploads anew and succeeds; nothing half-written is tagged", async () => {
    const layer = layerDesc();
    const uploads = join(reg.dataDir, "docker/registry/v2/repositories/dst/plain/_uploads");
    const partial = () => {
      if (!existsSync(uploads)) return 0;
      return readdirSync(uploads).reduce((a, u) => a + (existsSync(join(uploads, u, "data")) ? statSync(join(uploads, u, "data")).size : 0), 0);
    };
    const args = ["copy", `oci-layout:${layout}:v1`, `${reg.host}/dst/plain:v1`];
    await killWhen(args, [], () => partial() >= layer.size * 0.6, "60 % of the layer in distribution's upload");
    expect(await tagDigest(reg, "dst/plain", "v1")).toBeUndefined();
    const noted = journal();
    expect(noted.length).toBe(1);
    // distribution's Location carries its signed upload state: a secret for logs
    const state = new URL(JSON.parse(noted[0]!.text).location).searchParams.get("_state");
    expect(state?.length).toBeGreaterThan(20);
    const r = await mirror(reg, [...args, "--debug"], { env, timeoutMs: 90_000 });
    expect(r.stderr).toBe(r.code === 0 ? r.stderr : "");
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/earlier session not resumed \(GET \S+\?_state=\*\*\* answered 404 BLOB_UPLOAD_INVALID\); starting a new upload/);
    expect(r.stderr).toContain("_state=***");
    expect(r.stderr).not.toContain(state!);
    expect(await tagDigest(reg, "dst/plain", "v1")).toBe(img.digest);
    expect(await registryDigest("dst/plain", layer.digest)).toBe(layer.digest);
    expect(journal()).toEqual([]);
  }, 120_000);

  test("a resumed session whose bytes are wrong: the registry refuses the digest at the closing PUT, one fresh upload follows and succeeds", async () => {
    const layer = layerDesc();
    const auth = { authorization: `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString("base64")}` };
    // a session holding 8 MiB that are not the layer's first bytes, noted as this layer's upload
    const post = await fetch(`${zot.url}/v2/dst/bad/blobs/uploads/`, { method: "POST", headers: auth });
    expect(post.status).toBe(202);
    const location = new URL(post.headers.get("location")!, zot.url).toString();
    const junk = Buffer.alloc(8 * MiB, 7);
    const patch = await fetch(location, { method: "PATCH", headers: { ...auth, "content-type": "application/octet-stream", "content-range": `0-${junk.length - 1}` }, body: junk });
    expect(patch.status).toBe(202);
    await new UploadJournal(journalDir).put({ registry: zot.host, repository: "dst/bad", digest: layer.digest, size: layer.size, location });
    const since = zot.calls.length;
    const r = await mirror(reg, ["copy", `oci-layout:${layout}:v1`, `${zot.host}/dst/bad:v1`, "--plain-http-host", zot.host, "--debug"], { env, alsoFor: [zot.host], timeoutMs: 90_000 });
    expect(r.stderr).toBe(r.code === 0 ? r.stderr : "");
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`resuming the earlier session at byte ${junk.length} of ${layer.size}`);
    expect(r.stderr).toMatch(/earlier session not resumed \(.*DIGEST_INVALID.*\); starting a new upload/);
    const puts = zot.calls.slice(since).filter((c) => c.session && c.method === "PUT");
    expect(puts.map((c) => c.status)).toEqual(expect.arrayContaining([400, 201]));
    expect(puts.filter((c) => c.status === 400).length).toBe(1);
    expect(await tagDigest(reg, "dst/bad", "v1")).toBe(img.digest);
    expect(await registryDigest("dst/bad", layer.digest)).toBe(layer.digest);
    expect(journal()).toEqual([]);
  }, 120_000);
});
