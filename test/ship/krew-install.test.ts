// krew-style install of the three kubectl plugins from their release archives, then the REAL kubectl (1.31 and
// 1.33) runs them: manifests rendered from krew/*.yaml.tmpl with archive URLs on a loopback HTTP server,
// sha256 check, content-sniffed extraction of regular files only, files ops, LICENSE, the kubectl-<name> link
// on PATH, `kubectl <name> --help`, `--version`, and `kubectl plugin list` (non-zero on any warning).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { PLUGINS, type PluginName } from "../../scripts/build.ts";
import { matchPlatform, renderKrewManifests, type KrewManifest } from "../../scripts/krew.ts";
import { krewInstall, type KrewInstall } from "./krew-like.ts";
import { removeShipBuild, run, serveDir, shipBuild, tempDir, TOOLS, type FileServer, type ShipBuild } from "./support.ts";

setDefaultTimeout(120_000);

const KUBECTL_PLUGINS = (Object.keys(PLUGINS) as PluginName[]).filter((p) => PLUGINS[p].kind === "kubectl");
let ship: ShipBuild;
let server: FileServer;
let dir: string;
let krewDir: string;
let krewRoot: string;
let manifests: string[];
const installs: Record<string, KrewInstall> = {};

beforeAll(async () => {
  ship = await shipBuild();
  server = await serveDir(ship.releaseDir);
  dir = tempDir("ka-krew-install-");
  krewDir = join(dir, "manifests");
  krewRoot = join(dir, "krew-root");
  manifests = renderKrewManifests({ releaseDir: ship.releaseDir, outDir: krewDir, version: ship.version, baseUrl: server.url, allowMissing: true });
}, 240_000);

afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  removeShipBuild();
});

function sha256(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

test("the rendered manifests point at the served archives with their lowercase sha256", () => {
  expect(manifests.map((m) => m.split("/").pop()).sort()).toEqual(["mirror.yaml", "scar.yaml", "violet.yaml"]);
  for (const plugin of KUBECTL_PLUGINS) {
    const name = PLUGINS[plugin].krewName!;
    const m = parseYaml(readFileSync(join(krewDir, `${name}.yaml`), "utf8")) as KrewManifest;
    expect(m.spec?.version).toBe(`v${ship.version}`);
    const p = matchPlatform(m, "linux", "amd64")!;
    const archive = ship.archives[plugin];
    expect(p.uri).toBe(`${server.url}/${archive.file.split("/").pop()}`);
    expect(p.sha256).toBe(sha256(archive.file)); // independent of package.ts's own hash
    expect(readFileSync(archive.shaFile, "utf8")).toBe(`${p.sha256}  ${archive.file.split("/").pop()}\n`);
  }
});

test("archives hold only regular files: the binary and kubectl's completion helper with mode 0755, LICENSE (read with the system tar)", async () => {
  for (const plugin of KUBECTL_PLUGINS) {
    const r = await run("tar", ["-tvzf", ship.archives[plugin].file], { env: { PATH: process.env.PATH } });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n").map((l) => l.split(/\s+/));
    expect(lines.map((l) => l[0]!.charAt(0))).toEqual(["-", "-", "-"]); // no links, no dirs
    expect(lines.map((l) => [l[0], l[l.length - 1]])).toEqual([
      ["-rwxr-xr-x", plugin],
      ["-rwxr-xr-x", `kubectl_complete-${PLUGINS[plugin].krewName}`],
      ["-rw-r--r--", "LICENSE"],
    ]);
    expect(Number(lines[0]![2])).toBe(ship.builds[plugin].bytes);
  }
});

describe("krew-style install", () => {
  beforeAll(async () => {
    for (const m of manifests) {
      const i = await krewInstall(m, krewRoot, { os: "linux", arch: "amd64" });
      installs[i.name] = i;
    }
  });

  test("each plugin is linked as <root>/bin/kubectl-<name> to an executable in its store dir with LICENSE", () => {
    for (const plugin of KUBECTL_PLUGINS) {
      const name = PLUGINS[plugin].krewName!;
      const i = installs[name]!;
      expect(i.link).toBe(join(krewRoot, "bin", `kubectl-${name}`));
      expect(realpathSync(i.link)).toBe(join(i.installDir, plugin));
      expect(statSync(i.link).mode & 0o777).toBe(0o755);
      expect(readFileSync(join(i.installDir, "LICENSE"), "utf8")).toContain("Apache License");
      expect(server.requests).toContain(`/${ship.archives[plugin].file.split("/").pop()}`);
    }
  });

  for (const [label, kubectl] of [["kubectl 1.31", TOOLS.kubectl131], ["kubectl 1.33", TOOLS.kubectl133]] as const) {
    describe(label, () => {
      const env = () => ({ PATH: join(krewRoot, "bin"), HOME: dir });

      test("kubectl violet|mirror|scar --help run the installed binaries", async () => {
        for (const plugin of KUBECTL_PLUGINS) {
          const name = PLUGINS[plugin].krewName!;
          const r = await run(kubectl, [name, "--help"], { env: env() });
          expect(r.stderr).toBe("");
          expect(r.code).toBe(0);
          expect(r.stdout).toContain(`USAGE kubectl ${name}`);
          expect(r.stdout).toContain("COMMANDS");
        }
      });

      test("kubectl violet --version prints the package version and the git commit", async () => {
        const r = await run(kubectl, ["violet", "--version"], { env: env() });
        expect(r.code).toBe(0);
        expect(r.stdout).toBe(`kubectl violet ${ship.version} (commit ${ship.commit})\n`);
        expect(ship.commit).toMatch(/^[0-9a-f]{7,}$/);
      });

      test("kubectl __complete <plugin> … runs the kubectl_complete-<plugin> helper linked next to the plugin", async () => {
        for (const plugin of KUBECTL_PLUGINS) {
          const name = PLUGINS[plugin].krewName!;
          const link = join(krewRoot, "bin", `kubectl_complete-${name}`);
          if (!existsSync(link)) symlinkSync(join(installs[name]!.installDir, `kubectl_complete-${name}`), link); // as docs/install.md says
        }
        const c = async (args: string[]) => (await run(kubectl, ["__complete", ...args], { env: env() })).stdout.trim().split("\n").map((l) => l.split("\t")[0]);
        expect(await c(["violet", "pu"])).toEqual(["push", ":4"]);
        expect(await c(["mirror", "sync", "--dry-run="])).toEqual(["none", "client", "server", ":4"]);
        expect(await c(["scar", "status", "-o", "y"])).toEqual(["yaml", ":4"]);
        expect(await c(["scar", "completion", "z"])).toEqual(["zsh", ":4"]);
      });

      test("kubectl plugin list shows all three and no warnings (exit 0)", async () => {
        const r = await run(kubectl, ["plugin", "list"], { env: env() });
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        const listed = r.stdout.split("\n").filter((l) => l.startsWith("/"));
        expect(listed.sort()).toEqual(["mirror", "scar", "violet"].map((n) => join(krewRoot, "bin", `kubectl-${n}`)));
      });
    });
  }

  test("control: a plugin that is not executable makes kubectl plugin list warn and exit non-zero", async () => {
    const extra = join(dir, "extra-bin");
    mkdirSync(extra, { recursive: true });
    copyFileSync(join(krewRoot, "bin", "kubectl-scar"), join(extra, "kubectl-broken"));
    chmodSync(join(extra, "kubectl-broken"), 0o644);
    const r = await run(TOOLS.kubectl133, ["plugin", "list"], { env: { PATH: `${join(krewRoot, "bin")}:${extra}`, HOME: dir } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("warning:");
    expect(r.stderr).toContain("kubectl-broken");
  });
});

describe("install failures", () => {
  test("a sha256 that does not match the downloaded archive aborts the install", async () => {
    const bad = join(dir, "tampered", "mirror.yaml");
    mkdirSync(join(dir, "tampered"), { recursive: true });
    const wrong = ship.archives["kubectl-scar"].sha256;
    writeFileSync(bad, readFileSync(join(krewDir, "mirror.yaml"), "utf8").replace(ship.archives["kubectl-mirror"].sha256, wrong));
    await expect(krewInstall(bad, join(dir, "root-tampered"), { os: "linux", arch: "amd64" })).rejects.toThrow(/checksum does not match/);
  });

  test("a platform the manifest does not list is refused", async () => {
    await expect(krewInstall(join(krewDir, "violet.yaml"), join(dir, "root-ppc"), { os: "linux", arch: "ppc64le" })).rejects.toThrow(/does not offer installation/);
  });
});
