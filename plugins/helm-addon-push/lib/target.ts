// Resolve the REPO argument (repositories.yaml name, http(s) URL, oci://) and its credentials/TLS settings
// with cm-push's precedence: flags, then HELM_REPO_* variables, then the repositories.yaml entry, then URL.
import { access, readFile } from "node:fs/promises";
import type { RepoAuth, TlsOptions } from "../../../shared/chartmuseum/client.ts";
import { cachedIndexPath, contextPathFromIndex, findRepository, repositoryConfigPath } from "../../../shared/helm/config.ts";
import { registerSecret } from "../../../shared/runtime/redact.ts";

export class TargetError extends Error {
  override name = "TargetError";
}

export interface RepoFlags {
  username?: string;
  password?: string;
  accessToken?: string;
  authHeader?: string;
  contextPath?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  insecure?: boolean;
  /** vela/cm-push --use-http ($HELM_REPO_USE_HTTP): a cm:// repository URL means http:// (default https://) */
  useHttp?: boolean;
}

export interface ChartMuseumTarget {
  kind: "chartmuseum";
  /** what the user typed */
  arg: string;
  /** repo name (when from repositories.yaml) */
  name?: string;
  url: string;
  auth: RepoAuth;
  tls: TlsOptions;
  /** known context path, or undefined = discover from index.yaml */
  contextPath?: string;
}

export interface OciTarget {
  kind: "oci";
  arg: string;
  /** host[:port]/path without scheme and trailing slash */
  base: string;
}

export type PushTarget = ChartMuseumTarget | OciTarget;

type Env = Record<string, string | undefined>;

function truthy(v: string | undefined): boolean {
  return !!v && /^(1|true|yes|on)$/i.test(v);
}

/** Flags filled from HELM_REPO_* where still empty (cm-push/vela behaviour). */
export function withEnvDefaults(f: RepoFlags, env: Env = process.env): RepoFlags {
  const out: RepoFlags = { ...f };
  out.username ||= env.HELM_REPO_USERNAME || undefined;
  out.password ||= env.HELM_REPO_PASSWORD || undefined;
  out.accessToken ||= env.HELM_REPO_ACCESS_TOKEN || undefined;
  out.authHeader ||= env.HELM_REPO_AUTH_HEADER || undefined;
  out.contextPath ||= env.HELM_REPO_CONTEXT_PATH || undefined;
  out.caFile ||= env.HELM_REPO_CA_FILE || undefined;
  out.certFile ||= env.HELM_REPO_CERT_FILE || undefined;
  out.keyFile ||= env.HELM_REPO_KEY_FILE || undefined;
  if (truthy(env.HELM_REPO_INSECURE)) out.insecure = true;
  if (truthy(env.HELM_REPO_USE_HTTP)) out.useHttp = true;
  registerSecret(out.password);
  registerSecret(out.accessToken);
  return out;
}

async function fileExists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/** Resolve REPO into a push target. `flags` should already include env defaults. */
export async function resolveTarget(arg: string, flags: RepoFlags, env: Env = process.env): Promise<PushTarget> {
  if (/^oci:\/\//i.test(arg)) {
    const base = arg.replace(/^oci:\/\//i, "").replace(/\/+$/, "");
    if (!base || base.startsWith("/")) throw new TargetError(`invalid OCI target "${arg}" (expected oci://host[:port]/path)`);
    if (base.includes("/") && /[:@]/.test(base.slice(base.lastIndexOf("/") + 1)))
      throw new TargetError(`OCI target "${arg}" must be a repository prefix without tag or digest (the chart name and version are appended)`);
    return { kind: "oci", arg, base };
  }
  let url: string;
  let name: string | undefined;
  let entry: Awaited<ReturnType<typeof findRepository>> | undefined;
  if (/^(https?|cm):\/\//i.test(arg)) {
    url = arg;
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(arg)) {
    throw new TargetError(`unsupported repository URL "${arg}" (use a repo name, http(s)://… or oci://…)`);
  } else {
    entry = await findRepository(arg, repositoryConfigPath(env));
    name = entry.name;
    url = entry.url;
    if (/^oci:\/\//i.test(url)) return { kind: "oci", arg, base: url.replace(/^oci:\/\//i, "").replace(/\/+$/, "") };
  }
  // vela addon push: a cm:// URL (typed, or stored in the repository entry) → http:// with --use-http, else https://
  url = url.replace(/^cm:\/\//i, flags.useHttp || truthy(env.HELM_REPO_USE_HTTP) ? "http://" : "https://");
  // credentials: explicit user+password beat a token (cm-push); a token beats stored repo credentials
  const auth: RepoAuth = {};
  if (flags.username && flags.password) {
    auth.username = flags.username;
    auth.password = flags.password;
  } else if (flags.accessToken) {
    auth.token = flags.accessToken;
    auth.authHeader = flags.authHeader;
  } else {
    auth.username = flags.username || entry?.username;
    auth.password = flags.password || entry?.password;
  }
  registerSecret(auth.password);
  registerSecret(auth.token);
  const tls: TlsOptions = {
    caFile: flags.caFile || entry?.caFile || undefined,
    certFile: flags.certFile || entry?.certFile || undefined,
    keyFile: flags.keyFile || entry?.keyFile || undefined,
    insecure: flags.insecure || !!entry?.insecure_skip_tls_verify,
  };
  let contextPath = flags.contextPath;
  if (contextPath === undefined && name) {
    // Helm's cached index, when `helm repo add/update` has run; otherwise discovered live at push time
    const cache = cachedIndexPath(name, env);
    if (await fileExists(cache)) {
      try {
        contextPath = contextPathFromIndex(await readFile(cache, "utf8"));
      } catch {}
    }
  }
  return { kind: "chartmuseum", arg, name, url, auth, tls, contextPath };
}

/** How a target is shown in `Pushing X to Y...` lines (repo name or URL, never credentials). */
export function targetLabel(t: PushTarget): string {
  if (t.kind === "oci") return `oci://${t.base}`;
  if (t.name) return t.name;
  try {
    const u = new URL(t.url);
    u.username = "";
    u.password = "";
    return u.href.replace(/\/+$/, "");
  } catch {
    return t.arg;
  }
}
