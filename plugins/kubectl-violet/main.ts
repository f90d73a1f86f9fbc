#!/usr/bin/env bun
// Entry of kubectl violet. Runs under bun, deno run -A, and as a bun --compile binary.
import { defineCommand } from "citty";
import { runPlugin } from "../../shared/cli/main.ts";
import { versionString } from "../../shared/cli/version.ts";
import { commands } from "./commands/index.ts";

const root = defineCommand({
  meta: { name: "kubectl violet", version: versionString, description: "Verify and upload platform packages (operators, cluster plugins, charts) to registries and clusters" },
  subCommands: commands,
});

await runPlugin(root, { usageName: "kubectl violet", version: versionString });
