// The suite's one version order (shared/version/order.ts), checked as a property against npm's `semver` (the
// implementation npm itself uses) over the shapes met in practice: 1.2.0, v1.2.0, OLM CSV names
// (acme-operator.v1.2.0), pre-releases, build metadata, short versions (1.10 vs 1.9) and four-part versions.
// Four-part versions are outside SemVer: the oracle orders the first three parts with `semver`, then the fourth
// numerically, then the pre-release with `semver` again (System.Version / NuGet style).
import { describe, expect, test } from "bun:test";
import semver from "semver";
import { compareSemver, parseSemver, pickVersion } from "../../shared/helm/semver.ts";
import { compareVersions, parseVersion, sortVersions, versionText } from "../../shared/version/order.ts";

interface Gen {
  nums: number[];
  pre: string[];
  build?: string;
  prefix: string;
}

/** mulberry32: a small seeded PRNG, so a failure can be replayed from the printed seed */
function rng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NUMS = [0, 1, 2, 9, 10, 11, 100];
const PRE = ["alpha", "beta", "rc", "0", "1", "2", "10", "x-y", "alpha1", "RC"];
const PREFIXES = ["", "v", "acme-operator.v", "etcd.", "foo.bar-operator.v"];

function gen(r: () => number): Gen {
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)]!;
  const parts = 1 + Math.floor(r() * 4);
  const pre = r() < 0.4 ? Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(PRE)) : [];
  return { nums: Array.from({ length: parts }, () => pick(NUMS)), pre, build: r() < 0.2 ? pick(["build.5", "sha.0abc", "1"]) : undefined, prefix: pick(PREFIXES) };
}

const text = (g: Gen) => `${g.prefix}${g.nums.join(".")}${g.pre.length ? `-${g.pre.join(".")}` : ""}${g.build ? `+${g.build}` : ""}`;
const pad = (g: Gen, n: number) => [...g.nums, 0, 0, 0, 0].slice(0, n);

/** The oracle: npm semver. */
function oracle(a: Gen, b: Gen): number {
  const pre = (g: Gen) => (g.pre.length ? `-${g.pre.join(".")}` : "");
  if (a.nums.length <= 3 && b.nums.length <= 3) {
    // whole versions (with "v" and build metadata) straight to semver
    const s = (g: Gen) => `v${pad(g, 3).join(".")}${pre(g)}${g.build ? `+${g.build}` : ""}`;
    return semver.compare(s(a), s(b));
  }
  return semver.compare(pad(a, 3).join("."), pad(b, 3).join(".")) || Math.sign(pad(a, 4)[3]! - pad(b, 4)[3]!) || semver.compare(`0.0.0${pre(a)}`, `0.0.0${pre(b)}`);
}

describe("the version order agrees with npm semver", () => {
  test("random pairs of real shapes (2000 pairs, seeded)", () => {
    const seed = 20261206;
    const r = rng(seed);
    let compared = 0;
    for (let i = 0; i < 2000; i++) {
      const a = gen(r);
      const b = r() < 0.15 ? { ...a, prefix: gen(r).prefix, build: undefined } : gen(r);
      const want = oracle(a, b);
      const got = compareVersions(text(a), text(b));
      if (got !== want) throw new Error(`seed ${seed} pair ${i}: compareVersions(${text(a)}, ${text(b)}) = ${got}, semver says ${want}`);
      compared++;
    }
    expect(compared).toBe(2000);
  });

  test("sorting agrees with semver's sort, and the version text is what was written", () => {
    const r = rng(7);
    const gens = Array.from({ length: 300 }, () => gen(r)).filter((g) => g.nums.length <= 3);
    const ours = sortVersions(gens.map(text)).map((t) => parseVersion(t)!);
    for (let i = 1; i < ours.length; i++) {
      const a = `${[...ours[i - 1]!.nums, 0, 0].slice(0, 3).join(".")}${ours[i - 1]!.pre.length ? `-${ours[i - 1]!.pre.join(".")}` : ""}`;
      const b = `${[...ours[i]!.nums, 0, 0].slice(0, 3).join(".")}${ours[i]!.pre.length ? `-${ours[i]!.pre.join(".")}` : ""}`;
      expect(semver.lte(a, b)).toBe(true);
    }
    for (const g of gens) expect(versionText(text(g))).toBe(`${g.nums.join(".")}${g.pre.length ? `-${g.pre.join(".")}` : ""}${g.build ? `+${g.build}` : ""}`);
  });

  test("Helm's chart version order is the same order", () => {
    const r = rng(11);
    for (let i = 0; i < 500; i++) {
      const a = { ...gen(r), prefix: "" };
      const b = { ...gen(r), prefix: "" };
      a.nums = a.nums.slice(0, 3);
      b.nums = b.nums.slice(0, 3);
      expect(Math.sign(compareSemver(parseSemver(text(a))!, parseSemver(text(b))!))).toBe(oracle(a, b));
    }
    expect(pickVersion(["1.9.0", "1.10.0", "1.10.0-rc.1"])).toBe("1.10.0");
  });
});

describe("the shapes of the issue", () => {
  test("bare versions are never cut at their first dot (2.1.0 is not 1.0)", () => {
    expect(versionText("2.1.0")).toBe("2.1.0");
    expect(versionText("v2.0.0-rc.1")).toBe("2.0.0-rc.1");
    expect(versionText("acme-operator.v2.1.0")).toBe("2.1.0");
    expect(versionText("acme-operator.v2.0.0-rc.1")).toBe("2.0.0-rc.1");
    expect(compareVersions("2.1.0", "1.2.0")).toBe(1);
    expect(compareVersions("acme-operator.v2.1.0", "1.2.0")).toBe(1);
    expect(compareVersions("v2.0.0-rc.1", "1.10.0")).toBe(1);
    expect(compareVersions("v2.0.0-rc.1", "2.0.0")).toBe(-1);
  });
  test("1.10 after 1.9; four parts after three; build metadata does not count", () => {
    expect(compareVersions("1.10", "1.9")).toBe(1);
    expect(compareVersions("1.10", "1.10.0")).toBe(0);
    expect(compareVersions("1.2.3.4", "1.2.3")).toBe(1);
    expect(compareVersions("1.2.3.4", "1.2.4")).toBe(-1);
    expect(compareVersions("1.2.0+build.5", "v1.2.0")).toBe(0);
  });
  test("a value that is not a version is never older (it compares with nothing)", () => {
    for (const bad of ["latest", "stable", "", "acme-operator", "v", "1.2.x", "1.2.0-", "1..2", "2.1.0.v1"]) {
      expect(parseVersion(bad)).toBeUndefined();
      expect(compareVersions(bad, "1.0.0")).toBeUndefined();
      expect(compareVersions("1.0.0", bad)).toBeUndefined();
    }
    expect(sortVersions(["latest", "1.10.0", "v1.9.0", "abc", "1.2.0"])).toEqual(["1.2.0", "v1.9.0", "1.10.0", "abc", "latest"]);
  });
});
