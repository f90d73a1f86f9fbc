// Issue 12 point 6: a write error (a full disk: a 2 MiB tmpfs) ends the run within seconds, non-zero, with a
// one-line message and the partial file removed — for plain and gzip archives, from copy and from export.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { file, image, indexJson, mirror, OCI_LAYOUT, writeArchive } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "ka-disk-"));
const full = join(tmp, "full");
let reg: TestRegistry;
let mounted = false;

beforeAll(async () => {
  mkdirSync(full);
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", full], { stdio: "ignore" });
    mounted = true;
  } catch {}
  reg = await startRegistry({ auth: "htpasswd", tls: true });
  // 4 MiB of random bytes: does not fit in 2 MiB, compressed or not
  const img = image([randomBytes(4 << 20), Buffer.alloc(1000, 1)]);
  const a = writeArchive(tmp, "seed.tar", [file("oci-layout", OCI_LAYOUT), file("index.json", indexJson([{ img, tag: "v1" }])), ...img.blobs]);
  const r = await mirror(reg, ["copy", `oci-archive:${a}:v1`, `${reg.host}/src/img:v1`]);
  expect(r.code).toBe(0);
}, 60_000);
afterAll(async () => {
  await reg.stop();
  if (mounted) execFileSync("umount", [full]);
  rmSync(tmp, { recursive: true, force: true });
});

function expectCleanFailure(r: { code: number; stderr: string; seconds: number }) {
  expect(r.code).not.toBe(0);
  expect(r.seconds).toBeLessThan(30);
  expect(r.stderr).toMatch(/no space left on device/i);
  // one line per failure, no stack frames or source excerpts
  expect(r.stderr).not.toMatch(/^\s+at |^\s*\d+ \| |\^$/m);
  expect(readdirSync(full)).toEqual([]);
}

async function timed(p: () => ReturnType<typeof mirror>) {
  const t = Date.now();
  const r = await p();
  return { ...r, seconds: (Date.now() - t) / 1000 };
}

describe.skipIf(process.getuid?.() !== 0)("full disk (2 MiB tmpfs)", () => {
  for (const name of ["out.tar", "out.tar.gz"]) {
    test(`copy → oci-archive:${name}`, async () => {
      expect(mounted).toBe(true);
      const r = await timed(() => mirror(reg, ["copy", `${reg.host}/src/img:v1`, `oci-archive:${join(full, name)}:v1`], { timeoutMs: 60_000 }));
      expectCleanFailure(r);
    }, 70_000);

    test(`export -O ${name}`, async () => {
      const r = await timed(() => mirror(reg, ["export", "--image", `${reg.host}/src/img:v1`, "-O", join(full, name)], { timeoutMs: 60_000 }));
      expectCleanFailure(r);
    }, 70_000);
  }

  test("copy → oci-layout:DIR", async () => {
    const r = await timed(() => mirror(reg, ["copy", `${reg.host}/src/img:v1`, `oci-layout:${join(full, "layout")}:v1`], { timeoutMs: 60_000 }));
    expect(r.code).not.toBe(0);
    expect(r.seconds).toBeLessThan(30);
    expect(r.stderr).toMatch(/no space left on device/i);
    expect(r.stderr).not.toMatch(/^\s+at |^\s*\d+ \| |\^$/m);
    rmSync(join(full, "layout"), { recursive: true, force: true });
  }, 70_000);

  test("push from a .tar.gz with a full TMPDIR: blobs still stream (only a retry would need the temp copy)", async () => {
    const exp = await mirror(reg, ["export", "--image", `${reg.host}/src/img:v1`, "-O", join(tmp, "app.tar.gz")]);
    expect(exp.code).toBe(0);
    const r = await timed(() => mirror(reg, ["push", join(tmp, "app.tar.gz"), "--dest", `${reg.host}/fulltmp`], { env: { TMPDIR: full }, timeoutMs: 60_000 }));
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(readdirSync(full)).toEqual([]);
  }, 70_000);

  test("push of a split archive joined in a full --temp-dir", async () => {
    const exp = await mirror(reg, ["export", "--image", `${reg.host}/src/img:v1`, "-O", join(tmp, "big.tar"), "--split-size", "1M"]);
    expect(exp.code).toBe(0);
    const r = await timed(() => mirror(reg, ["push", join(tmp, "big.tar.parts"), "--dest", `${reg.host}/joined`, "--temp-dir", full], { timeoutMs: 60_000 }));
    expectCleanFailure(r);
  }, 70_000);
});
