// How violet reaches the platform: kubeconfig (its server may be `<platform>/kubernetes/<cluster>`), or
// --platform-address with --platform-token, or --platform-address with --platform-username/--platform-password
// (the Dex login of lib/login.ts). Checks everything that can be checked before anything changes: IPv6 literals,
// flag combinations, cluster names, and that the platform accepts the credentials.
import type { ArgsDef } from "citty";
import { readFileSync } from "node:fs";
import { readStdinSecret } from "../../../shared/cli/registry.ts";
import { UsageError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { KubeApiError, KubeClient, KubeConfigError, kubeOptionsFromArgs, parsePlatformServer } from "../../../shared/kube/index.ts";
import { registerSecret } from "../../../shared/runtime/redact.ts";
import { Clusters, GLOBAL } from "./clusters.ts";
import { platformLogin } from "./login.ts";

export const PASSWORD_ENV = "VIOLET_PLATFORM_PASSWORD";
export const TOKEN_ENV = "VIOLET_PLATFORM_TOKEN";

export const platformArgs = {
  // replaces the shared description (kube/flags.ts): violet also logs in with --platform-username
  "platform-address": { type: "string", description: "Platform URL; clusters are reached at <address>/kubernetes/<cluster> (with --platform-token or --platform-username)", valueHint: "URL" },
  "platform-username": { type: "string", description: "Platform user for the username/password login (local users only; others use --platform-token)", valueHint: "USER" },
  "platform-password": { type: "string", description: `That user's password (visible to other users; prefer --platform-password-stdin or $${PASSWORD_ENV})`, valueHint: "PASSWORD" },
  "platform-password-stdin": { type: "boolean", description: "Read the platform password from stdin" },
  "client-id": { type: "string", description: "OAuth client of the username/password login (default alauda-auth)", valueHint: "ID" },
} as const satisfies ArgsDef;

export class PlatformError extends Error {
  override name = "PlatformError";
  exitCode = 1;
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

/** The host of an address, or undefined; IPv6 literals (bracketed or bare) are refused as violet documents. */
export function refuseIpv6(flag: string, value: string | undefined): void {
  if (!value) return;
  const rest = value.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  const host = rest.startsWith("[") ? rest.slice(1, rest.indexOf("]") > 0 ? rest.indexOf("]") : undefined) : rest.split("/")[0]!;
  const colons = (host.match(/:/g) ?? []).length;
  if (rest.startsWith("[") || colons > 1) {
    throw new UsageError(`${flag} ${value}: IPv6 addresses are not supported`, "use a domain name or an IPv4 address");
  }
}

/** --clusters a,b → ["a","b"]; an empty list (",", " ") is an error, not "the default". */
export function clusterNames(rawArgs: string[], given: unknown): string[] | undefined {
  if (given === undefined || given === false) return undefined;
  const all: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i]!;
    if (a === "--") break;
    if (a === "--clusters") all.push(rawArgs[++i] ?? "");
    else if (a.startsWith("--clusters=")) all.push(a.slice("--clusters=".length));
  }
  if (!all.length && typeof given === "string") all.push(given);
  const names = [...new Set(all.flatMap((v) => v.split(",").map((s) => s.trim())).filter(Boolean))];
  if (!names.length) throw new UsageError(`--clusters ${JSON.stringify(all.join(","))} names no cluster`, "give cluster names separated by commas, e.g. --clusters global,region1, or leave the flag out");
  for (const n of names) if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(n)) throw new UsageError(`--clusters: invalid cluster name ${JSON.stringify(n)}`, "cluster names are lower-case letters, digits, '-' and '.'");
  return names;
}

export interface Connection {
  clusters: Clusters;
  /** what authenticated us, for error hints (never the secret itself) */
  credential: string;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** Check the connection flags without touching the network (run before anything else, dry run included). */
export function checkPlatformFlags(args: Record<string, unknown>): void {
  const address = str(args["platform-address"]);
  refuseIpv6("--platform-address", address);
  const token = str(args["platform-token"]);
  const username = str(args["platform-username"]);
  const password = str(args["platform-password"]);
  if (token && !address) throw new UsageError("--platform-token needs --platform-address", "e.g. --platform-address https://acp.example.com --platform-token $TOKEN");
  if ((username || password || args["platform-password-stdin"]) && !address) throw new UsageError("--platform-username/--platform-password need --platform-address", "e.g. --platform-address https://acp.example.com");
  if (token && (username || password)) throw new UsageError("--platform-token cannot be combined with --platform-username/--platform-password");
  if ((password || args["platform-password-stdin"]) && !username) throw new UsageError("a platform password needs --platform-username");
  if (password && args["platform-password-stdin"]) throw new UsageError("--platform-password and --platform-password-stdin are mutually exclusive");
  if (args["platform-password-stdin"] && args["password-stdin"]) throw new UsageError("--platform-password-stdin and --password-stdin cannot both read stdin", `pass one of the passwords in $${PASSWORD_ENV} (platform) or a docker config (registry)`);
  if (address && !token && !username && !process.env[TOKEN_ENV]) throw new UsageError("--platform-address needs --platform-token or --platform-username", `pass the password with --platform-password-stdin or $${PASSWORD_ENV}`);
  if (args["client-id"] !== undefined && !str(args["client-id"])) throw new UsageError("--client-id needs a value");
}

/** Log in if needed and build the cluster access. */
export async function connect(args: Record<string, unknown>, rawArgs: string[], clientOpts: { userAgent: string; fieldManager?: string }): Promise<Connection> {
  checkPlatformFlags(args);
  const address = str(args["platform-address"]);
  const username = str(args["platform-username"]);
  let token = str(args["platform-token"]) ?? (address && !username ? process.env[TOKEN_ENV] : undefined);
  let credential: string;
  const opts = kubeOptionsFromArgs(args, rawArgs);
  if (address && username) {
    let password = str(args["platform-password"]);
    if (password) {
      registerSecret(password);
      logger().warn(`a password on the command line is visible to other users of this machine; prefer --platform-password-stdin or $${PASSWORD_ENV}`);
    } else if (args["platform-password-stdin"]) password = readStdinSecret("--platform-password-stdin");
    else password = process.env[PASSWORD_ENV];
    if (!password) throw new UsageError(`--platform-username ${username} needs a password`, `pipe it to --platform-password-stdin or set $${PASSWORD_ENV}`);
    registerSecret(password);
    const ca = opts.certificateAuthority ? readFileSync(opts.certificateAuthority, "utf8") : undefined;
    token = await platformLogin(address, { username, password, clientId: str(args["client-id"]) ?? "alauda-auth", tls: { ca, insecureSkipVerify: opts.insecureSkipTlsVerify } });
    credential = `the token from the login of platform user ${username}`;
  } else if (address) credential = str(args["platform-token"]) ? "--platform-token" : `$${TOKEN_ENV}`;
  if (token) registerSecret(token);
  let kube: KubeClient;
  try {
    kube = KubeClient.fromOptions({ ...opts, platformToken: token ?? opts.platformToken }, clientOpts);
  } catch (e) {
    // the document's way in is the platform address: say so when there is no kubeconfig either
    if (!address && e instanceof KubeConfigError && /^(none of the kubeconfig files|no kubeconfig)/.test(e.message)) {
      throw new UsageError(e.message, "give the platform with --platform-address https://… and --platform-token (or --platform-username), or a kubeconfig with --kubeconfig");
    }
    throw e;
  }
  const c = kube.config;
  credential ??= c.source === "kubeconfig" ? `kubeconfig user ${c.userName ?? "?"} (context ${c.contextName ?? "?"})` : c.source === "in-cluster" ? "the pod's service account" : "--platform-token";
  return { clusters: new Clusters(kube), credential };
}

/** A list of cluster names, or why it could not be read (for the error that names every source tried). */
interface ClusterListing {
  names?: string[];
  failed?: string;
}

function listingFailure(what: string, e: unknown): string {
  if (e instanceof KubeApiError) return `${what} answered ${e.status}${e.reason ? ` ${e.reason}` : ""}`;
  return `${what} failed: ${(e as Error).message}`;
}

/** The platform's own cluster list: GET <platform>/auth/v1/clusters (RBAC-filtered). */
async function authClusters(conn: Connection): Promise<ClusterListing> {
  const kube = conn.clusters.kube;
  const p = parsePlatformServer(kube.server);
  if (!p) return { failed: `${kube.server} is not a platform address` };
  const what = `GET ${p.platform}/auth/v1/clusters`;
  const root = new KubeClient({ ...kube.config, server: p.platform }, { userAgent: kube.userAgent });
  try {
    const r = await root.requestJson<any>("GET", "/auth/v1/clusters");
    const items: any[] = Array.isArray(r) ? r : (r?.items ?? []);
    const names = items.map((i) => (typeof i === "string" ? i : (i?.metadata?.name ?? i?.name))).filter((n): n is string => typeof n === "string" && !!n);
    return names.length ? { names } : { failed: `${what} listed no cluster` };
  } catch (e) {
    if (e instanceof KubeApiError && e.status === 401) throw unauthorized(conn, "the platform");
    return { failed: listingFailure(what, e) };
  }
}

/** The platform's Cluster objects on the global cluster (clusters.platform.tkestack.io, what the platform's list is made of). */
export const PLATFORM_CLUSTER = "platform.tkestack.io/v1";
async function clusterObjects(conn: Connection): Promise<ClusterListing> {
  const what = "listing clusters.platform.tkestack.io on the global cluster";
  try {
    const names = (await conn.clusters.global.list(PLATFORM_CLUSTER, "Cluster")).map((c) => String(c.metadata.name ?? "")).filter(Boolean);
    return names.length ? { names } : { failed: `${what} found none` };
  } catch (e) {
    if (e instanceof KubeApiError && e.status === 401) throw unauthorized(conn, "cluster global");
    return { failed: listingFailure(what, e) };
  }
}

/** Clusters the platform says the user can see (GET <platform>/auth/v1/clusters), or undefined when it cannot be read. */
export async function visibleClusters(conn: Connection): Promise<string[] | undefined> {
  return (await authClusters(conn)).names;
}

export function unauthorized(conn: Connection, where: string): PlatformError {
  return new PlatformError(`${where} refused the credentials (401 Unauthorized): ${conn.credential}`, conn.credential.startsWith("kubeconfig") ? "log in again or pass --platform-address with --platform-token" : conn.credential.includes("login") ? "check the user's password; users from LDAP/OIDC need --platform-token" : "the token may have expired; create a new one under Profile → API Tokens");
}

/**
 * Check that every named cluster exists (an error names the unknown ones) and that the platform accepts the
 * credentials on each, before anything is changed.
 */
export async function checkClusters(conn: Connection, names: string[]): Promise<void> {
  const visible = await visibleClusters(conn);
  if (visible) {
    const unknown = names.filter((n) => !visible.includes(n));
    if (unknown.length) throw new PlatformError(`unknown cluster${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}`, `clusters on this platform: ${visible.join(", ")}`);
  }
  for (const n of names) {
    try {
      await conn.clusters.client(n).requestJson("GET", "/api");
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 401) throw unauthorized(conn, `cluster ${n}`);
      if (e instanceof KubeApiError && e.status === 404) throw new PlatformError(`unknown cluster ${n}`, visible ? `clusters on this platform: ${visible.join(", ")}` : "check --clusters");
      throw e;
    }
  }
}

/**
 * Every cluster the user can see, as the platform enumerates them: its cluster list (GET /auth/v1/clusters), else
 * its Cluster objects on the global cluster. When neither can be read this fails, naming what was tried and how to
 * pass --clusters: a cluster left out silently would be an application missing from apps.yaml (a missed upgrade).
 */
export async function allClusters(conn: Connection, mentioned: string[] = []): Promise<string[]> {
  const current = conn.clusters.current;
  const others = mentioned.filter((c) => c !== current);
  if (!parsePlatformServer(conn.clusters.kube.server)) {
    if (others.length) throw new PlatformError(`cannot reach clusters ${others.join(", ")} (the views name them): ${conn.clusters.kube.server} is not a platform address (<platform>/kubernetes/<cluster>)`, `pass --platform-address https://<platform> with --platform-token to reach every cluster, or list only this one with --clusters ${current}`);
    return [current];
  }
  const a = await authClusters(conn);
  if (a.names) return [...new Set([GLOBAL, ...a.names])];
  const b = await clusterObjects(conn);
  if (b.names) {
    logger().debug(`${a.failed}; the clusters come from the platform's Cluster objects`);
    return [...new Set([GLOBAL, ...b.names])];
  }
  throw new PlatformError(
    `cannot enumerate the platform's clusters, so applications on some clusters could be missed: ${a.failed}; ${b.failed}`,
    `name the clusters with --clusters ${[...new Set([GLOBAL, ...mentioned, "<cluster>"])].join(",")} (every cluster whose applications you need)`,
  );
}
