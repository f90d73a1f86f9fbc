// The helm-addon-push release archive (scripts/package.ts) installed with the REAL Helm 3.17 and Helm 4.1 from
// a loopback URL, and the source dir installed with both. Helm 4 verifies plugin tarballs by default: without a
// .prov it refuses, with --verify=false it installs, and with a .prov from scripts/package.ts signHelmArchive
// (gpg clearsign) plus --keyring it verifies and installs; a .prov for other bytes is refused.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { signHelmArchive } from "../../scripts/package.ts";
import { removeShipBuild, ROOT, run, serveDir, shipBuild, tempDir, TOOLS, type FileServer, type RunResult, type ShipBuild } from "./support.ts";

setDefaultTimeout(120_000);

let ship: ShipBuild;
let dir: string;
let unsigned: FileServer; // the release dir: archive, no .prov
let octet: FileServer; // the release dir served as application/octet-stream (like GitHub release downloads)
let signed: FileServer; // a copy of the archive with a .prov
let badSigned: FileServer; // a copy of the archive with a .prov for other bytes
let keyring: string;
let archive: string;
let archiveName: string;

function helmEnv(name: string): Record<string, string> {
  const home = join(dir, "homes", name);
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    HELM_CONFIG_HOME: join(home, "config"),
    HELM_CACHE_HOME: join(home, "cache"),
    HELM_DATA_HOME: join(home, "data"),
    // no HELM_PLUGINS: Helm 4.1 installs tarballs into $HELM_DATA_HOME/plugins even when HELM_PLUGINS points
    // elsewhere, then loads from HELM_PLUGINS and finds nothing (docs/install.md mentions it)
  };
  for (const d of [env.HELM_CONFIG_HOME, env.HELM_CACHE_HOME, env.HELM_DATA_HOME]) mkdirSync(d, { recursive: true });
  return env;
}

async function gpg(args: string[], gnupgHome: string): Promise<RunResult> {
  return run("gpg", ["--batch", ...args], { env: { PATH: process.env.PATH, GNUPGHOME: gnupgHome } });
}

beforeAll(async () => {
  ship = await shipBuild();
  archive = ship.archives["helm-addon-push"].file;
  archiveName = basename(archive);
  dir = tempDir("ka-ship-helm-");
  unsigned = await serveDir(ship.releaseDir);
  octet = await serveDir(ship.releaseDir, { contentType: "application/octet-stream" });

  // a release signing key in a throwaway GNUPGHOME, its public keyring for Helm (--keyring)
  const gnupg = join(dir, "gnupg");
  mkdirSync(gnupg, { mode: 0o700 });
  const gen = await gpg(["--passphrase", "", "--quick-gen-key", "kube-airgap test release <release@example.invalid>", "rsa3072", "sign", "never"], gnupg);
  expect(gen.code).toBe(0);
  keyring = join(dir, "pubring.gpg");
  const exp = await gpg(["--output", keyring, "--export", "release@example.invalid"], gnupg);
  expect(exp.code).toBe(0);

  const signedDir = join(dir, "signed");
  mkdirSync(signedDir);
  copyFileSync(archive, join(signedDir, archiveName));
  signHelmArchive(join(signedDir, archiveName), ship.archives["helm-addon-push"].sha256, ship.version, { key: "release@example.invalid", gnupgHome: gnupg });
  signed = await serveDir(signedDir);

  const badDir = join(dir, "bad-signed");
  mkdirSync(badDir);
  copyFileSync(archive, join(badDir, archiveName));
  signHelmArchive(join(badDir, archiveName), "0".repeat(64), ship.version, { key: "release@example.invalid", gnupgHome: gnupg });
  badSigned = await serveDir(badDir);
}, 240_000);

afterAll(async () => {
  await Promise.all([unsigned?.stop(), octet?.stop(), signed?.stop(), badSigned?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
  removeShipBuild();
});

test("the archive holds the plugin in helm-addon-push/ (like `helm plugin package`) and a top plugin.yaml + launcher for Helm 3", async () => {
  const r = await run("tar", ["-tvzf", archive], { env: { PATH: process.env.PATH } });
  expect(r.code).toBe(0);
  const entries = r.stdout.trim().split("\n").map((l) => l.split(/\s+/)).map((l) => [l[0], l[l.length - 1]]);
  expect(entries).toEqual([
    ["drwxr-xr-x", "helm-addon-push/"],
    ["drwxr-xr-x", "helm-addon-push/bin/"],
    ["-rw-r--r--", "plugin.yaml"],
    ["-rwxr-xr-x", "helm-addon-push.sh"],
    ["-rwxr-xr-x", "plugin.complete"],
    ["-rw-r--r--", "LICENSE"],
    ["-rw-r--r--", "helm-addon-push/plugin.yaml"],
    ["-rwxr-xr-x", "helm-addon-push/helm-addon-push.sh"],
    ["-rwxr-xr-x", "helm-addon-push/plugin.complete"],
    ["-rwxr-xr-x", "helm-addon-push/bin/helm-addon-push"],
    ["-rw-r--r--", "helm-addon-push/LICENSE"],
  ]);
  const x = await run("tar", ["-xzf", archive, "-C", dir, "plugin.yaml", "helm-addon-push/plugin.yaml"], { env: { PATH: process.env.PATH } });
  expect(x.code).toBe(0);
  for (const f of ["plugin.yaml", "helm-addon-push/plugin.yaml"]) {
    const y = parseYaml(readFileSync(join(dir, f), "utf8"));
    expect(y.name).toBe("addon-push");
    expect(y.version).toBe(ship.version);
  }
  expect(readFileSync(`${archive}.sha256`, "utf8")).toBe(`${ship.archives["helm-addon-push"].sha256}  ${archiveName}\n`);
});

async function checkInstalled(helm: string, env: Record<string, string>, expectVersion: string): Promise<void> {
  const list = await run(helm, ["plugin", "list"], { env });
  expect(list.code).toBe(0);
  expect(list.stdout).toMatch(new RegExp(`addon-push\\s+${ship.version.replace(/\./g, "\\.")}`));
  const help = await run(helm, ["addon-push", "--help"], { env });
  expect(help.stderr).toBe("");
  expect(help.code).toBe(0);
  expect(help.stdout).toContain("USAGE helm addon-push");
  const v = await run(helm, ["addon-push", "--version"], { env });
  expect(v.code).toBe(0);
  expect(v.stdout).toBe(`helm addon-push ${expectVersion}\n`);
  // Helm's dynamic plugin completion runs plugin.complete → the compiled binary's __complete
  const c = await run(helm, ["__complete", "addon-push", "x", "--skip-ex"], { env });
  expect(c.stdout.split("\n")[0]).toMatch(/^--skip-existing\t/);
}

describe("Helm 3.17", () => {
  test("helm plugin install <archive URL>: the compiled binary runs as `helm addon-push`; uninstall", async () => {
    const env = helmEnv("h3-url");
    const inst = await run(TOOLS.helm3, ["plugin", "install", `${unsigned.url}/${archiveName}`], { env });
    expect(inst.stderr).toBe("");
    expect(inst.code).toBe(0);
    expect(inst.stdout).toContain("Installed plugin: addon-push");
    const bin = join(env.HELM_DATA_HOME!, "plugins", "helm-addon-push", "helm-addon-push", "bin", "helm-addon-push");
    expect(statSync(bin).mode & 0o777).toBe(0o755);
    await checkInstalled(TOOLS.helm3, env, `${ship.version} (commit ${ship.commit})`);
    const un = await run(TOOLS.helm3, ["plugin", "uninstall", "addon-push"], { env });
    expect(un.code).toBe(0);
    expect(existsSync(join(env.HELM_DATA_HOME!, "plugins", "helm-addon-push"))).toBe(false);
  });

  test("Helm 3 only takes a URL whose Content-Type is gzip: application/octet-stream gives 'Cannot detect VCS'", async () => {
    const env = helmEnv("h3-octet");
    const inst = await run(TOOLS.helm3, ["plugin", "install", `${octet.url}/${archiveName}`], { env });
    expect(inst.code).not.toBe(0);
    expect(inst.stderr).toContain("Cannot detect VCS");
    // and a local archive file is not accepted either
    const local = await run(TOOLS.helm3, ["plugin", "install", archive], { env });
    expect(local.code).not.toBe(0);
    expect(local.stderr).toContain("expected plugin to be a folder");
  });

  test("the documented Helm 3 fallback: extract the archive into a directory and install that", async () => {
    const env = helmEnv("h3-extracted");
    const target = join(dir, "extracted", "addon-push");
    mkdirSync(target, { recursive: true });
    const x = await run("tar", ["-xzf", archive, "-C", target], { env: { PATH: process.env.PATH } });
    expect(x.code).toBe(0);
    const inst = await run(TOOLS.helm3, ["plugin", "install", target], { env });
    expect(inst.code).toBe(0);
    await checkInstalled(TOOLS.helm3, env, `${ship.version} (commit ${ship.commit})`);
  });

  test("helm plugin install <source dir>: the launcher runs the TypeScript with bun", async () => {
    const env = helmEnv("h3-src");
    const inst = await run(TOOLS.helm3, ["plugin", "install", join(ROOT, "plugins/helm-addon-push")], { env });
    expect(inst.code).toBe(0);
    const v = await run(TOOLS.helm3, ["addon-push", "--version"], { env });
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^helm addon-push .*-dev \(commit unknown\)\n$/); // from source, not a build
    const help = await run(TOOLS.helm3, ["addon-push", "--help"], { env });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("USAGE helm addon-push");
  });
});

describe("Helm 4.1", () => {
  test("an unsigned archive URL is refused by default (no .prov)", async () => {
    const env = helmEnv("h4-refused");
    const inst = await run(TOOLS.helm4, ["plugin", "install", `${unsigned.url}/${archiveName}`], { env });
    expect(inst.code).not.toBe(0);
    expect(inst.stderr).toContain("no provenance file (.prov) found");
    expect(existsSync(join(env.HELM_DATA_HOME!, "plugins", "helm-addon-push"))).toBe(false);
  });

  test("--verify=false installs the unsigned archive (also when served as application/octet-stream)", async () => {
    const env = helmEnv("h4-noverify");
    const inst = await run(TOOLS.helm4, ["plugin", "install", "--verify=false", `${octet.url}/${archiveName}`], { env });
    expect(inst.code).toBe(0);
    expect(inst.stdout).toContain("Installed plugin: addon-push");
    await checkInstalled(TOOLS.helm4, env, `${ship.version} (commit ${ship.commit})`);
  });

  test("a gpg-signed .prov next to the archive verifies with --keyring and installs", async () => {
    const env = helmEnv("h4-signed");
    const inst = await run(TOOLS.helm4, ["plugin", "install", "--keyring", keyring, `${signed.url}/${archiveName}`], { env });
    expect(inst.code).toBe(0);
    expect(inst.stdout).toContain(`Plugin Hash Verified: sha256:${ship.archives["helm-addon-push"].sha256}`);
    expect(inst.stdout).toContain("Installed plugin: addon-push");
    expect(signed.requests).toContain(`/${archiveName}.prov`);
    await checkInstalled(TOOLS.helm4, env, `${ship.version} (commit ${ship.commit})`);
  });

  test("a .prov whose hash does not match the archive, or an unknown key, is refused", async () => {
    const bad = await run(TOOLS.helm4, ["plugin", "install", "--keyring", keyring, `${badSigned.url}/${archiveName}`], { env: helmEnv("h4-bad") });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.toLowerCase()).toMatch(/sha256|hash|digest/);
    const otherRing = join(dir, "empty-ring.gpg");
    writeFileSync(otherRing, "");
    const unknown = await run(TOOLS.helm4, ["plugin", "install", "--keyring", otherRing, `${signed.url}/${archiveName}`], { env: helmEnv("h4-unknown") });
    expect(unknown.code).not.toBe(0);
  });

  test("helm plugin install ./<local archive> --verify=false (the folder layout Helm 4 expects), and --keyring with the .prov next to it", async () => {
    const env = helmEnv("h4-local");
    const inst = await run(TOOLS.helm4, ["plugin", "install", `./${archiveName}`, "--verify=false"], { env, cwd: ship.releaseDir });
    expect(inst.stderr).toBe("");
    expect(inst.stdout).toContain("Skipping plugin signature verification");
    expect(inst.code).toBe(0);
    expect(inst.stdout).toContain("Installed plugin: addon-push");
    await checkInstalled(TOOLS.helm4, env, `${ship.version} (commit ${ship.commit})`);
    const signedEnv = helmEnv("h4-local-signed");
    const ok = await run(TOOLS.helm4, ["plugin", "install", `./${archiveName}`, "--keyring", keyring], { env: signedEnv, cwd: join(dir, "signed") });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`Plugin Hash Verified: sha256:${ship.archives["helm-addon-push"].sha256}`);
    await checkInstalled(TOOLS.helm4, signedEnv, `${ship.version} (commit ${ship.commit})`);
    const bad = await run(TOOLS.helm4, ["plugin", "install", `./${archiveName}`, "--keyring", keyring], { env: helmEnv("h4-local-bad"), cwd: join(dir, "bad-signed") });
    expect(bad.code).not.toBe(0);
  });

  test("helm plugin install <source dir> (development mode, no verification needed)", async () => {
    const env = helmEnv("h4-src");
    const inst = await run(TOOLS.helm4, ["plugin", "install", join(ROOT, "plugins/helm-addon-push")], { env });
    expect(inst.code).toBe(0);
    const v = await run(TOOLS.helm4, ["addon-push", "--version"], { env });
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^helm addon-push .*-dev \(commit unknown\)\n$/);
  });
});
