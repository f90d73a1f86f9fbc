// Every plugin runs from source under `deno run -A`: --help and --version of all four, plus real operations
// besides the registry copy in test/oci/deno.test.ts: `helm addon-push package` (the chart it writes is read
// back by the real Helm) and `kubectl violet whoami` against a TLS fake API server with a private CA.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { PLUGINS, type PluginName } from "../../scripts/build.ts";
import { makeAddon } from "../addon-push/fixtures.ts";
import { startFakeApiServer, type FakeApiServer } from "../support/kube-apiserver.ts";
import { DENO, ROOT, run, tempDir, TOOLS } from "./support.ts";

setDefaultTimeout(120_000);

let dir: string;
let api: FakeApiServer;

beforeAll(async () => {
  dir = tempDir("ka-ship-deno-");
  api = await startFakeApiServer({ tls: true, namespaces: ["team-d"], users: { admin: { allow: "*" } } });
});
afterAll(async () => {
  await api?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function deno(plugin: PluginName, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  return run(DENO, ["run", "-A", "--quiet", join(ROOT, PLUGINS[plugin].entry), ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { PATH: process.env.PATH, HOME: join(dir, "home"), DENO_DIR: process.env.DENO_DIR, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME, ...opts.env },
  });
}

const usageName = (p: PluginName) => (PLUGINS[p].kind === "helm" ? "helm addon-push" : `kubectl ${PLUGINS[p].krewName}`);

describe("deno run -A: --help and --version", () => {
  for (const plugin of Object.keys(PLUGINS) as PluginName[]) {
    test(plugin, async () => {
      const help = await deno(plugin, ["--help"]);
      expect(help.stderr).not.toMatch(/^error/m);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`USAGE ${usageName(plugin)}`);
      const v = await deno(plugin, ["--version"]);
      expect(v.code).toBe(0);
      expect(v.stdout).toMatch(new RegExp(`^${usageName(plugin)} \\S+ \\(commit \\S+\\)\\n$`));
    });
  }

  test("a subcommand's --help loads its module (lazy import works under deno)", async () => {
    const r = await deno("kubectl-violet", ["push", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("USAGE kubectl violet push");
  });
});

describe("deno run -A: real operations", () => {
  test("helm addon-push package writes a chart the real Helm reads", async () => {
    const addon = makeAddon(join(dir, "src"), "denoaddon", { version: "2.3.4" });
    const out = join(dir, "charts");
    mkdirSync(out, { recursive: true });
    const r = await deno("helm-addon-push", ["package", addon, "-d", out]);
    expect(r.stderr).not.toMatch(/^error/m);
    expect(r.code).toBe(0);
    const tgz = join(out, "denoaddon-2.3.4.tgz");
    expect(existsSync(tgz)).toBe(true);
    const show = await run(TOOLS.helm3, ["show", "chart", tgz], { env: { PATH: process.env.PATH, HOME: join(dir, "home") } });
    expect(show.code).toBe(0);
    const chart = parseYaml(show.stdout);
    expect(chart).toMatchObject({ apiVersion: "v2", name: "denoaddon", version: "2.3.4", type: "library" });
  });

  test("kubectl violet whoami against a TLS API server with a private CA", async () => {
    const home = join(dir, "home");
    mkdirSync(join(home, ".kube"), { recursive: true });
    copyFileSync(api.kubeconfig("admin", { namespace: "team-d", context: "deno-lab" }), join(home, ".kube", "config"));
    const r = await deno("kubectl-violet", ["whoami", "-o", "json"]);
    expect(r.stderr).not.toMatch(/^error/m);
    expect(r.code).toBe(0);
    const who = JSON.parse(r.stdout);
    expect(who).toMatchObject({ context: "deno-lab", namespace: "team-d" });
    expect(api.requests.length).toBeGreaterThan(0);
  });
});
