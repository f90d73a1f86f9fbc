// Hostile and corrupt OCI archives are refused with a clear error; nothing is written outside the target,
// and a tag never points at missing or corrupt content. The target is the realistic registry (TLS with a private
// CA + htpasswd).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { runCli } from "../support/cli.ts";
import { rawHeader } from "../support/tar-fixtures.ts";

const tmp = mkdtempSync(join(tmpdir(), "ka-hostile-"));
let reg: TestRegistry;
beforeAll(async () => {
  reg = await startRegistry();
  writeFileSync(join(tmp, "config.json"), JSON.stringify(reg.dockerConfig()));
});
afterAll(async () => {
  await reg.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
const file = (name: string, data: Buffer) => Buffer.concat([rawHeader(name, data.length, "0"), pad(data)]);
const sha = (b: Buffer) => "sha256:" + createHash("sha256").update(b).digest("hex");

/** a valid small OCI archive as entries, so each test can break one thing */
function layoutEntries(layer: Buffer, opts: { corruptLayer?: boolean } = {}) {
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha(config), size: config.length }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha(layer), size: layer.length }] }));
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha(manifest), size: manifest.length, annotations: { "org.opencontainers.image.ref.name": "v1" } }] }));
  const stored = opts.corruptLayer ? Buffer.from(layer.map((x, i) => (i === 10 ? x ^ 1 : x))) : layer;
  return [file("oci-layout", Buffer.from('{"imageLayoutVersion":"1.0.0"}')), file("index.json", index), file(`blobs/sha256/${sha(manifest).slice(7)}`, manifest), file(`blobs/sha256/${sha(config).slice(7)}`, config), file(`blobs/sha256/${sha(layer).slice(7)}`, stored)];
}

function writeTar(name: string, entries: Buffer[]): string {
  const p = join(tmp, name);
  writeFileSync(p, Buffer.concat([...entries, Buffer.alloc(1024)]));
  return p;
}

async function copyFrom(archive: string, repo: string) {
  return runCli("kubectl-mirror", ["copy", `oci-archive:${archive}:v1`, `${reg.host}/${repo}:v1`, "--registry-config", join(tmp, "config.json"), "--ca-file", `${reg.host}=${reg.caFile}`], { cwd: tmp });
}

async function tagExists(repo: string): Promise<boolean> {
  const r = await fetch(`${reg.url}/v2/${repo}/manifests/v1`, { method: "HEAD", headers: { accept: "application/vnd.oci.image.manifest.v1+json", authorization: `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString("base64")}` }, tls: { ca: readFileSync(reg.caFile!, "utf8") } } as RequestInit);
  // only 200 or 404 answer the question (a 401 must not pass for "not tagged")
  if (r.status !== 200 && r.status !== 404) throw new Error(`HEAD ${repo}:v1: HTTP ${r.status}`);
  return r.status === 200;
}

describe("hostile archives", () => {
  const layer = Buffer.alloc(3000, 9);
  test.each([
    ["parent traversal", () => [file("../escape.txt", Buffer.from("x")), ...layoutEntries(layer)], /escapes the target directory/],
    ["absolute path", () => [file("/tmp/ka-absolute-escape.txt", Buffer.from("x")), ...layoutEntries(layer)], /absolute path/],
    ["symlink", () => [rawHeader("blobs/link", 0, "2", "/etc/passwd"), ...layoutEntries(layer)], /refusing symlink entry/],
    ["hard link", () => [rawHeader("blobs/hard", 0, "1", "index.json"), ...layoutEntries(layer)], /refusing link entry/],
    ["oversized PAX header", () => [rawHeader("PaxHeader", 5 << 20, "x"), Buffer.alloc(512), ...layoutEntries(layer)], /extended header .* too large/],
    ["not a tar", () => [Buffer.alloc(1024, 0x41)], /is not an OCI archive: it is a text file/],
  ])("%s is refused, nothing written", async (name, entries, msg) => {
    const archive = writeTar(`${name.replace(/\W/g, "_")}.tar`, entries());
    const repo = `hostile/${name.toLowerCase().replace(/\W/g, "-")}`;
    const r = await copyFrom(archive, repo);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr.trim().split("\n").filter((l) => l.startsWith("error:")).length).toBe(1);
    expect(existsSync(join(tmp, "..", "escape.txt"))).toBe(false);
    expect(existsSync("/tmp/ka-absolute-escape.txt")).toBe(false);
    expect(await tagExists(repo)).toBe(false);
  });

  test("a corrupt layer (one flipped bit) fails the copy and never tags", async () => {
    const archive = writeTar("corrupt.tar", layoutEntries(layer, { corruptLayer: true }));
    const r = await copyFrom(archive, "hostile/corrupt");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/digest .* does not match/);
    expect(await tagExists("hostile/corrupt")).toBe(false);
  });

  test("a truncated archive fails clearly", async () => {
    const whole = Buffer.concat(layoutEntries(Buffer.alloc(100_000, 3)));
    const p = join(tmp, "truncated.tar");
    writeFileSync(p, whole.subarray(0, whole.length - 50_000));
    const r = await copyFrom(p, "hostile/truncated");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/truncated/);
    expect(await tagExists("hostile/truncated")).toBe(false);
  });

  test("the valid archive built the same way copies fine (the fixtures are sound)", async () => {
    const archive = writeTar("good.tar", layoutEntries(layer));
    const r = await copyFrom(archive, "hostile/good");
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    expect(await tagExists("hostile/good")).toBe(true);
  });
});
