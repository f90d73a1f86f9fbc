#!/usr/bin/env bun
// Entry of kubectl mirror. Runs under bun, deno run -A, and as a bun --compile binary.
import { defineCommand } from "citty";
import { runPlugin } from "../../shared/cli/main.ts";
import { versionString } from "../../shared/cli/version.ts";
import { commands } from "./commands/index.ts";

const root = defineCommand({
  meta: { name: "kubectl mirror", version: versionString, description: "Copy and sync charts and container images into private registries, online or across an air gap" },
  subCommands: commands,
});

await runPlugin(root, { usageName: "kubectl mirror", version: versionString });
