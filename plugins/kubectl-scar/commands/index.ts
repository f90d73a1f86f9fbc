// Lazy command map: each command's module (and its heavy dependencies) loads only when it runs; the summary is
// what `--help` lists (test/cli/lazy-commands.test.ts keeps it equal to the command's own description).
import { lazy, type LazyCommand } from "../../../shared/cli/main.ts";

export const commands: Record<string, LazyCommand> = {
  migrate: lazy("Migrate Palette's manifests from the SCAR file server to the OCI registry (preflight, plan, idempotent resumable steps)", () => import("./migrate.ts")),
  package: lazy("Archive a manifests directory into manifests.tgz (like `cd DIR && tar -czf manifests.tgz .`)", () => import("./package.ts")),
  push: lazy("Push manifests.tgz to <registry>/<base-path>/spectro-manifests/manifest:<tag>, shaped like ORAS 1.0.0's `oras push`", () => import("./push.ts")),
  "set-endpoint": lazy("Save Palette's SCAR config (for rollback) and point it at Specman (https://specman-service.hubble-system.svc.cluster.local:8443)", () => import("./set-endpoint.ts")),
  status: lazy("Show the SCAR endpoint, the tags in the manifest repository, Specman's sync state and the local migration state", () => import("./status.ts")),
  verify: lazy("Check the migration: Palette uses Specman, the tag is in the registry, every specman pod persisted it", () => import("./verify.ts")),
  rollback: lazy("Put back the SCAR config Palette had before the migration (saved in the state file) and re-run the sync jobs", () => import("./rollback.ts")),
};
