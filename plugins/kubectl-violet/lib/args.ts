// violet's registry flags (--username/--password | --no-auth, --plain) on top of the shared registry flags.
import type { ArgsDef } from "citty";
import { registryArgs } from "../../../shared/cli/args.ts";
import { registryOptionsFromArgs } from "../../../shared/cli/registry.ts";
import { UsageError } from "../../../shared/cli/errors.ts";
import type { RegistryOptions } from "../../../shared/oci/index.ts";
import { refuseIpv6 } from "./platform.ts";

export const violetRegistryArgs = {
  ...registryArgs,
  "no-auth": { type: "boolean", description: "The registry needs no credentials" },
  plain: { type: "boolean", description: "The registry speaks HTTP, not HTTPS (same as --plain-http)" },
} as const satisfies ArgsDef;

export const concurrencyArgs = {
  concurrency: { type: "string", description: "Parallel transfers (default 4)", valueHint: "N" },
} as const satisfies ArgsDef;

export function noAuth(args: Record<string, unknown>): boolean {
  return args["no-auth"] === true || args.auth === false;
}

/**
 * violet's documents: --platform-address and --dest-repo take IPv4 addresses or domain names, never IPv6 (the
 * shared registry references accept [::1]:5000; these two flags keep refusing IPv6).
 */
export function refuseIPv6(args: Record<string, unknown>): void {
  for (const flag of ["dest-repo", "platform-address"]) {
    const v = args[flag];
    if (typeof v === "string") refuseIpv6(`--${flag}`, v);
  }
}

/**
 * Registry options from violet's flags. `credentialHosts`: the registry hosts --username/--password and
 * REGISTRY_USERNAME/PASSWORD belong to (create/package: the --artifact's registry), so that they are never sent to
 * another registry a related image is read from; undefined: every registry the command talks to (push: its one).
 */
export async function violetRegistryOptions(args: Record<string, unknown>, rawArgs: string[], credentialHosts?: string[]): Promise<RegistryOptions> {
  refuseIPv6(args);
  if (noAuth(args) && (args.username || args.password || args["password-stdin"])) throw new UsageError("--no-auth cannot be combined with --username/--password");
  const o = await registryOptionsFromArgs(args, rawArgs, credentialHosts ? { destination: credentialHosts } : undefined);
  if (args.plain) o.plainHttp = true;
  if (noAuth(args)) o.credentials = async () => undefined;
  return o;
}

export function concurrencyOf(args: Record<string, unknown>, def = 4): number {
  if (args.concurrency === undefined) return def;
  const n = Number(args.concurrency);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`--concurrency: expected a whole number 1..64, got "${args.concurrency}"`);
  return n;
}

const PLATFORM_LINES = (which: string) => [
  `  platform API (${which}): with --platform-address, --platform-token ($VIOLET_PLATFORM_TOKEN) or`,
  "    --platform-username + --platform-password-stdin|--platform-password ($VIOLET_PLATFORM_PASSWORD), sent to",
  "    that address only; else the kubeconfig's user (--kubeconfig, --context)",
];

/** The platform-only commands (list, gc, whoami): what their credentials are and where they go. */
export const VIOLET_PLATFORM_CREDENTIALS_HELP = ["CREDENTIALS (the first that applies wins):", ...PLATFORM_LINES("this command")];

/**
 * What each credential applies to, for the --help of the commands that talk to a registry (create, package,
 * push). Kept true by test/cli/credentials-help.test.ts (every credential flag a command has is named here).
 */
export const VIOLET_CREDENTIALS_HELP = [
  "CREDENTIALS (registry; the first that applies wins):",
  "  --no-auth: no credentials at all (stored ones are not read either)",
  "  --username + --password-stdin|--password (-u/-p), then REGISTRY_USERNAME/REGISTRY_PASSWORD, then the",
  "    docker config.json entry or credential helper stored for the registry's host (--registry-config FILE,",
  "    default $DOCKER_CONFIG/config.json, else ~/.docker/config.json)",
  "  create/package: -u/-p and REGISTRY_* go only to the --artifact's registry (a related image on another",
  "    registry gets its stored credentials, else anonymous access); with a chart URL or file as --artifact, to",
  "    the related images' registries. push: to --dest-repo, which needs --username, --registry-config or --no-auth",
  "  push without --dest-repo: the platform registry (ProductBase base spec.registry.address) with Secret",
  "    cpaas-system/registry-admin's credentials (for that host only) unless --username, --registry-config or",
  "    --no-auth is given",
  "  push of Helm charts: the ChartRepo's own spec.secret goes to its URL; registry credentials never do",
  ...PLATFORM_LINES("push"),
];
