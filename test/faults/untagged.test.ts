// Issue 12 point 10: a single-image archive or layout copied without a tag keeps its only tag; an archive with
// several images, or one untagged image, is refused with a question instead of an untagged copy.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { file, image, indexJson, mirror, OCI_LAYOUT, tagDigest, writeArchive, type Image } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "ka-untagged-"));
let reg: TestRegistry;
beforeAll(async () => {
  reg = await startRegistry({ auth: "htpasswd", tls: true });
}, 60_000);
afterAll(async () => {
  await reg.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const a = image([Buffer.alloc(2000, 1)]);
const b = image([Buffer.alloc(2000, 2)]);

function layoutDir(name: string, roots: { img: Image; tag?: string }[]): string {
  const dir = join(tmp, name);
  mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
  writeFileSync(join(dir, "oci-layout"), OCI_LAYOUT);
  writeFileSync(join(dir, "index.json"), indexJson(roots));
  for (const { img } of roots) for (const blob of [img.manifest, img.config, ...img.layers]) writeFileSync(join(dir, "blobs", "sha256", require("node:crypto").createHash("sha256").update(blob).digest("hex")), blob);
  return dir;
}

describe("copies without a tag (point 10)", () => {
  test("a single-image archive keeps its only tag", async () => {
    const arc = writeArchive(tmp, "one.tar", [file("oci-layout", OCI_LAYOUT), file("index.json", indexJson([{ img: a, tag: "1.2.3" }])), ...a.blobs]);
    const r = await mirror(reg, ["copy", `oci-archive:${arc}`, `${reg.host}/untagged/one`, "-o", "json"]);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).items[0].tags).toEqual(["1.2.3"]);
    expect(await tagDigest(reg, "untagged/one", "1.2.3")).toBe(a.digest);
  });

  test("a single-image layout named by a full reference keeps that reference's tag", async () => {
    const dir = layoutDir("layout-one", [{ img: b, tag: "docker.io/library/busybox:1.36" }]);
    const r = await mirror(reg, ["copy", `oci-layout:${dir}`, `${reg.host}/untagged/busybox`, "-o", "json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).items[0].tags).toEqual(["1.36"]);
    expect(await tagDigest(reg, "untagged/busybox", "1.36")).toBe(b.digest);
  });

  test("an archive with two images is refused: name one", async () => {
    const arc = writeArchive(tmp, "two.tar", [file("oci-layout", OCI_LAYOUT), file("index.json", indexJson([{ img: a, tag: "a" }, { img: b, tag: "b" }])), ...a.blobs, ...b.blobs]);
    const r = await mirror(reg, ["copy", `oci-archive:${arc}`, `${reg.host}/untagged/two`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/holds 2 images \(a, b\): name one/);
  });

  test("one untagged image without a destination tag is refused", async () => {
    const arc = writeArchive(tmp, "bare.tar", [file("oci-layout", OCI_LAYOUT), file("index.json", indexJson([{ img: a }])), ...a.blobs]);
    const r = await mirror(reg, ["copy", `oci-archive:${arc}`, `${reg.host}/untagged/bare`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/one untagged image: give the destination a tag/);
    const ok = await mirror(reg, ["copy", `oci-archive:${arc}`, `${reg.host}/untagged/bare:2.0`]);
    expect(ok.code).toBe(0);
    expect(await tagDigest(reg, "untagged/bare", "2.0")).toBe(a.digest);
  });
});
