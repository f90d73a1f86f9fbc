// Where registry credentials come from: flags, environment, docker config.json (DOCKER_CONFIG or an explicit
// file; `auths` with auth/username/password/identitytoken/registrytoken) and credential helpers
// (`credsStore`, `credHelpers` → `docker-credential-<name> get`).
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { registerSecret } from "../../runtime/redact.ts";
import { OciError } from "../errors.ts";

export interface Credential {
  username?: string;
  password?: string;
  /** OAuth2 refresh token (docker "identitytoken") */
  identityToken?: string;
  /** a bearer token to send as is (docker "registrytoken") */
  registryToken?: string;
}

/** Look up credentials for a registry host (as in references: docker.io, host:port). */
export type CredentialProvider = (registry: string) => Promise<Credential | undefined>;

export function remember(c: Credential | undefined): Credential | undefined {
  if (c) for (const v of [c.password, c.identityToken, c.registryToken]) registerSecret(v);
  return c;
}

/** The same credential for every registry (or only for the listed hosts). */
export function staticCredentials(cred: Credential, hosts?: string[]): CredentialProvider {
  remember(cred);
  return async (registry) => (!hosts || hosts.includes(registry) ? cred : undefined);
}

/** First provider that answers wins. */
export function chainCredentials(...providers: (CredentialProvider | undefined)[]): CredentialProvider {
  return async (registry) => {
    for (const p of providers) {
      const c = p && (await p(registry));
      if (c) return c;
    }
    return undefined;
  };
}

/** REGISTRY_USERNAME / REGISTRY_PASSWORD (all registries). */
export function envCredentials(env: Record<string, string | undefined> = process.env): CredentialProvider | undefined {
  const username = env.REGISTRY_USERNAME;
  const password = env.REGISTRY_PASSWORD;
  if (!username || !password) return undefined;
  return staticCredentials({ username, password });
}

export interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string; registrytoken?: string; email?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [k: string]: unknown;
}

/** $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
export function defaultDockerConfigPath(env: Record<string, string | undefined> = process.env): string {
  return join(env.DOCKER_CONFIG || join(env.HOME || homedir(), ".docker"), "config.json");
}

export function readDockerConfig(file: string): DockerConfig {
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, "utf8")) as DockerConfig;
  } catch (e) {
    throw new OciError(`cannot parse registry config ${file}: ${(e as Error).message}`, "BAD_CONFIG", "fix or remove the file");
  }
}

/** Keys under which a registry may appear in `auths` (docker writes Docker Hub as https://index.docker.io/v1/). */
export function authKeys(registry: string): string[] {
  const hub = registry === "docker.io" || registry === "index.docker.io" || registry === "registry-1.docker.io";
  return hub ? ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io", "https://registry-1.docker.io"] : [registry, `https://${registry}`, `http://${registry}`];
}

function normaliseKey(k: string): string {
  return k.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
}

function findAuth(cfg: DockerConfig, registry: string) {
  const auths = cfg.auths ?? {};
  for (const k of authKeys(registry)) if (auths[k]) return auths[k];
  const want = normaliseKey(authKeys(registry)[0]!);
  for (const [k, v] of Object.entries(auths)) if (normaliseKey(k) === want) return v;
  return undefined;
}

/** The `auths` entry a docker config stores for this registry (under any key spelling), as a credential. */
export function authsCredential(cfg: DockerConfig, registry: string): Credential | undefined {
  const a = findAuth(cfg, registry);
  if (!a) return undefined;
  if (a.identitytoken) return remember({ identityToken: a.identitytoken });
  if (a.registrytoken) return remember({ registryToken: a.registrytoken });
  if (a.auth) {
    const dec = Buffer.from(a.auth, "base64").toString("utf8");
    const i = dec.indexOf(":");
    if (i > 0) return remember({ username: dec.slice(0, i), password: dec.slice(i + 1) });
  }
  if (a.username && a.password) return remember({ username: a.username, password: a.password });
  return undefined;
}

/** Run docker-credential-<helper> get. Missing credentials → undefined; a broken helper → a clear error. */
export function credentialHelperGet(helper: string, server: string): Promise<Credential | undefined> {
  return new Promise((resolve, reject) => {
    const child = execFile(`docker-credential-${helper}`, ["get"], { timeout: 30_000 }, (err, stdout, stderr) => {
      const out = String(stdout ?? "");
      if (err) {
        if (/not found|no credentials/i.test(out + String(stderr ?? ""))) return resolve(undefined);
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return reject(new OciError(`credential helper docker-credential-${helper} not found on PATH`, "CRED_HELPER", "install it or remove it from the docker config"));
        const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null; code?: unknown };
        const said = String(stderr || out).trim().split("\n")[0];
        const why = e.killed || e.signal ? `it did not answer within 30s (stopped with ${e.signal ?? "SIGTERM"})` : said || `it exited with code ${typeof e.code === "number" ? e.code : "?"} and printed nothing`;
        return reject(new OciError(`credential helper docker-credential-${helper} failed for ${server}: ${why}`, "CRED_HELPER", "run `docker-credential-" + helper + " get` by hand to see what it needs"));
      }
      try {
        const j = JSON.parse(out) as { Username?: string; Secret?: string };
        if (!j.Secret) return resolve(undefined);
        resolve(remember(j.Username === "<token>" ? { identityToken: j.Secret } : { username: j.Username, password: j.Secret }));
      } catch {
        reject(new OciError(`credential helper docker-credential-${helper} returned invalid JSON`, "CRED_HELPER"));
      }
    });
    child.stdin?.end(server);
  });
}

/** Credentials from a docker config.json (plus its credential helpers). */
export function dockerConfigCredentials(file = defaultDockerConfigPath()): CredentialProvider {
  let cfg: DockerConfig | undefined;
  return async (registry) => {
    cfg ??= readDockerConfig(file);
    const helper = cfg.credHelpers?.[registry] ?? (registry === "docker.io" ? cfg.credHelpers?.["index.docker.io"] : undefined);
    if (helper) return credentialHelperGet(helper, registry === "docker.io" ? "https://index.docker.io/v1/" : registry);
    const stored = authsCredential(cfg, registry);
    if (stored) return stored;
    if (cfg.credsStore) return credentialHelperGet(cfg.credsStore, registry === "docker.io" ? "https://index.docker.io/v1/" : registry);
    return undefined;
  };
}

/** Store credentials in a docker config.json (atomically, mode 0600), like `docker login` without a helper. */
export function saveDockerConfigAuth(file: string, registry: string, cred: Credential): void {
  const cfg = readDockerConfig(file);
  cfg.auths ??= {};
  const key = registry === "docker.io" ? "https://index.docker.io/v1/" : registry;
  if (cred.identityToken) cfg.auths[key] = { auth: Buffer.from("<token>:").toString("base64"), identitytoken: cred.identityToken };
  else cfg.auths[key] = { auth: Buffer.from(`${cred.username ?? ""}:${cred.password ?? ""}`).toString("base64") };
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(cfg, null, "\t") + "\n", { mode: 0o600 });
  renameSync(tmp, file);
}

export function removeDockerConfigAuth(file: string, registry: string): boolean {
  const cfg = readDockerConfig(file);
  let removed = false;
  for (const k of authKeys(registry)) if (cfg.auths?.[k]) { delete cfg.auths[k]; removed = true; }
  if (removed) {
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(cfg, null, "\t") + "\n", { mode: 0o600 });
    renameSync(tmp, file);
  }
  return removed;
}
