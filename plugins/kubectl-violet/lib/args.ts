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

export async function violetRegistryOptions(args: Record<string, unknown>, rawArgs: string[]): Promise<RegistryOptions> {
  refuseIPv6(args);
  if (noAuth(args) && (args.username || args.password || args["password-stdin"])) throw new UsageError("--no-auth cannot be combined with --username/--password");
  const o = await registryOptionsFromArgs(args, rawArgs);
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
