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
  retries: { type: "string", description: "Retries per operation (one upload, one download with its resumes) on 5xx, 429 and broken connections (default 5)" },
  "chunk-size": { type: "string", description: "Upload blobs in PATCH chunks of this size, e.g. 50MiB (for proxies that limit request bodies; default: one PUT, chunks after a 413)" },
  "max-per-host": { type: "string", description: "Parallel connections per registry host (default 8)" },
} as const satisfies ArgsDef;

/**
 * Credentials bound to a side of a transfer (like skopeo's --src-creds/--dest-creds), for commands that have a
 * source and a destination. Spread after registryArgs: -u/--password(-stdin) then mean the destination.
 * registryOptionsFromArgs(args, rawArgs, scope) decides which host gets which credential.
 */
export const destCredentialArgs = {
  username: { type: "string", alias: ["u"], description: "Username for the DESTINATION registry (with --password-stdin); see CREDENTIALS", valueHint: "USER" },
  password: { type: "string", alias: ["p"], description: "Password for the destination registry (visible to other users; prefer --password-stdin)" },
  "password-stdin": { type: "boolean", description: "Read the destination registry password from stdin" },
  "dest-username": { type: "string", description: "Username for the destination registry only (same as -u)", valueHint: "USER" },
  "dest-password": { type: "string", description: "Password for the destination registry only (visible to other users; prefer --dest-password-stdin)" },
  "dest-password-stdin": { type: "boolean", description: "Read the destination registry password from stdin" },
  "dest-insecure": { type: "boolean", description: "Skip TLS certificate verification for the destination registry only" },
} as const satisfies ArgsDef;

export const srcCredentialArgs = {
  "src-username": { type: "string", description: "Username for the source registries and chart repository (never sent to the destination)", valueHint: "USER" },
  "src-password-stdin": { type: "boolean", description: "Read the source password from stdin (with --src-username)" },
} as const satisfies ArgsDef;

export const scopedCredentialArgs = { ...destCredentialArgs, ...srcCredentialArgs } as const satisfies ArgsDef;

/** What each credential applies to, for the --help of every command taking scopedCredentialArgs. */
export const CREDENTIALS_HELP = [
  "CREDENTIALS (per registry host; the first that applies wins):",
  "  destination: --dest-credentials-from-secret, then --dest-username + --dest-password-stdin|--dest-password",
  "    (same as -u/--username + --password-stdin|-p/--password), then REGISTRY_USERNAME/REGISTRY_PASSWORD, then",
  "    stored credentials",
  "  source: --src-username + --src-password-stdin go to the chart's repository or registry (--repo-url, oci://…;",
  "    copy: the SOURCE registries) only; image registries use stored credentials, else anonymous access (token",
  "    requests without Authorization)",
  "  stored credentials apply only to the host they are stored for: --cred-file entries, Helm repositories.yaml",
  "    (chart repositories), docker config.json auths and credential helpers (--registry-config)",
  "  without a destination (images, export, export-pack) -u/--password-stdin are the chart source's credentials",
];
