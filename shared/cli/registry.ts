// Registry options from the shared registry flags (see args.ts registryArgs).
import { readFileSync } from "node:fs";
import { registerSecret } from "../runtime/redact.ts";
import { chainCredentials, dockerConfigCredentials, envCredentials, staticCredentials } from "../oci/transport/credentials.ts";
import type { RegistryOptions } from "../oci/client.ts";
import { repeated } from "./argv.ts";
import { parseDuration as parseDurationMs } from "./duration.ts";
import { UsageError } from "./errors.ts";
import { logger } from "./logger.ts";

/** "30s", "2m", "1h30m", "500ms", or plain seconds → ms (the same parser as the kube flags) */
export { parseDuration } from "./duration.ts";

/** "50MiB", "8M", "1GB", "1048576" → bytes */
export function parseSize(s: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)$/i.exec(s.trim());
  if (!m) throw new UsageError(`${flag}: bad size "${s}" (e.g. 50MiB, 2GiB)`);
  const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as ""]!;
  const n = Math.round(Number(m[1]) * unit);
  if (n < 1) throw new UsageError(`${flag}: must be at least 1 byte`);
  return n;
}

let stdinCache: string | undefined;
/** Read all of stdin once (for --password-stdin); trailing newline removed. */
export function readStdinSecret(flag: string): string {
  if (stdinCache !== undefined) return stdinCache;
  if (process.stdin.isTTY) throw new UsageError(`${flag}: nothing is piped to stdin`, `e.g. echo "$PASSWORD" | … ${flag}`);
  let text: string;
  try {
    text = readFileSync(0, "utf8");
  } catch (e) {
    throw new UsageError(`${flag}: cannot read stdin: ${(e as Error).message}`);
  }
  stdinCache = text.replace(/\r?\n$/, "");
  if (!stdinCache) throw new UsageError(`${flag}: stdin was empty`);
  registerSecret(stdinCache);
  return stdinCache;
}

export async function registryOptionsFromArgs(args: Record<string, unknown>, rawArgs: string[]): Promise<RegistryOptions> {
  const username = args.username as string | undefined;
  let password = args.password as string | undefined;
  if (password) {
    registerSecret(password);
    logger().warn("a password on the command line is visible to other users of this machine; prefer --password-stdin");
  }
  if (args["password-stdin"]) {
    if (password) throw new UsageError("--password and --password-stdin are mutually exclusive");
    password = readStdinSecret("--password-stdin");
  }
  if (password && !username) throw new UsageError("a registry password needs --username");
  if (username && !password) throw new UsageError(`--username ${username} needs --password-stdin (or --password)`);
  const caFiles = repeated(rawArgs, ["ca-file"], { split: false }).map((v) => {
    const eq = v.indexOf("=");
    return eq > 0 && !v.slice(0, eq).includes("/") ? { host: v.slice(0, eq), file: v.slice(eq + 1) } : { file: v };
  });
  const plainHosts = repeated(rawArgs, ["plain-http-host"]);
  const insecureHosts = repeated(rawArgs, ["insecure-host"]);
  const retries = args.retries !== undefined ? Number(args.retries) : undefined;
  if (retries !== undefined && (!Number.isInteger(retries) || retries < 0)) throw new UsageError(`--retries: expected a whole number, got "${args.retries}"`);
  const registryConfig = (args["registry-config"] as string | undefined) ?? undefined;
  const chunkSize = args["chunk-size"] !== undefined ? parseSize(String(args["chunk-size"]), "--chunk-size") : undefined;
  const maxPerHost = args["max-per-host"] !== undefined ? Number(args["max-per-host"]) : undefined;
  if (maxPerHost !== undefined && (!Number.isInteger(maxPerHost) || maxPerHost < 1)) throw new UsageError(`--max-per-host: expected a positive whole number, got "${args["max-per-host"]}"`);
  return {
    plainHttp: args["plain-http"] ? true : plainHosts.length ? plainHosts : false,
    insecure: args.insecure ? true : insecureHosts.length ? insecureHosts : false,
    caFiles,
    registryConfig,
    credentials: chainCredentials(username && password ? staticCredentials({ username, password }) : undefined, envCredentials(), dockerConfigCredentials(registryConfig)),
    timeoutMs: args["request-timeout"] ? parseDurationMs(String(args["request-timeout"]), "--request-timeout") : undefined,
    retries,
    chunkSize,
    maxSocketsPerHost: maxPerHost,
    onRetry: (i) => logger().debug(`retry ${i.attempt} of ${i.method} ${i.url.replace(/\?.*$/, "")} in ${i.delayMs}ms (${i.reason})`),
  };
}
