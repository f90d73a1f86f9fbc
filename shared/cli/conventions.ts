// kubectl conventions the entry (main.ts) enforces for every command, from the flag definitions alone:
//   --dry-run[=none|client|server]  bare --dry-run = client; server asks the API server where the command has one
//                                   (serverDryRunArgs), else it means client and says so once; anything else: usage error
//   -o/--output FORMAT              only the formats the command declares (outputArgs: json|yaml; listOutputArgs adds
//                                   name, wide and jsonpath=TEMPLATE); anything else: usage error
// Commands spread the shared flag sets; the entry finds them by identity, so a command never re-validates.
import type { ArgDef } from "citty";
import { UsageError } from "./errors.ts";

export type DryRunMode = "none" | "client" | "server";
export type FormatName = "json" | "yaml" | "name" | "wide" | "jsonpath";

interface DryRunSpec {
  kind: "dry-run";
  /** the command sends its writes to an API server that can dry-run them (dryRun=All) */
  server: boolean;
}
interface OutputSpec {
  kind: "output";
  formats: FormatName[];
  /** old spelling: a value that is no format names this file flag instead (with a deprecation warning) */
  legacyFileFlag?: string;
}

const specs = new WeakMap<object, DryRunSpec | OutputSpec>();

export function dryRunFlag(server: boolean) {
  const def = {
    type: "string" as const,
    description: server
      ? 'Dry run: "client" (also bare --dry-run) prints what would be done; "server" also sends the writes to the API server as dry runs; "none" runs for real'
      : 'Dry run: "client" (also bare --dry-run) prints what would be done, changing nothing; "none" runs for real ("server" means client here: no server-side dry run)',
    valueHint: "none|client|server",
  } satisfies ArgDef;
  specs.set(def, { kind: "dry-run", server });
  return def;
}

export function outputFlag(formats: FormatName[], opts: { legacyFileFlag?: string } = {}) {
  const hint = formats.map((f) => (f === "jsonpath" ? "jsonpath=TEMPLATE" : f)).join("|");
  const def = { type: "string" as const, alias: ["o"], description: `Output format: ${hint} (default: human-readable)`, valueHint: hint } satisfies ArgDef;
  specs.set(def, { kind: "output", formats, legacyFileFlag: opts.legacyFileFlag });
  return def;
}

/** The value `--dry-run` takes when given bare (kubectl: client). */
export const DRY_RUN_BARE = "client";

/** Names of the command's flags that take an optional value (bare = default): `--dry-run` → `--dry-run=client`. */
export function optionalValueFlags(args: Record<string, unknown>): Map<string, string> {
  const m = new Map<string, string>();
  for (const [name, def] of Object.entries(args)) if (def && typeof def === "object" && specs.get(def)?.kind === "dry-run") m.set(name, DRY_RUN_BARE);
  return m;
}

export interface ConventionNotes {
  warn(message: string): void;
  info(message: string): void;
}

/**
 * Validate and normalise parsed args in place: `args["dry-run"]` becomes false (none), "client" or "server"
 * (truthy = dry run); an unsupported `-o` value is a usage error. `command` names the command in messages.
 */
export function applyConventions(defs: Record<string, unknown>, parsed: Record<string, unknown>, command: string, notes: ConventionNotes): void {
  for (const [name, def] of Object.entries(defs)) {
    const spec = def && typeof def === "object" ? specs.get(def) : undefined;
    if (!spec) continue;
    // citty's parsed args hold a flag under its name, its camelCase form and its aliases: set them all
    const aliases = [name, name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()), ...((def as { alias?: string[] }).alias ?? [])];
    const args = new Proxy(parsed, {
      set(t, k, val) {
        for (const a of k === name ? aliases : [k as string]) t[a] = val;
        return true;
      },
      deleteProperty(t, k) {
        for (const a of k === name ? aliases : [k as string]) t[a] = undefined;
        return true;
      },
    });
    const v = args[name];
    if (spec.kind === "dry-run") {
      if (v === undefined || v === false) {
        args[name] = false;
        continue;
      }
      let mode = v === true ? DRY_RUN_BARE : String(v);
      // kubectl still takes the old boolean spellings, with a warning
      if (mode === "true" || mode === "false") {
        const now = mode === "true" ? "client" : "none";
        notes.warn(`--${name}=${mode} is deprecated: use --${name}=${now}`);
        mode = now;
      }
      if (mode === "none") args[name] = false;
      else if (mode === "client") args[name] = "client";
      else if (mode === "server") {
        if (spec.server) args[name] = "server";
        else {
          notes.info(`--dry-run=server: "${command}" has no server-side dry run; running a client dry run (nothing is changed)`);
          args[name] = "client";
        }
      } else throw new UsageError(`invalid --${name} "${mode}" for "${command}": must be none, client or server`, "bare --dry-run means client");
    } else {
      if (v === undefined || v === "") {
        if (v === "") throw new UsageError(`-o/--${name} needs a format (${formatList(spec.formats)})`);
        continue;
      }
      const f = String(v);
      const ok = spec.formats.includes(f as FormatName) || (spec.formats.includes("jsonpath") && /^jsonpath=/.test(f));
      if (ok) {
        if (f.startsWith("jsonpath=") && !f.slice(9).trim()) throw new UsageError(`-o jsonpath= needs a template, e.g. -o jsonpath='{.items[*].name}'`);
        continue;
      }
      if (spec.legacyFileFlag && !args[spec.legacyFileFlag] && looksLikeFile(f)) {
        notes.warn(`-o/--${name} FILE is deprecated for "${command}": use -O/--${spec.legacyFileFlag} ${f} (-o is the output format: ${formatList(spec.formats)})`);
        parsed[spec.legacyFileFlag] = f;
        delete args[name];
        continue;
      }
      throw new UsageError(`unsupported output format "${f}" for "${command}": use ${formatList(spec.formats)}`, spec.legacyFileFlag ? `files are -O/--${spec.legacyFileFlag}` : undefined);
    }
  }
}

function formatList(formats: FormatName[]): string {
  return formats.map((f) => (f === "jsonpath" ? "jsonpath=TEMPLATE" : f)).join(", ");
}

function looksLikeFile(v: string): boolean {
  return /[./\\]/.test(v);
}

/** The dry-run mode of normalised args (see applyConventions). */
export function dryRunMode(args: Record<string, unknown>, name = "dry-run"): DryRunMode {
  const v = args[name];
  return v === "server" ? "server" : v ? "client" : "none";
}
