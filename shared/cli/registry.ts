// Registry options from the shared registry flags (see args.ts registryArgs).
import { existsSync, readFileSync } from "node:fs";
import { registerSecret } from "../runtime/redact.ts";
import { chainCredentials, dockerConfigCredentials, remember, staticCredentials, type Credential, type CredentialProvider } from "../oci/transport/credentials.ts";
import { apiHost } from "../oci/reference.ts";
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

/**
 * Which hosts each side's credentials belong to. Without a scope (single-registry commands) the flags apply to
 * every registry the command talks to, as before.
 */
export interface CredentialScope {
  /** destination registry hosts (host[:port]); undefined: the command has no destination */
  destination?: string[];
  /** source hosts for --src-* (default: every host that is not a destination); without a destination, -u too */
  source?: string[];
}

export interface ParsedCredentials {
  dest?: Credential;
  src?: Credential;
}

let warnedPassword = false;
/** Once per process: a password given as a flag is visible to other users (ps, /proc); the value is never shown. */
export function warnPasswordOnCommandLine(flag: string, stdinFlag: string): void {
  if (warnedPassword) return;
  warnedPassword = true;
  logger().warn(`a password on the command line (${flag}) is visible to other users of this machine; prefer ${stdinFlag}`);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** The credential flags: destination (-u/-p/--password-stdin or --dest-*) and source (--src-*). Validated. */
export function credentialsFromFlags(args: Record<string, unknown>): ParsedCredentials {
  const generic = str(args.username) !== undefined || str(args.password) !== undefined || !!args["password-stdin"];
  const explicit = str(args["dest-username"]) !== undefined || str(args["dest-password"]) !== undefined || !!args["dest-password-stdin"];
  if (generic && explicit) throw new UsageError("give the destination credentials once: -u/--username with --password-stdin, or --dest-username with --dest-password-stdin");
  const [uFlag, pFlag, sFlag] = explicit ? ["--dest-username", "--dest-password", "--dest-password-stdin"] : ["--username", "--password", "--password-stdin"];
  const username = str(explicit ? args["dest-username"] : args.username);
  let password = str(explicit ? args["dest-password"] : args.password);
  const fromStdin = !!(explicit ? args["dest-password-stdin"] : args["password-stdin"]);
  const srcUser = str(args["src-username"]);
  const srcStdin = !!args["src-password-stdin"];
  if (fromStdin && srcStdin) throw new UsageError(`${sFlag} and --src-password-stdin both read stdin`, "give one of the passwords another way (docker config.json via `kubectl mirror login`, --cred-file)");
  if (password) {
    registerSecret(password);
    warnPasswordOnCommandLine(pFlag, sFlag);
  }
  if (fromStdin) {
    if (password) throw new UsageError(`${pFlag} and ${sFlag} are mutually exclusive`);
    password = readStdinSecret(sFlag);
  }
  if (password && !username) throw new UsageError(`a registry password needs ${uFlag}`);
  if (username && !password) throw new UsageError(`${uFlag} ${username} needs ${sFlag} (or ${pFlag})`);
  if (srcStdin && !srcUser) throw new UsageError("--src-password-stdin needs --src-username");
  if (srcUser && !srcStdin) throw new UsageError(`--src-username ${srcUser} needs --src-password-stdin`);
  return {
    dest: username && password ? { username, password } : undefined,
    src: srcUser ? { username: srcUser, password: readStdinSecret("--src-password-stdin") } : undefined,
  };
}

const norm = (h: string) => apiHost(h.toLowerCase());

/** The credential providers for a scope (flags, then REGISTRY_USERNAME/PASSWORD for the destination). */
export function scopedCredentialProviders(parsed: ParsedCredentials, scope: CredentialScope | undefined, env: Record<string, string | undefined> = process.env): CredentialProvider[] {
  const envCred = env.REGISTRY_USERNAME && env.REGISTRY_PASSWORD ? { username: env.REGISTRY_USERNAME, password: env.REGISTRY_PASSWORD } : undefined;
  if (!scope) {
    // single-registry commands: the flags (and the environment) are that registry's
    const all = [parsed.dest, envCred].filter(Boolean).map((c) => staticCredentials(c!));
    return parsed.src ? [staticCredentials(parsed.src), ...all] : all;
  }
  const dests = new Set((scope.destination ?? []).map(norm));
  const sources = scope.source ? new Set(scope.source.map(norm)) : undefined;
  const isDest = (h: string) => dests.has(norm(h));
  const isSource = (h: string) => (sources ? sources.has(norm(h)) : !isDest(h));
  const out: CredentialProvider[] = [];
  if (scope.destination) {
    for (const c of [parsed.dest, envCred]) if (c) out.push(only(c, isDest));
    if (parsed.src) out.push(only(parsed.src, isSource));
  } else {
    // no destination: -u and --src-* both name the source (REGISTRY_* are destination credentials: unused)
    for (const c of [parsed.dest, parsed.src]) if (c) out.push(only(c, isSource));
  }
  return out;
}

function only(cred: Credential, accept: (host: string) => boolean): CredentialProvider {
  remember(cred);
  return async (host) => (accept(host) ? cred : undefined);
}

/**
 * Registry options from the shared flags. With a scope, credentials and --dest-insecure are bound to the hosts
 * they belong to (see CredentialScope and CREDENTIALS_HELP in args.ts).
 */
export async function registryOptionsFromArgs(args: Record<string, unknown>, rawArgs: string[], scope?: CredentialScope): Promise<RegistryOptions> {
  const parsed = credentialsFromFlags(args);
  if (scope && !scope.destination) {
    for (const f of ["dest-username", "dest-password", "dest-password-stdin", "dest-insecure"]) {
      if (args[f]) throw new UsageError(`--${f}: this command has no destination registry`, "use --src-username/--src-password-stdin for the source");
    }
  }
  const caFiles = repeated(rawArgs, ["ca-file"], { split: false }).map((v) => {
    const eq = v.indexOf("=");
    return eq > 0 && !v.slice(0, eq).includes("/") ? { host: v.slice(0, eq), file: v.slice(eq + 1) } : { file: v };
  });
  // SSL_CERT_FILE: the CA bundle to trust, as Go tools (helm, skopeo, crane) and OpenSSL read it
  const certFile = process.env.SSL_CERT_FILE;
  if (certFile && existsSync(certFile)) caFiles.push({ file: certFile });
  const plainHosts = repeated(rawArgs, ["plain-http-host"]);
  const insecureHosts = repeated(rawArgs, ["insecure-host"]);
  if (args["dest-insecure"]) {
    if (!scope) throw new UsageError("--dest-insecure: this command does not know its destination", "use --insecure-host HOST");
    insecureHosts.push(...scope.destination!);
  }
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
    credentials: chainCredentials(...scopedCredentialProviders(parsed, scope), dockerConfigCredentials(registryConfig)),
    timeoutMs: args["request-timeout"] ? parseDurationMs(String(args["request-timeout"]), "--request-timeout") : undefined,
    retries,
    chunkSize,
    maxSocketsPerHost: maxPerHost,
    onRetry: (i) => logger().debug(`retry ${i.attempt} of ${i.method} ${i.url.replace(/\?.*$/, "")} in ${i.delayMs}ms (${i.reason})`),
  };
}
