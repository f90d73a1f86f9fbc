// kubectl mirror export → push (the air-gap flow), incremental export, split archives, export-pack, verify
// against archives, and an interrupted push (process killed mid-transfer) that resumes sending only what is
// missing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { helm, skopeoInspectRaw, skopeoListTags, writeImageLayout } from "../support/images.ts";
import { BUN, ROOT } from "../support/cli.ts";
import { destOf, expectOk, mirror, setupSources, sourceRef, type Sources } from "./helpers.ts";
import { HELM4 } from "../support/helm.ts";
import { OciArchiveReader } from "../../shared/oci/archive.ts";
import { mirrorCopy } from "../../plugins/kubectl-mirror/lib/transfer/copy.ts";
import { execFileSync } from "node:child_process";

let s: Sources;
let dst: TestRegistry;
let dst2: TestRegistry;

beforeAll(async () => {
  // the air-gapped side is the realistic registry (TLS with a private CA + htpasswd); the fixture source is
  // public-like (TLS with its own CA, token auth, anonymous pull; trusted with s.srcArgs)
  [s, dst, dst2] = await Promise.all([setupSources(), startRegistry(), startRegistry()]);
}, 120_000);

afterAll(async () => {
  await Promise.all([s?.stop(), dst?.stop(), dst2?.stop()]);
});

/** --dest credentials + CA of a realistic destination (with { stdin: reg.password }) */
const into = (reg: TestRegistry) => ["--ca-file", reg.caFile!, "-u", reg.username, "--password-stdin"];
const pw = (reg: TestRegistry) => ({ stdin: reg.password });
const chartArgs = () => ["--repo-url", s.repo.url, "--chart-url", "fixture/app", "--chart-version", "1.2.3", ...s.srcArgs, ...s.mirrorArgs, ...s.pinnedSet];

describe("export → push", () => {
  test("export writes one archive with the chart, every image and the metadata", async () => {
    const out = join(s.tmp, "app.tar");
    const r = await mirror(s, ["export", ...chartArgs(), "-O", out, "-o", "json"]);
    expectOk(r, "export");
    const rep = JSON.parse(r.stdout);
    expect(rep.summary.failed).toBe(0);
    const reader = await OciArchiveReader.open(out);
    const meta = JSON.parse((await reader.readFile("kubectl-mirror.json"))!.toString());
    expect(meta.kind).toBe("MirrorArchive");
    expect(meta.artifacts).toHaveLength(1);
    expect(meta.artifacts[0]).toMatchObject({ kind: "chart", name: "app", version: "1.2.3", ref: "charts/app/app:1.2.3" });
    // required images (the chart waits for them) + the possible ones the source has (images.lock / annotation only)
    expect(meta.artifacts[0].possible).toEqual(["docker.io/bitnami/os-shell:12-debian-12-r1", "docker.io/bitnami/redis-exporter:1.58.0"]);
    expect([...meta.artifacts[0].images, ...meta.artifacts[0].possible].sort()).toEqual(s.images);
    expect(meta.images.map((i: any) => i.image)).toEqual(s.images);
    const tags = await reader.tags();
    for (const img of s.images) expect(tags).toContain(img);
    expect(tags).toContain(s.sigTag);
    await reader.close();
  }, 120_000);

  test("push lands everything; helm pull/template work; verify --archive passes", async () => {
    const out = join(s.tmp, "app.tar");
    const r = await mirror(s, ["push", out, "--dest", dst.host, ...into(dst), "-o", "json"], pw(dst));
    expectOk(r, "push");
    const rep = JSON.parse(r.stdout);
    expect(rep.summary.failed).toBe(0);
    expect(rep.items.filter((i: any) => i.kind === "image").map((i: any) => i.source).sort()).toEqual(s.images);
    for (const img of ["quay.io/acme/agent:0.9.0", "docker.io/bitnami/redis-exporter:1.58.0", "registry.example.com/acme/app:2.4.0"]) {
      expect((await skopeoInspectRaw(destOf(dst.host, img), dst.skopeo)).digest).toBe((await skopeoInspectRaw(sourceRef(s.src, img), s.src.skopeo)).digest);
    }
    expect(await skopeoListTags(`${dst.host}/images/acme/operator`, dst.skopeo)).toContain(s.sigTag);
    const pulled = join(s.tmp, "pulled-push");
    mkdirSync(pulled, { recursive: true });
    const helmTls = { helmBin: HELM4, registryAuths: { [dst.host]: { username: dst.username, password: dst.password } } };
    await helm(["pull", `oci://${dst.host}/charts/app/app`, "--version", "1.2.3", "--ca-file", dst.caFile!, "--destination", pulled], helmTls);
    expect(readFileSync(join(pulled, "app-1.2.3.tgz")).equals(readFileSync(s.fx.tgz))).toBe(true);
    const t = await helm(["template", "x", `oci://${dst.host}/charts/app/app`, "--version", "1.2.3", "--ca-file", dst.caFile!], helmTls);
    expect(t.stdout).toContain("kind: StatefulSet");
    const v = await mirror(s, ["verify", "--archive", out, "--dest", dst.host, ...into(dst), "-o", "json"], pw(dst));
    expectOk(v, "verify --archive");
    expect(JSON.parse(v.stdout).summary.ok).toBe(s.images.length + 1);
    // a second push sends nothing
    const again = JSON.parse((await mirror(s, ["push", out, "--dest", dst.host, ...into(dst), "-o", "json"], pw(dst))).stdout);
    expect(again.summary.bytesCopied).toBe(0);
  }, 120_000);

  test("verify --in-archive: the archive holds what the chart needs", async () => {
    const v = await mirror(s, ["verify", ...chartArgs(), "--in-archive", join(s.tmp, "app.tar"), "--offline"]);
    expectOk(v, "verify --in-archive");
    const missing = await mirror(s, ["verify", ...chartArgs(), "--image", "quay.io/acme/extra:9", "--in-archive", join(s.tmp, "app.tar"), "--offline"]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain("quay.io/acme/extra:9");
  }, 60_000);

  test("incremental export leaves out what the first archive has; both push into a fresh registry", async () => {
    // a new image version appears upstream
    const layout = join(s.tmp, "layout2");
    await writeImageLayout(layout, { tag: "new", seed: "worker-1.11", layers: [{ seed: "shared-base", size: 4096 }, { size: 300_000 }] });
    const seeded = await mirrorCopy([{ src: `oci-layout:${layout}:new`, dst: `${s.src.host}/quay.io/acme/worker:1.11` }], { registry: s.srcRegistry });
    expect(seeded[0]!.status).toBe("copied");
    const day2 = join(s.tmp, "day2.tar.gz");
    const r = await mirror(s, ["export", ...chartArgs(), "--image", "quay.io/acme/worker:1.11", "-O", day2, "--existing", join(s.tmp, "app.tar"), "-o", "json"]);
    expectOk(r, "incremental export");
    const rep = JSON.parse(r.stdout);
    expect(rep.summary.blobsSkipped).toBeGreaterThan(10);
    // the shared base layer (in day1) is not in day2; the new 300 kB layer is
    const day1 = await OciArchiveReader.open(join(s.tmp, "app.tar"));
    const m = JSON.parse(Buffer.from(await day1.fetchManifest(await day1.resolve("quay.io/acme/worker:1.10"))).toString());
    const baseLayer = m.layers[0].digest;
    expect(await day1.blobDigests()).toContain(baseLayer);
    await day1.close();
    const d2 = await OciArchiveReader.open(day2);
    const d2blobs = await d2.blobDigests();
    await d2.close();
    expect(d2blobs).not.toContain(baseLayer);
    expect(statSync(day2).size).toBeGreaterThan(300_000 * 0.9);
    expect(statSync(day2).size).toBeLessThan(300_000 + statSync(join(s.tmp, "app.tar")).size);
    // day2 alone into an empty registry fails for the blobs only day1 has ...
    const alone = await mirror(s, ["push", day2, "--dest", dst2.host, ...into(dst2)], pw(dst2));
    expect(alone.code).toBe(1);
    // ... day1 then day2 (gzip, sequential read) works
    expectOk(await mirror(s, ["push", join(s.tmp, "app.tar"), "--dest", dst2.host, ...into(dst2), "-q"], pw(dst2)), "push day1");
    const p2 = await mirror(s, ["push", day2, "--dest", dst2.host, ...into(dst2), "-o", "json"], pw(dst2));
    expectOk(p2, "push day2");
    expect(await skopeoListTags(`${dst2.host}/images/acme/worker`, dst2.skopeo)).toEqual(expect.arrayContaining(["1.10", "1.11"]));
  }, 120_000);

  test("--split-size writes parts that push joins (and refuses a corrupt part)", async () => {
    const big = join(s.tmp, "split", "big.tar");
    mkdirSync(join(s.tmp, "split"), { recursive: true });
    const layout = join(s.tmp, "layout3");
    await writeImageLayout(layout, { tag: "big", seed: "bigimg", layers: [{ size: 3 << 20, gzipLevel: 0 }] });
    await mirrorCopy([{ src: `oci-layout:${layout}:big`, dst: `${s.src.host}/docker.io/acme/big:1` }], { registry: s.srcRegistry });
    const r = await mirror(s, ["export", "--image", "docker.io/acme/big:1", ...s.srcArgs, ...s.mirrorArgs, "-O", big, "--split-size", "1M", "-o", "json"]);
    expectOk(r, "split export");
    const parts = readdirSync(join(s.tmp, "split")).filter((f) => /\.part\d{3}$/.test(f));
    expect(parts.length).toBe(4);
    expect(existsSync(big)).toBe(false);
    expect(existsSync(`${big}.parts`)).toBe(true);
    const p = await mirror(s, ["push", `${big}.part001`, "--dest", `${dst.host}/split`, ...into(dst), "-o", "json"], pw(dst));
    expectOk(p, "push split");
    expect(JSON.parse(p.stdout).summary.failed).toBe(0);
    expect((await skopeoInspectRaw(`${dst.host}/split/images/acme/big:1`, dst.skopeo)).digest).toBe((await skopeoInspectRaw(`${s.src.host}/docker.io/acme/big:1`, s.src.skopeo)).digest);
    const f = join(s.tmp, "split", parts.sort()[1]!);
    const b = readFileSync(f);
    b[10] = b[10]! ^ 0xff;
    writeFileSync(f, b);
    const bad = await mirror(s, ["push", big, "--dest", `${dst.host}/split2`, ...into(dst)], pw(dst));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("is corrupt (sha256 mismatch)");
  }, 120_000);
});

describe("interrupted push", () => {
  let proxy: FaultProxy;
  let fresh: TestRegistry;
  beforeAll(async () => {
    // TLS (private CA) + htpasswd behind the fault proxy, which speaks plain HTTP (and verifies the CA upstream):
    // the CLI talks HTTP to the proxy host only, with the registry's credentials for that host from a config.json
    fresh = await startRegistry();
    proxy = await startFaultProxy(fresh.url, { ca: readFileSync(fresh.caFile!, "utf8") });
    writeFileSync(join(s.tmp, "fresh-config.json"), JSON.stringify({ auths: { [proxy.host]: fresh.dockerConfig().auths[fresh.host] } }));
  });
  afterAll(async () => {
    await proxy?.stop();
    await fresh?.stop();
  });

  test("kill -9 mid-transfer, re-run: completes and re-sends only missing blobs", async () => {
    const out = join(s.tmp, "app.tar");
    // the first 6 blob uploads go through; later ones stall, so the process is killed mid-transfer
    proxy.setRules([
      { method: "PUT", path: /\/blobs\/uploads\//, fault: "delay", delayMs: 0, times: 6 },
      { method: "PUT", path: /\/blobs\/uploads\//, fault: "delay", delayMs: 60_000, times: Infinity },
    ]);
    const child = spawn(BUN, [join(ROOT, "plugins/kubectl-mirror/main.ts"), "push", out, "--dest", proxy.host, "--plain-http", "--registry-config", join(s.tmp, "fresh-config.json"), "--concurrency", "2"], { env: { ...process.env, ...s.env }, stdio: "ignore" });
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    const deadline = Date.now() + 30_000;
    const donePuts = () => proxy.calls.filter((c) => c.method === "PUT" && /\/blobs\/uploads\//.test(c.path) && c.status === 201).length;
    while (donePuts() < 6 && Date.now() < deadline) await Bun.sleep(50);
    expect(donePuts()).toBe(6);
    child.kill("SIGKILL");
    expect(await exited).toBe(null);
    const before = donePuts();
    // nothing is tagged yet: manifests are pushed only after their blobs
    proxy.setRules([]);
    const r = await mirror(s, ["push", out, "--dest", proxy.host, "--plain-http", "--registry-config", join(s.tmp, "fresh-config.json"), "-o", "json"]);
    expectOk(r, "resumed push");
    const rep = JSON.parse(r.stdout);
    expect(rep.summary.failed).toBe(0);
    const totalBlobs = new Set((await OciArchiveReader.open(out).then(async (a) => { const d = await a.blobDigests(); await a.close(); return d; }))).size;
    const resentPuts = donePuts() - before;
    expect(rep.summary.blobsExisting).toBeGreaterThanOrEqual(6);
    // every blob PUT of the second run is for a blob the first run had not finished; manifests are PUT too
    const blobPutsSecond = proxy.calls.filter((c) => c.method === "PUT" && /\/blobs\/uploads\//.test(c.path) && c.status === 201).length - before;
    expect(blobPutsSecond).toBe(resentPuts);
    expect(before + blobPutsSecond).toBeLessThanOrEqual(totalBlobs);
    const v = await mirror(s, ["verify", "--archive", out, "--dest", proxy.host, "--plain-http", "--registry-config", join(s.tmp, "fresh-config.json")]);
    expectOk(v, "verify after resume");
  }, 120_000);
});

describe("export-pack", () => {
  test("a Palette pack tarball with a chart and pack.content.images → archive → registry", async () => {
    const packDir = join(s.tmp, "pack", "nginx-pack-1.0.0");
    mkdirSync(join(packDir, "charts"), { recursive: true });
    writeFileSync(join(packDir, "pack.json"), JSON.stringify({ name: "acme-app", version: "1.0.0", layer: "addon", addonType: "app" }));
    writeFileSync(join(packDir, "values.yaml"), `pack:\n  namespace: acme\n  content:\n    images:\n      - image: quay.io/acme/db:15.4\n      - image: docker.io/library/alpine:3.20\ncharts:\n  app: {}\n`);
    execFileSync("cp", [s.fx.tgz, join(packDir, "charts")]);
    const tgz = join(s.tmp, "pack", "acme-app-1.0.0.tgz");
    execFileSync("tar", ["-czf", tgz, "-C", join(s.tmp, "pack"), "nginx-pack-1.0.0"]);
    const out = join(s.tmp, "pack.tar");
    const r = await mirror(s, ["export-pack", tgz, "-O", out, ...s.srcArgs, ...s.mirrorArgs, ...s.pinnedSet, "-o", "json"]);
    expectOk(r, "export-pack");
    const meta = JSON.parse(r.stdout).metadata;
    expect(meta.artifacts.map((a: any) => a.ref).sort()).toEqual(["charts/app/app:1.2.3", "packs/acme-app:1.0.0"]);
    expect(meta.images.map((i: any) => i.image)).toEqual(s.images);
    const p = await mirror(s, ["push", out, "--dest", `${dst.host}/pal`, ...into(dst), "-o", "json"], pw(dst));
    expectOk(p, "push pack");
    const packRaw = await skopeoInspectRaw(`${dst.host}/pal/packs/acme-app:1.0.0`, dst.skopeo);
    expect(packRaw.json.config.mediaType).toBe("application/vnd.spectrocloud.pack.config.v1+json");
    expect(packRaw.json.layers[0].digest).toBe(`sha256:${new Bun.CryptoHasher("sha256").update(readFileSync(tgz)).digest("hex")}`);
    expect((await skopeoListTags(`${dst.host}/pal/charts/app/app`, dst.skopeo))).toEqual(["1.2.3"]);
    const v = await mirror(s, ["verify", "--archive", out, "--dest", `${dst.host}/pal`, ...into(dst)], pw(dst));
    expectOk(v, "verify pack");
  }, 120_000);

  test("bad input: one clear line", async () => {
    const notPack = join(s.tmp, "notpack.tgz");
    execFileSync("tar", ["-czf", notPack, "-C", s.fx.root, "app/Chart.yaml"]);
    const r = await mirror(s, ["export-pack", notPack, "-O", join(s.tmp, "x.tar")]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("no pack.json");
    const noOut = await mirror(s, ["export", "--image", "busybox:1.36"]);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toContain("-O/--output-file ARCHIVE is required");
    const noDest = await mirror(s, ["push", join(s.tmp, "app.tar")]);
    expect(noDest.code).toBe(2);
    expect(noDest.stderr).toContain("--dest");
  }, 60_000);
});
