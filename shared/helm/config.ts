// Helm's configuration files as Helm resolves them (pkg/helmpath, pkg/cli/environment.go):
// repositories.yaml, the repository index cache, and the registry credentials file.
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { registerSecret } from "../runtime/redact.ts";

export class HelmConfigError extends Error {
  override name = "HelmConfigError";
}

type Env = Record<string, string | undefined>;

function platformBase(kind: "config" | "cache" | "data", env: Env): string {
  const home = env.HOME || homedir();
  if (process.platform === "darwin") {
    if (kind === "cache") return join(home, "Library", "Caches");
    return join(home, "Library", "Preferences");
  }
  if (process.platform === "win32") {
    if (kind === "cache") return env.TEMP || join(home, "AppData", "Local", "Temp");
    return env.APPDATA || join(home, "AppData", "Roaming");
  }
  if (kind === "config") return env.XDG_CONFIG_HOME || join(home, ".config");
  if (kind === "cache") return env.XDG_CACHE_HOME || join(home, ".cache");
  return env.XDG_DATA_HOME || join(home, ".local", "share");
}

/** `<config home>` (HELM_CONFIG_HOME, else XDG/platform default + /helm). */
export function helmConfigHome(env: Env = process.env): string {
  return env.HELM_CONFIG_HOME || join(platformBase("config", env), "helm");
}

export function helmCacheHome(env: Env = process.env): string {
  return env.HELM_CACHE_HOME || join(platformBase("cache", env), "helm");
}

/** $HELM_REPOSITORY_CONFIG or <config home>/repositories.yaml */
export function repositoryConfigPath(env: Env = process.env): string {
  return env.HELM_REPOSITORY_CONFIG || join(helmConfigHome(env), "repositories.yaml");
}

/** $HELM_REPOSITORY_CACHE or <cache home>/repository */
export function repositoryCachePath(env: Env = process.env): string {
  return env.HELM_REPOSITORY_CACHE || join(helmCacheHome(env), "repository");
}

/** $HELM_REGISTRY_CONFIG or <config home>/registry/config.json (docker config.json format). */
export function registryConfigPath(env: Env = process.env): string {
  return env.HELM_REGISTRY_CONFIG || join(helmConfigHome(env), "registry", "config.json");
}

/** One entry of repositories.yaml (helm pkg/repo Entry). */
export interface HelmRepoEntry {
  name: string;
  url: string;
  username?: string;
  password?: string;
  certFile?: string;
  keyFile?: string;
  caFile?: string;
  insecure_skip_tls_verify?: boolean;
  pass_credentials_all?: boolean;
}

export async function loadRepositories(path = repositoryConfigPath()): Promise<HelmRepoEntry[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      throw new HelmConfigError(`couldn't load repositories file (${path}): it does not exist (run "helm repo add" first, or pass a URL)`);
    throw new HelmConfigError(`couldn't load repositories file (${path}): ${(err as Error).message}`);
  }
  let doc: any;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new HelmConfigError(`couldn't parse repositories file (${path}): ${(err as Error).message.split("\n")[0]}`);
  }
  const list = (doc?.repositories ?? []) as HelmRepoEntry[];
  if (!Array.isArray(list)) throw new HelmConfigError(`repositories file ${path}: "repositories" is not a list`);
  for (const r of list) {
    registerSecret(r?.password);
  }
  return list.filter((r) => r && typeof r.name === "string" && typeof r.url === "string");
}

/** Find a repo by name in repositories.yaml; throws `no repo named "<name>" found` like Helm. */
export async function findRepository(name: string, path = repositoryConfigPath()): Promise<HelmRepoEntry> {
  const repos = await loadRepositories(path);
  const r = repos.find((x) => x.name === name);
  if (!r) {
    const known = repos.map((x) => x.name).join(", ");
    throw new HelmConfigError(`no repo named "${name}" found in ${path}${known ? ` (known: ${known})` : ""}; pass a URL or run "helm repo add ${name} <url>"`);
  }
  return r;
}

/** Path of Helm's cached index for a named repo. */
export function cachedIndexPath(name: string, env: Env = process.env): string {
  return join(repositoryCachePath(env), `${name}-index.yaml`);
}

/**
 * `serverInfo.contextPath` from an index.yaml text, without parsing the (possibly huge) entries:
 * finds the top-level `serverInfo:` block and its `contextPath:`.
 */
export function contextPathFromIndex(text: string): string | undefined {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const inline = /^serverInfo:\s*\{(.*)\}\s*$/.exec(l);
    if (inline) {
      const m = /contextPath\s*:\s*["']?([^,"'}]*)/.exec(inline[1]!);
      return m?.[1]?.trim() || undefined;
    }
    if (!/^serverInfo:\s*$/.test(l)) continue;
    for (let j = i + 1; j < lines.length; j++) {
      const s = lines[j]!;
      if (/^\S/.test(s)) break;
      const m = /^\s+contextPath:\s*(.*?)\s*$/.exec(s);
      if (m) {
        const v = m[1]!.replace(/^["']|["']$/g, "");
        return v || undefined;
      }
    }
    return undefined;
  }
  return undefined;
}

/** docker config.json "auths" entry for a host (used for Helm's registry config). */
export interface DockerAuth {
  username?: string;
  password?: string;
  identitytoken?: string;
}

/** Read credentials for `host` from a docker-format config.json (auths only; no credential helpers). */
export async function dockerConfigAuth(path: string, host: string): Promise<DockerAuth | undefined> {
  let cfg: any;
  try {
    cfg = JSON.parse(await readFile(path, "utf8"));
  } catch {
    return undefined;
  }
  const auths = cfg?.auths ?? {};
  const keys = [host, `https://${host}`, `http://${host}`, `https://${host}/v1/`, `https://${host}/v2/`];
  for (const k of keys) {
    const a = auths[k];
    if (!a) continue;
    const out: DockerAuth = {};
    if (a.auth) {
      const raw = Buffer.from(String(a.auth), "base64").toString("utf8");
      const i = raw.indexOf(":");
      if (i > 0) {
        out.username = raw.slice(0, i);
        out.password = raw.slice(i + 1);
      }
    }
    if (a.username) out.username = a.username;
    if (a.password) out.password = a.password;
    if (a.identitytoken) out.identitytoken = a.identitytoken;
    registerSecret(out.password);
    registerSecret(out.identitytoken);
    registerSecret(a.auth);
    return out;
  }
  return undefined;
}
