// Self-tests of test/support/images.ts: the generated OCI layouts are valid (digests, diff_ids, tar
// content), deterministic, Docker/OCI typed, round-trip through the real registry with skopeo --all, and
// 1 GiB layers are streamed with constant memory.
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGunzip } from "node:zlib";
import { MT, REF_NAME, pushWithSkopeo, readLayoutBlob, run, skopeoCopy, skopeoInspectRaw, writeImageLayout } from "../support/images.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";

// bunfig's [test] timeout is not applied by this bun; these tests run real registries/skopeo/helm.
setDefaultTimeout(60_000);

let work: string;
let reg: TestRegistry;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "ka-harness-img-"));
  reg = await startRegistry({ auth: "htpasswd", tls: false });
});
afterAll(async () => {
  await reg?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function fileSha(path: string, gunzip = false): Promise<string> {
  const h = createHash("sha256");
  const src = createReadStream(path);
  const stream = gunzip ? src.pipe(createGunzip()) : src;
  for await (const c of stream) h.update(c as Buffer);
  return `sha256:${h.digest("hex")}`;
}

const blobFile = (dir: string, d: string) => join(dir, "blobs/sha256", d.slice(7));
const json = (dir: string, d: string) => JSON.parse(readLayoutBlob(dir, d).toString("utf8"));

describe("layout structure", () => {
  test("oci-layout, index.json with ref.name, every blob named by its sha256, diff_ids = sha256 of the gunzipped tar", async () => {
    const dir = join(work, "multi");
    const out = await writeImageLayout(dir, {
      tag: "2.1", platforms: ["linux/amd64", "linux/arm64/v8", "linux/s390x"],
      layers: [{ size: 5000 }, { size: 70_000, content: "text" }, { files: [{ path: "etc/motd", content: "hello\n" }] }],
      config: { Labels: { a: "b" } }, annotations: { "org.opencontainers.image.version": "2.1" },
    });
    expect(JSON.parse(readFileSync(join(dir, "oci-layout"), "utf8"))).toEqual({ imageLayoutVersion: "1.0.0" });
    const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
    expect(index.manifests).toHaveLength(1);
    const img = out.images[0]!;
    expect(index.manifests[0]).toEqual({ mediaType: MT.ociIndex, digest: img.digest, size: img.size, annotations: { [REF_NAME]: "2.1" } });
    // all blob files hash to their names; no temp files left
    const names = readdirSync(join(dir, "blobs/sha256"));
    expect(names.filter((n) => n.startsWith("."))).toEqual([]);
    for (const n of names) expect(await fileSha(join(dir, "blobs/sha256", n))).toBe(`sha256:${n}`);
    expect(names.sort()).toEqual(img.blobs.map((b) => b.slice(7)).sort());

    const idx = json(dir, img.digest);
    expect(idx.mediaType).toBe(MT.ociIndex);
    expect(idx.manifests.map((m: any) => m.platform)).toEqual([
      { os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64", variant: "v8" }, { os: "linux", architecture: "s390x" },
    ]);
    const digests = new Set<string>();
    for (const [i, d] of idx.manifests.entries()) {
      const m = json(dir, d.digest);
      expect(d.size).toBe(readLayoutBlob(dir, d.digest).length);
      expect(m.mediaType).toBe(MT.ociManifest);
      expect(m.annotations).toEqual({ "org.opencontainers.image.version": "2.1" });
      const cfg = json(dir, m.config.digest);
      expect(m.config).toEqual({ mediaType: MT.ociConfig, digest: img.manifests[i]!.config.digest, size: readLayoutBlob(dir, m.config.digest).length });
      expect(cfg.architecture).toBe(d.platform.architecture);
      expect(cfg.config.Labels).toMatchObject({ a: "b" });
      expect(cfg.rootfs.type).toBe("layers");
      expect(cfg.rootfs.diff_ids).toHaveLength(3);
      for (const [j, l] of m.layers.entries()) {
        expect(l.mediaType).toBe(MT.ociLayerGzip);
        expect(cfg.rootfs.diff_ids[j]).toBe(await fileSha(blobFile(dir, l.digest), true));
        digests.add(l.digest);
      }
    }
    // per-platform content differs (9 distinct layers, except the identical explicit-file layer → 7)
    expect(digests.size).toBe(7);
  });

  test("layers are real tars: GNU tar lists and extracts them", async () => {
    const dir = join(work, "tar");
    const out = await writeImageLayout(dir, { tag: "t", layers: [{ size: 12_345, files: [{ path: "app/config/settings.yaml", content: "a: 1\n", mode: 0o600 }, { path: "/bin/run.sh", content: "#!/bin/sh\necho hi\n", mode: 0o755 }] }] });
    const layer = out.images[0]!.manifests[0]!.layers[0]!;
    const list = await run("tar", ["-tvzf", blobFile(dir, layer.digest)]);
    expect(list.code).toBe(0);
    const lines = list.stdout.toString().trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^-rw------- root\/root\s+5 .* app\/config\/settings\.yaml$/);
    expect(lines[1]).toMatch(/^-rwxr-xr-x .* bin\/run\.sh$/);
    expect(lines[2]).toMatch(/\s12345 .* data\/[0-9a-f]{12}\.bin$/);
    const x = join(work, "x");
    expect((await run("mkdir", ["-p", x])).code).toBe(0);
    expect((await run("tar", ["-xzf", blobFile(dir, layer.digest), "-C", x])).code).toBe(0);
    expect(readFileSync(join(x, "bin/run.sh"), "utf8")).toBe("#!/bin/sh\necho hi\n");
    expect(layer.uncompressedSize).toBe(512 * 2 + 512 * 2 + 512 + 12_800 + 1024);
  });

  test("deterministic from the seed; different seeds differ; shared layer seeds dedupe; uncompressed layers", async () => {
    const spec = { tag: "d", platforms: ["linux/amd64", "linux/arm64"], layers: [{ size: 3000 }, { size: 40_000, seed: "shared" }] };
    const a = await writeImageLayout(join(work, "det-a"), spec);
    const b = await writeImageLayout(join(work, "det-b"), spec);
    expect(b.images[0]!.digest).toBe(a.images[0]!.digest);
    const c = await writeImageLayout(join(work, "det-c"), { ...spec, seed: "other" });
    expect(c.images[0]!.digest).not.toBe(a.images[0]!.digest);
    const [amd, arm] = a.images[0]!.manifests;
    expect(amd!.layers[0]!.digest).not.toBe(arm!.layers[0]!.digest);
    expect(amd!.layers[1]!.digest).toBe(arm!.layers[1]!.digest);
    expect(c.images[0]!.manifests[0]!.layers[1]!.digest).toBe(amd!.layers[1]!.digest);

    const u = await writeImageLayout(join(work, "plain"), { tag: "u", layers: [{ size: 2000, compression: "none" }] });
    const ul = u.images[0]!.manifests[0]!.layers[0]!;
    expect(ul.mediaType).toBe(MT.ociLayerTar);
    expect(ul.digest).toBe(ul.diffId);
    expect(ul.size).toBe(ul.uncompressedSize);
  });

  test("extending a layout keeps other tags and replaces the same tag", async () => {
    const dir = join(work, "ext");
    await writeImageLayout(dir, [{ tag: "a" }, { tag: "b" }]);
    const second = await writeImageLayout(dir, [{ tag: "b", seed: "new-b" }, { tag: "c" }]);
    const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
    expect(index.manifests.map((m: any) => m.annotations[REF_NAME])).toEqual(["a", "b", "c"]);
    expect(index.manifests[1].digest).toBe(second.images[0]!.digest);
  });

  test("docker media types: manifest list, v2s2 manifests, docker config and layer types", async () => {
    const dir = join(work, "docker");
    const out = await writeImageLayout(dir, { tag: "dk", mediaTypes: "docker", platforms: ["linux/amd64", "linux/arm64"], layers: 2 });
    const top = json(dir, out.images[0]!.digest);
    expect(top.mediaType).toBe(MT.dockerList);
    const m = json(dir, top.manifests[0].digest);
    expect(top.manifests[0].mediaType).toBe(MT.dockerManifest);
    expect(m.mediaType).toBe(MT.dockerManifest);
    expect(m.config.mediaType).toBe(MT.dockerConfig);
    expect(m.layers.map((l: any) => l.mediaType)).toEqual([MT.dockerLayerGzip, MT.dockerLayerGzip]);
    const single = await writeImageLayout(dir, { tag: "dk1", mediaTypes: "docker" });
    expect(single.images[0]!.mediaType).toBe(MT.dockerManifest);
  });
});

describe("round trips through the real registry with skopeo", () => {
  test("a multi-arch OCI index round-trips with --all: same index digest, every blob back", async () => {
    const src = join(work, "rt-src");
    const out = await writeImageLayout(src, { tag: "1.0", platforms: ["linux/amd64", "linux/arm64", "linux/ppc64le"], layers: [{ size: 10_000 }, { size: 200_000 }] });
    const img = out.images[0]!;
    await pushWithSkopeo(src, "1.0", `${reg.host}/multi/app:1.0`, reg.skopeo);
    const raw = await skopeoInspectRaw(`${reg.host}/multi/app:1.0`, reg.skopeo);
    expect(raw.digest).toBe(img.digest);
    expect(raw.mediaType).toBe(MT.ociIndex);
    for (const m of img.manifests) {
      const child = await skopeoInspectRaw(`${reg.host}/multi/app@${m.digest}`, reg.skopeo);
      expect(child.digest).toBe(m.digest);
    }
    const back = join(work, "rt-back");
    await skopeoCopy(`${reg.host}/multi/app:1.0`, `oci:${back}:1.0`, { src: reg.skopeo, all: true });
    const idx = JSON.parse(readFileSync(join(back, "index.json"), "utf8"));
    expect(idx.manifests[0].digest).toBe(img.digest);
    for (const d of img.blobs) expect(existsSync(blobFile(back, d))).toBe(true);
    expect(readFileSync(blobFile(back, img.manifests[2]!.layers[1]!.digest)).equals(readFileSync(blobFile(src, img.manifests[2]!.layers[1]!.digest)))).toBe(true);
  });

  test("docker-typed images push with their digests and media types preserved (via a staged dir:)", async () => {
    const dir = join(work, "docker");
    const out = await writeImageLayout(dir, { tag: "dk", mediaTypes: "docker", platforms: ["linux/amd64", "linux/arm64"], layers: 2 });
    await pushWithSkopeo(dir, "dk", `${reg.host}/dock/app:dk`, reg.skopeo);
    const raw = await skopeoInspectRaw(`${reg.host}/dock/app:dk`, reg.skopeo);
    expect(raw.digest).toBe(out.images[0]!.digest);
    expect(raw.mediaType).toBe(MT.dockerList);
    const child = await skopeoInspectRaw(`${reg.host}/dock/app@${out.images[0]!.manifests[1]!.digest}`, reg.skopeo);
    expect(child.mediaType).toBe(MT.dockerManifest);
  });

  test("without --all only one platform is copied (the flag is really passed)", async () => {
    const src = join(work, "rt-src");
    await pushWithSkopeo(src, "1.0", `${reg.host}/multi/one:1.0`, { ...reg.skopeo, all: false, preserveDigests: false, extraArgs: ["--override-arch", "arm64"] });
    const raw = await skopeoInspectRaw(`${reg.host}/multi/one:1.0`, reg.skopeo);
    expect(raw.mediaType).toBe(MT.ociManifest);
  });
});

describe("big layers", () => {
  test("a 1 GiB layer is generated by streaming (bounded memory) and its digest matches the file", async () => {
    const dir = join(work, "huge");
    const base = process.memoryUsage().rss;
    let peak = base;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25);
    let out;
    try {
      out = await writeImageLayout(dir, { tag: "huge", layers: [{ size: 1 << 30 }] });
    } finally {
      clearInterval(timer);
    }
    const l = out.images[0]!.manifests[0]!.layers[0]!;
    expect(l.uncompressedSize).toBe((1 << 30) + 512 + 1024);
    expect(l.size).toBeGreaterThan(1 << 30);
    expect(await fileSha(blobFile(dir, l.digest))).toBe(l.digest);
    if (process.env.KA_DEBUG) console.error("1 GiB layer rss growth MiB", (peak - base) >> 20);
    expect(peak - base).toBeLessThan(150 << 20);
    rmSync(dir, { recursive: true, force: true });
  }, 180_000);
});
