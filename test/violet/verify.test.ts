// verify: detached GPG signatures made by real gpg (binary and armored), sha256sum and bare-hash checksum files,
// a flipped byte, a wrong key, files without sidecars; the documented summary; exit codes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyFile, readKeyring, expectedHash } from "../../shared/signing/index.ts";
import { ok, violet } from "./world.ts";

let dir: string;
let home: string;
let other: string;
let pub: string;
let otherPub: string;
let pkgs: string;

function gpg(gnupghome: string, args: string[]): string {
  return execFileSync("gpg", ["--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "", ...args], { env: { ...process.env, GNUPGHOME: gnupghome }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}
const sha = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "violet-verify-"));
  home = join(dir, "gnupg");
  other = join(dir, "gnupg-other");
  for (const h of [home, other]) {
    mkdirSync(h, { mode: 0o700 });
    gpg(h, ["--quick-gen-key", `Packager ${h.endsWith("other") ? "Other" : "Main"} <p@example.com>`, "rsa2048", "sign", "never"]);
  }
  pub = join(dir, "key.asc");
  otherPub = join(dir, "other.gpg");
  writeFileSync(pub, gpg(home, ["--export", "--armor"]));
  execFileSync("gpg", ["--batch", "--export", "--output", otherPub], { env: { ...process.env, GNUPGHOME: other } });
  pkgs = join(dir, "pkgs");
  mkdirSync(pkgs);
  const mk = (name: string) => {
    const f = join(pkgs, name);
    writeFileSync(f, randomBytes(3 << 20)); // a few MiB: several stream chunks
    return f;
  };
  const a = mk("a-binary-sig.tgz");
  gpg(home, ["--detach-sign", "--output", `${a}.sig`, a]);
  const b = mk("b-armored-sig.tgz");
  gpg(home, ["--detach-sign", "--armor", "--output", `${b}.sig`, b]);
  const c = mk("c-sha256sum.tgz");
  writeFileSync(`${c}.sha256`, `${sha(c)}  c-sha256sum.tgz\n`);
  const d = mk("d-bare-hash.tgz");
  writeFileSync(`${d}.sha256`, `${sha(d)}\n`);
  const e = mk("e-flipped.tgz");
  gpg(home, ["--detach-sign", "--output", `${e}.sig`, e]);
  const bytes = readFileSync(e);
  bytes[1_500_000] ^= 0x01;
  writeFileSync(e, bytes);
  const f = mk("f-wrong-key.tgz");
  gpg(other, ["--detach-sign", "--output", `${f}.sig`, f]);
  const g = mk("g-bad-checksum.tgz");
  writeFileSync(`${g}.sha256`, `${"0".repeat(64)}  g-bad-checksum.tgz\n`);
  mk("h-nothing.tgz");
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("shared/signing", () => {
  test("streams and verifies, reporting why it failed", async () => {
    const keys = await readKeyring(pub);
    expect((await verifyFile(join(pkgs, "a-binary-sig.tgz"), { keys })).status).toBe("gpg");
    expect((await verifyFile(join(pkgs, "b-armored-sig.tgz"), { keys })).status).toBe("gpg");
    const flipped = await verifyFile(join(pkgs, "e-flipped.tgz"), { keys });
    expect(flipped.status).toBe("failed");
    expect(flipped.reason).toMatch(/digest did not match|signature/i);
    const wrong = await verifyFile(join(pkgs, "f-wrong-key.tgz"), { keys });
    expect(wrong.status).toBe("failed");
    expect(wrong.reason).toContain("not in the keyring");
    // with the other key it verifies: the wrong-key failure is about the key, not the file
    expect((await verifyFile(join(pkgs, "f-wrong-key.tgz"), { keys: await readKeyring(otherPub) })).status).toBe("gpg");
  });

  test("checksum file forms", () => {
    const h = "ab".repeat(32);
    expect(expectedHash(`${h}\n`, "/x/any.tgz", "f")).toBe(h);
    expect(expectedHash(`${"cd".repeat(32)}  other.tgz\n${h} *pkg.tgz\n`, "/x/pkg.tgz", "f")).toBe(h);
    expect(() => expectedHash("not a hash\n", "/x/pkg.tgz", "f")).toThrow("not a sha256 checksum file");
    expect(() => expectedHash(`${h}  a.tgz\n${h}  b.tgz\n`, "/x/c.tgz", "f")).toThrow("no line for c.tgz");
  });
});

describe("kubectl violet verify", () => {
  test("a directory: the documented summary with absolute paths; non-zero exit when any failed", async () => {
    const r = await violet(["verify", pkgs, "--keyring", pub]);
    expect(r.code).toBe(1);
    const p = (n: string) => `  - ${join(pkgs, n)}`;
    expect(r.stdout).toBe(
      [
        `verify path: ${pkgs}`,
        "====== Verification Summary ======",
        "Verified successfully with GPG: 2 file(s)",
        p("a-binary-sig.tgz"),
        p("b-armored-sig.tgz"),
        "Verified successfully with checksum: 2 file(s)",
        p("c-sha256sum.tgz"),
        p("d-bare-hash.tgz"),
        "Verification failed: 3 file(s)",
        p("e-flipped.tgz"),
        p("f-wrong-key.tgz"),
        p("g-bad-checksum.tgz"),
        "No verification file found: 1 file(s)",
        p("h-nothing.tgz"),
        "",
      ].join("\n"),
    );
    expect(r.stderr).toContain("checksum mismatch");
    expect(r.stderr).toContain("3 of 8 package(s) failed verification");
  });

  test("one good file exits 0; -o json", async () => {
    const r = ok(await violet(["verify", join(pkgs, "a-binary-sig.tgz"), "--keyring", pub, "-o", "json"]));
    const j = JSON.parse(r.stdout);
    expect(j.gpg).toEqual([join(pkgs, "a-binary-sig.tgz")]);
    expect(j.failed).toEqual([]);
  });

  test("several files (as `verify *.tgz` gives them): each is verified, a bad one among them fails the run", async () => {
    const r = await violet(["verify", join(pkgs, "a-binary-sig.tgz"), join(pkgs, "e-flipped.tgz"), "--keyring", pub, "-o", "json"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.gpg).toEqual([join(pkgs, "a-binary-sig.tgz")]);
    expect(j.failed.map((f: any) => f.file)).toEqual([join(pkgs, "e-flipped.tgz")]);
  });

  test("show takes one package: a second one is a usage error, not silently dropped", async () => {
    const r = await violet(["show", join(pkgs, "a-binary-sig.tgz"), join(pkgs, "e-flipped.tgz")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("show takes one package, got 2");
  });

  test("a .sig without --keyring fails with a hint", async () => {
    const one = join(dir, "one");
    mkdirSync(one);
    for (const f of ["a-binary-sig.tgz", "a-binary-sig.tgz.sig"]) copyFileSync(join(pkgs, f), join(one, f));
    const r = await violet(["verify", one], { env: { VIOLET_KEYRING: "" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("pass --keyring FILE");
  });

  test("a missing path is one clear error line", async () => {
    const r = await violet(["verify", join(dir, "nope")]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`error: ${join(dir, "nope")}: no such file or directory`);
  });
});
