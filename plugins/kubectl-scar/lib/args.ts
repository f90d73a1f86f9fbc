// Flag sets of kubectl scar and their conversion to clients. Only one secret may come from stdin: the
// registry password (--password-stdin) or the Palette password (--palette-password-stdin); the other comes
// from the environment (PALETTE_PASSWORD / REGISTRY_PASSWORD) or a file (--palette-password-file).
import { readFileSync } from "node:fs";
import type { ArgsDef } from "citty";
import { registryArgs } from "../../../shared/cli/args.ts";
import { UsageError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { parseDuration, readStdinSecret, registryOptionsFromArgs } from "../../../shared/cli/registry.ts";
import { kubeArgs, kubeClientFromArgs, type KubeClient } from "../../../shared/kube/index.ts";
import type { RegistryOptions } from "../../../shared/oci/client.ts";
import { PaletteClient } from "../../../shared/palette/client.ts";
import { registerSecret } from "../../../shared/runtime/redact.ts";
import type { Target } from "./artifact.ts";
import { REQUEST_TIMEOUT_HELP } from "../../../shared/cli/duration.ts";
import { DEFAULT_BASE_PATH, DEFAULT_REQUEST_TIMEOUT, DEFAULT_TAG, NAMESPACE } from "./constants.ts";
import { StateStore } from "./state.ts";

export const paletteArgs = {
  palette: { type: "string", description: "Palette API address, e.g. https://palette.example.com (env PALETTE_URL)", valueHint: "URL" },
  "palette-username": { type: "string", description: "System admin for POST /v1/auth/syslogin (default admin; env PALETTE_USERNAME)", valueHint: "USER" },
  "palette-password-stdin": { type: "boolean", description: "Read the Palette password from stdin" },
  "palette-password-file": { type: "string", description: "Read the Palette password from this file", valueHint: "FILE" },
  "palette-password": { type: "string", description: "Palette password (visible to other users; prefer env PALETTE_PASSWORD or --palette-password-stdin)" },
  "palette-token": { type: "string", description: "Use this Palette token instead of logging in (passkey admins; env PALETTE_TOKEN)", valueHint: "JWT" },
  "palette-insecure": { type: "boolean", description: "Skip TLS verification of the Palette API" },
  "palette-ca-file": { type: "string", description: "PEM CA bundle to trust for the Palette API", valueHint: "FILE" },
} as const satisfies ArgsDef;

export const targetArgs = {
  registry: { type: "string", description: "OCI registry host[:port] that gets the manifests (the pack registry)", valueHint: "HOST" },
  "base-path": { type: "string", description: `Base content path of the registry (default ${DEFAULT_BASE_PATH})`, valueHint: "PATH" },
  tag: { type: "string", description: `Tag of the manifests artifact (default ${DEFAULT_TAG})`, valueHint: "TAG" },
  "registry-username": { type: "string", description: "Registry username (same as --username), e.g. AWS for ECR", valueHint: "USER" },
  ...registryArgs,
} as const satisfies ArgsDef;

/**
 * One request deadline for every peer (Palette, the registry, the Kubernetes API), same default everywhere.
 * Spread it AFTER targetArgs/clusterArgs: it replaces their own --request-timeout definitions.
 */
export const timeoutArgs = {
  "request-timeout": { type: "string", description: REQUEST_TIMEOUT_HELP, valueHint: "DURATION" },
} as const satisfies ArgsDef;

/** --request-timeout in ms (default 60s; must be more than 0: a peer that never answers must not hang a step). */
export function requestTimeoutMs(args: Record<string, unknown>): number {
  const v = str(args["request-timeout"]) ?? DEFAULT_REQUEST_TIMEOUT;
  const ms = parseDuration(v, "--request-timeout");
  if (ms <= 0) throw new UsageError(`--request-timeout must be more than 0 (got ${JSON.stringify(v)})`, `give a duration like 30s or 5m (default ${DEFAULT_REQUEST_TIMEOUT})`);
  return ms;
}

export const stateArgs = {
  "state-dir": { type: "string", description: "Where the migration state and archive are kept (default ~/.local/state/kube-airgap/scar)", valueHint: "DIR" },
} as const satisfies ArgsDef;

export const clusterArgs = {
  ...kubeArgs,
  namespace: { type: "string", alias: ["n"], description: `Namespace of Palette's services (default ${NAMESPACE})`, valueHint: "NS" },
} as const satisfies ArgsDef;

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

export function checkStdinUse(args: Record<string, unknown>): void {
  if (args["password-stdin"] && args["palette-password-stdin"]) {
    throw new UsageError("--password-stdin and --palette-password-stdin cannot both read stdin", "pipe one of them and give the Palette password in PALETTE_PASSWORD or --palette-password-file");
  }
}

export function paletteUrl(args: Record<string, unknown>, required = true): string | undefined {
  const url = str(args.palette) ?? str(process.env.PALETTE_URL);
  if (!url && required) throw new UsageError("the Palette API address is required", "give --palette https://HOST (or set PALETTE_URL)");
  if (url && !/^https?:\/\//i.test(url)) {
    const from = str(args.palette) ? "--palette" : "PALETTE_URL";
    throw new UsageError(`${from} ${JSON.stringify(url)}: expected a URL with a scheme`, `give it as https://${url.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "")}`);
  }
  return url;
}

/** A PaletteClient from the flags (password: stdin, file, flag, env PALETTE_PASSWORD; token: flag or env PALETTE_TOKEN). */
export function paletteFromArgs(args: Record<string, unknown>): PaletteClient {
  checkStdinUse(args);
  const url = paletteUrl(args)!;
  let password: string | undefined;
  const flagPw = str(args["palette-password"]);
  const file = str(args["palette-password-file"]);
  const sources = [args["palette-password-stdin"] ? "--palette-password-stdin" : "", file ? "--palette-password-file" : "", flagPw ? "--palette-password" : ""].filter(Boolean);
  if (sources.length > 1) throw new UsageError(`${sources.join(" and ")} are mutually exclusive`);
  if (args["palette-password-stdin"]) password = readStdinSecret("--palette-password-stdin");
  else if (file) {
    try {
      password = readFileSync(file, "utf8").replace(/\r?\n$/, "");
    } catch (e) {
      throw new UsageError(`--palette-password-file: cannot read ${file}: ${(e as Error).message}`);
    }
    if (!password) throw new UsageError(`--palette-password-file: ${file} is empty`);
  } else if (flagPw) {
    password = flagPw;
    registerSecret(password);
    logger().warn("a password on the command line is visible to other users of this machine; prefer PALETTE_PASSWORD or --palette-password-stdin");
  } else if (process.env.PALETTE_PASSWORD) password = process.env.PALETTE_PASSWORD;
  registerSecret(password);
  let token = str(args["palette-token"]);
  if (token) {
    registerSecret(token);
    logger().warn("a token on the command line is visible to other users of this machine; prefer PALETTE_TOKEN");
  } else token = str(process.env.PALETTE_TOKEN);
  registerSecret(token);
  if (!password && !token) throw new UsageError("no Palette credentials", "set PALETTE_PASSWORD (or --palette-password-stdin / --palette-password-file), or PALETTE_TOKEN / --palette-token");
  const username = password ? (str(args["palette-username"]) ?? str(process.env.PALETTE_USERNAME) ?? "admin") : undefined;
  return new PaletteClient({
    url,
    username,
    password,
    token,
    insecure: !!args["palette-insecure"],
    caFile: str(args["palette-ca-file"]),
    timeoutMs: requestTimeoutMs(args),
  });
}

export function targetFromArgs(args: Record<string, unknown>, required = true): Target | undefined {
  const registry = str(args.registry) ?? str(process.env.SCAR_REGISTRY);
  if (!registry) {
    if (required) throw new UsageError("the registry is required", "give --registry HOST[:PORT]");
    return undefined;
  }
  const tag = str(args.tag) ?? DEFAULT_TAG;
  if (!/^[\w][\w.-]{0,127}$/.test(tag)) throw new UsageError(`--tag: invalid tag "${tag}"`, "letters, digits, _ . - (at most 128)");
  const basePath = args["base-path"] === undefined ? DEFAULT_BASE_PATH : String(args["base-path"]);
  return { registry: registry.replace(/^(https?|oci):\/\//, "").replace(/\/+$/, ""), basePath, tag };
}

export async function registryFromArgs(args: Record<string, unknown>, rawArgs: string[]): Promise<RegistryOptions> {
  checkStdinUse(args);
  const a: Record<string, unknown> = { ...args, "request-timeout": `${requestTimeoutMs(args)}ms` };
  const ru = str(args["registry-username"]);
  if (ru) {
    if (str(args.username) && args.username !== ru) throw new UsageError("--registry-username and --username differ; give one");
    a.username = ru;
  }
  if (!a.username && !a.password && !a["password-stdin"] && process.env.REGISTRY_PASSWORD && process.env.REGISTRY_USERNAME) registerSecret(process.env.REGISTRY_PASSWORD);
  return registryOptionsFromArgs(a, rawArgs);
}

export function kubeFromArgs(args: Record<string, unknown>, rawArgs: string[]): { kube: KubeClient; namespace: string } {
  const namespace = str(args.namespace) ?? NAMESPACE;
  const kube = kubeClientFromArgs({ ...args, namespace, "request-timeout": `${requestTimeoutMs(args)}ms` }, rawArgs, { userAgent: "kubectl-scar" });
  return { kube, namespace };
}

export function stateFromArgs(args: Record<string, unknown>, palette: string): StateStore {
  return StateStore.forPalette(str(args["state-dir"]), palette);
}

export function durationArg(args: Record<string, unknown>, name: string, def: string): number {
  const v = str(args[name]) ?? def;
  return parseDuration(v, `--${name}`);
}

/**
 * What each credential applies to, for the --help of every command that talks to the registry or Palette.
 * Kept true by test/cli/credentials-help.test.ts (every credential flag a command has is named here).
 */
export const SCAR_CREDENTIALS_HELP = [
  "CREDENTIALS (the first that applies wins; each goes only to its own server):",
  "  registry (push, migrate, verify, status; --registry, $SCAR_REGISTRY or push's oci:// reference):",
  "    --registry-username (same as -u/--username) + --password-stdin|--password (-p), then",
  "    REGISTRY_USERNAME/REGISTRY_PASSWORD, then the docker config.json entry or credential helper stored for",
  "    the registry's host (--registry-config FILE, default $DOCKER_CONFIG/config.json, else ~/.docker/config.json)",
  "  Palette API (--palette or $PALETTE_URL): a password logs in as --palette-username ($PALETTE_USERNAME,",
  "    default admin): --palette-password-stdin, --palette-password-file, --palette-password, then",
  "    $PALETTE_PASSWORD; without one, --palette-token, then $PALETTE_TOKEN",
  "  Kubernetes API (migrate, verify, status, rollback): the kubeconfig (--kubeconfig, --context), or",
  "    --platform-address with --platform-token",
  "  only one secret can come from stdin: --password-stdin, --palette-password-stdin or --scar-password-stdin",
  "  rollback: the old SCAR password (--scar-password-stdin, else $SCAR_PASSWORD) is written back to Palette's",
  "    SCAR config only",
];
