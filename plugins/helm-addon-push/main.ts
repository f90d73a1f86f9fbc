#!/usr/bin/env bun
// Entry of helm addon-push. Runs under bun, deno run -A, and as a bun --compile binary.
import { defineCommand } from "citty";
import { runPlugin } from "../../shared/cli/main.ts";
import { versionString } from "../../shared/cli/version.ts";
import { commands } from "./commands/index.ts";

const root = defineCommand({
  meta: { name: "helm addon-push", version: versionString, description: "Package KubeVela addons and charts and push them to ChartMuseum and OCI repositories" },
  subCommands: commands,
});

await runPlugin(root, { usageName: "helm addon-push", version: versionString });
