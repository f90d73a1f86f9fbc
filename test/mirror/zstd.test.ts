// zstd bundles (issue 16.2): `export -O bundle.tar.zst` → `push bundle.tar.zst` against TLS + basic-auth
// registries, --compression-level, --split-size and --existing with zstd, the same under Deno, and the one-line
// message where a runtime (Node 20) has no zstd in node:zlib. Fails on the code before zstd support: the
// .tar.zst was written as a plain tar and push of a real zstd file said "no oci-layout entry".
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startContentWorld, type ContentWorld } from "../support/content-world.ts";
import { skopeoInspectRaw } from "../support/images.ts";
import { BUN, ROOT, runCli, type CliResult } from "../support/cli.ts";
import { OciArchiveReader } from "../../shared/oci/archive.ts";

let w: ContentWorld;
beforeAll(async () => {
  w = await startContentWorld();
}, 120_000);
afterAll(async () => {
  await w?.stop();
});

const mirror = (args: string[], o: { stdin?: string; runtime?: "bun" | "deno" } = {}) => runCli("kubectl-mirror", args, { env: w.env, stdin: o.stdin, runtime: o.runtime, timeoutMs: 120_000 });
const ok = (r: CliResult, what: string) => {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n${r.stderr}\n${r.stdout.slice(0, 2000)}`);
};
const imageArgs = () => w.images.flatMap((i) => ["--image", i]);
const magic = (f: string) => readFileSync(f).subarray(0, 4).toString("hex");
const destOf = (img: string) => `${w.dst.host}/images/${img.slice(img.indexOf("/") + 1)}`;
const dstSkopeo = () => ({ ...w.dst.skopeo });
const srcSkopeo = () => ({ ...w.src.skopeo });

describe("export/push .tar.zst", () => {
  test("export -O bundle.tar.zst writes a zstd stream the zstd CLI reads; push lands every image", async () => {
    const out = join(w.tmp, "bundle.tar.zst");
    const e = await mirror(["export", ...imageArgs(), "--cred-file", w.credFile, ...w.caArgs, "-O", out, "-o", "json"]);
    ok(e, "export");
    expect(magic(out)).toBe("28b52ffd");
    // the system zstd tool agrees it is a zstd'ed tar of an OCI layout
    const list = execFileSync("sh", ["-c", `zstd -dc '${out}' | tar -t`], { encoding: "utf8" });
    expect(list.split("\n").slice(0, 2)).toEqual(["oci-layout", "index.json"]);
    const r = await OciArchiveReader.open(out);
    expect(r.compression).toBe("zstd");
    expect((await r.tags()).filter((t) => t.includes("/")).sort()).toEqual(w.images);
    await r.close();

    const p = await mirror(["push", out, "--dest", w.dst.host, ...w.caArgs, "-u", w.dst.username, "--password-stdin", "-o", "json"], { stdin: w.dst.password + "\n" });
    ok(p, "push");
    const rep = JSON.parse(p.stdout);
    expect(rep.summary.failed).toBe(0);
    expect(rep.summary.images).toBe(w.images.length);
    for (const img of w.images) {
      const a = await skopeoInspectRaw(`${w.src.host}/${img.slice(img.indexOf("/") + 1)}`, srcSkopeo());
      const b = await skopeoInspectRaw(destOf(img), dstSkopeo());
      expect(b.digest).toBe(a.digest);
    }
  }, 120_000);

  test("--compression-level: 19 is smaller than 1; out-of-range levels are refused before any work", async () => {
    const l1 = join(w.tmp, "l1.tar.zst");
    const l19 = join(w.tmp, "l19.tar.zst");
    ok(await mirror(["export", ...imageArgs(), "--cred-file", w.credFile, ...w.caArgs, "-O", l1, "--compression-level", "1"]), "export l1");
    ok(await mirror(["export", ...imageArgs(), "--cred-file", w.credFile, ...w.caArgs, "-O", l19, "--compression-level", "19"]), "export l19");
    expect(statSync(l19).size).toBeLessThan(statSync(l1).size);
    const bad = await mirror(["export", ...imageArgs(), "--cred-file", w.credFile, ...w.caArgs, "-O", join(w.tmp, "bad.tar.zst"), "--compression-level", "30"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("--compression-level: zstd levels are 1-22, got 30");
    expect(existsSync(join(w.tmp, "bad.tar.zst"))).toBe(false);
    const flag = await mirror(["export", ...imageArgs(), "--cred-file", w.credFile, ...w.caArgs, "-O", join(w.tmp, "flag.bundle"), "--zstd"]);
    ok(flag, "export --zstd");
    expect(magic(join(w.tmp, "flag.bundle"))).toBe("28b52ffd");
  }, 120_000);

  test("--existing day1.tar.zst leaves its blobs out; --split-size parts of a .tar.zst push back", async () => {
    const day1 = join(w.tmp, "day1.tar.zst");
    ok(await mirror(["export", "--image", w.images[0]!, "--cred-file", w.credFile, ...w.caArgs, "-O", day1]), "export day1");
    const day2 = join(w.tmp, "day2.tar.zst");
    const e = await mirror(["export", ...imageArgs(), "--cred-file", w.credFile, ...w.caArgs, "-O", day2, "--existing", day1, "--split-size", "1M", "-o", "json"]);
    ok(e, "export day2");
    const rep = JSON.parse(e.stdout);
    expect(rep.summary.blobsSkipped).toBeGreaterThan(0);
    expect(existsSync(`${day2}.parts`)).toBe(true);
    expect(existsSync(`${day2}.part001`)).toBe(true);
    expect(readFileSync(`${day2}.part001`).subarray(0, 4).toString("hex")).toBe("28b52ffd");
    // a fresh path in the same destination: day1 first, then the split day2 (its missing blobs are there)
    ok(await mirror(["push", day1, "--dest", `${w.dst.host}/inc`, ...w.caArgs, "-u", w.dst.username, "--password-stdin"], { stdin: w.dst.password + "\n" }), "push day1");
    const p = await mirror(["push", `${day2}.parts`, "--dest", `${w.dst.host}/inc`, ...w.caArgs, "-u", w.dst.username, "--password-stdin", "-o", "json"], { stdin: w.dst.password + "\n" });
    ok(p, "push day2 parts");
    expect(JSON.parse(p.stdout).summary.failed).toBe(0);
    for (const img of w.images) expect((await skopeoInspectRaw(`${w.dst.host}/inc/images/${img.slice(img.indexOf("/") + 1)}`, dstSkopeo())).digest).toMatch(/^sha256:/);
    // both in ONE push into a fresh path (the README's `push day1.tar day2.tar`): day1 lands before day2 needs its
    // blobs (on the previous code both ran at once and day2's items failed "not found (the archive is incomplete)")
    const both = await mirror(["push", day1, `${day2}.parts`, "--dest", `${w.dst.host}/inc2`, ...w.caArgs, "-u", w.dst.username, "--password-stdin", "-o", "json"], { stdin: w.dst.password + "\n" });
    ok(both, "push day1 day2.parts");
    for (const img of w.images) expect((await skopeoInspectRaw(`${w.dst.host}/inc2/images/${img.slice(img.indexOf("/") + 1)}`, dstSkopeo())).digest).toMatch(/^sha256:/);
  }, 120_000);

  // Deno: writes .tar.zst (export from the TLS source), reads it (copy out of the archive into a layout) and pushes
  // it into the TLS + basic-auth registry. The push stalled forever on the previous code (any archive under
  // `deno run`: a TLS socket reused after a streamed blob upload never answered the manifest PUT).
  test("deno reads, writes and pushes .tar.zst", async () => {
    const out = join(w.tmp, "deno.tar.zst");
    const e = await mirror(["export", "--image", w.images[1]!, "--cred-file", w.credFile, ...w.caArgs, "-O", out], { runtime: "deno" });
    ok(e, "deno export");
    expect(magic(out)).toBe("28b52ffd");
    const layout = join(w.tmp, "deno-layout");
    const src = await skopeoInspectRaw(`${w.src.host}/${w.images[1]!.slice(w.images[1]!.indexOf("/") + 1)}`, srcSkopeo());
    const c = await mirror(["copy", `oci-archive:${out}@${src.digest}`, `oci-layout:${layout}:x`, "-o", "json"], { runtime: "deno" });
    ok(c, "deno copy out of .tar.zst");
    const idx = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
    expect(idx.manifests[0].digest).toBe(src.digest);
    const p = await runCli("kubectl-mirror", ["push", out, "--dest", `${w.dst.host}/deno`, ...w.caArgs, "-u", w.dst.username, "--password-stdin"], { env: w.env, stdin: w.dst.password + "\n", runtime: "deno", timeoutMs: 45_000 });
    ok(p, "deno push");
    expect((await skopeoInspectRaw(`${w.dst.host}/deno/images/${w.images[1]!.slice(w.images[1]!.indexOf("/") + 1)}`, dstSkopeo())).digest).toBe(src.digest);
  }, 120_000);

  test("Node 20 (no zstd in node:zlib): one clear message, no crash", async () => {
    const nodeVersion = execFileSync("node", ["--version"], { encoding: "utf8" }).trim();
    const bundle = join(w.tmp, "node-check.mjs");
    execFileSync(BUN, ["build", join(ROOT, "shared/oci/archive.ts"), "--target", "node", "--format", "esm", "--outfile", bundle], { stdio: "pipe" });
    const script = join(w.tmp, "node-run.mjs");
    writeFileSync(script, `import { OciArchiveReader } from ${JSON.stringify(bundle)};\ntry { await OciArchiveReader.open(process.argv[2]); console.log("opened"); } catch (e) { console.log(e.message + " | " + e.hint); }\n`);
    const zst = join(w.tmp, "node-input.tar.zst");
    execFileSync("sh", ["-c", `tar -cf - -C '${ROOT}' package.json | zstd -q -c > '${zst}'`]);
    const outText = execFileSync("node", [script, zst], { encoding: "utf8" }).trim();
    if (/^v2[0-1]\./.test(nodeVersion)) {
      expect(outText).toContain("is zstd-compressed, but this runtime (Node " + nodeVersion + ") has no zstd in node:zlib");
      expect(outText).toContain("zstd -d");
    } else expect(outText).toBe("opened");
  }, 120_000);
});
