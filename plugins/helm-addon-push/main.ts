#!/usr/bin/env bun
// Entry of helm addon-push. Runs under bun, deno run -A, and as a bun --compile binary.
// The root command pushes (`helm addon-push SOURCE... REPO`); `package` is its one subcommand.
import { defineCommand } from "citty";
import { runPlugin } from "../../shared/cli/main.ts";
import { versionString } from "../../shared/cli/version.ts";
import { commands } from "./commands/index.ts";
import push from "./commands/push.ts";

// Helm passes --debug as HELM_DEBUG (it strips the flag from our argv).
if (/^(1|true)$/i.test(process.env.HELM_DEBUG ?? "") && !process.env.KUBE_AIRGAP_DEBUG) process.env.KUBE_AIRGAP_DEBUG = "1";

const root = defineCommand({
  ...push,
  meta: { ...(push.meta as object), name: "helm addon-push", version: versionString },
  subCommands: commands,
});

await runPlugin(root, {
  usageName: "helm addon-push",
  version: versionString,
  ownShortV: true,
  // `helm addon-push SOURCE… <TAB>`: the repositories of repositories.yaml (REPO comes after a source)
  completeArgs: async ({ command, args }) => {
    if (command.length || !args.length) return undefined;
    const { loadRepositories } = await import("../../shared/helm/config.ts");
    return (await loadRepositories()).map((r) => r.name);
  },
});
