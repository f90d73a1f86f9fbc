// Issue 12 points 8, 12, 13 (network side): one retry budget per operation, a slow-drip source bounded by
// --request-timeout (and resumed with Range), clear messages for persistent resets, broken credential helpers
// and impossible ports. A fault proxy sits in front of the realistic registry (TLS + htpasswd).
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { runCli } from "../support/cli.ts";
import { file, image, indexJson, mirror, OCI_LAYOUT, sha, tagDigest, writeArchive } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "ka-net-"));
let reg: TestRegistry;
let proxy: FaultProxy;
const layer = Buffer.alloc(3 << 20);
for (let i = 0; i < layer.length; i += 4) layer.writeUInt32LE((i * 2654435761) >>> 0, i);
const img = image([layer, Buffer.alloc(1000, 3)]);
let n = 0;

beforeAll(async () => {
  reg = await startRegistry({ auth: "htpasswd", tls: true });
  proxy = await startFaultProxy(reg.url, { ca: reg.ca!.certPem });
  const a = writeArchive(tmp, "seed.tar", [file("oci-layout", OCI_LAYOUT), file("index.json", indexJson([{ img, tag: "v1" }])), ...img.blobs]);
  const r = await mirror(reg, ["copy", `oci-archive:${a}:v1`, `${reg.host}/src/img:v1`]);
  expect(r.code).toBe(0);
}, 60_000);
afterAll(async () => {
  await proxy.stop();
  await reg.stop();
  rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => proxy.clear());

/** copy from the registry through the proxy into another repository of the same registry */
function copyThroughProxy(extra: string[], timeoutMs = 60_000) {
  const repo = `dst/run${++n}`;
  const started = Date.now();
  return mirror(reg, ["copy", `${proxy.host}/src/img:v1`, `${reg.host}/${repo}:v1`, "--plain-http-host", proxy.host, ...extra], { alsoFor: [proxy.host], timeoutMs }).then((r) => ({ ...r, repo, seconds: (Date.now() - started) / 1000 }));
}

describe("retry budget (point 8)", () => {
  test("a blob that always answers 503: --retries 2 makes 3 requests for it, not 9", async () => {
    proxy.setRules([{ method: "GET", path: /\/blobs\/sha256:/, fault: "status", status: 503, times: Infinity }]);
    const r = await copyThroughProxy(["--retries", "2"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/503/);
    const perBlob = new Map<string, number>();
    for (const c of proxy.calls) if (c.method === "GET" && /\/blobs\/sha256:/.test(c.path)) perBlob.set(c.path, (perBlob.get(c.path) ?? 0) + 1);
    expect(perBlob.size).toBeGreaterThan(0);
    expect(Math.max(...perBlob.values())).toBeLessThanOrEqual(3);
    expect(await tagDigest(reg, r.repo, "v1")).toBeUndefined();
  });
});

describe("stalled transfers (point 12)", () => {
  test("a slow-drip source (1 byte every 0.5 s: never idle for 2 s) is cut by --request-timeout and resumed with Range", async () => {
    const layerDigest = sha(layer);
    proxy.setRules([{ method: "GET", path: new RegExp(`/blobs/${layerDigest}`), fault: "drip", afterBytes: 1 << 20, dripMs: 500, times: 1 }]);
    const r = await copyThroughProxy(["--request-timeout", "2s"], 45_000);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.seconds).toBeLessThan(30);
    const gets = proxy.calls.filter((c) => c.method === "GET" && c.path.includes(layerDigest));
    expect(gets.length).toBe(2);
    // the second request continues where the stalled one stopped (at least the first MiB arrived)
    const from = Number(/bytes=(\d+)-/.exec(gets[1]!.range ?? "")?.[1] ?? 0);
    expect(from).toBeGreaterThanOrEqual(1 << 20);
    expect(await tagDigest(reg, r.repo, "v1")).toBe(img.digest);
  }, 60_000);
});

describe("clearer messages (point 13)", () => {
  test("a persistent reset names the host and says the connection was reset", async () => {
    proxy.setRules([{ method: "GET", path: /\/blobs\/sha256:/, fault: "reset", afterBytes: 0, times: Infinity }]);
    const r = await copyThroughProxy(["--retries", "1"]);
    expect(r.code).not.toBe(0);
    const err = r.stderr.split("\n").find((l) => l.startsWith("error:") || l.startsWith("FAILED")) ?? "";
    expect(r.stderr).toMatch(new RegExp(`${proxy.host.replace(/\./g, "\\.")}.*(reset|closed)`, "i"));
    expect(r.stderr).not.toMatch(/: aborted\s*$/m);
    expect(err.length).toBeGreaterThan(0);
  });

  test("a credential helper that fails silently: the message says how it failed", async () => {
    const bin = join(tmp, "bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "docker-credential-mute"), "#!/bin/sh\ncat >/dev/null\nexit 3\n");
    chmodSync(join(bin, "docker-credential-mute"), 0o755);
    writeFileSync(join(tmp, "helper.json"), JSON.stringify({ credHelpers: { [reg.host]: "mute" } }));
    const r = await runCli("kubectl-mirror", ["copy", `${reg.host}/src/img:v1`, `${reg.host}/dst/helper:v1`, "--ca-file", reg.caFile!, "--registry-config", join(tmp, "helper.json")], { env: { PATH: `${bin}:${process.env.PATH}`, DOCKER_CONFIG: "/nonexistent" } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/docker-credential-mute failed for .*: it exited with code 3 and printed nothing/);
  });

  test("a credential helper that hangs: stopped after 30 s, and the message says so", async () => {
    const bin = join(tmp, "bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "docker-credential-stuck"), "#!/bin/sh\nexec sleep 120\n");
    chmodSync(join(bin, "docker-credential-stuck"), 0o755);
    writeFileSync(join(tmp, "stuck.json"), JSON.stringify({ credHelpers: { [reg.host]: "stuck" } }));
    const r = await runCli("kubectl-mirror", ["copy", `${reg.host}/src/img:v1`, `${reg.host}/dst/stuck:v1`, "--ca-file", reg.caFile!, "--registry-config", join(tmp, "stuck.json")], { env: { PATH: `${bin}:${process.env.PATH}`, DOCKER_CONFIG: "/nonexistent" }, timeoutMs: 60_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/docker-credential-stuck failed for .*: it did not answer within 30s/);
  }, 70_000);

  test("port 99999 is named as out of range, not 'Invalid URL'", async () => {
    const r = await mirror(reg, ["copy", `127.0.0.1:99999/src/img:v1`, `${reg.host}/dst/port:v1`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/port 99999 .* out of range/);
    expect(r.stderr).not.toMatch(/Invalid URL/);
  });
});
