// Kubeconfig loading exactly as kubectl (client-go clientcmd) does it, then resolution of the one
// context/cluster/user/namespace a command acts on.
//
//   --kubeconfig FILE        only that file (must exist), no merging
//   else $KUBECONFIG         path list (":"; ";" on Windows), de-duplicated, missing files skipped; first file to
//                            define a cluster/user/context name wins (later duplicates ignored whole);
//                            current-context from the first file that sets it
//   else ~/.kube/config
//   else in-cluster service account (KUBERNETES_SERVICE_HOST/PORT + /var/run/secrets/kubernetes.io/serviceaccount)
//
// Relative paths (certificate-authority, client-certificate, client-key, tokenFile, an exec command containing a
// path separator) resolve against the directory of the file that defined them.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, resolve as resolvePath, sep } from "node:path";
import { parse as parseYaml } from "yaml";
import { registerSecret } from "../runtime/redact.ts";
import { KubeConfigError } from "./errors.ts";

// ---- kubeconfig file shapes (the YAML keys kubectl writes) ----

export interface ExecConfig {
  command: string;
  args?: string[];
  env?: { name: string; value: string }[];
  apiVersion?: string;
  installHint?: string;
  provideClusterInfo?: boolean;
  interactiveMode?: "Never" | "IfAvailable" | "Always";
}

export interface KubeconfigCluster {
  server?: string;
  "certificate-authority"?: string;
  "certificate-authority-data"?: string;
  "insecure-skip-tls-verify"?: boolean;
  "tls-server-name"?: string;
  "proxy-url"?: string;
  "disable-compression"?: boolean;
}

export interface KubeconfigUser {
  token?: string;
  tokenFile?: string;
  "client-certificate"?: string;
  "client-certificate-data"?: string;
  "client-key"?: string;
  "client-key-data"?: string;
  username?: string;
  password?: string;
  exec?: ExecConfig;
  "auth-provider"?: { name: string; config?: Record<string, string> };
  as?: string;
  "as-groups"?: string[];
  "as-uid"?: string;
}

export interface KubeconfigContext {
  cluster?: string;
  user?: string;
  namespace?: string;
}

/** A merged kubeconfig: maps keyed by name, each entry remembering the file it came from. */
export interface MergedKubeconfig {
  files: string[];
  currentContext?: string;
  clusters: Map<string, KubeconfigCluster & { source: string }>;
  users: Map<string, KubeconfigUser & { source: string }>;
  contexts: Map<string, KubeconfigContext & { source: string }>;
}

// ---- options (from flags) and the resolved result ----

export interface KubeOptions {
  /** --kubeconfig */
  kubeconfig?: string;
  /** --context / --cluster / --user */
  context?: string;
  cluster?: string;
  user?: string;
  /** -n/--namespace */
  namespace?: string;
  /** --as, --as-group (repeatable), --as-uid */
  as?: string;
  asGroups?: string[];
  asUid?: string;
  /** --request-timeout in milliseconds (0 = none) */
  requestTimeoutMs?: number;
  /** --insecure-skip-tls-verify */
  insecureSkipTlsVerify?: boolean;
  /** --certificate-authority (file) */
  certificateAuthority?: string;
  /** --platform-address / --platform-token (violet): talk to <platform>/kubernetes/<cluster> */
  platformAddress?: string;
  platformToken?: string;
  /** cluster name under the platform (default "global") */
  platformCluster?: string;
  /** environment and home directory (tests); default process.env / os.homedir() */
  env?: Record<string, string | undefined>;
  home?: string;
  /** in-cluster service-account directory (tests); default /var/run/secrets/kubernetes.io/serviceaccount */
  serviceAccountDir?: string;
}

export type AuthKind = "none" | "token" | "token-file" | "client-certificate" | "basic" | "exec" | "auth-provider" | "platform-token" | "service-account";

export interface ResolvedAuth {
  kind: AuthKind;
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  exec?: ExecConfig;
  /** PEM client certificate and key (from files or inline data) */
  clientCert?: string;
  clientKey?: string;
}

/** Everything needed to talk to one API server as one user. Secrets in here are registered for redaction. */
export interface ResolvedKubeConfig {
  /** where it came from: the kubeconfig files read, "in-cluster", or "platform" */
  source: "kubeconfig" | "in-cluster" | "platform";
  files: string[];
  contextName?: string;
  clusterName?: string;
  userName?: string;
  /** API server base URL, without trailing slash */
  server: string;
  namespace: string;
  /** true when -n/--namespace was given (commands may treat an explicit namespace differently) */
  namespaceExplicit: boolean;
  tls: { ca?: string; serverName?: string; insecureSkipVerify?: boolean };
  proxyUrl?: string;
  auth: ResolvedAuth;
  impersonate: { user?: string; groups: string[]; uid?: string };
  requestTimeoutMs?: number;
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

function readYamlFile(path: string): any {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e: any) {
    throw new KubeConfigError(`cannot read kubeconfig ${path}: ${e?.code ?? e?.message ?? e}`);
  }
  try {
    return parseYaml(text) ?? {};
  } catch (e: any) {
    throw new KubeConfigError(`kubeconfig ${path} is not valid YAML: ${String(e?.message ?? e).split("\n")[0]}`);
  }
}

function absolutize(p: string | undefined, base: string): string | undefined {
  if (!p) return p;
  if (p.startsWith("~/")) return p; // expanded later with the home dir
  return isAbsolute(p) ? p : resolvePath(base, p);
}

/** Merge kubeconfig files in order, kubectl style. Missing files must be filtered out by the caller. */
export function mergeKubeconfigs(files: string[]): MergedKubeconfig {
  const merged: MergedKubeconfig = { files, clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const file of files) {
    const doc = readYamlFile(file);
    if (typeof doc !== "object" || Array.isArray(doc)) throw new KubeConfigError(`kubeconfig ${file} is not a mapping`);
    const dir = dirname(resolvePath(file));
    if (!merged.currentContext && doc["current-context"]) merged.currentContext = String(doc["current-context"]);
    for (const e of list(doc.clusters, file, "clusters")) {
      if (merged.clusters.has(e.name)) continue;
      const c: KubeconfigCluster = { ...(e.cluster ?? {}) };
      c["certificate-authority"] = absolutize(c["certificate-authority"], dir);
      merged.clusters.set(e.name, { ...c, source: file });
    }
    for (const e of list(doc.users, file, "users")) {
      if (merged.users.has(e.name)) continue;
      const u: KubeconfigUser = { ...(e.user ?? {}) };
      u["client-certificate"] = absolutize(u["client-certificate"], dir);
      u["client-key"] = absolutize(u["client-key"], dir);
      u.tokenFile = absolutize(u.tokenFile, dir);
      if (u.exec?.command && (u.exec.command.includes("/") || u.exec.command.includes(sep))) {
        u.exec = { ...u.exec, command: absolutize(u.exec.command, dir)! };
      }
      merged.users.set(e.name, { ...u, source: file });
    }
    for (const e of list(doc.contexts, file, "contexts")) {
      if (merged.contexts.has(e.name)) continue;
      merged.contexts.set(e.name, { ...(e.context ?? {}), source: file });
    }
  }
  return merged;
}

function list(v: unknown, file: string, key: string): { name: string; [k: string]: any }[] {
  if (v == null) return [];
  if (!Array.isArray(v)) throw new KubeConfigError(`kubeconfig ${file}: "${key}" must be a list`);
  return v.filter((e) => e && typeof e === "object" && typeof e.name === "string" && e.name);
}

/** The kubeconfig files kubectl would read, in merge order, and whether they were named explicitly. */
export function kubeconfigFiles(opts: Pick<KubeOptions, "kubeconfig" | "env" | "home"> = {}): { files: string[]; explicit: boolean; listed: string[] } {
  const env = opts.env ?? process.env;
  const home = opts.home ?? env.HOME ?? homedir();
  const expand = (p: string) => (p.startsWith("~/") ? resolvePath(home, p.slice(2)) : p);
  if (opts.kubeconfig) {
    const f = expand(opts.kubeconfig);
    if (!existsSync(f)) throw new KubeConfigError(`kubeconfig ${f} (from --kubeconfig) does not exist`);
    return { files: [f], explicit: true, listed: [f] };
  }
  const kc = env.KUBECONFIG;
  if (kc) {
    const seen = new Set<string>();
    const listed: string[] = [];
    for (const p of kc.split(process.platform === "win32" ? ";" : delimiter)) {
      if (!p.trim()) continue;
      const f = expand(p.trim());
      if (seen.has(f)) continue;
      seen.add(f);
      listed.push(f);
    }
    return { files: listed.filter((f) => existsSync(f)), explicit: false, listed };
  }
  const def = resolvePath(home, ".kube", "config");
  return { files: existsSync(def) ? [def] : [], explicit: false, listed: [def] };
}

/** Load (merge) the kubeconfig files for these options. */
export function loadKubeconfig(opts: Pick<KubeOptions, "kubeconfig" | "env" | "home"> = {}): MergedKubeconfig {
  return mergeKubeconfigs(kubeconfigFiles(opts).files);
}

function readPem(file: string | undefined, data: string | undefined, what: string, where: string): string | undefined {
  if (data) return Buffer.from(data, "base64").toString("utf8");
  if (!file) return undefined;
  try {
    return readFileSync(file, "utf8");
  } catch (e: any) {
    throw new KubeConfigError(`cannot read ${what} ${file} (${where}): ${e?.code ?? e?.message}`);
  }
}

function trimSlash(s: string): string {
  return s.replace(/\/+$/, "");
}

/**
 * Resolve the context, cluster, user and namespace to use, kubectl's way, including the flag overrides.
 * Reads certificate and token files; registers every secret for redaction.
 */
export function resolveKubeConfig(opts: KubeOptions = {}): ResolvedKubeConfig {
  const env = opts.env ?? process.env;
  if (opts.platformToken) registerSecret(opts.platformToken);
  const impersonate = { user: opts.as || undefined, groups: opts.asGroups ?? [], uid: opts.asUid || undefined };
  const { files, explicit, listed } = kubeconfigFiles(opts);

  if (opts.platformAddress) return resolvePlatform(opts, files, impersonate);

  if (!files.length) {
    const inCluster = tryInCluster(opts, impersonate);
    if (inCluster) return inCluster;
    throw new KubeConfigError(
      env.KUBECONFIG ? `none of the kubeconfig files in KUBECONFIG exist (${listed.join(", ")})` : `no kubeconfig: ${listed[0]} does not exist and this is not a pod with a service account`,
      "pass --kubeconfig, set KUBECONFIG, or run kubectl config to create ~/.kube/config",
    );
  }
  const kc = mergeKubeconfigs(files);
  const where = explicit ? files[0]! : files.join(", ");
  const contextName = opts.context || kc.currentContext || undefined;
  let ctx: KubeconfigContext = {};
  if (contextName) {
    const c = kc.contexts.get(contextName);
    if (!c) {
      throw new KubeConfigError(
        `context "${contextName}" not found in kubeconfig ${where}`,
        kc.contexts.size ? `known contexts: ${[...kc.contexts.keys()].join(", ")}` : undefined,
      );
    }
    ctx = c;
  } else if (!opts.cluster) {
    throw new KubeConfigError(`no current context in kubeconfig ${where}`, "pass --context or run: kubectl config use-context NAME");
  }
  const clusterName = opts.cluster || ctx.cluster;
  if (!clusterName) throw new KubeConfigError(`context "${contextName}" names no cluster (kubeconfig ${where})`, "pass --cluster");
  const cluster = kc.clusters.get(clusterName);
  if (!cluster) throw new KubeConfigError(`cluster "${clusterName}" not found in kubeconfig ${where}`);
  if (!cluster.server) throw new KubeConfigError(`cluster "${clusterName}" has no server (kubeconfig ${cluster.source})`);
  const userName = opts.user || ctx.user || undefined;
  let user: (KubeconfigUser & { source?: string }) = {};
  if (userName) {
    const u = kc.users.get(userName);
    if (!u) throw new KubeConfigError(`user "${userName}" not found in kubeconfig ${where}`);
    user = u;
  }
  const server = trimSlash(cluster.server);
  let ca: string | undefined;
  if (opts.certificateAuthority) ca = readPem(opts.certificateAuthority, undefined, "--certificate-authority", "flag");
  else ca = readPem(cluster["certificate-authority"], cluster["certificate-authority-data"], "certificate-authority", `cluster "${clusterName}"`);
  const insecure = !!(opts.insecureSkipTlsVerify || cluster["insecure-skip-tls-verify"]);
  const auth = resolveUserAuth(user, userName ?? "", opts.home ?? env.HOME ?? homedir());
  return {
    source: "kubeconfig",
    files,
    contextName,
    clusterName,
    userName,
    server,
    namespace: opts.namespace || ctx.namespace || "default",
    namespaceExplicit: !!opts.namespace,
    tls: { ca: insecure && opts.insecureSkipTlsVerify ? undefined : ca, serverName: cluster["tls-server-name"], insecureSkipVerify: insecure || undefined },
    proxyUrl: cluster["proxy-url"],
    auth,
    impersonate: {
      user: impersonate.user ?? user.as,
      groups: impersonate.groups.length ? impersonate.groups : (user["as-groups"] ?? []),
      uid: impersonate.uid ?? user["as-uid"],
    },
    requestTimeoutMs: opts.requestTimeoutMs,
  };
}

function resolveUserAuth(u: KubeconfigUser, name: string, home: string): ResolvedAuth {
  const where = `user "${name}"`;
  const methods: string[] = [];
  if (u.token || u.tokenFile) methods.push("token");
  if (u.username || u.password) methods.push("basicAuth");
  if (methods.length > 1) throw new KubeConfigError(`more than one authentication method for ${where}: ${methods.join(", ")}; only one is allowed`);
  if (u.exec && u["auth-provider"]) throw new KubeConfigError(`${where} has both exec and auth-provider; only one is allowed`);
  const auth: ResolvedAuth = { kind: "none" };
  const certFile = u["client-certificate"]?.startsWith("~/") ? resolvePath(home, u["client-certificate"].slice(2)) : u["client-certificate"];
  const keyFile = u["client-key"]?.startsWith("~/") ? resolvePath(home, u["client-key"].slice(2)) : u["client-key"];
  auth.clientCert = readPem(certFile, u["client-certificate-data"], "client-certificate", where);
  auth.clientKey = readPem(keyFile, u["client-key-data"], "client-key", where);
  if (!!auth.clientCert !== !!auth.clientKey) throw new KubeConfigError(`${where} has a client certificate without a key (or a key without a certificate)`);
  if (auth.clientKey) registerSecret(auth.clientKey);
  if (auth.clientCert) auth.kind = "client-certificate";
  if (u.token) {
    auth.kind = "token";
    auth.token = u.token;
    registerSecret(u.token);
  } else if (u.tokenFile) {
    auth.kind = "token-file";
    auth.tokenFile = u.tokenFile.startsWith("~/") ? resolvePath(home, u.tokenFile.slice(2)) : u.tokenFile;
    registerSecret(readTokenFile(auth.tokenFile, where));
  } else if (u.username || u.password) {
    auth.kind = "basic";
    auth.username = u.username ?? "";
    auth.password = u.password ?? "";
    registerSecret(u.password);
  } else if (u.exec) {
    if (!u.exec.command) throw new KubeConfigError(`${where}: exec has no command`);
    auth.kind = "exec";
    auth.exec = u.exec;
  } else if (u["auth-provider"]) {
    const ap = u["auth-provider"];
    const idToken = ap.config?.["id-token"] ?? ap.config?.["access-token"];
    if (!idToken) {
      throw new KubeConfigError(`${where} uses auth-provider "${ap.name}", which is not supported without a cached id-token`, "switch the user to an exec credential plugin (e.g. kubelogin)");
    }
    auth.kind = "auth-provider";
    auth.token = idToken;
    registerSecret(idToken);
  }
  return auth;
}

/** Read a bearer token file (trailing newline stripped). */
export function readTokenFile(file: string, where = "tokenFile"): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch (e: any) {
    throw new KubeConfigError(`cannot read token file ${file} (${where}): ${e?.code ?? e?.message}`);
  }
}

function tryInCluster(opts: KubeOptions, impersonate: ResolvedKubeConfig["impersonate"]): ResolvedKubeConfig | undefined {
  const env = opts.env ?? process.env;
  const dir = opts.serviceAccountDir ?? SA_DIR;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  const tokenFile = `${dir}/token`;
  if (!host || !port || !existsSync(tokenFile)) return undefined;
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const ca = existsSync(`${dir}/ca.crt`) ? readFileSync(`${dir}/ca.crt`, "utf8") : undefined;
  const ns = existsSync(`${dir}/namespace`) ? readFileSync(`${dir}/namespace`, "utf8").trim() : undefined;
  registerSecret(readTokenFile(tokenFile, "service account"));
  return {
    source: "in-cluster",
    files: [],
    server: `https://${hostPart}:${port}`,
    namespace: opts.namespace || ns || "default",
    namespaceExplicit: !!opts.namespace,
    tls: { ca: opts.insecureSkipTlsVerify ? undefined : ca, insecureSkipVerify: opts.insecureSkipTlsVerify || undefined },
    auth: { kind: "service-account", tokenFile },
    impersonate,
    requestTimeoutMs: opts.requestTimeoutMs,
  };
}

function resolvePlatform(opts: KubeOptions, files: string[], impersonate: ResolvedKubeConfig["impersonate"]): ResolvedKubeConfig {
  let base: URL;
  try {
    base = new URL(opts.platformAddress!);
    if (base.protocol !== "https:" && base.protocol !== "http:") throw new Error("scheme");
  } catch {
    throw new KubeConfigError(`--platform-address ${JSON.stringify(opts.platformAddress)} is not an http(s) URL`, "e.g. --platform-address https://acp.example.com");
  }
  if (!opts.platformToken) throw new KubeConfigError("--platform-address needs --platform-token", "create one under Profile → API Tokens in the platform UI");
  const cluster = opts.platformCluster || "global";
  const ca = opts.certificateAuthority ? readPem(opts.certificateAuthority, undefined, "--certificate-authority", "flag") : undefined;
  return {
    source: "platform",
    files,
    clusterName: cluster,
    server: `${trimSlash(base.href)}/kubernetes/${encodeURIComponent(cluster)}`,
    namespace: opts.namespace || "default",
    namespaceExplicit: !!opts.namespace,
    tls: { ca, insecureSkipVerify: opts.insecureSkipTlsVerify || undefined },
    auth: { kind: "platform-token", token: opts.platformToken },
    impersonate,
    requestTimeoutMs: opts.requestTimeoutMs,
  };
}
