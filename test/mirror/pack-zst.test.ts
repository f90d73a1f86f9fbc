// Issue 11.7: Artifact Studio packs arrive as `<pack>.zst` with `<pack>.sig.bin`. export-pack reads the zstd
// pack, never treats the .sig.bin as a pack, carries it beside the pack (second layer of the pack artifact, pushed
// to <dest>/packs/<name>) and says plainly whether it was verified (--pack-keyring, real gpg signatures).
// On the previous code: "nginx-1.26.1.zst: not a pack tarball (… no pack.json)" and the .sig.bin was loaded as a pack.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startContentWorld, type ContentWorld } from "../support/content-world.ts";
import { BUN, ROOT, runCli, type CliResult } from "../support/cli.ts";
import { skopeoInspectRaw } from "../support/images.ts";
import { OciArchiveReader } from "../../shared/oci/archive.ts";

let w: ContentWorld;
let studio: string;
let pub: string;
let otherPub: string;

function gpg(home: string, args: string[]): string {
  return execFileSync("gpg", ["--batch", "--yes", "--pinentry-mode", "loopback", "--passphrase", "", ...args], { env: { ...process.env, GNUPGHOME: home }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** a pack tar (pack.json + values.yaml with pack.content.images) compressed with the real zstd CLI */
function makePack(dir: string, name: string, version: string, images: string[]): string {
  const root = join(dir, `src-${name}`);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, "pack.json"), JSON.stringify({ name, version, layer: "addon", addonType: "system app" }));
  writeFileSync(join(root, "values.yaml"), `pack:\n  content:\n    images:\n${images.map((i) => `      - image: ${i}\n`).join("")}\n${name}:\n  enabled: true\n`);
  const tar = join(dir, `${name}-${version}.tar`);
  execFileSync("tar", ["-cf", tar, "-C", root, "pack.json", "values.yaml"]);
  const zst = join(dir, `${name}-${version}.zst`);
  execFileSync("zstd", ["-q", "-f", "--rm", tar, "-o", zst]);
  return zst;
}

beforeAll(async () => {
  w = await startContentWorld();
  studio = join(w.tmp, "studio");
  mkdirSync(studio, { recursive: true });
  const home = join(w.tmp, "gnupg");
  const other = join(w.tmp, "gnupg-other");
  for (const h of [home, other]) {
    mkdirSync(h, { recursive: true, mode: 0o700 });
    gpg(h, ["--quick-gen-key", `Studio ${h.endsWith("other") ? "Other" : "Main"} <s@example.com>`, "rsa2048", "sign", "never"]);
  }
  pub = join(w.tmp, "studio.gpg");
  otherPub = join(w.tmp, "other.gpg");
  writeFileSync(pub, gpg(home, ["--export", "--armor"]));
  writeFileSync(otherPub, gpg(other, ["--export", "--armor"]));
  const nginx = makePack(studio, "nginx", "1.26.1", [w.images.find((i) => i.includes("nginx"))!]);
  gpg(home, ["--detach-sign", "--output", join(studio, "nginx-1.26.1.sig.bin"), nginx]);
  makePack(studio, "calico", "3.27.0", w.images.filter((i) => i.includes("calico")));
}, 120_000);
afterAll(async () => {
  await w?.stop();
});

const mirror = (args: string[], stdin?: string) => runCli("kubectl-mirror", args, { env: w.env, stdin, timeoutMs: 120_000 });
const ok = (r: CliResult, what: string) => {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n${r.stderr}\n${r.stdout.slice(0, 2000)}`);
};

describe("export-pack: Artifact Studio <pack>.zst + <pack>.sig.bin", () => {
  test("a glob over the download: .zst packs read, .sig.bin carried not as a pack, 'NOT verified' said plainly", async () => {
    const out = join(w.tmp, "packs.tar.zst");
    const files = ["calico-3.27.0.zst", "nginx-1.26.1.sig.bin", "nginx-1.26.1.zst"].map((f) => join(studio, f));
    const r = await mirror(["export-pack", ...files, "--cred-file", w.credFile, ...w.caArgs, "-O", out, "-o", "json"]);
    ok(r, "export-pack");
    const rep = JSON.parse(r.stdout);
    expect(rep.packs.map((p: any) => p.name).sort()).toEqual(["calico", "nginx"]);
    const nginx = rep.packs.find((p: any) => p.name === "nginx");
    expect(nginx.compression).toBe("zstd");
    expect(nginx.signature).toMatchObject({ file: join(studio, "nginx-1.26.1.sig.bin"), verified: false });
    expect(rep.packs.find((p: any) => p.name === "calico").signature).toBeNull();
    expect(r.stderr).toContain("pack nginx 1.26.1: signature nginx-1.26.1.sig.bin carried with the pack but NOT verified (no --pack-keyring given)");
    expect(r.stderr).toContain("pack calico 3.27.0 (calico-3.27.0.zst): no .sig.bin next to it");
    expect(rep.summary.images).toBe(3);
    // the archive: both packs, their images; the nginx pack artifact has the signature as its 2nd layer
    const reader = await OciArchiveReader.open(out);
    const tags = await reader.tags();
    expect(tags).toContain("packs/nginx:1.26.1");
    expect(tags).toContain("packs/calico:3.27.0");
    const m = JSON.parse(Buffer.from(await reader.fetchManifest(await reader.resolve("packs/nginx:1.26.1"))).toString());
    expect(m.layers.map((l: any) => l.mediaType)).toEqual(["application/vnd.spectrocloud.pack.content.v1.tar+zstd", "application/vnd.spectrocloud.pack.signature.v1"]);
    expect(m.layers[1].annotations["org.opencontainers.image.title"]).toBe("nginx-1.26.1.sig.bin");
    expect(m.layers[1].annotations["io.kube-airgap.pack.signature.verified"]).toBe("false");
    await reader.close();
    // push: the pack (with its signature layer) and its images land in the TLS + basic-auth registry
    const p = await mirror(["push", out, "--dest", w.dst.host, ...w.caArgs, "-u", w.dst.username, "--password-stdin", "-o", "json"], w.dst.password + "\n");
    ok(p, "push");
    const raw = await skopeoInspectRaw(`${w.dst.host}/packs/nginx:1.26.1`, w.dst.skopeo);
    expect(raw.json.layers.map((l: any) => l.annotations?.["org.opencontainers.image.title"])).toEqual(["nginx-1.26.1.zst", "nginx-1.26.1.sig.bin"]);
  }, 120_000);

  test("--pack-keyring: a good signature is VERIFIED; a signature by another key refuses the pack", async () => {
    const good = await mirror(["export-pack", join(studio, "nginx-1.26.1.zst"), "--pack-keyring", pub, "--cred-file", w.credFile, ...w.caArgs, "-O", join(w.tmp, "v.tar"), "-o", "json"]);
    ok(good, "export-pack --pack-keyring");
    expect(good.stderr).toMatch(/pack nginx 1\.26\.1: signature nginx-1\.26\.1\.sig\.bin VERIFIED \(key [0-9A-F]{16}\)/);
    expect(JSON.parse(good.stdout).packs[0].signature.verified).toBe(true);
    const bad = await mirror(["export-pack", join(studio, "nginx-1.26.1.zst"), "--pack-keyring", otherPub, "--cred-file", w.credFile, ...w.caArgs, "-O", join(w.tmp, "bad.tar")]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("signature nginx-1.26.1.sig.bin does not verify");
  }, 120_000);

  test("a .sig.bin alone is not a pack", async () => {
    const r = await mirror(["export-pack", join(studio, "nginx-1.26.1.sig.bin"), "-O", join(w.tmp, "x.tar")]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("no pack tarball given");
  });
});

// Issue 22.4: signatures inside the air gap. With a keyring, an unsigned pack (its .sig.bin deleted) is refused like
// an altered one, and `push`/`serve --pack-keyring` run the same check on the packs inside an archive, where the
// bundle is used. On the previous code export-pack accepted the unsigned pack and push/serve had no --pack-keyring.
describe("--pack-keyring: unsigned is refused like altered, at export, push and serve", () => {
  let signed: string;
  let signedPlain: string;
  let unsigned: string;
  let altered: string;

  beforeAll(async () => {
    const nginx = w.images.find((i) => i.includes("nginx"))!;
    // the .sig.bin deleted: the same pack alone in a folder
    const nosig = join(w.tmp, "studio-nosig");
    mkdirSync(nosig, { recursive: true });
    copyFileSync(join(studio, "nginx-1.26.1.zst"), join(nosig, "nginx-1.26.1.zst"));
    // altered: another pack under the same name, next to the original signature
    const alt = join(w.tmp, "studio-altered");
    mkdirSync(alt, { recursive: true });
    makePack(alt, "nginx", "1.26.1", [nginx, w.images.find((i) => i.includes("calico"))!]);
    copyFileSync(join(studio, "nginx-1.26.1.sig.bin"), join(alt, "nginx-1.26.1.sig.bin"));
    const base = ["--cred-file", w.credFile, ...w.caArgs];
    signed = join(w.tmp, "signed.tar.zst");
    signedPlain = join(w.tmp, "signed.tar");
    unsigned = join(w.tmp, "unsigned.tar");
    altered = join(w.tmp, "altered.tar.zst");
    ok(await mirror(["export-pack", join(studio, "nginx-1.26.1.zst"), "--pack-keyring", pub, ...base, "-O", signed]), "export signed");
    ok(await mirror(["export-pack", join(studio, "nginx-1.26.1.zst"), "--pack-keyring", pub, ...base, "-O", signedPlain]), "export signed plain");
    ok(await mirror(["export-pack", join(nosig, "nginx-1.26.1.zst"), ...base, "-O", unsigned]), "export unsigned (no keyring)");
    ok(await mirror(["export-pack", join(alt, "nginx-1.26.1.zst"), ...base, "-O", altered]), "export altered (no keyring)");
  }, 180_000);

  test("export-pack --pack-keyring refuses a pack whose .sig.bin was deleted", async () => {
    const out = join(w.tmp, "nosig-keyring.tar");
    const r = await mirror(["export-pack", join(w.tmp, "studio-nosig", "nginx-1.26.1.zst"), "--pack-keyring", pub, "--cred-file", w.credFile, ...w.caArgs, "-O", out]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("nginx-1.26.1.zst: unsigned (no nginx-1.26.1.sig.bin next to it) and --pack-keyring requires every pack to be signed");
    expect(existsSync(out)).toBe(false);
  }, 60_000);

  test("push --pack-keyring: signed packs verified (plain and zstd archives); unsigned, altered or another key refused before anything is sent", async () => {
    const push = (archive: string, keyring: string, prefix: string) => mirror(["push", archive, "--dest", `${w.dst.host}/${prefix}`, ...w.caArgs, "-u", w.dst.username, "--password-stdin", "--pack-keyring", keyring, "-o", "json"], w.dst.password + "\n");
    for (const [archive, prefix] of [[signed, "gate-zst"], [signedPlain, "gate-tar"]] as const) {
      const r = await push(archive, pub, prefix);
      ok(r, `push ${archive}`);
      expect(r.stderr).toMatch(/pack packs\/nginx:1\.26\.1: signature VERIFIED \(key [0-9A-F]{16}\)/);
      expect(JSON.parse(r.stdout).packSignatures.map((p: any) => p.ref)).toEqual(["packs/nginx:1.26.1"]);
      expect((await skopeoInspectRaw(`${w.dst.host}/${prefix}/packs/nginx:1.26.1`, w.dst.skopeo)).json.layers).toHaveLength(2);
    }
    for (const [archive, keyring, message, prefix] of [
      [unsigned, pub, "pack packs/nginx:1.26.1 is unsigned", "gate-unsigned"],
      [altered, pub, "pack packs/nginx:1.26.1: signature does not verify", "gate-altered"],
      [signed, otherPub, "pack packs/nginx:1.26.1: signature does not verify: signed by key", "gate-otherkey"],
    ] as const) {
      const r = await push(archive, keyring, prefix);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(message);
      // nothing was pushed: not the pack, not its image
      const nginxPath = w.images.find((i) => i.includes("nginx"))!.replace(/^[^/]+\//, "");
      for (const ref of [`${prefix}/packs/nginx:1.26.1`, `${prefix}/${nginxPath}`]) expect(await skopeoInspectRaw(`${w.dst.host}/${ref}`, w.dst.skopeo).then(() => "found", () => "absent")).toBe("absent");
    }
  }, 180_000);

  test("serve --pack-keyring: serves a signed bundle, refuses an unsigned or altered one", async () => {
    for (const [archive, message] of [[unsigned, "is unsigned"], [altered, "signature does not verify"]] as const) {
      const r = await mirror(["serve", archive, "--address", "127.0.0.1:0", "--pack-keyring", pub]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(message);
    }
    const child = spawn(BUN, [join(ROOT, "plugins/kubectl-mirror/main.ts"), "serve", signed, "--address", "127.0.0.1:0", "--pack-keyring", pub], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    const exited = new Promise((r) => child.on("exit", r));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`serve did not start:\n${err}`)), 60_000);
      child.stderr!.on("data", (d) => {
        err += d;
        if (err.includes("(read-only)")) clearTimeout(t), resolve();
      });
      child.on("exit", () => reject(new Error(`serve exited:\n${err}`)));
    });
    expect(err).toMatch(/pack packs\/nginx:1\.26\.1: signature VERIFIED \(key [0-9A-F]{16}\)/);
    child.kill("SIGTERM");
    await exited;
  }, 120_000);
});
