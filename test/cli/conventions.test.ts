// kubectl conventions in every command of the four plugins (issue 15, points 1–2):
// --dry-run[=none|client|server] and -o/--output validated against what each command supports; files are -O.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { applyConventions } from "../../shared/cli/conventions.ts";
import { REQUEST_TIMEOUT_HELP } from "../../shared/cli/duration.ts";
import { parseDuration as registryDuration } from "../../shared/cli/registry.ts";
import { parseDuration as kubeDuration } from "../../shared/kube/flags.ts";
import { renderJsonPath } from "../../shared/cli/jsonpath.ts";
import { runCli } from "../support/cli.ts";
import { validReport } from "../support/schema.ts";
import { startFakeApiServer, type FakeApiServer } from "../support/kube-apiserver.ts";
import { EXPECTED_STATIC, makeFixture, type Fixture } from "../mirror-images/fixture.ts";

const PLUGINS = ["kubectl-mirror", "kubectl-violet", "kubectl-scar", "helm-addon-push"] as const;

interface Cmd {
  plugin: string;
  name: string[];
  args: Record<string, any>;
  positionals: number;
}

async function commands(): Promise<Cmd[]> {
  const out: Cmd[] = [];
  for (const plugin of PLUGINS) {
    const { commands } = await import(`../../plugins/${plugin}/commands/index.ts`);
    const entries: [string[], any][] = [];
    for (const [n, load] of Object.entries(commands as Record<string, () => Promise<any>>)) entries.push([[n], await load()]);
    if (plugin === "helm-addon-push") entries.push([[], (await import("../../plugins/helm-addon-push/commands/push.ts")).default]);
    for (const [name, c] of entries) {
      const args = (typeof c.args === "function" ? await c.args() : c.args) ?? {};
      out.push({ plugin, name, args, positionals: Object.values(args).filter((d: any) => d.type === "positional").length });
    }
  }
  return out;
}

let all: Cmd[] = [];
let tmp: string;
beforeAll(async () => {
  all = await commands();
  tmp = mkdtempSync(join(tmpdir(), "ka-conv-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("every command", () => {
  test("-o means the output format: it is validated, and files are -O/--output-file", async () => {
    const withOutput = all.filter((c) => c.args.output);
    expect(withOutput.length).toBeGreaterThan(20);
    for (const c of withOutput) {
      const where = `${c.plugin} ${c.name.join(" ")}`;
      expect({ where, alias: c.args.output.alias }).toEqual({ where, alias: ["o"] });
      expect({ where, hint: c.args.output.valueHint }).toMatchObject({ where, hint: expect.stringMatching(/^json\|yaml/) });
      if (c.args["output-file"]) expect({ where, alias: c.args["output-file"].alias }).toMatchObject({ where, alias: expect.arrayContaining(["O"]) });
    }
    // nothing else claims -o
    for (const c of all) for (const [k, d] of Object.entries(c.args)) if (k !== "output") expect({ where: `${c.plugin} ${c.name} --${k}`, alias: d.alias ?? [] }).not.toMatchObject({ alias: expect.arrayContaining(["o"]) });
    // `-o josn` is a usage error in every one of them, before anything runs
    const results = await Promise.all(withOutput.map(async (c) => [c, await runCli(c.plugin, [...c.name, ...Array(Math.max(c.positionals, c.name.length ? 1 : 2)).fill("x"), "-o", "josn"], { cwd: tmp })] as const));
    for (const [c, r] of results) {
      expect({ cmd: `${c.plugin} ${c.name.join(" ")}`, code: r.code, err: r.stderr }).toEqual({ cmd: `${c.plugin} ${c.name.join(" ")}`, code: 2, err: expect.stringContaining('unsupported output format "josn"') });
    }
  }, 120_000);

  test("--dry-run takes none|client|server; anything else is a usage error", async () => {
    const withDry = all.filter((c) => c.args["dry-run"]);
    expect(withDry.length).toBeGreaterThan(10);
    const results = await Promise.all(withDry.map(async (c) => [c, await runCli(c.plugin, [...c.name, ...Array(Math.max(c.positionals, c.name.length ? 1 : 2)).fill("x"), "--dry-run=bogus"], { cwd: tmp })] as const));
    for (const [c, r] of results) {
      expect({ cmd: `${c.plugin} ${c.name.join(" ")}`, code: r.code, err: r.stderr }).toEqual({ cmd: `${c.plugin} ${c.name.join(" ")}`, code: 2, err: expect.stringContaining('invalid --dry-run "bogus"') });
      expect(c.args["dry-run"].valueHint).toBe("none|client|server");
    }
  }, 120_000);
});

describe("--request-timeout", () => {
  test("means one thing in every command (API server and registry requests alike), documented the same way", () => {
    const withTimeout = all.filter((c) => c.args["request-timeout"]);
    expect(withTimeout.length).toBeGreaterThan(15);
    for (const c of withTimeout) expect({ cmd: `${c.plugin} ${c.name.join(" ")}`, help: c.args["request-timeout"].description }).toEqual({ cmd: `${c.plugin} ${c.name.join(" ")}`, help: REQUEST_TIMEOUT_HELP });
  });
  test.each([["0", 0], ["30", 30_000], ["1.5", 1500], ["500ms", 500], ["2m", 120_000], ["1h30m", 5_400_000]])("%p parses the same for kube and registry flags", (v, ms) => {
    expect(registryDuration(v as string, "--request-timeout")).toBe(ms as number);
    expect(kubeDuration(v as string)).toBe(ms as number);
  });
  test("a bad duration is a usage error naming the flag", () => {
    expect(() => registryDuration("soon", "--request-timeout")).toThrow('invalid --request-timeout "soon"');
  });
});

describe("--dry-run values (helm addon-push package)", () => {
  const addon = () => {
    const d = join(tmp, "addons", "fluxcd");
    mkdirSync(join(d, "resources"), { recursive: true });
    writeFileSync(join(d, "metadata.yaml"), "name: fluxcd\nversion: 1.2.0\ndescription: flux\n");
    writeFileSync(join(d, "template.cue"), "output: {}\n");
    return d;
  };
  test("none runs for real, bare and client dry-run, server means client here (said once), the next word is not its value", async () => {
    const src = addon();
    const out = (m: string) => {
      const d = join(tmp, "out-" + m);
      mkdirSync(d, { recursive: true });
      return d;
    };
    const none = await runCli("helm-addon-push", ["package", src, "--dry-run=none", "-d", out("none")], { cwd: tmp });
    expect(none.code).toBe(0);
    expect(existsSync(join(tmp, "out-none", "fluxcd-1.2.0.tgz"))).toBe(true);
    for (const flag of [["--dry-run"], ["--dry-run=client"], ["--dry-run", "--dry-run=client"]]) {
      const r = await runCli("helm-addon-push", ["package", ...flag, src, "-d", out("client")], { cwd: tmp });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("Would package");
    }
    expect(existsSync(join(tmp, "out-client", "fluxcd-1.2.0.tgz"))).toBe(false);
    const server = await runCli("helm-addon-push", ["package", src, "--dry-run=server", "-d", out("server")], { cwd: tmp });
    expect(server.code).toBe(0);
    expect(server.stdout).toContain("Would package");
    expect(server.stderr.match(/--dry-run=server/g)?.length).toBe(1);
    expect(server.stderr).toContain("client dry run");
    expect(existsSync(join(tmp, "out-server", "fluxcd-1.2.0.tgz"))).toBe(false);
    // kubectl's deprecated boolean spellings still work, with a warning
    const t = await runCli("helm-addon-push", ["package", src, "--dry-run=true", "-d", out("true")], { cwd: tmp });
    expect(t.code).toBe(0);
    expect(t.stderr).toContain("--dry-run=true is deprecated: use --dry-run=client");
    expect(existsSync(join(tmp, "out-true", "fluxcd-1.2.0.tgz"))).toBe(false);
    const f = await runCli("helm-addon-push", ["package", src, "--dry-run=false", "-d", out("false")], { cwd: tmp });
    expect(f.code).toBe(0);
    expect(existsSync(join(tmp, "out-false", "fluxcd-1.2.0.tgz"))).toBe(true);
  }, 60_000);
});

describe("--dry-run=server asks the API server (kubectl mirror copy-ca)", () => {
  let api: FakeApiServer;
  beforeAll(async () => {
    api = await startFakeApiServer({ namespaces: ["zot-system", "apps"] });
    api.put({ apiVersion: "v1", kind: "Secret", metadata: { name: "zot-ca", namespace: "zot-system" }, data: { "ca.crt": Buffer.from("CA").toString("base64") } });
  });
  afterAll(() => api?.stop());
  test("server sends the create with dryRun=All; none creates; client sends no write", async () => {
    const run = (extra: string[]) => runCli("kubectl-mirror", ["copy-ca", "zot-system/zot-ca", "-n", "apps", "--kubeconfig", api.kubeconfig("admin"), "-o", "json", ...extra]);
    const writes = () => api.requests.filter((r) => r.method === "POST" && r.path.includes("/secrets"));
    const client = await run(["--dry-run"]);
    expect(client.code).toBe(0);
    expect(validReport(client.stdout, "CopyCAReport").action).toBe("would-create");
    expect(writes()).toHaveLength(0);
    const server = await run(["--dry-run=server"]);
    expect(server.code).toBe(0);
    expect(JSON.parse(server.stdout).action).toBe("would-create");
    expect(writes()).toHaveLength(1);
    expect(writes()[0]!.query.dryRun).toBe("All");
    expect(api.get("v1", "Secret", "zot-ca", "apps")).toBeUndefined();
    const none = await run(["--dry-run=none"]);
    expect(none.code).toBe(0);
    expect(JSON.parse(none.stdout).action).toBe("created");
    expect(api.get("v1", "Secret", "zot-ca", "apps")).toBeDefined();
  }, 60_000);
});

describe("listing formats (kubectl mirror images)", () => {
  let fx: Fixture;
  beforeAll(() => {
    fx = makeFixture();
  });
  test("-o name, -o jsonpath=…, -o wide", async () => {
    const env = { HOME: join(fx.root, "home"), HELM_CACHE_HOME: join(fx.root, "c"), HELM_CONFIG_HOME: join(fx.root, "cfg"), HELM_DATA_HOME: join(fx.root, "d") };
    const names = await runCli("kubectl-mirror", ["images", fx.dir, "--no-render", "-o", "name"], { env });
    expect(names.code).toBe(0);
    expect(names.stdout.trim().split("\n").sort()).toEqual([...EXPECTED_STATIC].sort());
    const jp = await runCli("kubectl-mirror", ["images", fx.dir, "--no-render", "-o", "jsonpath={range .images[*]}{.image}{\"\\n\"}{end}"], { env });
    expect(jp.code).toBe(0);
    expect(jp.stdout).toBe(names.stdout);
    const first = await runCli("kubectl-mirror", ["images", fx.dir, "--no-render", "-o=jsonpath={.chart.name}"], { env });
    expect(first.stdout).toBe("app\n");
    const wide = await runCli("kubectl-mirror", ["images", fx.dir, "--no-render", "-o", "wide"], { env });
    expect(wide.code).toBe(0);
    expect(wide.stdout).toContain(EXPECTED_STATIC[0]!);
    const bad = await runCli("kubectl-mirror", ["images", fx.dir, "--no-render", "-o", "jsonpath={.a"], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unclosed {");
    // a json|yaml-only command refuses the listing formats
    const show = await runCli("kubectl-violet", ["show", "x.tgz", "-o", "name"]);
    expect(show.code).toBe(2);
    expect(show.stderr).toContain('unsupported output format "name" for "kubectl violet show": use json, yaml');
  }, 60_000);
});

describe("files are -O/--output-file (kubectl scar package, kubectl violet package)", () => {
  test("scar package: -O FILE, -o json; the old -o FILE and --json still work with a deprecation warning", async () => {
    const src = join(tmp, "www");
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, "index.yaml"), "a: 1\n");
    const a = await runCli("kubectl-scar", ["package", src, "-O", join(tmp, "a.tgz"), "-o", "json"]);
    expect(a.code).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ file: join(tmp, "a.tgz"), files: 1 });
    expect(a.stderr).not.toContain("deprecated");
    const y = await runCli("kubectl-scar", ["package", src, "--output-file", join(tmp, "y.tgz"), "-o", "yaml"]);
    expect(parse(y.stdout)).toMatchObject({ file: join(tmp, "y.tgz") });
    const old = await runCli("kubectl-scar", ["package", src, "-o", join(tmp, "old.tgz"), "--json"]);
    expect(old.code).toBe(0);
    expect(JSON.parse(old.stdout).file).toBe(join(tmp, "old.tgz"));
    expect(existsSync(join(tmp, "old.tgz"))).toBe(true);
    expect(old.stderr).toContain("deprecated");
    const bad = await runCli("kubectl-scar", ["package", src, "-o", "josn"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("files are -O/--output-file");
  }, 60_000);

  test("violet package: violet's --output FILE is the package file (deprecated), -o json the format", async () => {
    const { default: cmd } = await import("../../plugins/kubectl-violet/commands/package.ts");
    const defs = cmd.args as Record<string, unknown>;
    const warnings: string[] = [];
    const notes = { warn: (m: string) => warnings.push(m), info: () => {} };
    const legacy: Record<string, unknown> = { output: "pkg.tgz" };
    applyConventions(defs, legacy, "kubectl violet package", notes);
    expect(legacy["output-file"]).toBe("pkg.tgz");
    expect(legacy.output).toBeUndefined();
    expect(warnings.join()).toContain("use -O/--output-file pkg.tgz");
    const fmt: Record<string, unknown> = { output: "json", "output-file": "x.tgz" };
    applyConventions(defs, fmt, "kubectl violet package", notes);
    expect(fmt).toMatchObject({ output: "json", "output-file": "x.tgz" });
    expect(() => applyConventions(defs, { output: "wide" }, "kubectl violet package", notes)).toThrow('unsupported output format "wide"');
  });
});

describe("jsonpath", () => {
  const data = { items: [{ name: "a", tags: ["1", "2"] }, { name: "b", tags: [] }], kind: "List", "a.b": { c: 1 } };
  test.each([
    ["{.kind}", "List"],
    ["{.items[*].name}", "a b"],
    ["{.items[0].tags}", '["1","2"]'],
    ["{.items[-1].name}", "b"],
    ["{['a.b'].c}", "1"],
    ['{range .items[*]}{.name}{"\\t"}{end}', "a\tb\t"],
    ["names: {.items[*].name}!", "names: a b!"],
    ["{.missing}", ""],
  ])("%p", (t, want) => {
    expect(renderJsonPath(t, data)).toBe(want);
  });
  test.each(["{.a", "{range .items[*]}", "{end}", "{items}", "{.items[?(@.x)]}"])("bad template %p", (t) => {
    expect(() => renderJsonPath(t, data)).toThrow();
  });
});
