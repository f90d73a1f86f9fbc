#!/usr/bin/env bun
// Entry of helm addon-push. Runs under bun, deno run -A, and as a bun --compile binary.
// The root command pushes (`helm addon-push SOURCE... REPO`); `package` is its one subcommand.
import { defineCommand } from "citty";
import { flagTable } from "../../shared/cli/argv.ts";
import { runPlugin } from "../../shared/cli/main.ts";
import { versionString } from "../../shared/cli/version.ts";
import { commands } from "./commands/index.ts";
import push, { pushArgs } from "./commands/push.ts";

// Helm passes --debug as HELM_DEBUG (it strips the flag from our argv).
if (/^(1|true)$/i.test(process.env.HELM_DEBUG ?? "") && !process.env.KUBE_AIRGAP_DEBUG) process.env.KUBE_AIRGAP_DEBUG = "1";

const root = defineCommand({
  ...push,
  meta: { ...(push.meta as object), name: "helm addon-push", version: versionString },
  subCommands: commands,
});

/** First word that is not a flag or a flag's value. */
function firstWord(argv: string[]): string | undefined {
  const flags = flagTable(pushArgs);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") return argv[i + 1];
    if (a.startsWith("-") && a !== "-") {
      const f = flags.get(a.replace(/^--?/, "").split("=")[0]!);
      if (f && f.type !== "boolean" && !a.includes("=")) i++;
      continue;
    }
    return a;
  }
  return undefined;
}

// citty's runCommand treats any positional of a command with subCommands as a subcommand name, so when the
// first word is not "package" the root runs without its subCommands.
const argv = process.argv.slice(2);
const word = firstWord(argv);
const cmd = word !== undefined && !Object.hasOwn(commands, word) ? { ...root, subCommands: undefined } : root;
await runPlugin(cmd, { usageName: "helm addon-push", version: versionString }, argv);
