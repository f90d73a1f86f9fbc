// Issue 12 points 7 and 11: pushing from compressed archives (.tar.gz, violet .tgz) mounts shared blobs and
// survives a 5xx on an upload like a plain tar does; a gzipped archive in any entry order (skopeo writes
// index.json and oci-layout last) is read, with the same memory bound and no temp files left behind.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { skopeoCopy } from "../support/images.ts";
import { file, image, indexJson, mirror, OCI_LAYOUT, tagDigest, writeArchive } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "ka-arch-"));
const temp = join(tmp, "tmpdir");
let reg: TestRegistry;
let proxy: FaultProxy;
const shared = randomBytes(2 << 20); // a big layer both images use
const a = image([shared, Buffer.alloc(300_000, 1)]);
const b = image([shared, Buffer.alloc(300_000, 2)], "arm64");

beforeAll(async () => {
  mkdirSync(temp);
  reg = await startRegistry({ auth: "htpasswd", tls: true });
  proxy = await startFaultProxy(reg.url, { ca: reg.ca!.certPem });
}, 60_000);
afterAll(async () => {
  await proxy.stop();
  await reg.stop();
  rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => proxy.clear());

/** an export-style archive of two images sharing a layer, named by full references (as push expects) */
function twoImages(name: string): string {
  // manifests and configs first, then layers (the shared one once): the order export writes, read in one pass
  const blobs = [...a.blobs.slice(0, 2), ...b.blobs.slice(0, 2), ...a.blobs.slice(2), b.blobs[3]!];
  return writeArchive(tmp, name, [file("oci-layout", OCI_LAYOUT), file("index.json", indexJson([{ img: a, tag: "example.com/team/a:v1" }, { img: b, tag: "example.com/team/b:v1" }])), ...blobs]);
}

function push(archive: string, dest: string, extra: string[] = []) {
  return mirror(reg, ["push", archive, "--dest", dest, "--plain-http-host", proxy.host, "-o", "json", ...extra], { alsoFor: [proxy.host], env: { TMPDIR: temp } });
}

describe("push from compressed archives (point 7)", () => {
  test("a layer shared by two images is sent once and mounted into the second repository", async () => {
    const gz = twoImages("two.tar.gz");
    const r = await push(gz, `${proxy.host}/gz1`);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const sent = proxy.calls.filter((c) => c.method === "PUT" || c.method === "PATCH").reduce((n, c) => n + c.bytesIn, 0);
    // the same as from a plain tar: the shared 2 MiB once, not twice
    expect(sent).toBeLessThan(shared.length * 1.5);
    expect(proxy.calls.some((c) => c.method === "POST" && /mount=/.test(c.path) && c.status === 201)).toBe(true);
    expect(await tagDigest(reg, "gz1/images/team/a", "v1")).toBe(a.digest);
    expect(await tagDigest(reg, "gz1/images/team/b", "v1")).toBe(b.digest);
    expect(readdirSync(temp)).toEqual([]);
  });

  test("a 500 on an upload is retried (the blob is spooled), the push succeeds", async () => {
    const gz = twoImages("retry.tar.gz");
    proxy.setRules([{ method: "PUT", path: /\/blobs\/uploads\//, fault: "500", times: 2 }]);
    const r = await push(gz, `${proxy.host}/gz2`);
    expect(r.stderr).not.toMatch(/cannot retry/);
    expect(r.code).toBe(0);
    expect(proxy.rules[0]!.hits).toBe(2);
    expect(await tagDigest(reg, "gz2/images/team/a", "v1")).toBe(a.digest);
    expect(await tagDigest(reg, "gz2/images/team/b", "v1")).toBe(b.digest);
    expect(readdirSync(temp)).toEqual([]);
  });
});

describe("compressed archives in any entry order (point 11)", () => {
  test("hand-made: blobs first, index.json and oci-layout last", async () => {
    const arc = writeArchive(tmp, "reverse.tar.gz", [...a.blobs.slice().reverse(), file("index.json", indexJson([{ img: a, tag: "v1" }])), file("oci-layout", OCI_LAYOUT)]);
    const r = await mirror(reg, ["copy", `oci-archive:${arc}:v1`, `${reg.host}/order/reverse:v1`], { env: { TMPDIR: temp } });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(await tagDigest(reg, "order/reverse", "v1")).toBe(a.digest);
    expect(readdirSync(temp)).toEqual([]);
  });

  test("skopeo-made oci-archive, gzipped", async () => {
    const plain = join(tmp, "skopeo.tar");
    expect((await mirror(reg, ["copy", `oci-archive:${twoImages("seed.tar")}@${a.digest}`, `${reg.host}/order/src:v1`])).code).toBe(0);
    await skopeoCopy(`${reg.host}/order/src:v1`, `oci-archive:${plain}:v1`, { src: reg.skopeo });
    writeFileSync(`${plain}.gz`, gzipSync(readFileSync(plain)));
    const r = await mirror(reg, ["copy", `oci-archive:${plain}.gz:v1`, `${reg.host}/order/skopeo:v1`], { env: { TMPDIR: temp } });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(await tagDigest(reg, "order/skopeo", "v1")).toBe(a.digest);
    expect(readdirSync(temp)).toEqual([]);
  });
});
