// Just enough semver for picking a chart version the way Helm does: exact versions, ranges
// (>=, >, <=, <, =, !=, ~, ^, x wildcards, "a - b", comma/space AND, || OR), latest stable when none given.
import { compareParsed } from "../version/order.ts";

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  pre: string[];
  raw: string;
}

export function parseSemver(v: string): SemVer | undefined {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(v.trim());
  if (!m) return undefined;
  return { major: +m[1]!, minor: +(m[2] ?? 0), patch: +(m[3] ?? 0), pre: m[4] ? m[4].split(".") : [], raw: v };
}

/** The suite's version order (shared/version/order.ts) on Helm's three parts. */
export function compareSemver(a: SemVer, b: SemVer): number {
  return compareParsed({ nums: [a.major, a.minor, a.patch], pre: a.pre }, { nums: [b.major, b.minor, b.patch], pre: b.pre });
}

type Test = (v: SemVer) => boolean;

function partial(s: string): { v: SemVer; parts: number } | undefined {
  const m = /^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(-[0-9A-Za-z.-]+)?$/.exec(s);
  if (!m) return undefined;
  const nums = [m[1], m[2], m[3]];
  let parts = 0;
  for (const n of nums) {
    if (n === undefined || /[xX*]/.test(n)) break;
    parts++;
  }
  const v = parseSemver(`${parts > 0 ? m[1] : 0}.${parts > 1 ? m[2] : 0}.${parts > 2 ? m[3] : 0}${m[4] ?? ""}`)!;
  return { v, parts };
}

function bump(v: SemVer, at: number): SemVer {
  if (at === 0) return { major: v.major + 1, minor: 0, patch: 0, pre: ["0"], raw: "" };
  if (at === 1) return { major: v.major, minor: v.minor + 1, patch: 0, pre: ["0"], raw: "" };
  return { major: v.major, minor: v.minor, patch: v.patch + 1, pre: ["0"], raw: "" };
}

const ge = (b: SemVer): Test => (v) => compareSemver(v, b) >= 0;
const lt = (b: SemVer): Test => (v) => compareSemver(v, b) < 0;

function term(t: string): Test {
  const m = /^(>=|<=|!=|>|<|=|~>|~|\^)?\s*(.+)$/.exec(t)!;
  const op = m[1] ?? "";
  const p = partial(m[2]!);
  if (!p) throw new Error(`bad version constraint "${t}"`);
  const { v, parts } = p;
  switch (op) {
    case "":
    case "=":
      if (parts === 3) return (x) => compareSemver(x, v) === 0;
      return parts === 0 ? () => true : (x) => ge(v)(x) && lt(bump(v, parts - 1))(x);
    case "!=":
      return (x) => compareSemver(x, v) !== 0;
    case ">":
      return parts === 3 ? (x) => compareSemver(x, v) > 0 : ge(bump(v, Math.max(parts - 1, 0)));
    case ">=":
      return ge(v);
    case "<":
      return lt(v);
    case "<=":
      return parts === 3 ? (x) => compareSemver(x, v) <= 0 : lt(bump(v, Math.max(parts - 1, 0)));
    case "~":
    case "~>":
      return (x) => ge(v)(x) && lt(bump(v, parts >= 2 ? 1 : 0))(x);
    case "^": {
      const at = v.major > 0 || parts === 1 ? 0 : v.minor > 0 || parts === 2 ? 1 : 2;
      return (x) => ge(v)(x) && lt(bump(v, at))(x);
    }
  }
  throw new Error(`bad version constraint "${t}"`);
}

/** Compile a Helm-style constraint. Prereleases only match when the constraint names a prerelease. */
export function constraint(c: string): (v: SemVer) => boolean {
  const alts = c.split("||").map((alt) => {
    const s = alt.trim();
    const hy = /^(\S+)\s+-\s+(\S+)$/.exec(s);
    const tests: Test[] = hy ? [ge(partial(hy[1]!)!.v), term(`<=${hy[2]}`)] : s.split(/[\s,]+/).filter(Boolean).reduce<string[]>((acc, tok) => {
      // join "> = 1" style splits: an operator alone belongs to the next token
      if (acc.length && /^(>=|<=|!=|>|<|=|~>|~|\^)$/.test(acc[acc.length - 1]!)) acc[acc.length - 1] += tok;
      else acc.push(tok);
      return acc;
    }, []).map(term);
    return tests;
  });
  const allowPre = /-/.test(c.replace(/\s+-\s+/g, " "));
  return (v) => (allowPre || !v.pre.length) && alts.some((ts) => ts.every((t) => t(v)));
}

/** Pick a version: exact string match first, else the highest matching the constraint (or latest stable). */
export function pickVersion(versions: string[], want?: string, devel = false): string | undefined {
  if (want && versions.includes(want)) return want;
  if (want && versions.includes(want.replace(/^v/, ""))) return want.replace(/^v/, "");
  if (want && versions.includes(`v${want}`)) return `v${want}`;
  const parsed = versions.map(parseSemver).filter((v): v is SemVer => !!v).sort((a, b) => compareSemver(b, a));
  if (!want) return parsed.find((v) => devel || !v.pre.length)?.raw;
  const test = constraint(want);
  return parsed.find(test)?.raw;
}
