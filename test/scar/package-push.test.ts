// kubectl scar package / push against GNU tar, the REAL registry (docker-registry, htpasswd) and skopeo:
// entries like `tar -czf manifests.tgz .`, never archiving itself, the ORAS 1.0.0 manifest field by field,
// monolithic uploads (no PATCH), layer bytes == archive, unpack == source tree, idempotent re-push.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";

setDefaultTimeout(60_000);
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../support/cli.ts";
import { validReport } from "../support/schema.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { makeManifestsTree, startFaultProxy, type FaultProxy } from "./helpers.ts";

let reg: TestRegistry;
let proxy: FaultProxy;
let tmp: string;
let src: string;
const REPO = "spectro-packs/spectro-manifests/manifest";

const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

beforeAll(async () => {
  reg = await startRegistry(); // TLS (private CA) + htpasswd
  // the fault proxy speaks plain HTTP; it verifies the registry's CA upstream
  proxy = await startFaultProxy(reg.url, { ca: readFileSync(reg.caFile!, "utf8") });
  tmp = mkdtempSync(join(tmpdir(), "scar-pp-"));
  src = join(tmp, "html");
  mkdirSync(src);
  makeManifestsTree(src);
});
afterAll(async () => {
  await proxy?.stop();
  await reg?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function auth(): string {
  return `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString("base64")}`;
}

async function get(path: string, accept?: string): Promise<Response> {
  return fetch(`${reg.url}${path}`, { headers: { authorization: auth(), ...(accept ? { accept } : {}) }, tls: { ca: readFileSync(reg.caFile!, "utf8") } } as RequestInit);
}

describe("package", () => {
  test("entries are relative like `tar -czf manifests.tgz .`, unpack to the same tree, bytes are stable", async () => {
    const out = join(tmp, "out", "manifests.tgz");
    const r = await runCli("kubectl-scar", ["package", src, "-O", out, "-o", "json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    const bytes = readFileSync(out);
    expect(j.digest).toBe(sha(bytes));
    expect(j.size).toBe(bytes.length);
    expect(j.files).toBe(4);
    const list = execFileSync("tar", ["-tzf", out], { encoding: "utf8" }).trim().split("\n");
    expect(list[0]).toBe("./");
    expect(list).toContain("./index.yaml");
    expect(list).toContain("./empty-dir/");
    expect(list).toContain(`./manifests/deep/${"x".repeat(60)}/${"y".repeat(60)}/long-name-file.yaml`);
    expect(list.every((e) => e.startsWith("./"))).toBe(true);
    const x = join(tmp, "x1");
    mkdirSync(x);
    execFileSync("tar", ["-xzf", out, "-C", x]);
    execFileSync("diff", ["-r", src, x]); // throws on any difference
    // same tree → same bytes (a re-run uploads nothing)
    const again = await runCli("kubectl-scar", ["package", src, "-O", join(tmp, "out", "again.tgz"), "-o", "json"]);
    expect(JSON.parse(again.stdout).digest).toBe(j.digest);
  });

  test("every entry keeps its file's mtime (and mode, size), as GNU `tar -czvf` of the same tree lists them", async () => {
    const d = join(tmp, "mtimes");
    mkdirSync(join(d, "a", "b"), { recursive: true });
    writeFileSync(join(d, "a", "b", "old.yaml"), "old: true\n");
    writeFileSync(join(d, "a", "new.yaml"), "new: true\n");
    writeFileSync(join(d, "top.txt"), "x".repeat(1000));
    // distinct times, none of them now (children first: touching a file changes its directory's mtime)
    execFileSync("touch", ["-d", "2019-03-04 05:06:07", join(d, "a", "b", "old.yaml")], { env: { ...process.env, TZ: "UTC" } });
    execFileSync("touch", ["-d", "2021-11-12 13:14:15", join(d, "a", "new.yaml")], { env: { ...process.env, TZ: "UTC" } });
    execFileSync("touch", ["-d", "2020-07-08 09:10:11", join(d, "top.txt"), join(d, "a", "b")], { env: { ...process.env, TZ: "UTC" } });
    execFileSync("touch", ["-d", "2018-01-02 03:04:05", join(d, "a"), d], { env: { ...process.env, TZ: "UTC" } });
    const ours = join(tmp, "mtimes-ours.tgz");
    const r = await runCli("kubectl-scar", ["package", d, "-O", ours]);
    expect(r.code).toBe(0);
    const gnu = join(tmp, "mtimes-gnu.tgz");
    execFileSync("tar", ["-czf", gnu, "-C", d, "."]);
    // perms, size, date, time, name (owners differ: ours are 0/0 like a root SCAR host)
    const listing = (f: string) =>
      execFileSync("tar", ["-tvzf", f, "--full-time"], { encoding: "utf8", env: { ...process.env, TZ: "UTC" } })
        .trim().split("\n").map((l) => l.split(/\s+/)).map((w) => [w[0], w[2], w[3], w[4], w.slice(5).join(" ")].join(" ")).sort();
    const want = listing(gnu);
    expect(want).toContain("-rw-r--r-- 10 2019-03-04 05:06:07 ./a/b/old.yaml");
    expect(listing(ours)).toEqual(want);
  });

  test("an output inside the source dir is not archived into itself", async () => {
    const d = join(tmp, "self");
    mkdirSync(d);
    makeManifestsTree(d, "b");
    const first = await runCli("kubectl-scar", ["package", d, "-O", join(d, "manifests.tgz"), "-o", "json"], { cwd: d });
    expect(first.code).toBe(0);
    const second = await runCli("kubectl-scar", ["package", d, "-O", join(d, "manifests.tgz"), "-o", "json"], { cwd: d });
    expect(second.code).toBe(0);
    const list = execFileSync("tar", ["-tzf", join(d, "manifests.tgz")], { encoding: "utf8" });
    expect(list).not.toContain("manifests.tgz");
    // (the digest may differ: writing the output changed the directory's own mtime, as with GNU tar)
    expect(JSON.parse(second.stdout).files).toBe(JSON.parse(first.stdout).files);
  });

  test("-o is the output format like everywhere in the suite: `package DIR -o json` writes no file named json", async () => {
    const cwd = join(tmp, "fmt");
    mkdirSync(cwd);
    const r = await runCli("kubectl-scar", ["package", src, "-o", "json"], { cwd });
    expect(r.code).toBe(0);
    expect(existsSync(join(cwd, "json"))).toBe(false);
    expect(existsSync(join(cwd, "manifests.tgz"))).toBe(true);
    expect(JSON.parse(r.stdout).file).toBe(join(cwd, "manifests.tgz"));
    const y = await runCli("kubectl-scar", ["package", src, "-O", join(cwd, "m.tgz"), "-o", "yaml"], { cwd });
    expect(y.code).toBe(0);
    expect(y.stdout).toContain(`file: ${join(cwd, "m.tgz")}`);
    // the old spelling (-o FILE) still writes the archive, with a deprecation warning that names -O
    const old = await runCli("kubectl-scar", ["package", src, "-o", join(cwd, "old.tgz")], { cwd });
    expect(old.code).toBe(0);
    expect(old.stderr).toContain("is deprecated");
    expect(old.stderr).toContain("-O/--output-file");
    expect(existsSync(join(cwd, "old.tgz"))).toBe(true);
    // anything else that is neither a format nor a file name is a usage error
    const bad = await runCli("kubectl-scar", ["package", src, "-o", "josn"], { cwd });
    expect(bad.code).toBe(2);
  });

  test("symbolic links are kept as links, like `tar -czf`, and never followed (not even outside the directory)", async () => {
    const d = join(tmp, "links");
    mkdirSync(join(d, "sub"), { recursive: true });
    writeFileSync(join(d, "real.yaml"), "kind: Real\n");
    symlinkSync("real.yaml", join(d, "alias.yaml"));
    symlinkSync("../real.yaml", join(d, "sub", "up.yaml"));
    const outside = join(tmp, "outside-secret.txt");
    writeFileSync(outside, "outside-content-must-not-be-archived\n");
    symlinkSync(outside, join(d, "escape"));
    mkdirSync(join(tmp, "outside-dir"), { recursive: true });
    writeFileSync(join(tmp, "outside-dir", "x.yaml"), "outside-dir-content\n");
    symlinkSync(join(tmp, "outside-dir"), join(d, "dirlink"));
    const out = join(tmp, "links.tgz");
    const r = await runCli("kubectl-scar", ["package", d, "-O", out, "-o", "json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.symlinks).toBe(4);
    expect(j.skipped).toEqual([]);
    expect(j.outsideLinks.sort()).toEqual([`./dirlink -> ${join(tmp, "outside-dir")}`, `./escape -> ${outside}`]);
    expect(r.stderr).toContain("points outside");
    // GNU tar lists the links as links (l…) with their targets
    const list = execFileSync("tar", ["-tvzf", out], { encoding: "utf8" });
    expect(list).toMatch(/^l.* \.\/alias\.yaml -> real\.yaml$/m);
    expect(list).toMatch(/^l.* \.\/sub\/up\.yaml -> \.\.\/real\.yaml$/m);
    expect(list).toMatch(new RegExp(`^l.* \\./escape -> ${outside.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`, "m"));
    expect(list).not.toContain("x.yaml");
    const bytes = execFileSync("tar", ["-xzOf", out], { encoding: "utf8" });
    expect(bytes).not.toContain("outside-content-must-not-be-archived");
    expect(bytes).not.toContain("outside-dir-content");
    // extracted like tar does: the same links
    const x = join(tmp, "links-x");
    mkdirSync(x);
    execFileSync("tar", ["-xzf", out, "-C", x]);
    expect(execFileSync("readlink", [join(x, "alias.yaml")], { encoding: "utf8" }).trim()).toBe("real.yaml");
    expect(readFileSync(join(x, "sub", "up.yaml"), "utf8")).toBe("kind: Real\n");
  });

  test("a missing or empty directory is one clear error", async () => {
    const r = await runCli("kubectl-scar", ["package", join(tmp, "nope")]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("does not exist");
    const empty = join(tmp, "empty");
    mkdirSync(empty);
    const r2 = await runCli("kubectl-scar", ["package", empty]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain("is empty");
  });
});

describe("push", () => {
  let archive: Buffer;
  let archiveFile: string;
  let digest: string;

  test("ORAS 1.0.0 shape, field by field, read back with skopeo; layer bytes == archive; monolithic uploads", async () => {
    archiveFile = join(tmp, "out", "manifests.tgz");
    archive = readFileSync(archiveFile);
    const r = await runCli("kubectl-scar", ["push", archiveFile, "--registry", proxy.host, "--plain-http", "--registry-username", reg.username, "--password-stdin", "-o", "json", "--debug"], { stdin: reg.password + "\n" });
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(reg.password);
    const out = JSON.parse(r.stdout);
    expect(out.pushed).toBe(true);
    expect(out.reference).toBe(`${proxy.host}/${REPO}:0.0.0`);
    digest = out.digest;

    const raw = execFileSync("skopeo", ["inspect", "--raw", "--cert-dir", reg.certDir!, "--creds", `${reg.username}:${reg.password}`, `docker://${reg.host}/${REPO}:0.0.0`], { encoding: "utf8" });
    expect(sha(Buffer.from(raw))).toBe(digest);
    // compact JSON, Go struct field order
    const m = JSON.parse(raw);
    expect(raw).toBe(JSON.stringify(m));
    expect(Object.keys(m)).toEqual(["schemaVersion", "mediaType", "config", "layers", "annotations"]);
    expect(m.schemaVersion).toBe(2);
    expect(m.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    expect("artifactType" in m).toBe(false);
    expect("subject" in m).toBe(false);
    expect(m.config).toEqual({ mediaType: "application/vnd.unknown.config.v1+json", digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", size: 2 });
    expect(Object.keys(m.config)).toEqual(["mediaType", "digest", "size"]);
    expect(m.layers).toHaveLength(1);
    expect(Object.keys(m.layers[0])).toEqual(["mediaType", "digest", "size", "annotations"]);
    expect(m.layers[0]).toEqual({ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha(archive), size: archive.length, annotations: { "org.opencontainers.image.title": "manifests.tgz" } });
    expect(Object.keys(m.annotations)).toEqual(["org.opencontainers.image.created"]);
    expect(m.annotations["org.opencontainers.image.created"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Math.abs(Date.parse(m.annotations["org.opencontainers.image.created"]) - Date.now())).toBeLessThan(120_000);

    // blobs as stored
    const cfg = Buffer.from(await (await get(`/v2/${REPO}/blobs/${m.config.digest}`)).arrayBuffer());
    expect(cfg.toString()).toBe("{}");
    const layer = Buffer.from(await (await get(`/v2/${REPO}/blobs/${m.layers[0].digest}`)).arrayBuffer());
    expect(Buffer.compare(layer, archive)).toBe(0);
    const x = join(tmp, "x2");
    mkdirSync(x);
    execFileSync("tar", ["-xzf", "-", "-C", x], { input: layer });
    execFileSync("diff", ["-r", src, x]);

    // monolithic: POST → PUT ?digest= with the whole blob, never PATCH
    const up = proxy.calls.filter((c) => c.path.includes("/blobs/uploads/"));
    expect(up.some((c) => c.method === "PATCH")).toBe(false);
    const puts = up.filter((c) => c.method === "PUT" && c.status === 201);
    const layerPut = puts.find((c) => c.path.includes(`digest=${encodeURIComponent(sha(archive))}`) || c.path.includes(`digest=${sha(archive)}`));
    expect(layerPut).toBeDefined();
    expect(layerPut!.bytes).toBe(archive.length);
    expect(layerPut!.contentLength).toBe(String(archive.length));
    expect(up.filter((c) => c.method === "POST").length).toBeGreaterThanOrEqual(2);
  });

  test("re-push of the same archive changes nothing; --force pushes a new manifest; --dry-run pushes nothing", async () => {
    const args = ["push", archiveFile, "--registry", reg.host, "--ca-file", `${reg.host}=${reg.caFile}`, "-u", reg.username, "--password-stdin", "-o", "json"];
    const again = await runCli("kubectl-scar", args, { stdin: reg.password });
    expect(again.code).toBe(0);
    expect(validReport(again.stdout, "ScarPushReport").pushed).toBe(false);
    expect(JSON.parse(again.stdout).digest).toBe(digest);
    const head = await get(`/v2/${REPO}/manifests/0.0.0`, "application/vnd.oci.image.manifest.v1+json");
    expect(head.headers.get("docker-content-digest")).toBe(digest);

    const dry = await runCli("kubectl-scar", ["push", archiveFile, "--registry", reg.host, "--ca-file", `${reg.host}=${reg.caFile}`, "-u", reg.username, "--password-stdin", "--tag", "9.9.9", "--dry-run"], { stdin: reg.password });
    expect(dry.code).toBe(0);
    const tags = (await (await get(`/v2/${REPO}/tags/list`)).json()) as { tags: string[] };
    expect(tags.tags).not.toContain("9.9.9");

    await new Promise((r) => setTimeout(r, 1100)); // created has second precision
    const forced = await runCli("kubectl-scar", [...args, "--force"], { stdin: reg.password });
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout).pushed).toBe(true);
    expect(JSON.parse(forced.stdout).digest).not.toBe(digest);
  });

  test("custom base path and tag; wrong password is one clear line without the password", async () => {
    const ok = await runCli("kubectl-scar", ["push", archiveFile, "--registry", reg.host, "--ca-file", `${reg.host}=${reg.caFile}`, "-u", reg.username, "--password-stdin", "--base-path", "custom/base", "--tag", "4.5.15", "-o", "json"], { stdin: reg.password });
    expect(ok.code).toBe(0);
    const tags = (await (await get(`/v2/custom/base/spectro-manifests/manifest/tags/list`)).json()) as { tags: string[] };
    expect(tags.tags).toEqual(["4.5.15"]);
    const bad = await runCli("kubectl-scar", ["push", archiveFile, "--registry", reg.host, "--ca-file", `${reg.host}=${reg.caFile}`, "-u", reg.username, "--password-stdin", "--force"], { stdin: "not-the-Password-42" });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: .*authentication/m);
    expect(bad.stderr).not.toContain("not-the-Password-42");
  });

  test("the document's oras form: push <registry>/<base>/spectro-manifests/manifest:<tag> manifests.tgz", async () => {
    const r = await runCli("kubectl-scar", ["push", `${reg.host}/oras-form/spectro-manifests/manifest:4.5.16`, archiveFile, "--ca-file", `${reg.host}=${reg.caFile}`, "-u", reg.username, "--password-stdin", "-o", "json"], { stdin: reg.password });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).reference).toBe(`${reg.host}/oras-form/spectro-manifests/manifest:4.5.16`);
    const tags = (await (await get(`/v2/oras-form/spectro-manifests/manifest/tags/list`)).json()) as { tags: string[] };
    expect(tags.tags).toEqual(["4.5.16"]);
    // a repository Specman does not read is refused, naming the path it reads
    const bad = await runCli("kubectl-scar", ["push", `${reg.host}/spectro-packs/manifests:0.0.0`, archiveFile, "--ca-file", `${reg.host}=${reg.caFile}`, "-u", reg.username, "--password-stdin"], { stdin: reg.password });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("spectro-manifests/manifest");
  });

  test("push DIR (like `oras push` takes a directory) archives it as `kubectl scar package` would and pushes that, leaving no temp file", async () => {
    const ref = join(tmp, "dir-ref.tgz");
    expect((await runCli("kubectl-scar", ["package", src, "-O", ref])).code).toBe(0);
    const want = readFileSync(ref);
    const tmpRoot = mkdtempSync(join(tmp, "tmpdir-"));
    const r = await runCli("kubectl-scar", ["push", src, "--registry", proxy.host, "--plain-http", "-u", reg.username, "--password-stdin", "--tag", "from-dir", "-o", "json"], { stdin: reg.password, env: { TMPDIR: tmpRoot } });
    if (r.code !== 0) console.error(r.stderr);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain("EISDIR");
    expect(r.stderr).toContain(`archived ${src} like \`kubectl scar package\``);
    const out = JSON.parse(r.stdout);
    expect(out.layerDigest).toBe(sha(want));
    const m = await (await get(`/v2/${REPO}/manifests/from-dir`, "application/vnd.oci.image.manifest.v1+json")).json();
    expect(m.layers[0]).toEqual({ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha(want), size: want.length, annotations: { "org.opencontainers.image.title": "manifests.tgz" } });
    expect(readdirSync(tmpRoot)).toEqual([]);
  });

  test("push refuses anything that is not a gzip'd tar (nothing sent to the registry)", async () => {
    const txt = join(tmp, "notgz.txt");
    writeFileSync(txt, "just some text, not an archive\n");
    const gzNotTar = join(tmp, "gz-not-tar.tgz");
    writeFileSync(gzNotTar, gzipSync(Buffer.from("plain text inside gzip, not a tar archive ".repeat(40))));
    const truncated = join(tmp, "truncated.tgz");
    writeFileSync(truncated, archive.subarray(0, Math.floor(archive.length / 2)));
    for (const [f, msg] of [[txt, "is not a gzip'd tar archive"], [gzNotTar, "is not a valid gzip'd tar archive"], [truncated, "is not a valid gzip'd tar archive"]] as const) {
      const before = proxy.calls.length;
      const r = await runCli("kubectl-scar", ["push", f, "--registry", proxy.host, "--plain-http", "-u", reg.username, "--password-stdin", "--tag", "bad"], { stdin: reg.password });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(msg);
      expect(r.stderr).toContain("kubectl scar package");
      expect(proxy.calls.length).toBe(before);
    }
    const tags = (await (await get(`/v2/${REPO}/tags/list`)).json()) as { tags: string[] };
    expect(tags.tags).not.toContain("bad");
  });

  test("runs under deno too (node:http transport, stdin password)", async () => {
    const r = await runCli("kubectl-scar", ["push", archiveFile, "--registry", reg.host, "--ca-file", `${reg.host}=${reg.caFile}`, "-u", reg.username, "--password-stdin", "--tag", "deno", "-o", "json"], { stdin: reg.password, runtime: "deno" });
    if (r.code !== 0) console.error(r.stderr);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const head = await get(`/v2/${REPO}/manifests/deno`, "application/vnd.oci.image.manifest.v1+json");
    expect(head.headers.get("docker-content-digest")).toBe(out.digest);
  });
});
