// Every plugin's --help lists its commands from the lazy summaries; each summary must equal the command's own
// description, and the help of a plugin must not load the command modules.
import { describe, expect, test } from "bun:test";
import { runCli } from "../support/cli.ts";

const plugins = ["kubectl-violet", "kubectl-mirror", "kubectl-scar", "helm-addon-push"];

describe.each(plugins)("%s", (plugin) => {
  test("summaries match the commands' descriptions", async () => {
    const { commands } = await import(`../../plugins/${plugin}/commands/index.ts`);
    expect(Object.keys(commands).length).toBeGreaterThan(0);
    for (const [name, lazy] of Object.entries(commands) as [string, any][]) {
      const cmd = await lazy();
      const meta = typeof cmd.meta === "function" ? await cmd.meta() : cmd.meta;
      expect(`${name}: ${lazy.summary}`).toBe(`${name}: ${meta.description}`);
      // --help prints notes as a list of lines (a plain string made `--help` crash)
      if (meta.notes !== undefined) expect({ name, lines: Array.isArray(meta.notes) && meta.notes.every((l: unknown) => typeof l === "string") }).toEqual({ name, lines: true });
    }
  });

  test("--help lists every command", async () => {
    const { commands } = await import(`../../plugins/${plugin}/commands/index.ts`);
    const r = await runCli(plugin, ["--help"]);
    expect(r.code).toBe(0);
    for (const name of Object.keys(commands)) expect(r.stdout).toContain(name);
    expect(r.stdout).not.toMatch(/[ \t]+$/m);
  });
});

test("kubectl mirror sign --help prints its notes and examples", async () => {
  const r = await runCli("kubectl-mirror", ["sign", "--help"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("The signature covers index.json");
  expect(r.stdout).toContain("kubectl mirror sign bundle.tar.zst --key key.pem");
});
