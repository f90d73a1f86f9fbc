// kubectl-style argv handling in front of citty (which has quirks: `-n=foo` gives "=foo", repeated
// flags keep the last value, unknown flags are accepted silently, flags before a subcommand are lost).
import type { ArgsDef } from "citty";
import { UsageError } from "./errors.ts";

/**
 * kubectl-style short flags for citty: `-n=foo` → `-n foo`, and `-nfoo` → `-n foo` for value-taking shorthands.
 * The token after a value-taking flag is its value and is never rewritten (a password may look like `-X=y`).
 */
export function normalizeArgv(argv: string[], valueFlags: Set<string>, optionalValues: Map<string, string> = new Map()): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      out.push(...argv.slice(i));
      break;
    }
    // a flag whose value is optional (kubectl's NoOptDefVal: bare --dry-run = client) never takes the next word
    const opt = a.startsWith("--") ? optionalValues.get(a.slice(2)) : undefined;
    if (opt !== undefined) {
      out.push(`${a}=${opt}`);
      continue;
    }
    const m = /^-([A-Za-z])=(.*)$/s.exec(a);
    if (m) {
      out.push(`-${m[1]}`, m[2]!);
      continue;
    }
    const g = /^-([A-Za-z])(.+)$/s.exec(a);
    if (g && valueFlags.has(g[1]!)) {
      out.push(`-${g[1]}`, g[2]!);
      continue;
    }
    out.push(a);
    // a value-taking flag without "=": the next word is its value, whatever it looks like
    if (a.startsWith("-") && !a.includes("=") && valueFlags.has(a.replace(/^--?/, "")) && i + 1 < argv.length) out.push(argv[++i]!);
  }
  return out;
}

/** Names and aliases of a command's flags that take a value. */
export function valueFlagNames(args: ArgsDef): Set<string> {
  return new Set([...flagTable(args)].filter(([, f]) => f.type !== "boolean").map(([k]) => k));
}

interface FlagInfo {
  name: string;
  type: "string" | "boolean" | "enum";
}

/** Map every long name and alias of a command's args to its canonical flag. */
export function flagTable(args: ArgsDef): Map<string, FlagInfo> {
  const t = new Map<string, FlagInfo>();
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    const info: FlagInfo = { name, type: (def.type ?? "string") as FlagInfo["type"] };
    const alias = (def as { alias?: string | string[] }).alias;
    const names = [name, kebab(name), ...(Array.isArray(alias) ? alias : alias ? [alias] : [])];
    for (const n of names) t.set(n, info);
    if (info.type === "boolean") t.set(`no-${kebab(name)}`, info);
  }
  return t;
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Reject flags the command does not declare (citty would silently accept them and swallow the next word). */
export function checkUnknownFlags(argv: string[], args: ArgsDef, command: string): void {
  const t = flagTable(args);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") return;
    if (!a.startsWith("-") || a === "-") continue;
    const name = a.replace(/^--?/, "").split("=")[0]!;
    const info = t.get(name);
    if (!info) throw new UsageError(`unknown flag ${a.split("=")[0]} for "${command}"`, `see "${command} --help"`);
    // one dash is for one-letter flags: `-dest-registry` is not `--dest-registry` (nor -d -e -s -t …)
    if (!a.startsWith("--") && name.length > 1) throw new UsageError(`unknown flag ${a.split("=")[0]} for "${command}"`, `long flags take two dashes: --${name}`);
    if (info.type !== "boolean" && !a.includes("=")) i++;
  }
}

/**
 * All values of a repeatable flag, in order: `--x a --x b`, `--x=a`, and comma lists `--x a,b`.
 * citty keeps only the last occurrence, so commands read list flags through this.
 */
export function repeated(argv: string[], names: string[], opts: { split?: boolean } = {}): string[] {
  const split = opts.split ?? true;
  const keys = new Set(names.map((n) => (n.length === 1 ? `-${n}` : `--${n}`)));
  const vals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") break;
    const eq = a.indexOf("=");
    const key = eq > 0 ? a.slice(0, eq) : a;
    if (!keys.has(key)) continue;
    const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (v === undefined) throw new UsageError(`flag ${key} needs a value`);
    vals.push(...(split ? v.split(",").map((s) => s.trim()).filter(Boolean) : [v]));
  }
  return vals;
}

/**
 * kubectl's klog verbosity flag, in every spelling pflag accepts: `-v=N`, `-v N`, `-vN`, `--v=N`, `--v N`
 * (N a whole number). Returns the level (the last one given) and argv without the flag. Where the plugin's own
 * `-v` means something else (helm addon-push: -v VERSION), only `--v` is taken.
 */
export function extractVerbosity(argv: string[], opts: { shortV?: boolean } = {}): { level?: number; rest: string[] } {
  const shortV = opts.shortV ?? true;
  const rest: string[] = [];
  let level: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    const names = shortV ? ["--v", "-v"] : ["--v"];
    const m = /^(--?v)(=?)(\d+)$/.exec(a);
    if (m && names.includes(m[1]!) && (m[2] === "=" || m[1] === "-v")) {
      level = Number(m[3]);
      continue;
    }
    if (names.includes(a) && /^\d+$/.test(argv[i + 1] ?? "")) {
      level = Number(argv[++i]);
      continue;
    }
    rest.push(a);
  }
  return { level, rest };
}
