// helm addon-push as a drop-in for `helm cm-push` (issue 15 point 5): -d/--dependency-update and --keyring,
// a chart dir whose Chart.yaml lists dependencies missing from charts/ refused like `helm package` does, and
// `package -d DIR` creating DIR. Real Helm 3.17 does the dependency update; pushes go to the ChartMuseum fake.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseTarGzip } from "nanotar";
import { startChartMuseum, type ChartMuseumServer } from "../support/chartmuseum.ts";
import { makeAddon, makeChart, tempDir } from "./fixtures.ts";
import { cli, HELM, helmEnv } from "./helpers.ts";

const USER = "pusher";
const PASS = "Dep-upd4te-pass";
let root: string;
let env: Record<string, string>;
let cm: ChartMuseumServer;
let helmLog: string;

function withDeps(name: string): string {
  const src = join(root, "src");
  makeChart(src, "common", "1.4.0");
  return makeChart(src, name, "0.2.0", {
    "Chart.yaml": `apiVersion: v2\nname: ${name}\nversion: 0.2.0\ndependencies:\n  - name: common\n    version: 1.4.0\n    repository: file://../common\n`,
  });
}

beforeAll(async () => {
  root = tempDir("ka-cmpush-");
  env = helmEnv(join(root, "helm"));
  cm = await startChartMuseum({ basicAuth: { username: USER, password: PASS } });
  // $HELM_BIN as Helm sets it for plugins: a wrapper that records its arguments, then runs the real Helm 3.17
  helmLog = join(root, "helm-args.log");
  const wrapper = join(root, "helm-wrapper.sh");
  writeFileSync(wrapper, `#!/bin/sh\necho "$@" >> ${helmLog}\nexec ${HELM.helm3} "$@"\n`);
  chmodSync(wrapper, 0o755);
  env = { ...env, HELM_BIN: wrapper, HELM_REPO_USERNAME: USER, HELM_REPO_PASSWORD: PASS };
});

afterAll(async () => {
  await cm?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("dependencies", () => {
  test("a chart dir with dependencies missing from charts/ is refused like `helm package`; nothing is uploaded", async () => {
    const dir = withDeps("app-missing");
    const r = await cli([dir, cm.url], { env });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`error: ${dir}: found in Chart.yaml, but missing in charts/ directory: common (run "helm dependency build ${dir}", or push with -d/--dependency-update)`);
    expect(cm.get("app-missing", "0.2.0")).toBeUndefined();
    // helm package says the same
    const h = Bun.spawnSync([HELM.helm3, "package", dir, "-d", join(root, "x")], { env: { ...process.env, ...env } });
    expect(h.exitCode).not.toBe(0);
    expect(h.stderr.toString()).toContain("found in Chart.yaml, but missing in charts/ directory: common");
    const p = await cli(["package", dir, "-d", join(root, "pkg-missing")], { env });
    expect(p.code).toBe(1);
    expect(p.stderr).toContain("missing in charts/ directory: common");
  });

  test("-d/--dependency-update runs helm dependency update (with --keyring) and pushes the chart with its dependency", async () => {
    const dir = withDeps("app-deps");
    const keyring = join(root, "pubring.gpg");
    writeFileSync(keyring, "");
    const r = await cli([dir, cm.url, "-d", "--keyring", keyring], { env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(readFileSync(helmLog, "utf8")).toContain(`dependency update ${dir} --keyring ${keyring}`);
    expect(readdirSync(join(dir, "charts"))).toEqual(["common-1.4.0.tgz"]);
    const stored = cm.get("app-deps", "0.2.0")!;
    const names = (await parseTarGzip(stored.tgz)).map((e) => e.name);
    expect(names).toContain("app-deps/charts/common-1.4.0.tgz");
    // present now: a second push without -d is accepted (and --force replaces it)
    expect((await cli([dir, cm.url, "--force"], { env })).code).toBe(0);
    // package -u does the same for `package`
    const dir2 = withDeps("app-deps2");
    const p = await cli(["package", dir2, "-u", "-d", join(root, "pkg-u")], { env });
    expect(p.code).toBe(0);
    expect(existsSync(join(root, "pkg-u", "app-deps2-0.2.0.tgz"))).toBe(true);
  });

  test("a failing dependency update is one clear error", async () => {
    const src = join(root, "src");
    const dir = makeChart(src, "app-bad", "0.1.0", { "Chart.yaml": "apiVersion: v2\nname: app-bad\nversion: 0.1.0\ndependencies:\n  - name: nope\n    version: 1.0.0\n    repository: file://../does-not-exist\n" });
    const r = await cli([dir, cm.url, "--dependency-update"], { env });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: .*dependency update .*app-bad failed: /);
  });
});

describe("package -d DIR", () => {
  test("creates DIR (the README's `package addons/* -d dist/`); a dry run creates nothing; a file is refused", async () => {
    const src = join(root, "addons");
    makeAddon(src, "fluxcd");
    makeAddon(src, "velaux", { version: "1.9.0" });
    const dist = join(root, "work", "dist", "nested");
    const dry = await cli(["package", join(src, "fluxcd"), "-d", dist, "--dry-run"], { env });
    expect(dry.code).toBe(0);
    expect(existsSync(join(root, "work"))).toBe(false);
    const r = await cli(["package", join(src, "fluxcd"), join(src, "velaux"), "-d", dist], { env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(readdirSync(dist).sort()).toEqual(["fluxcd-1.2.0.tgz", "velaux-1.9.0.tgz"]);
    const file = join(root, "afile");
    writeFileSync(file, "x");
    const bad = await cli(["package", join(src, "fluxcd"), "-d", file], { env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("is not a directory");
  });
});
