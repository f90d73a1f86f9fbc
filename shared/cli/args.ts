// Reusable flag sets (citty ArgsDef fragments). Spread them into a command's args.
import type { ArgsDef } from "citty";
import { globalArgs } from "./main.ts";

export { globalArgs };

export const outputArgs = {
  output: { type: "string", alias: ["o"], description: "Output format: json|yaml (default: human-readable)", valueHint: "json|yaml" },
} as const satisfies ArgsDef;

export const dryRunArgs = {
  "dry-run": { type: "boolean", description: "Print what would be done; change nothing" },
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
  "request-timeout": { type: "string", description: "Give up a registry request that makes no progress (under 1 KiB) for this long, e.g. 30s, 2m (default 60s); downloads then resume where they stopped" },
  retries: { type: "string", description: "Retries per operation (one upload, one download with its resumes) on 5xx, 429 and broken connections (default 5)" },
  "chunk-size": { type: "string", description: "Upload blobs in PATCH chunks of this size, e.g. 50MiB (for proxies that limit request bodies; default: one PUT, chunks after a 413)" },
  "max-per-host": { type: "string", description: "Parallel connections per registry host (default 8)" },
} as const satisfies ArgsDef;
