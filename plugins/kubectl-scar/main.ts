#!/usr/bin/env bun
// Entry of kubectl scar. Runs under bun, deno run -A, and as a bun --compile binary.
import { defineCommand } from "citty";
import { runPlugin } from "../../shared/cli/main.ts";
import { versionString } from "../../shared/cli/version.ts";
import { commands } from "./commands/index.ts";

const root = defineCommand({
  meta: { name: "kubectl scar", version: versionString, description: "Migrate Palette's manifest server (SCAR) to an OCI registry" },
  subCommands: commands,
});

await runPlugin(root, { usageName: "kubectl scar", version: versionString });
