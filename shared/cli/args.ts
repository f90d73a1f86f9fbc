// Reusable flag sets (citty ArgsDef fragments). Spread them into a command's args.
import type { ArgsDef } from "citty";
import { dryRunFlag, outputFlag } from "./conventions.ts";
import { REQUEST_TIMEOUT_HELP } from "./duration.ts";
import { globalArgs } from "./main.ts";

export { globalArgs };

/** `-o json|yaml`: validated by the entry (conventions.ts); anything else is a usage error. */
export const outputArgs = {
  output: outputFlag(["json", "yaml"]),
} as const satisfies ArgsDef;

/** `-o json|yaml|name|wide|jsonpath=TEMPLATE` for commands that list things (printData's `list` option). */
export const listOutputArgs = {
  output: outputFlag(["json", "yaml", "name", "wide", "jsonpath"]),
} as const satisfies ArgsDef;

/**
 * `--dry-run[=none|client|server]` for commands with no API server to ask: server means client (said once).
 * After the entry has parsed it, `args["dry-run"]` is false (none) or "client": `!!args["dry-run"]` is the dry run.
 */
export const dryRunArgs = {
  "dry-run": dryRunFlag(false),
} as const satisfies ArgsDef;

/** `--dry-run[=none|client|server]` for commands that write through the Kubernetes API: "server" = dryRun=All. */
export const serverDryRunArgs = {
  "dry-run": dryRunFlag(true),
} as const satisfies ArgsDef;

/** Registry connection and credential flags shared by every command that talks to an OCI registry. */
export const registryArgs = {
  "plain-http": { type: "boolean", description: "Use HTTP instead of HTTPS for every registry (see --plain-http-host)" },
  "plain-http-host": { type: "string", description: "Use HTTP for this registry host[:port] only (repeatable)", valueHint: "HOST" },
  insecure: { type: "boolean", description: "Skip TLS certificate verification for every registry" },
  "insecure-host": { type: "string", description: "Skip TLS verification for this registry host only (repeatable)", valueHint: "HOST" },
  "ca-file": { type: "string", description: "PEM CA bundle to trust; HOST=FILE limits it to one registry (repeatable)", valueHint: "[HOST=]FILE" },
  username: { type: "string", alias: ["u"], description: "Registry username (with --password-stdin)" },
  password: { type: "string", alias: ["p"], description: "Registry password (visible to other users; prefer --password-stdin)" },
  "password-stdin": { type: "boolean", description: "Read the registry password from stdin" },
  "registry-config": { type: "string", description: "docker config.json with credentials (default: $DOCKER_CONFIG/config.json)", valueHint: "FILE" },
  "request-timeout": { type: "string", description: REQUEST_TIMEOUT_HELP, valueHint: "DURATION" },
  retries: { type: "string", description: "Retries for failed idempotent requests (default 5)" },
  "chunk-size": { type: "string", description: "Upload blobs in PATCH chunks of this size, e.g. 50MiB (for proxies that limit request bodies; default: one PUT, chunks after a 413)" },
  "max-per-host": { type: "string", description: "Parallel connections per registry host (default 8)" },
} as const satisfies ArgsDef;
