// The entry wrapper every plugin uses: kubectl-style argv normalisation, subcommand dispatch that keeps
// global flags wherever they are placed, unknown-flag errors, --help/--version, one-line errors and exit codes.
import { renderUsage, runCommand, type ArgsDef, type CommandDef } from "citty";
import { checkUnknownFlags, flagTable, normalizeArgv, repeated, valueFlagNames } from "./argv.ts";
import { exitCodeOf, formatError, UsageError } from "./errors.ts";
import { configureLogger, logger } from "./logger.ts";
import { redact } from "../runtime/redact.ts";
import { cleanupInterrupted } from "../runtime/interrupt.ts";

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
  debug: { type: "boolean", description: "Print debug logs to stderr (secrets stay masked)" },
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
    for (const c of chain) for (const [k, v] of flagTable((await resolve(c.args)) ?? {})) flags.set(k, v);
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
      throw new UsageError(`unknown command "${word}"`, `run with --help to see the commands`);
    }
    chain.push((await resolve(sub)) as AnyCommand);
    names.push(word);
    rest = [...rest.slice(0, idx), ...rest.slice(idx + 1)];
  }
  return { chain, names, rest };
}

/** Run a plugin's root command with process.argv (or the given args). Never returns: exits with the right code. */
export async function runPlugin(root: AnyCommand, info: PluginInfo, argv = process.argv.slice(2)): Promise<never> {
  const debug = argv.includes("--debug") || !!process.env.KUBE_AIRGAP_DEBUG;
  configureLogger({ debug, quiet: argv.includes("--quiet") || argv.includes("-q") });
  onInterruptSignals(info.usageName);
  try {
    if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "version")) {
      process.stdout.write(`${info.usageName} ${info.version}\n`);
      process.exit(0);
    }
    const { chain, names, rest: raw } = await resolveCommand(root, argv);
    const leaf = chain[chain.length - 1]!;
    const args = (await resolve(leaf.args)) ?? ({} as ArgsDef);
    const rest = normalizeArgv(raw, valueFlagNames({ ...globalArgs, ...args }));
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
    checkUnknownFlags(rest, { ...globalArgs, ...args }, usageName);
    checkOutputFormat(rest, args);
    // the leaf runs itself: hide its subcommands from citty, which would take a positional for a command name
    // global flags (--debug, -q) parse in every command; the leaf runs itself, so hide its subcommands from
    // citty, which would take a positional for a command name
    await runCommand({ ...leaf, args: { ...globalArgs, ...args }, subCommands: undefined }, { rawArgs: rest });
    process.exit(0);
  } catch (err) {
    const msg = redact(formatError(err));
    process.stderr.write(`error: ${msg}\n`);
    if (debug && err instanceof Error && err.stack) logger().debug(redact(err.stack));
    process.exit(exitCodeOf(err) || 1);
  }
}

/**
 * `-o` of every command that takes the shared output flag is json or yaml: a typo (`-o jsno`) is refused before
 * the command runs, instead of printing the human form (after pushing, deleting, …) with exit 0.
 */
function checkOutputFormat(argv: string[], args: ArgsDef): void {
  // the format flag says json|yaml (args.ts outputArgs; violet package calls it --format, its --output is a FILE)
  const entry = Object.entries(args as Record<string, { valueHint?: string; alias?: string | string[] }>).find(([, d]) => d?.valueHint === "json|yaml" && [d.alias ?? []].flat().includes("o"));
  if (!entry) return;
  const dashdash = argv.indexOf("--");
  const v = repeated(dashdash < 0 ? argv : argv.slice(0, dashdash), ["o", entry[0]], { split: false }).pop();
  if (v === undefined || v === "json" || v === "yaml") return;
  // commands that also write a file say where that goes (scar package -O FILE, violet list --output-file FILE)
  const file = (args as Record<string, { alias?: string | string[] } | undefined>)["output-file"];
  const short = [file?.alias ?? []].flat().find((a) => a.length === 1);
  throw new UsageError(`-o ${v}: must be json or yaml`, file ? `write the file with --output-file${short ? `/-${short}` : ""} ${v}` : undefined);
}

/**
 * Ctrl-C / SIGTERM: remove the temp files and folders in progress (partial archives, work dirs), say what was
 * interrupted, exit 130 / 143 like a shell. A second signal while cleaning up exits at once.
 */
function onInterruptSignals(name: string): void {
  let stopping = false;
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
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

async function usage(cmd: AnyCommand, name: string): Promise<string> {
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
