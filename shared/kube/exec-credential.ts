// Exec credential plugins (client.authentication.k8s.io ExecCredential), the way kubectl runs them:
// stdout is the ExecCredential JSON; stderr is left to the user, and stdin too when we are on a terminal (and
// interactiveMode allows it), so interactive logins (kubelogin, device codes) work. Results are cached in the
// process until `expirationTimestamp` (or forever if none) and dropped on a 401.
import { spawn } from "node:child_process";
import { registerSecret } from "../runtime/redact.ts";
import type { ExecConfig } from "./config.ts";
import { ExecCredentialError } from "./errors.ts";

export interface ExecCredentialResult {
  token?: string;
  clientCertificateData?: string;
  clientKeyData?: string;
  /** ms since epoch, undefined = no expiry */
  expiresAt?: number;
}

const cache = new Map<string, ExecCredentialResult>();
const inflight = new Map<string, Promise<ExecCredentialResult>>();

function key(exec: ExecConfig, server: string): string {
  return JSON.stringify([exec.command, exec.args ?? [], exec.env ?? [], exec.apiVersion ?? "", server]);
}

/** Forget a cached credential (after the server rejected it). */
export function invalidateExecCredential(exec: ExecConfig, server: string): void {
  cache.delete(key(exec, server));
}

/** Test helper: forget all cached credentials. */
export function clearExecCredentialCache(): void {
  cache.clear();
}

export interface ExecClusterInfo {
  server: string;
  "certificate-authority-data"?: string;
  "insecure-skip-tls-verify"?: boolean;
  "tls-server-name"?: string;
  "proxy-url"?: string;
}

/** The credential for this exec config, from the cache or by running the plugin. */
export async function getExecCredential(exec: ExecConfig, cluster: ExecClusterInfo, opts: { now?: () => number; stdinIsTTY?: boolean } = {}): Promise<ExecCredentialResult> {
  const k = key(exec, cluster.server);
  const now = opts.now ?? Date.now;
  const hit = cache.get(k);
  // treat as expired 10 s early so a request does not race the expiry
  if (hit && (hit.expiresAt === undefined || hit.expiresAt - 10_000 > now())) return hit;
  let p = inflight.get(k);
  if (!p) {
    p = runExecPlugin(exec, cluster, opts.stdinIsTTY ?? !!process.stdin.isTTY).finally(() => inflight.delete(k));
    inflight.set(k, p);
  }
  const res = await p;
  cache.set(k, res);
  return res;
}

/** Run the plugin once and parse its ExecCredential. */
export async function runExecPlugin(exec: ExecConfig, cluster: ExecClusterInfo, stdinIsTTY: boolean): Promise<ExecCredentialResult> {
  const apiVersion = exec.apiVersion ?? "client.authentication.k8s.io/v1beta1";
  if (!/^client\.authentication\.k8s\.io\/(v1|v1beta1|v1alpha1)$/.test(apiVersion)) {
    throw new ExecCredentialError(`exec plugin ${exec.command}: unsupported apiVersion "${apiVersion}"`);
  }
  const mode = exec.interactiveMode ?? (apiVersion.endsWith("/v1") ? undefined : "IfAvailable");
  if (apiVersion.endsWith("/v1") && !mode) throw new ExecCredentialError(`exec plugin ${exec.command}: interactiveMode must be set for ${apiVersion}`);
  const interactive = mode !== "Never" && stdinIsTTY;
  if (mode === "Always" && !interactive) {
    throw new ExecCredentialError(`exec plugin ${exec.command} needs an interactive terminal (interactiveMode: Always) but stdin is not a terminal`);
  }
  const spec: Record<string, unknown> = { interactive };
  if (exec.provideClusterInfo) spec.cluster = cluster;
  const env = { ...process.env } as Record<string, string>;
  for (const e of exec.env ?? []) env[e.name] = e.value;
  env.KUBERNETES_EXEC_INFO = JSON.stringify({ apiVersion, kind: "ExecCredential", spec });

  const out = await new Promise<string>((resolve, reject) => {
    let child;
    try {
      child = spawn(exec.command, exec.args ?? [], { env, stdio: [interactive ? "inherit" : "ignore", "pipe", "inherit"] });
    } catch (e: any) {
      return reject(e);
    }
    const chunks: Buffer[] = [];
    child.stdout!.on("data", (c: Buffer) => chunks.push(c));
    child.on("error", (e: any) => {
      const hint = exec.installHint ? ` (${exec.installHint.trim().replace(/\s+/g, " ")})` : "";
      reject(new ExecCredentialError(e?.code === "ENOENT" ? `exec plugin ${exec.command} not found${hint}` : `exec plugin ${exec.command} failed to start: ${e?.message}`));
    });
    child.on("close", (code: number | null, signal: string | null) => {
      if (code !== 0) return reject(new ExecCredentialError(`exec plugin ${exec.command} exited with ${signal ? `signal ${signal}` : `code ${code}`}`));
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
  });
  let cred: any;
  try {
    cred = JSON.parse(out);
  } catch {
    throw new ExecCredentialError(`exec plugin ${exec.command} did not print an ExecCredential JSON object on stdout`);
  }
  if (cred?.kind !== "ExecCredential") throw new ExecCredentialError(`exec plugin ${exec.command} printed kind "${cred?.kind}", want ExecCredential`);
  if (cred.apiVersion && cred.apiVersion !== apiVersion) {
    throw new ExecCredentialError(`exec plugin ${exec.command} returned apiVersion ${cred.apiVersion}, configured ${apiVersion}`);
  }
  const st = cred.status ?? {};
  const res: ExecCredentialResult = {};
  if (st.token) {
    res.token = String(st.token);
    registerSecret(res.token);
  }
  if (st.clientCertificateData || st.clientKeyData) {
    if (!st.clientCertificateData || !st.clientKeyData) throw new ExecCredentialError(`exec plugin ${exec.command} returned a client certificate without a key`);
    res.clientCertificateData = st.clientCertificateData;
    res.clientKeyData = st.clientKeyData;
    registerSecret(st.clientKeyData);
  }
  if (!res.token && !res.clientCertificateData) throw new ExecCredentialError(`exec plugin ${exec.command} returned neither a token nor a client certificate`);
  if (st.expirationTimestamp) {
    const t = Date.parse(st.expirationTimestamp);
    if (Number.isNaN(t)) throw new ExecCredentialError(`exec plugin ${exec.command} returned an invalid expirationTimestamp ${JSON.stringify(st.expirationTimestamp)}`);
    res.expiresAt = t;
  }
  return res;
}
