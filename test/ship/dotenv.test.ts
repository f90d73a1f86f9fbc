// A compiled plugin must not pick up `.env` or `bunfig.toml` from the user's working directory (bun --compile
// autoloads both unless built with --no-compile-autoload-dotenv --no-compile-autoload-bunfig, as scripts/build.ts
// does). The release binary runs `kubectl violet whoami` against a fake API server from a directory whose .env
// says KUBECONFIG=/nonexistent and whose bunfig.toml preloads a script; a control binary built with autoload on
// shows both traps are real (so this test fails if the flags are dropped from scripts/build.ts).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildArgs, buildPlugin, type BuildResult } from "../../scripts/build.ts";
import { startFakeApiServer, type FakeApiServer } from "../support/kube-apiserver.ts";
import { removeShipBuild, run, shipBuild, tempDir, type ShipBuild } from "./support.ts";

setDefaultTimeout(120_000);

let ship: ShipBuild;
let control: BuildResult;
let api: FakeApiServer;
let dir: string;
let home: string;
let cwd: string;

beforeAll(async () => {
  ship = await shipBuild();
  dir = tempDir("ka-ship-dotenv-");
  control = await buildPlugin({ plugin: "kubectl-violet", target: ship.target, outDir: join(dir, "control"), version: ship.version, commit: ship.commit, autoloadConfig: true });
  api = await startFakeApiServer({ tls: true, namespaces: ["team-a"], users: { admin: { allow: "*" } } });
  home = join(dir, "home");
  mkdirSync(join(home, ".kube"), { recursive: true });
  copyFileSync(api.kubeconfig("admin", { namespace: "team-a", context: "lab" }), join(home, ".kube", "config"));
  cwd = join(dir, "project");
  mkdirSync(cwd);
  writeFileSync(join(cwd, ".env"), "KUBECONFIG=/nonexistent/kubeconfig\n");
  writeFileSync(join(cwd, "bunfig.toml"), 'preload = ["./preload.ts"]\n');
  writeFileSync(join(cwd, "preload.ts"), 'require("node:fs").writeFileSync("preload-ran", "yes");\n');
}, 240_000);

afterAll(async () => {
  await api?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  removeShipBuild();
});

const env = () => ({ HOME: home, PATH: "/usr/bin:/bin" });

test("scripts/build.ts passes both no-autoload flags to bun build", () => {
  const args = buildArgs({ plugin: "kubectl-violet", target: "linux-x64", outfile: "x", version: "1.0.0", commit: "abc", bytecode: true });
  expect(args).toContain("--no-compile-autoload-dotenv");
  expect(args).toContain("--no-compile-autoload-bunfig");
});

describe("release binary", () => {
  test("whoami uses ~/.kube/config, not the KUBECONFIG from ./.env, and runs no bunfig preload", async () => {
    rmSync(join(cwd, "preload-ran"), { force: true });
    const r = await run(ship.builds["kubectl-violet"].file, ["whoami", "-o", "json"], { env: env(), cwd });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const who = JSON.parse(r.stdout);
    expect(who.context).toBe("lab");
    expect(who.namespace).toBe("team-a");
    expect(JSON.stringify(who)).toContain(api.url);
    expect(existsSync(join(cwd, "preload-ran"))).toBe(false);
  });

  test("the same run from a clean directory gives the same answer", async () => {
    const clean = join(dir, "clean");
    mkdirSync(clean, { recursive: true });
    const a = await run(ship.builds["kubectl-violet"].file, ["whoami", "-o", "json"], { env: env(), cwd: clean });
    const b = await run(ship.builds["kubectl-violet"].file, ["whoami", "-o", "json"], { env: env(), cwd });
    expect(a.code).toBe(0);
    expect(b.stdout).toBe(a.stdout);
  });
});

describe("control binary (built with autoload on)", () => {
  test("picks up KUBECONFIG from ./.env and fails; runs the bunfig preload", async () => {
    rmSync(join(cwd, "preload-ran"), { force: true });
    const r = await run(control.file, ["whoami", "-o", "json"], { env: env(), cwd });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("/nonexistent/kubeconfig");
    expect(existsSync(join(cwd, "preload-ran"))).toBe(true);
  });
});
