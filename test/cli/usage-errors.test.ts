// Usage mistakes every plugin shares (shared/cli/main.ts): a mistyped command suggests the closest one, and a
// missing required positional argument is a usage error (exit 2, like an unknown flag), not a failure (exit 1).
import { expect, test } from "bun:test";
import { closestName } from "../../shared/cli/main.ts";
import { runCli } from "../support/cli.ts";

test("closestName: typos, transpositions and prefixes; nothing when far", () => {
  const cmds = ["push", "pull", "sync", "serve", "login", "logout", "completion"];
  expect(closestName("pusj", cmds)).toBe("push");
  expect(closestName("snyc", cmds)).toBe("sync");
  expect(closestName("logni", cmds)).toBe("login");
  expect(closestName("compl", cmds)).toBe("completion");
  expect(closestName("xyzzy", cmds)).toBeUndefined();
});

test("kubectl mirror pusj: unknown command, did you mean push? (exit 2)", async () => {
  const r = await runCli("kubectl-mirror", ["pusj", "a.tar"]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('unknown command "pusj"');
  expect(r.stderr).toContain("did you mean push?");
});

test("kubectl violet shwo: did you mean show?", async () => {
  const r = await runCli("kubectl-violet", ["shwo"]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("did you mean show?");
});

test("a missing required positional argument exits 2 and points at --help", async () => {
  for (const [plugin, args, name] of [["kubectl-mirror", ["login"], "REGISTRY"], ["kubectl-violet", ["show"], "PACKAGE"]] as const) {
    const r = await runCli(plugin, [...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(name);
    expect(r.stderr).toContain("--help");
  }
});

test("kubectl mirror images/export with two charts: a usage error naming both, not the first one alone", async () => {
  for (const cmd of [["images"], ["export", "-O", "/nonexistent/x.tar"]]) {
    const r = await runCli("kubectl-mirror", [...cmd, "./chart-a", "./chart-b"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("one CHART per run, got 2: ./chart-a ./chart-b");
    expect(r.stderr).toContain("--mirror-file");
  }
});

test("kubectl mirror serve with two archives: a usage error, not the first one served alone", async () => {
  const r = await runCli("kubectl-mirror", ["serve", "day1.tar", "day2.tar", "--address", "127.0.0.1:0"], { timeoutMs: 20_000 });
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("serve takes one archive, got 2: day1.tar day2.tar");
});
