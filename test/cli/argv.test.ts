// kubectl-style argv handling in front of citty.
import { describe, expect, test } from "bun:test";
import { checkUnknownFlags, normalizeArgv, repeated, valueFlagNames } from "../../shared/cli/argv.ts";

const args = {
  namespace: { type: "string", alias: ["n"] },
  password: { type: "string", alias: ["p"] },
  output: { type: "string", alias: ["o"] },
  "dry-run": { type: "boolean" },
  q: { type: "boolean" },
} as const;
const vf = valueFlagNames(args as any);

describe("normalizeArgv", () => {
  test.each([
    [["-n=foo", "x"], ["-n", "foo", "x"]],
    [["-nfoo"], ["-n", "foo"]],
    [["--namespace=foo"], ["--namespace=foo"]],
    [["-n", "foo"], ["-n", "foo"]],
    [["-ojson"], ["-o", "json"]],
    [["-q"], ["-q"]],
  ])("%p → %p", (input, want) => {
    expect(normalizeArgv(input, vf)).toEqual(want);
  });

  test.each(["-X=y", "-pabc", "--Xyz", "-n=foo", "--"])("a value that looks like a flag stays a value: --password %p", (pw) => {
    expect(normalizeArgv(["--password", pw, "x"], vf)).toEqual(["--password", pw, "x"]);
    expect(normalizeArgv(["-p", pw], vf)).toEqual(["-p", pw]);
  });

  test("everything after -- is left alone", () => {
    expect(normalizeArgv(["--", "-n=foo"], vf)).toEqual(["--", "-n=foo"]);
  });
});

describe("checkUnknownFlags and repeated", () => {
  test("unknown flags are refused, known ones and their values pass", () => {
    expect(() => checkUnknownFlags(["--password", "--bogus", "-n", "x", "--dry-run"], args as any, "cmd")).not.toThrow();
    expect(() => checkUnknownFlags(["--bogus"], args as any, "kubectl x")).toThrow('unknown flag --bogus for "kubectl x"');
    expect(() => checkUnknownFlags(["--no-dry-run"], args as any, "cmd")).not.toThrow();
  });

  test("repeated flags keep every value, comma lists split", () => {
    expect(repeated(["--platform", "linux/amd64", "--platform=linux/arm64,linux/s390x"], ["platform"])).toEqual(["linux/amd64", "linux/arm64", "linux/s390x"]);
    expect(repeated(["--ca-file", "a=b,c"], ["ca-file"], { split: false })).toEqual(["a=b,c"]);
    expect(() => repeated(["--platform"], ["platform"])).toThrow(/needs a value/);
  });
});
