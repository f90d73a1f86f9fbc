// kubectl mirror inspect (issue 24.1): what an export archive carries — plain, gzip, zstd and split into parts —
// an OCI layout and a registry reference, read in place. The oracle is skopeo's view of the same content
// (skopeo inspect --raw / --config on oci-archive:FILE:REF and docker://…), never our own reader.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { skopeo, skopeoInspectRaw } from "../support/images.ts";
import { expectOk, mirror, setupSources, sourceRef, type Sources } from "./helpers.ts";
import { splitArchive } from "../../plugins/kubectl-mirror/lib/transfer/archive.ts";

let s: Sources;
let tar: string;
let exported: any;
let exportStderr = "";

const chartArgs = () => ["--repo-url", s.repo.url, "--chart-url", "fixture/app", "--chart-version", "1.2.3", ...s.srcArgs, ...s.mirrorArgs, ...s.pinnedSet];

beforeAll(async () => {
  s = await setupSources();
  tar = join(s.tmp, "app.tar");
  const r = await mirror(s, ["export", ...chartArgs(), "-O", tar, "-o", "json"]);
  expectOk(r, "export");
  exported = JSON.parse(r.stdout);
  exportStderr = r.stderr;
}, 180_000);

test("a newly created archive reports what it wrote as copied, nothing as present (issue 24.4)", () => {
  const lines = exportStderr.split("\n").filter((l) => /^(copied|ok) {2}/.test(l));
  expect(lines.length).toBe(s.images.length + 1);
  // the chart's config and each image's config are written with the graph: copied by this run, not found present
  expect(lines.find((l) => l.includes("chart app 1.2.3"))).not.toContain("present");
  // an image shows "present" only for the base layer it shares with an image written before it in this run
  for (const l of lines) expect(l).not.toMatch(/[2-9]\d* present/);
});

afterAll(async () => {
  await s?.stop();
});

const sha = (b: Buffer | Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/**
 * What skopeo sees for REF in the archive: its digest, platforms (the index's entries, or the config's os/arch) and
 * size (every blob `skopeo copy --all` writes for it into a fresh layout: manifests, configs, layers, each once).
 */
let n = 0;
async function skopeoView(archive: string, ref: string): Promise<{ digest: string; platforms: string[]; size: number }> {
  const raw = await skopeoInspectRaw(`oci-archive:${archive}:${ref}`);
  const dir = join(s.tmp, `skopeo-view-${n++}`);
  await skopeo(["copy", "--all", `oci-archive:${archive}:${ref}`, `oci:${dir}:x`]);
  const size = readdirSync(join(dir, "blobs", "sha256")).reduce((sum, f) => sum + statSync(join(dir, "blobs", "sha256", f)).size, 0);
  const fmt = (p: any) => `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
  if (raw.json.manifests) return { digest: raw.digest, platforms: raw.json.manifests.map((m: any) => fmt(m.platform)), size };
  const cfg = JSON.parse((await skopeo(["inspect", "--config", "--raw", `oci-archive:${archive}:${ref}`])).stdout.toString());
  return { digest: raw.digest, platforms: cfg.os ? [fmt(cfg)] : [], size };
}

describe("kubectl mirror inspect ARCHIVE", () => {
  test("charts, images (digest, platforms, size, signatures), totals and who exported it, as skopeo sees them", async () => {
    const r = await mirror(s, ["inspect", tar, "-o", "json"]);
    expectOk(r, "inspect");
    const rep = JSON.parse(r.stdout);
    expect(rep.type).toBe("oci-archive");
    expect(rep.compression).toBe("none");
    expect(rep.artifacts).toHaveLength(1);
    // the chart's images are its required ones (the archive's metadata); the images found only by the static scan
    // travel as possible images (issue 20) and are listed among the archive's images below
    const meta = JSON.parse(execFileSync("tar", ["-xOf", tar, "kubectl-mirror.json"]).toString());
    expect(rep.artifacts[0]).toMatchObject({ kind: "chart", name: "app", version: "1.2.3", ref: "charts/app/app:1.2.3", images: meta.artifacts[0].images.length });
    expect(meta.artifacts[0].images.length + (meta.artifacts[0].possible ?? []).length).toBe(s.images.length);
    expect(rep.artifacts[0].digest).toBe((await skopeoInspectRaw(`oci-archive:${tar}:charts/app/app:1.2.3`)).digest);
    expect(rep.images.map((i: any) => i.image).sort()).toEqual(s.images);
    for (const img of rep.images) {
      const view = await skopeoView(tar, img.image);
      expect({ ref: img.image, digest: img.digest, platforms: [...img.platforms].sort(), size: img.size }).toEqual({ ref: img.image, digest: view.digest, platforms: view.platforms.sort(), size: view.size });
    }
    // the cosign signature exported next to the operator index
    const op = rep.images.find((i: any) => i.image === "quay.io/acme/operator:0.9.0");
    expect(op.platforms.sort()).toEqual(["linux/amd64", "linux/arm64"]);
    expect(op.referrers.map((x: any) => x.tag)).toContain(s.sigTag);
    expect(op.referrers[0].digest).toBe((await skopeoInspectRaw(`oci-archive:${tar}:${s.sigTag}`)).digest);
    expect(rep.totals).toMatchObject({ charts: 1, packs: 0, images: s.images.length, referrers: 1 });
    const blobs = execFileSync("tar", ["-tf", tar], { encoding: "utf8" }).split("\n").filter((n) => /^blobs\/sha256\/[a-f0-9]{64}$/.test(n));
    expect(rep.totals.blobs).toBe(blobs.length);
    // who/when/which flags
    expect(rep.created.by).toBe("kubectl mirror export");
    expect(rep.created.at).toBe(exported.metadata.created);
    expect(rep.created.user).toBeTruthy();
    expect(rep.created.args).toContain("--chart-version");
    expect(rep.created.args).toContain("1.2.3");
  }, 180_000);

  test("gzip, zstd and split parts give the same report, read in place (no temp copy)", async () => {
    const base = JSON.parse((await mirror(s, ["inspect", tar, "-o", "json"])).stdout);
    const gz = join(s.tmp, "app.tar.gz");
    const zst = join(s.tmp, "app.tar.zst");
    execFileSync("sh", ["-c", `gzip -c '${tar}' > '${gz}' && zstd -q -c '${tar}' > '${zst}'`]);
    const splitDir = join(s.tmp, "split");
    mkdirSync(splitDir);
    const big = join(splitDir, "app.tar.zst");
    copyFileSync(zst, big);
    const parts = await splitArchive(big, 16 * 1024);
    expect(parts.length).toBeGreaterThan(1);
    const tmp = join(s.tmp, "tmpdir");
    mkdirSync(tmp);
    for (const [arg, compression] of [[gz, "gzip"], [zst, "zstd"], [`${big}.parts`, "zstd"], [join(splitDir, "app.tar.zst.part002"), "zstd"]] as const) {
      const r = await mirror(s, ["inspect", arg, "-o", "json"], { env: { TMPDIR: tmp } });
      expectOk(r, `inspect ${arg}`);
      const rep = JSON.parse(r.stdout);
      expect(rep.compression).toBe(compression);
      expect({ artifacts: rep.artifacts, images: rep.images, totals: rep.totals }).toEqual({ artifacts: base.artifacts, images: base.images, totals: base.totals });
      if (arg.includes("part")) expect(rep.parts.map((p: any) => p.file)).toEqual(parts.map((p) => p.file));
    }
    expect(readdirSync(tmp)).toEqual([]);
  }, 180_000);

  test("an OCI layout written by skopeo: its image with skopeo's digest and size", async () => {
    const ref = "quay.io/acme/operator:0.9.0";
    const view = await skopeoView(tar, ref);
    const dir = join(s.tmp, `skopeo-view-${n - 1}`);
    const r = await mirror(s, ["inspect", `oci-layout:${dir}`, "-o", "json"]);
    expectOk(r, "inspect oci-layout");
    const rep = JSON.parse(r.stdout);
    expect(rep.type).toBe("oci-layout");
    expect(rep.images.map((i: any) => [i.image, i.digest, i.size, i.platforms.sort()])).toEqual([["x", view.digest, view.size, view.platforms.sort()]]);
  }, 60_000);

  test("the table names every image with its platforms and signatures, and the totals", async () => {
    const r = await mirror(s, ["inspect", tar]);
    expectOk(r, "inspect");
    for (const img of s.images) expect(r.stdout).toContain(img);
    expect(r.stdout).toMatch(/quay\.io\/acme\/operator:0\.9\.0\s+sha256:\S+\s+linux\/amd64,linux\/arm64\s+.*\.sig/);
    expect(r.stdout).toMatch(/chart\s+app\s+1\.2\.3\s+charts\/app\/app:1\.2\.3/);
    expect(r.stdout).toContain(`Total: 1 chart(s), 0 pack(s), ${s.images.length} image(s), 1 signature(s)/referrer(s)`);
    expect(r.stdout).toContain("Created: ");
    // --raw: index.json exactly as stored
    const raw = await mirror(s, ["inspect", tar, "--raw"]);
    expect(raw.stdout).toBe(execFileSync("tar", ["-xOf", tar, "index.json"], { encoding: "utf8" }));
  }, 60_000);

  test("a file that is not an archive, and a missing one, fail with one line naming it", async () => {
    const r = await mirror(s, ["inspect", join(s.tmp, "nope.tar")]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("nope.tar");
    expect(r.stderr.trim().split("\n").filter((l) => l.startsWith("error")).length).toBeLessThanOrEqual(1);
  }, 60_000);
});

describe("kubectl mirror inspect REFERENCE", () => {
  test("a registry image: digest, platforms, config and layers as skopeo sees them; --raw and --config give the stored bytes", async () => {
    const img = "docker.io/bitnami/redis-exporter:1.58.0";
    const ref = sourceRef(s.src, img);
    const ca = ["--ca-file", `${s.src.host}=${s.src.caFile}`];
    const r = await mirror(s, ["inspect", ref, ...ca, "-o", "json"]);
    expectOk(r, "inspect ref");
    const rep = JSON.parse(r.stdout);
    const view = await skopeoInspectRaw(ref, s.src.skopeo);
    expect(rep.digest).toBe(view.digest);
    expect(rep.layers.map((l: any) => l.digest)).toEqual(view.json.layers.map((l: any) => l.digest));
    expect(rep.config.digest).toBe(view.json.config.digest);
    expect(rep.platforms).toEqual(["linux/amd64"]);
    const raw = await mirror(s, ["inspect", ref, ...ca, "--raw"]);
    expect(sha(Buffer.from(raw.stdout))).toBe(view.digest);
    const cfg = await mirror(s, ["inspect", ref, ...ca, "--config"]);
    expect(sha(Buffer.from(cfg.stdout))).toBe(view.json.config.digest);
    // the multi-platform index with its signature (a cosign tag)
    const op = await mirror(s, ["inspect", sourceRef(s.src, "quay.io/acme/operator:0.9.0"), ...ca, "-o", "json"]);
    expectOk(op, "inspect index");
    const o = JSON.parse(op.stdout);
    expect(o.platforms.sort()).toEqual(["linux/amd64", "linux/arm64"]);
    expect(o.referrers.map((x: any) => x.tag)).toContain(s.sigTag);
  }, 60_000);

  test("an image inside an archive (oci-archive:FILE:REF) matches skopeo --raw", async () => {
    const r = await mirror(s, ["inspect", `oci-archive:${tar}:docker.io/bitnami/redis-exporter:1.58.0`, "--raw"]);
    expectOk(r, "inspect oci-archive ref");
    expect(Buffer.from(r.stdout).equals((await skopeoInspectRaw(`oci-archive:${tar}:docker.io/bitnami/redis-exporter:1.58.0`)).bytes)).toBe(true);
  }, 60_000);
});

