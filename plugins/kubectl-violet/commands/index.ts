// Lazy command map: each command's module (and its heavy dependencies) loads only when it runs; the summary is
// what `--help` lists (test/cli/lazy-commands.test.ts keeps it equal to the command's own description).
import { lazy, type LazyCommand } from "../../../shared/cli/main.ts";

export const commands: Record<string, LazyCommand> = {
  create: lazy("Create a package directory from an operator bundle image, a cluster-plugin chart or a Helm chart", () => import("./create.ts")),
  package: lazy("Write a package .tgz from a directory made by create (copies the related images into it)", () => import("./package.ts")),
  show: lazy("Show a package's name, type, architectures and version (--all: main artifact and images)", () => import("./show.ts")),
  verify: lazy("Verify packages with the GPG signature (.sig) or checksum (.sha256) next to each .tgz", () => import("./verify.ts")),
  push: lazy("Push packages: images to the registry, then Artifact/ArtifactVersion, ModulePlugin or chart to the platform", () => import("./push.ts")),
  list: lazy("Export installed operators, cluster plugins and chart applications to apps.yaml", () => import("./list.ts")),
  gc: lazy("Delete leftovers of uninstalled operators and cluster plugins (Artifact, ArtifactVersion, ModulePlugin, ModuleConfig)", () => import("./gc.ts")),
  whoami: lazy("Show the context, cluster, user and namespace violet will use", () => import("./whoami.ts")),
};
