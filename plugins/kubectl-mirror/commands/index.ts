// Lazy command map: each command's module (and its heavy dependencies) loads only when it runs; the summary is
// what `--help` lists (test/cli/lazy-commands.test.ts keeps it equal to the command's own description).
import { lazy, type LazyCommand } from "../../../shared/cli/main.ts";

export const commands: Record<string, LazyCommand> = {
  copy: lazy("Copy images, charts and artifacts between registries, OCI layout dirs and OCI archives", () => import("./copy.ts")),
  images: lazy("List the container images a chart uses, with where each was found (render, values, annotations, images.lock, operator env)", () => import("./images.ts")),
  sync: lazy("Mirror charts and every image they use into a registry: charts to <dest>/charts/<name>/<name>:<version> (Helm OCI; --chart-layout flat: <dest>/charts/<name>:<version>), images to <dest>/images/…", () => import("./sync.ts")),
  export: lazy("Write charts and every image they use into one OCI archive to carry into an air gap (then: kubectl mirror push)", () => import("./export.ts")),
  "export-pack": lazy("Write Palette pack tarballs (pack.json, values.yaml pack.content.images, charts/) with their charts and images into one archive for `kubectl mirror push`", () => import("./export-pack.ts")),
  push: lazy("Push archives written by export/export-pack into a registry; re-running after an interruption sends only what is missing", () => import("./push.ts")),
  serve: lazy("Serve an archive (or its split parts) or an OCI layout as a read-only OCI registry: pull with docker, skopeo, helm, oras or kubectl mirror copy", () => import("./serve.ts")),
  sign: lazy("Sign an export archive (or its split parts) in place with an ECDSA P-256 or OpenPGP key: push, serve and verify --key check it inside the air gap", () => import("./sign.ts")),
  verify: lazy("Check that every chart tag and image of a chart, mirror file or export archive is in the registry (or an archive) with matching digests", () => import("./verify.ts")),
  login: lazy("Log in to a registry: check the credentials and save them in docker config.json (read by every kubectl mirror command, helm, oras, skopeo)", () => import("./login.ts")),
  logout: lazy("Remove a registry's credentials from docker config.json", () => import("./logout.ts")),
  "run-shard": lazy("Run one shard of an in-cluster mirror plan (what the pods of `sync|copy --in-cluster` run); one JSON line per item on stdout", () => import("./run-shard.ts")),
  "copy-ca": lazy("Copy the registry CA (only its ca.crt) into a workload namespace as secret zot-ca: by default from mural-system/zot-ca or mural-system/oci-tls-hub, whichever exists, waiting for it with --wait; works across contexts", () => import("./copy-ca.ts")),
};
