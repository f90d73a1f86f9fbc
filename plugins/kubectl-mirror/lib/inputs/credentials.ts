// Credentials the way mirror users keep them:
//   --cred-file FILE   Palette Edge JSON: {"helm": [{endpoint, username, password}], "image": [...]}; a GCR
//                      `_json_key` password may be the service-account JSON object itself
//   --dest-credentials-from-secret NS/NAME   a Secret in the current context: registryUsername/registryPassword
//                      (Zot/PaletteAI), username/password, or a .dockerconfigjson for the destination host
//   kubectl mirror login REGISTRY   docker config.json, like `oras login` / `helm registry login`
import { readFile } from "node:fs/promises";
import { registerSecret } from "../../../../shared/runtime/redact.ts";
import { createClient, type RegistryOptions } from "../../../../shared/oci/client.ts";
import { apiHost } from "../../../../shared/oci/reference.ts";
import { chainCredentials, staticCredentials, type Credential, type CredentialProvider } from "../../../../shared/oci/transport/credentials.ts";
import type { KubeClient } from "../../../../shared/kube/index.ts";

export class CredentialsError extends Error {
  override name = "CredentialsError";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

export interface CredEntry {
  endpoint: string;
  username: string;
  password: string;
}

export interface CredFile {
  helm: CredEntry[];
  image: CredEntry[];
}

function entries(v: unknown, where: string): CredEntry[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new CredentialsError(`${where}: expected a list of {endpoint, username, password}`);
  return v.map((e, i) => {
    if (!e || typeof e !== "object" || typeof e.endpoint !== "string" || !e.endpoint) throw new CredentialsError(`${where}[${i}]: needs an endpoint`);
    const password = typeof e.password === "string" ? e.password : e.password && typeof e.password === "object" ? JSON.stringify(e.password) : undefined;
    if (typeof e.username !== "string" || password === undefined) throw new CredentialsError(`${where}[${i}] (${e.endpoint}): needs username and password`);
    registerSecret(password);
    return { endpoint: e.endpoint, username: e.username, password };
  });
}

export function parseCredFile(text: string, file: string): CredFile {
  let j: any;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new CredentialsError(`--cred-file ${file}: not valid JSON (${(e as Error).message})`, 'expected {"helm": [...], "image": [...]}');
  }
  if (!j || typeof j !== "object" || Array.isArray(j)) throw new CredentialsError(`--cred-file ${file}: expected an object with "helm" and/or "image" lists`);
  return { helm: entries(j.helm, `--cred-file ${file}: helm`), image: entries(j.image, `--cred-file ${file}: image`) };
}

export async function readCredFile(file: string): Promise<CredFile> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new CredentialsError(`--cred-file ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  return parseCredFile(text, file);
}

/** "https://reg.io:5000/v2/" → "reg.io:5000"; Docker Hub spellings → docker.io */
export function endpointHost(endpoint: string): string {
  const h = endpoint.trim().replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "").toLowerCase();
  return ["index.docker.io", "registry-1.docker.io"].includes(h) ? "docker.io" : h;
}

/** Registry credentials from the `image` list (matched by host). */
export function credFileProvider(cf: CredFile): CredentialProvider {
  return async (registry) => {
    const host = registry.toLowerCase();
    const e = cf.image.find((x) => endpointHost(x.endpoint) === host) ?? cf.image.find((x) => endpointHost(x.endpoint) === apiHost(host));
    return e ? { username: e.username, password: e.password } : undefined;
  };
}

/** Chart repository credentials from the `helm` list: longest URL prefix, else same host. */
export function credForChartUrl(cf: CredFile, url: string): CredEntry | undefined {
  const u = url.replace(/\/+$/, "");
  const byPrefix = cf.helm.filter((e) => u.startsWith(e.endpoint.replace(/\/+$/, ""))).sort((a, b) => b.endpoint.length - a.endpoint.length)[0];
  if (byPrefix) return byPrefix;
  const host = endpointHost(url);
  return cf.helm.find((e) => endpointHost(e.endpoint) === host) ?? cf.image.find((e) => endpointHost(e.endpoint) === host);
}

/** Put more providers in front of the options' chain (first answer wins). */
export function withCredentials(opts: RegistryOptions, ...first: (CredentialProvider | undefined)[]): RegistryOptions {
  const list = first.filter(Boolean) as CredentialProvider[];
  if (!list.length) return opts;
  return { ...opts, credentials: chainCredentials(...list, opts.credentials) };
}

/** "ns/name" → parts (checked). */
export function parseSecretRef(spec: string, flag: string): { namespace: string; name: string } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(spec.trim());
  if (!m) throw new CredentialsError(`${flag} ${spec}: expected NAMESPACE/NAME`, "e.g. zot-system/zot-secret");
  return { namespace: m[1]!, name: m[3]! };
}

function decode(data: Record<string, string> | undefined, key: string): string | undefined {
  const v = data?.[key];
  return v === undefined ? undefined : Buffer.from(v, "base64").toString("utf8");
}

/** Registry credentials from a Secret (registryUsername/registryPassword, username/password, .dockerconfigjson). */
export async function credentialsFromSecret(kube: KubeClient, spec: string, registry: string): Promise<Credential> {
  const { namespace, name } = parseSecretRef(spec, "--dest-credentials-from-secret");
  const s = await kube.tryGet<{ apiVersion: string; kind: string; metadata: any; data?: Record<string, string> }>("v1", "Secret", name, { namespace });
  if (!s) throw new CredentialsError(`--dest-credentials-from-secret: secret ${namespace}/${name} not found in context ${kube.config.contextName ?? "(current)"}`, "check the namespace/name and the current context");
  const data = s.data ?? {};
  for (const [u, p] of [["registryUsername", "registryPassword"], ["username", "password"]] as const) {
    const username = decode(data, u);
    const password = decode(data, p);
    if (username !== undefined && password !== undefined) {
      registerSecret(password);
      return { username, password };
    }
  }
  const dcj = decode(data, ".dockerconfigjson");
  if (dcj) {
    let cfg: any;
    try {
      cfg = JSON.parse(dcj);
    } catch {
      throw new CredentialsError(`secret ${namespace}/${name}: .dockerconfigjson is not valid JSON`);
    }
    const host = registry.toLowerCase();
    for (const [k, v] of Object.entries<any>(cfg?.auths ?? {})) {
      if (endpointHost(k) !== host) continue;
      let username = v.username as string | undefined;
      let password = v.password as string | undefined;
      if (v.auth) {
        const dec = Buffer.from(v.auth, "base64").toString("utf8");
        const i = dec.indexOf(":");
        username = dec.slice(0, i);
        password = dec.slice(i + 1);
      }
      if (username !== undefined && password !== undefined) {
        registerSecret(password);
        return { username, password };
      }
    }
    throw new CredentialsError(`secret ${namespace}/${name}: .dockerconfigjson has no entry for ${registry}`);
  }
  throw new CredentialsError(`secret ${namespace}/${name} has no registry credentials`, `expected keys registryUsername/registryPassword, username/password or .dockerconfigjson (it has: ${Object.keys(data).join(", ") || "none"})`);
}

/** A provider answering only for the destination host. */
export function destinationProvider(registry: string, cred: Credential): CredentialProvider {
  return staticCredentials(cred, [registry, apiHost(registry)]);
}

/** Check credentials against GET /v2/ (the registry's auth flow decides). */
export async function checkLogin(registry: string, opts: RegistryOptions): Promise<void> {
  const client = createClient({ ...opts, retries: opts.retries ?? 1 });
  try {
    const host = apiHost(registry);
    const res = await client.request({ method: "GET", url: `${client.transport.baseUrl(host)}/v2/`, host, scopes: [] });
    await res.drain();
    if (res.status !== 200) throw new CredentialsError(`login to ${registry} failed: HTTP ${res.status} from /v2/`, res.status === 404 ? "is this an OCI registry?" : undefined);
  } finally {
    client.transport.close();
  }
}
