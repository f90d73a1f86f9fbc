// The Helm plugin: plugin.yaml + launcher + compiled binary installed with the real Helm 3.17 and Helm 4.1,
// then `helm addon-push --help` and real pushes through Helm (HELM_* variables, Helm's global flags).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { startChartMuseum, type ChartMuseumServer } from "../support/chartmuseum.ts";
import { makeAddon, makeChart, tempDir } from "./fixtures.ts";
import { BUN, HELM, helmEnv, ROOT, run } from "./helpers.ts";

const PLUGIN_SRC = join(ROOT, "plugins/helm-addon-push");
let root: string;
let release: string; // a release-style plugin dir: plugin.yaml, helm-addon-push.sh, bin/helm-addon-push
let cm: ChartMuseumServer;

beforeAll(async () => {
  root = tempDir("ka-plugin-");
  release = join(root, "helm-addon-push");
  mkdirSync(join(release, "bin"), { recursive: true });
  const build = await run(
    BUN,
    ["build", "--compile", "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig", join(PLUGIN_SRC, "main.ts"), "--outfile", join(release, "bin", "helm-addon-push")],
    { cwd: ROOT, timeoutMs: 120_000 },
  );
  expect(build.code).toBe(0);
  copyFileSync(join(PLUGIN_SRC, "plugin.yaml"), join(release, "plugin.yaml"));
  copyFileSync(join(PLUGIN_SRC, "helm-addon-push.sh"), join(release, "helm-addon-push.sh"));
  cm = await startChartMuseum({ contextPath: "/charts", basicAuth: { username: "ci", password: "plugin-pass-42" } });
}, 150_000);

afterAll(async () => {
  await cm?.stop();
  rmSync(root, { recursive: true, force: true });
});

test("plugin.yaml uses only fields Helm 3.17 knows, no downloaders, no command+platformCommand", () => {
  const y = parseYaml(readFileSync(join(PLUGIN_SRC, "plugin.yaml"), "utf8"));
  const known = new Set(["name", "version", "usage", "description", "ignoreFlags", "platformCommand", "command", "hooks", "useTunnel"]);
  for (const k of Object.keys(y)) expect(known.has(k)).toBe(true);
  expect(y.downloaders).toBeUndefined();
  expect(y.command).toBeUndefined();
  expect(y.name).toBe("addon-push");
  expect(y.version).toMatch(/^\d+\.\d+\.\d+$/);
  for (const c of y.platformCommand) {
    expect(Object.keys(c).sort()).toEqual(["command", "os"]);
  }
});

for (const [label, helm, major] of [["Helm 3.17", HELM.helm3, "3"], ["Helm 4.1", HELM.helm4, "4"]] as const) {
  describe(`${label}: compiled plugin`, () => {
    let env: Record<string, string>;
    beforeAll(async () => {
      env = helmEnv(join(root, `home-${major}`));
      const inst = await run(helm, ["plugin", "install", release], { env });
      expect(inst.stderr.replace(/^Installing plugin from local directory \(development mode\)\n/, "")).toBe("");
      expect(inst.code).toBe(0);
    });

    test("helm plugin list / helm addon-push --help / HELM_BIN", async () => {
      const list = await run(helm, ["plugin", "list"], { env });
      expect(list.stdout).toMatch(/addon-push\s+0\.1\.0/);
      if (major === "4") expect(list.stdout).toMatch(/addon-push\s+0\.1\.0\s+cli\/v1/);
      const help = await run(helm, ["addon-push", "--help"], { env });
      expect(help.code).toBe(0);
      expect(help.stdout).toContain("USAGE helm addon-push");
      expect(help.stdout).toContain("--skip-existing");
      expect(help.stdout).toContain("package");
      const v = await run(helm, ["addon-push", "--check-helm-version"], { env });
      expect(v.stdout.trim()).toBe(major);
    });

    test("real push to a repo added with helm repo add; Helm's --repository-config and --debug are honoured", async () => {
      const add = await run(helm, ["repo", "add", "cm", cm.url, "--username", "ci", "--password", "plugin-pass-42"], { env });
      expect(add.code).toBe(0);
      const addon = makeAddon(join(root, `src-${major}`), `addon${major}`);
      const r = await run(helm, ["addon-push", addon, "cm"], { env });
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe(`Pushing addon${major}-1.2.0.tgz to cm... Done.\n`);
      expect(cm.get(`addon${major}`, "1.2.0")?.metadata.type).toBe("library");

      // Helm strips its global flags and passes them as HELM_* variables
      const other = join(root, `other-repos-${major}.yaml`);
      const add2 = await run(helm, ["repo", "add", "elsewhere", cm.url, "--username", "ci", "--password", "plugin-pass-42", "--repository-config", other], { env });
      expect(add2.code).toBe(0);
      const chart = makeChart(join(root, `src-${major}`), `chart${major}`, "1.0.0");
      const r2 = await run(helm, ["addon-push", chart, "elsewhere", "--repository-config", other, "--debug"], { env });
      expect(r2.code).toBe(0);
      expect(r2.stdout).toContain(`Pushing chart${major}-1.0.0.tgz to elsewhere... Done.`);
      expect(r2.stderr + r2.stdout).not.toContain("plugin-pass-42");
      const r3 = await run(helm, ["addon-push", chart, "elsewhere"], { env });
      expect(r3.code).not.toBe(0);
      expect(r3.stderr).toContain('no repo named "elsewhere" found');
    });

    test("package subcommand through helm", async () => {
      const addon = makeAddon(join(root, `pkg-${major}`), "pkgme");
      const out = join(root, `pkg-out-${major}`);
      mkdirSync(out, { recursive: true });
      const r = await run(helm, ["addon-push", "package", addon, "-d", out], { env });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(join(out, "pkgme-1.2.0.tgz"));
    });
  });
}

describe("source checkout install (launcher runs bun)", () => {
  test("helm plugin install plugins/helm-addon-push works in Helm 4 and pushes", async () => {
    const env = helmEnv(join(root, "home-src"));
    const inst = await run(HELM.helm4, ["plugin", "install", PLUGIN_SRC], { env });
    expect(inst.code).toBe(0);
    const add = await run(HELM.helm4, ["repo", "add", "cm", cm.url, "--username", "ci", "--password", "plugin-pass-42"], { env });
    expect(add.code).toBe(0);
    const addon = makeAddon(join(root, "src-launcher"), "fromsource", { version: "0.0.1" });
    const r = await run(HELM.helm4, ["addon-push", addon, "cm"], { env });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("Pushing fromsource-0.0.1.tgz to cm... Done.\n");
  });
});
