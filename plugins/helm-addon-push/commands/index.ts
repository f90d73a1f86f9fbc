// Lazy command map: each command's module (and its heavy dependencies) loads only when it runs; the summary is
// what `--help` lists (test/cli/lazy-commands.test.ts keeps it equal to the command's own description).
import { lazy, type LazyCommand } from "../../../shared/cli/main.ts";

export const commands: Record<string, LazyCommand> = {
  package: lazy("Package KubeVela addon dirs (or chart dirs) into <name>-<version>.tgz without pushing", () => import("./package.ts")),
};
