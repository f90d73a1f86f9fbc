// The entry wrapper every plugin uses: kubectl-style argv normalisation, subcommand dispatch that keeps
// global flags wherever they are placed, unknown-flag errors, --help/--version, one-line errors and exit codes.
import { renderUsage, runCommand, type ArgsDef, type CommandDef } from "citty";
import { checkUnknownFlags, extractVerbosity, flagTable, normalizeArgv, valueFlagNames } from "./argv.ts";
import { applyConventions, optionalValueFlags } from "./conventions.ts";
import { exitCodeOf, formatError, UsageError } from "./errors.ts";
import { configureLogger, logger } from "./logger.ts";
import { redact } from "../runtime/redact.ts";
import { commit, version } from "./version.ts";
import { cleanupInterrupted } from "../runtime/interrupt.ts";
import { setHttpTrace } from "../runtime/trace.ts";

type AnyCommand = CommandDef<any>;

/**
 * Value-taking flags users put before the command name (`kubectl violet -n ns push …`). Subcommands load
 * lazily, so their args are unknown while the name is searched; these are known to take a value.
 */
const leadingStringFlags = ["n", "namespace", "o", "output", "kubeconfig", "context", "cluster", "user", "as", "as-group",
  "request-timeout", "registry-config", "ca-file", "username", "u", "concurrency", "platform", "platform-address", "platform-token", "clusters",
  "dest-repo", "target-catalog-source", "target-chartrepo", "keyring", "registry", "dest-registry", "as-uid", "certificate-authority"];

/** A lazily loaded command with its one-line summary, so `--help` lists commands without loading them. */
export type LazyCommand = (() => Promise<CommandDef<any>>) & { summary: string };

export function lazy(summary: string, load: () => Promise<{ default: CommandDef<any> }>): LazyCommand {
  return Object.assign(() => load().then((m) => m.default), { summary });
}

/** Flags every command accepts, declared or not. */
export const globalArgs = {
  debug: { type: "boolean", description: "Print debug logs and every HTTP request (method, URL, status, time) to stderr, secrets masked; kubectl's -v=N works too (4-5: debug logs, 6+: also requests)" },
  quiet: { type: "boolean", alias: ["q"], description: "Only print warnings and errors" },
  help: { type: "boolean", alias: ["h"], description: "Show help" },
} as const satisfies ArgsDef;

async function resolve<T>(v: T | Promise<T> | (() => T | Promise<T>) | undefined): Promise<T | undefined> {
  return typeof v === "function" ? await (v as () => T | Promise<T>)() : await v;
}

export interface PluginInfo {
  /** how users invoke it, e.g. "kubectl violet" */
  usageName: string;
  version: string;
  /** shell completion of a command's arguments (see complete.ts ArgCompleter) */
  completeArgs?: import("./complete.ts").ArgCompleter;
  /** the plugin's own -v takes a value (helm addon-push -v VERSION): kubectl's verbosity is --v=N only */
  ownShortV?: boolean;
}

/**
 * Log levels from --debug, -q, KUBE_AIRGAP_DEBUG and kubectl's -v=N: 0-3 normal, 4-5 debug logs, 6 and more
 * (and --debug) debug logs plus one line per HTTP request and response (runtime/trace.ts), like kubectl -v=6.
 */
function configureVerbosity(argv: string[], level: number | undefined): boolean {
  const debugFlag = argv.includes("--debug") || !!process.env.KUBE_AIRGAP_DEBUG;
  const trace = debugFlag || (level ?? 0) >= 6;
  const debug = trace || (level ?? 0) >= 4;
  configureLogger({ debug, quiet: argv.includes("--quiet") || argv.includes("-q") });
  setHttpTrace(trace ? (line) => logger().debug(line) : undefined);
  return debug;
}

/** Resolve the chain of subcommands named in argv; returns the leaf, its parents and argv without the names. */
export async function resolveCommand(root: AnyCommand, argv: string[]): Promise<{ chain: AnyCommand[]; names: string[]; rest: string[] }> {
  const chain: AnyCommand[] = [root];
  const names: string[] = [];
  let rest = [...argv];
  for (;;) {
    const cmd = chain[chain.length - 1]!;
    const subs = await resolve(cmd.subCommands);
    if (!subs) break;
    const flags = new Map<string, { type: string }>(leadingStringFlags.map((f) => [f, { type: "string" }]));
    for (const c of chain) {
      const defs = (await resolve(c.args)) ?? {};
      for (const [k, v] of flagTable(defs)) flags.set(k, v);
      for (const k of optionalValueFlags(defs).keys()) flags.set(k, { type: "boolean" }); // bare --dry-run takes no word
    }
    let idx = -1;
    for (let i = 0; i < rest.length; i++) {
      const a = rest[i]!;
      if (a === "--") break;
      if (a.startsWith("-")) {
        const f = flags.get(a.replace(/^--?/, "").split("=")[0]!);
        if (f && f.type !== "boolean" && !a.includes("=")) i++;
        continue;
      }
      idx = i;
      break;
    }
    if (idx < 0) break;
    const word = rest[idx]!;
    const sub = Object.hasOwn(subs, word) ? subs[word] : undefined;
    if (!sub) {
      if (cmd.run) break; // the command takes positionals itself
      const near = closestName(word, Object.keys(subs).concat(chain.length === 1 ? ["completion"] : []));
      throw new UsageError(`unknown command "${word}"`, `${near ? `did you mean ${near}? ` : ""}run with --help to see the commands`);
    }
    chain.push((await resolve(sub)) as AnyCommand);
    names.push(word);
    rest = [...rest.slice(0, idx), ...rest.slice(idx + 1)];
  }
  return { chain, names, rest };
}

/** Optimal string alignment distance (an adjacent transposition counts as one edit, as in "pusj"/"psuh"). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The command a mistyped word most likely meant (like cobra's suggestions: within 2 edits, or a prefix). */
export function closestName(word: string, names: string[]): string | undefined {
  const w = word.toLowerCase();
  let best: { name: string; dist: number } | undefined;
  for (const name of names) {
    const dist = editDistance(w, name.toLowerCase());
    const max = Math.min(2, Math.floor(name.length / 2));
    if (dist <= max && (!best || dist < best.dist)) best = { name, dist };
  }
  if (best) return best.name;
  if (w.length >= 2) return names.find((n) => n.toLowerCase().startsWith(w));
  return undefined;
}

const COMPLETION_SUMMARY = "Print a shell completion script: bash, zsh, fish or powershell";

/** `completion SHELL`, added to every plugin's commands. */
export function completionCommand(info: PluginInfo): LazyCommand {
  return lazy(COMPLETION_SUMMARY, async () => {
    const { completionScript, SHELLS } = await import("./complete.ts");
    const prog = info.usageName.replace(/ /g, "-");
    return {
      default: {
        meta: {
          name: "completion",
          description: COMPLETION_SUMMARY,
          examples: [`source <(${prog} completion bash)`, `${prog} completion zsh > "\${fpath[1]}/_${prog}"`, `${prog} completion fish | source`, `${prog} completion powershell | Out-String | Invoke-Expression`],
        } as any,
        args: { shell: { type: "positional", required: false, description: SHELLS.join("|"), valueHint: "SHELL" } },
        run({ args }: { args: Record<string, unknown> }) {
          const shell = String((args._ as string[])[0] ?? "");
          if (!(SHELLS as readonly string[]).includes(shell)) throw new UsageError(shell ? `unknown shell "${shell}"` : "which shell?", `one of ${SHELLS.join(", ")}`);
          process.stdout.write(completionScript(shell, prog));
        },
      } as AnyCommand,
    };
  });
}

/**
 * `version [--client] [-o json|yaml]`, as kubectl's: a plugin has no server, so --client changes nothing; -o prints a
 * versioned Version report ({clientVersion: {gitVersion, gitCommit, platform, …}}).
 */
async function printVersion(info: PluginInfo, rest: string[]): Promise<void> {
  let output: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === "--client" || a === "--client=true" || a === "--debug" || a === "-q" || a === "--quiet") continue;
    const m = /^(?:-o|--output)(?:=(.*))?$/.exec(a);
    if (m) output = m[1] ?? rest[++i];
    else if (/^-o./.test(a)) output = a.slice(2);
    else throw new UsageError(`version: unknown argument "${a}"`, `${info.usageName} version [--client] [-o json|yaml]`);
    if (output !== "json" && output !== "yaml") throw new UsageError(`version: -o must be json or yaml, got "${output ?? ""}"`);
  }
  if (!output) {
    process.stdout.write(`${info.usageName} ${info.version}\n`);
    return;
  }
  const { toJson, toYaml, versioned } = await import("./output.ts"); // yaml loads only here, not on every start
  const { runtimeName: runtime } = await import("../runtime/adapter.ts");
  const report = versioned("Version", {
    clientVersion: { plugin: info.usageName, gitVersion: `v${version.replace(/^v/, "")}`, gitCommit: commit, platform: `${process.platform}/${({ x64: "amd64", ia32: "386" } as Record<string, string>)[process.arch] ?? process.arch}`, runtime: `${runtime} ${process.versions[runtime as "bun"] ?? process.version}` },
  });
  process.stdout.write(output === "json" ? toJson(report) : toYaml(report));
}

/** Run a plugin's root command with process.argv (or the given args). Never returns: exits with the right code. */
export async function runPlugin(plugin: AnyCommand, info: PluginInfo, args = process.argv.slice(2)): Promise<never> {
  const { level, rest: argv } = args[0] === "__complete" ? { level: undefined, rest: args } : extractVerbosity(args, { shortV: !info.ownShortV });
  const debug = configureVerbosity(argv, level);
  onInterruptSignals(info.usageName);
  const completion = completionCommand(info);
  const root: AnyCommand = { ...plugin, subCommands: async () => ({ ...((await resolve(plugin.subCommands)) ?? {}), completion }) };
  if (argv[0] === "__complete") {
    // cobra's protocol, for kubectl_complete-<plugin>, Helm's plugin.complete and our completion scripts
    try {
      const { complete, formatCompletion } = await import("./complete.ts");
      process.stdout.write(formatCompletion(await complete(plugin, argv.slice(1), globalArgs, { completion: COMPLETION_SUMMARY }, info.completeArgs)));
    } catch (err) {
      logger().debug(redact(formatError(err)));
      process.stdout.write(":4\n");
    }
    process.exit(0);
  }
  let usedNames: string[] = [];
  try {
    if (argv[0] === "--version" || argv[0] === "version") {
      await printVersion(info, argv.slice(1));
      process.exit(0);
    }
    const { chain, names, rest: raw } = await resolveCommand(root, argv);
    usedNames = names;
    const leaf = chain[chain.length - 1]!;
    const args = (await resolve(leaf.args)) ?? ({} as ArgsDef);
    const allArgs = { ...globalArgs, ...args };
    const rest = normalizeArgv(raw, valueFlagNames(allArgs), optionalValueFlags(allArgs));
    const usageName = [info.usageName, ...names].join(" ");
    const helpIdx = rest.findIndex((a) => a === "--help" || a === "-h");
    const dashdash = rest.indexOf("--");
    if (helpIdx >= 0 && (dashdash < 0 || helpIdx < dashdash)) {
      process.stdout.write(await usage(leaf, usageName));
      process.exit(0);
    }
    if (!leaf.run) {
      process.stderr.write(await usage(leaf, usageName));
      throw new UsageError(`"${usageName}" needs a command`);
    }
    checkUnknownFlags(rest, allArgs, usageName);
    // global flags (--debug, -q) parse in every command; the leaf runs itself, so hide its subcommands from
    // citty, which would take a positional for a command name. --dry-run and -o are checked before it runs.
    const run = leaf.run;
    await runCommand(
      {
        ...leaf,
        args: allArgs,
        subCommands: undefined,
        run: (ctx) => {
          applyConventions(allArgs, ctx.args as Record<string, unknown>, usageName, { warn: (m) => logger().warn(m), info: (m) => logger().info(m) });
          return run(ctx);
        },
      },
      { rawArgs: rest },
    );
    process.exit(0);
  } catch (err) {
    // citty's own argument errors (a missing required positional) are usage errors: exit 2 like an unknown flag
    const cittyUsage = err instanceof Error && err.name === "CLIError" && (err as { code?: string }).code === "EARG";
    if (cittyUsage) err = new UsageError((err as Error).message, `run "${[info.usageName, ...usedNames].join(" ")} --help" for the usage`);
    const msg = redact(formatError(err));
    process.stderr.write(`error: ${msg}\n`);
    if (debug && err instanceof Error && err.stack) logger().debug(redact(err.stack));
    process.exit(exitCodeOf(err) || 1);
  }
}

/**
 * Ctrl-C / SIGTERM / SIGHUP (terminal closed, or a service manager's stop): remove the temp files and folders in
 * progress (partial archives, work dirs), say what was interrupted, exit 130 / 143 / 129 like a shell. A second
 * signal while cleaning up exits at once.
 */
function onInterruptSignals(name: string): void {
  let stopping = false;
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(code);
      stopping = true;
      const what = cleanupInterrupted();
      process.stderr.write(`error: ${name} interrupted (${signal})${what.length ? ` while ${what.join(", ")}; temporary files removed` : ""}\n`);
      process.exit(code);
    });
  }
}

/**
 * citty renders every alias with one dash (`-dest-registry, --dest`); long aliases take two, like the flags they
 * stand for (single-dash long spellings are refused by checkUnknownFlags). Only the flag column is touched.
 */
export function fixAliasDashes(line: string): string {
  const m = /^(\s*-\S.*?)(\s{2,}.*)?$/.exec(line);
  if (!m) return line;
  return m[1]!.replace(/(^|[\s,])-([A-Za-z][\w-]+)/g, "$1--$2") + (m[2] ?? "");
}

export async function usage(cmd: AnyCommand, name: string): Promise<string> {
  const meta = (await resolve(cmd.meta)) ?? {};
  // list lazy subcommands by their summaries instead of importing them (keeps `--help` fast)
  const subs = await resolve(cmd.subCommands);
  const shown = subs && Object.fromEntries(Object.entries(subs).map(([k, c]) => [k, typeof c === "function" && typeof (c as LazyCommand).summary === "string" ? { meta: { description: (c as LazyCommand).summary } } : c]));
  let text = await renderUsage({ ...cmd, meta: { ...meta, name }, subCommands: shown });
  text = text.replace(/\x1b\[[0-9;]*m/g, "").split("\n").map((l) => fixAliasDashes(l.trimEnd())).join("\n");
  const examples = (meta as any).examples as string[] | undefined;
  if (examples?.length) text += `\nEXAMPLES\n\n${examples.map((e) => `  ${e}`).join("\n")}\n`;
  // extra sections (e.g. CREDENTIALS: which credential goes to which registry), each a list of lines
  const notes = (meta as any).notes as string[] | undefined;
  if (notes?.length) text += `\n${notes.join("\n")}\n`;
  return text.endsWith("\n") ? text : text + "\n";
}
