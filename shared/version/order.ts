// The one version order of the suite (violet gc, ModuleConfigs, Helm chart picking, tag listings).
// Shapes met in practice: `1.2.0`, `v1.2.0`, OLM CSV names `acme-operator.v1.2.0`, pre-releases
// (`2.0.0-rc.1`), build metadata (`1.2.0+build.5`, ignored for order), short versions (`1.10` = `1.10.0`) and
// four-part versions (`1.2.3.4`, after `1.2.3`). The order is SemVer 2.0's (numeric parts left to right, a
// pre-release before its release, pre-release identifiers numerically or in ASCII order), extended to any number
// of numeric parts with missing parts read as 0. A value that is not a version compares with nothing: callers
// get `undefined` and must treat it as "not older" (never delete or replace on it).

export interface Version {
  /** numeric parts: [major, minor, patch, …] as written (1.10 → [1, 10]) */
  nums: number[];
  /** pre-release identifiers (empty: a release) */
  pre: string[];
  /** build metadata (does not take part in the order) */
  build?: string;
  /** the version text (without a CSV name and without a leading "v") */
  text: string;
}

const VERSION = /^[vV]?(\d+(?:\.\d+)*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

function parseBare(s: string): Version | undefined {
  const m = VERSION.exec(s);
  if (!m) return undefined;
  const nums = m[1]!.split(".").map(Number);
  if (nums.some((n) => !Number.isSafeInteger(n))) return undefined;
  return { nums, pre: m[2] ? m[2].split(".") : [], ...(m[3] ? { build: m[3] } : {}), text: s.replace(/^[vV]/, "") };
}

/**
 * The version in `s`: a bare version (`1.2.0`, `v1.2.0`) or the version part of a name (`acme-operator.v1.2.0`,
 * `etcd.0.9.4`: the shortest suffix after a dot that is a version, the name before it holding a letter).
 * undefined when there is none.
 */
export function parseVersion(s: string | undefined | null): Version | undefined {
  if (typeof s !== "string") return undefined;
  const t = s.trim();
  if (!t) return undefined;
  const bare = parseBare(t);
  if (bare) return bare;
  for (let i = t.indexOf("."); i > 0; i = t.indexOf(".", i + 1)) {
    const name = t.slice(0, i);
    if (!/[A-Za-z]/.test(name) || /^[vV]?[\d.]+$/.test(name)) continue;
    const v = parseBare(t.slice(i + 1));
    if (v) return v;
  }
  return undefined;
}

/** The version text of `s` ("acme-operator.v2.1.0" → "2.1.0"), or undefined when `s` holds none. */
export function versionText(s: string | undefined | null): string | undefined {
  return parseVersion(s)?.text;
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** Order of two parsed versions: -1, 0 or 1. */
export function compareParsed(a: Pick<Version, "nums" | "pre">, b: Pick<Version, "nums" | "pre">): number {
  for (let i = 0; i < Math.max(a.nums.length, b.nums.length); i++) {
    const d = sign((a.nums[i] ?? 0) - (b.nums[i] ?? 0));
    if (d) return d;
  }
  if (!a.pre.length || !b.pre.length) return a.pre.length === b.pre.length ? 0 : a.pre.length ? -1 : 1;
  for (let i = 0; i < Math.max(a.pre.length, b.pre.length); i++) {
    const p = a.pre[i];
    const q = b.pre[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    if (p === q) continue;
    const np = /^\d+$/.test(p);
    const nq = /^\d+$/.test(q);
    if (np && nq) {
      const d = p.length === q.length ? (p < q ? -1 : 1) : sign(Number(p) - Number(q));
      if (d) return d;
      continue;
    }
    if (np !== nq) return np ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return 0;
}

/** Order of a and b (-1, 0, 1), or undefined when either holds no version: such a value is never older. */
export function compareVersions(a: string | undefined | null, b: string | undefined | null): number | undefined {
  const x = parseVersion(a);
  const y = parseVersion(b);
  return x && y ? compareParsed(x, y) : undefined;
}

/** Sort strings: versions in version order first (ties in text order), then everything else in text order. */
export function sortVersions(values: string[], dir: "asc" | "desc" = "asc"): string[] {
  const text = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const parsed = new Map(values.map((v) => [v, parseVersion(v)]));
  const out = [...values].sort((a, b) => {
    const x = parsed.get(a);
    const y = parsed.get(b);
    if (x && y) return compareParsed(x, y) || text(a, b);
    if (x || y) return x ? -1 : 1;
    return text(a, b);
  });
  return dir === "asc" ? out : out.reverse();
}
