// Issue 12 points 2 and 3: tampered archives. A second index.json / oci-layout / export metadata /
// violet-package.yaml is refused by every reader (tar tools disagree on which copy wins), and a split archive's
// part list cannot name files outside the archive's folder.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { runCli } from "../support/cli.ts";
import { file, image, indexJson, mirror, OCI_LAYOUT, tagDigest, writeArchive } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "ka-tamper-"));
let reg: TestRegistry;
beforeAll(async () => {
  reg = await startRegistry({ auth: "htpasswd", tls: true });
}, 60_000);
afterAll(async () => {
  await reg.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const good = image([Buffer.alloc(5000, 1)]);
const evil = image([Buffer.alloc(600_000, 66)]); // over the in-memory bound: gzip readers meet the duplicate while streaming

/** a valid archive, then a second copy of one metadata entry (pointing v1 at the attacker's image) */
function tampered(dup: "index.json" | "oci-layout" | "kubectl-mirror.json", tag = "v1"): Buffer[] {
  const entries: Buffer[] = [file("oci-layout", OCI_LAYOUT), file("index.json", indexJson([{ img: good, tag }]))];
  if (dup === "kubectl-mirror.json") entries.push(file("kubectl-mirror.json", JSON.stringify({ apiVersion: "mirror.kube-airgap.io/v1", kind: "MirrorArchive", created: "", createdBy: "t", extras: false, artifacts: [], images: [{ image: tag, ref: tag }] })));
  entries.push(...good.blobs, ...evil.blobs);
  if (dup === "index.json") entries.push(file("index.json", indexJson([{ img: evil, tag }])));
  if (dup === "oci-layout") entries.push(file("oci-layout", OCI_LAYOUT));
  if (dup === "kubectl-mirror.json") entries.push(file("kubectl-mirror.json", JSON.stringify({ apiVersion: "mirror.kube-airgap.io/v1", kind: "MirrorArchive", created: "", createdBy: "t", extras: false, artifacts: [], images: [{ image: "example.com/evil:v1", ref: tag }] })));
  return entries;
}

describe("duplicate metadata entries are refused (point 2)", () => {
  for (const gz of [false, true]) {
    for (const dup of ["index.json", "oci-layout"] as const) {
      test(`copy oci-archive: with a second ${dup}${gz ? " (gzip)" : ""}`, async () => {
        const archive = writeArchive(tmp, `dup-${dup}.tar${gz ? ".gz" : ""}`, tampered(dup));
        const repo = `tamper/copy-${dup.replace(/\W/g, "")}-${gz ? "gz" : "tar"}`;
        const r = await mirror(reg, ["copy", `oci-archive:${archive}:v1`, `${reg.host}/${repo}:v1`]);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(new RegExp(`duplicate entry "${dup.replace(".", "\\.")}"`));
        expect(await tagDigest(reg, repo, "v1")).toBeUndefined();
      });
    }
  }

  test("push of an export with a second index.json", async () => {
    const archive = writeArchive(tmp, "push-dup.tar.gz", tampered("index.json", "example.com/app:v1"));
    const r = await mirror(reg, ["push", archive, "--dest", `${reg.host}/tamper`, "-o", "json"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/duplicate entry "index\.json"/);
    expect(await tagDigest(reg, "tamper/app", "v1")).toBeUndefined();
  });

  test("push of an export with a second kubectl-mirror.json", async () => {
    const archive = writeArchive(tmp, "push-dup-meta.tar", tampered("kubectl-mirror.json", "example.com/app:v1"));
    const r = await mirror(reg, ["push", archive, "--dest", `${reg.host}/tamper2`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/duplicate entry "kubectl-mirror\.json"/);
    expect(await tagDigest(reg, "tamper2/app", "v1")).toBeUndefined();
    expect(await tagDigest(reg, "tamper2/evil", "v1")).toBeUndefined();
  });

  test("the untampered archive copies (the fixture is sound)", async () => {
    const archive = writeArchive(tmp, "ok.tar.gz", [file("oci-layout", OCI_LAYOUT), file("index.json", indexJson([{ img: good, tag: "v1" }])), ...good.blobs]);
    const r = await mirror(reg, ["copy", `oci-archive:${archive}:v1`, `${reg.host}/tamper/ok:v1`]);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(await tagDigest(reg, "tamper/ok", "v1")).toBe(good.digest);
  });

  test("violet show/push refuse a package with a second violet-package.yaml", async () => {
    const meta = (name: string) => `apiVersion: violet.kube-airgap.io/v1\nkind: Package\ntype: chart\nname: ${name}\nversion: 1.0.0\nartifact:\n  ref: example.com/charts/${name}:1.0.0\n  tag: 1.0.0\n`;
    const pkg = writeArchive(tmp, "dup.tgz", [file("violet-package.yaml", meta("good")), file("violet-package.yaml", meta("evil")), file("oci-layout", OCI_LAYOUT), file("index.json", indexJson([{ img: good, tag: "v1" }])), ...good.blobs]);
    const r = await runCli("kubectl-violet", ["show", pkg, "-o", "json"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/duplicate violet-package\.yaml/);
    expect(r.stdout).toBe("");
  });
});

describe("split archive part lists stay in their folder (point 3)", () => {
  test("a .parts naming ../other/file is refused and that file is not read", async () => {
    const whole = Buffer.concat([file("oci-layout", OCI_LAYOUT), file("index.json", indexJson([{ img: good, tag: "example.com/app:v1" }])), ...good.blobs, Buffer.alloc(1024)]);
    mkdirSync(join(tmp, "other"), { recursive: true });
    mkdirSync(join(tmp, "split"), { recursive: true });
    writeFileSync(join(tmp, "other", "secret.tar"), whole);
    const parts = { archive: "big.tar", size: whole.length, parts: [{ file: "../other/secret.tar", size: whole.length, sha256: "sha256:" + createHash("sha256").update(whole).digest("hex") }] };
    writeFileSync(join(tmp, "split", "big.tar.parts"), JSON.stringify(parts));
    const r = await mirror(reg, ["push", join(tmp, "split", "big.tar.parts"), "--dest", `${reg.host}/parts`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/part "\.\.\/other\/secret\.tar" is not a file name in the archive's folder/);
    expect(await tagDigest(reg, "parts/app", "v1")).toBeUndefined();
    expect(readFileSync(join(tmp, "other", "secret.tar")).length).toBe(whole.length);
  });

  test("an absolute part path is refused too", async () => {
    writeFileSync(join(tmp, "split", "abs.tar.parts"), JSON.stringify({ archive: "abs.tar", size: 1, parts: [{ file: "/etc/hostname", size: 1, sha256: "sha256:00" }] }));
    const r = await mirror(reg, ["push", join(tmp, "split", "abs.tar.parts"), "--dest", `${reg.host}/parts`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/is not a file name in the archive's folder/);
  });
});
