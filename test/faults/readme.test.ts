// The README's reliability table stays true: every row names a test file and a test title fragment that exist.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../support/cli.ts";

const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const section = readme.slice(readme.indexOf("## Reliability"), readme.indexOf("\n## ", readme.indexOf("## Reliability") + 3));
const rows = section.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| fault") && !l.startsWith("| ---"));

describe("README reliability table", () => {
  test("has a row per fault of issue 12 and the earlier fault suites", () => {
    expect(rows.length).toBeGreaterThanOrEqual(19);
  });

  test.each(rows.map((r) => [r.split(" | ")[0]!.slice(2), r] as const))("%s → an existing test", (_name, row) => {
    const m = /`(test\/[\w/.-]+\.test\.ts)` "([^"]+)"\s*\|$/.exec(row);
    expect(m).not.toBeNull();
    const [, file, title] = m!;
    expect(existsSync(join(ROOT, file!))).toBe(true);
    expect(readFileSync(join(ROOT, file!), "utf8")).toContain(title!);
  });
});
