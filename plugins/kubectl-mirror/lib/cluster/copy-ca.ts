// kubectl mirror copy-ca: copy a registry CA into a workload namespace so pods and controllers there trust the
// mirror. By default it does what the PaletteAI air-gap guide does by hand on the spoke cluster: wait for
// `zot-ca` OR `oci-tls-hub` in `mural-system` (whichever exists; zot-ca first), and create it as `zot-ca` in
// the workload namespace. It works across contexts (hub → spoke). Only the CA key(s) are copied: never
// tls.key or other keys of a TLS secret.
import type { KubeClient, KubeObject } from "../../../../shared/kube/index.ts";

/** The seed's source: the namespace and the secret names it may have, in order of preference. */
export const DEFAULT_CA_NAMESPACE = "mural-system";
export const DEFAULT_CA_SOURCES = ["zot-ca", "oci-tls-hub"];
export const DEFAULT_CA_TARGET = "zot-ca";

export interface CopyCaOptions {
  from: KubeClient;
  to: KubeClient;
  /**
   * Source secret(s): NAMESPACE/NAME, NAMESPACE/NAME1,NAME2 (the first that exists with the key wins) or
   * NAMESPACE (its zot-ca or oci-tls-hub). Default: mural-system/zot-ca,oci-tls-hub
   */
  source?: string;
  /** target namespace */
  namespace: string;
  /** target secret name (default zot-ca) */
  name?: string;
  /** create the target namespace when it does not exist */
  createNamespace?: boolean;
  /** keys to copy (default ca.crt); the first present one is required */
  keys?: string[];
  /** copy under another key name in the target (default: same) */
  targetKey?: string;
  /** wait for the source (ms; 0 = do not wait) */
  waitMs?: number;
  intervalMs?: number;
  /** true/"client": change nothing; "server": send the write to the API server as a dry run (dryRun=All) */
  dryRun?: boolean | "client" | "server";
  onWait?: (msg: string) => void;
}

export interface CopyCaResult {
  source: string;
  target: string;
  keys: string[];
  action: "created" | "updated" | "unchanged" | "would-create" | "would-update";
  /** whether the target namespace was (or, with dry-run, would be) created */
  namespaceCreated: boolean;
  fromContext?: string;
  toContext?: string;
}

export class CopyCaError extends Error {
  override name = "CopyCaError";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

type Secret = KubeObject & { data?: Record<string, string>; type?: string };

/** Parse a copy-ca source: "NS", "NS/NAME", "NS/NAME1,NAME2". */
export function parseCaSource(spec: string | undefined): { namespace: string; names: string[] } {
  if (spec === undefined || spec.trim() === "") return { namespace: DEFAULT_CA_NAMESPACE, names: [...DEFAULT_CA_SOURCES] };
  const DNS = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
  const [ns, rest, extra] = spec.trim().split("/");
  const names = rest === undefined ? [...DEFAULT_CA_SOURCES] : rest.split(",").map((n) => n.trim());
  if (extra !== undefined || !ns || !DNS.test(ns) || !names.length || names.some((n) => !NAME.test(n))) {
    throw new CopyCaError(`source ${spec}: expected NAMESPACE, NAMESPACE/NAME or NAMESPACE/NAME1,NAME2`, `e.g. ${DEFAULT_CA_NAMESPACE}/${DEFAULT_CA_SOURCES.join(",")}`);
  }
  return { namespace: ns, names };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A wait as the user wrote it: 10m, 1h, 7s, 1.5s (not "600s" for --wait 10m). */
function secs(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 100) / 10}s`.replace(/\.0s$/, "s");
}

export async function copyCa(o: CopyCaOptions): Promise<CopyCaResult> {
  const { namespace: sns, names } = parseCaSource(o.source);
  const keys = o.keys?.length ? o.keys : ["ca.crt"];
  const tname = o.name ?? DEFAULT_CA_TARGET;
  const hasKey = (s: Secret | undefined) => !!s && keys.some((k) => s.data?.[k]);
  const refs = names.map((n) => `${sns}/${n}`);
  const what = refs.length === 1 ? `secret ${refs[0]}` : `secret ${refs.slice(0, -1).join(", ")} or ${refs[refs.length - 1]}`;
  const ctx = o.from.config.contextName;
  /** one poll: the first candidate holding the key, and the candidates that exist without it */
  const poll = async () => {
    const found = await Promise.all(names.map((n) => o.from.tryGet<Secret>("v1", "Secret", n, { namespace: sns })));
    const i = found.findIndex(hasKey);
    return { hit: i >= 0 ? { name: names[i]!, secret: found[i]! } : undefined, keyless: found.map((s, j) => (s ? { name: names[j]!, secret: s } : undefined)).filter((x) => !!x) };
  };
  let r = await poll();
  if (!r.hit && o.waitMs) {
    o.onWait?.(`waiting up to ${secs(o.waitMs)} for ${what} with ${keys.join(" or ")}`);
    // poll until the deadline itself (the last poll is at the deadline, not an interval before it)
    const deadline = Date.now() + o.waitMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await sleep(Math.min(o.intervalMs ?? 1000, left));
      r = await poll();
      if (r.hit) break;
    }
  }
  if (!r.hit) {
    const k = r.keyless[0];
    if (k) throw new CopyCaError(`secret ${sns}/${k.name} has no ${keys.join(" or ")} key${o.waitMs ? ` (waited ${secs(o.waitMs)})` : ""}`, `its keys: ${Object.keys(k.secret.data ?? {}).join(", ") || "none"}; pick one with --key`);
    const none = refs.length === 1 ? `secret ${refs[0]}` : `neither secret ${refs.join(" nor ")}`;
    if (o.waitMs) throw new CopyCaError(`${none} ${refs.length === 1 ? "did not appear" : "appeared"} within ${secs(o.waitMs)}${ctx ? ` (context ${ctx})` : ""}`, "is the registry installed (the Compute Pool provisioned)? raise --wait or check --from-context");
    throw new CopyCaError(`${refs.length === 1 ? `secret ${refs[0]} not found` : `${none} exists`}${ctx ? ` in context ${ctx}` : ""}`, "add --wait 5m to wait for it");
  }
  const sname = r.hit.name;
  const src = r.hit.secret;
  const picked = keys.filter((k) => src.data?.[k]);
  const data: Record<string, string> = {};
  if (o.targetKey) data[o.targetKey] = src.data![picked[0]!]!;
  else for (const k of picked) data[k] = src.data![k]!;
  const result: CopyCaResult = { source: `${sns}/${sname}`, target: `${o.namespace}/${tname}`, keys: Object.keys(data), action: "created", namespaceCreated: false, fromContext: ctx, toContext: o.to.config.contextName };
  const existing = await o.to.tryGet<Secret>("v1", "Secret", tname, { namespace: o.namespace });
  const labels = { "app.kubernetes.io/managed-by": "kubectl-mirror" };
  const annotations = { "mirror.kube-airgap.io/copied-from": `${ctx ? `${ctx}:` : ""}${sns}/${sname}` };
  if (existing) {
    const same = Object.entries(data).every(([k, v]) => existing.data?.[k] === v);
    if (same) return { ...result, action: "unchanged" };
    if (o.dryRun && o.dryRun !== "server") return { ...result, action: "would-update" };
    await o.to.modify<Secret>("v1", "Secret", tname, (s) => ({ ...s, data: { ...(s.data ?? {}), ...data } }), { namespace: o.namespace, dryRun: o.dryRun === "server" });
    return { ...result, action: o.dryRun ? "would-update" : "updated" };
  }
  const ns = await o.to.tryGet("v1", "Namespace", o.namespace);
  if (!ns) {
    if (!o.createNamespace) throw new CopyCaError(`namespace ${o.namespace} does not exist${o.to.config.contextName ? ` in context ${o.to.config.contextName}` : ""}`, "add --create-namespace, or create it first (kubectl create namespace …)");
    result.namespaceCreated = true;
    if (!o.dryRun) await o.to.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: o.namespace, labels } } as KubeObject);
    // a server dry run of the namespace; the secret's own dry run would fail in a namespace that does not exist
    else if (o.dryRun === "server") {
      await o.to.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: o.namespace, labels } } as KubeObject, { dryRun: true });
      return { ...result, action: "would-create" };
    }
  }
  if (o.dryRun && o.dryRun !== "server") return { ...result, action: "would-create" };
  await o.to.create({ apiVersion: "v1", kind: "Secret", metadata: { name: tname, namespace: o.namespace, labels, annotations }, type: "Opaque", data } as KubeObject, { namespace: o.namespace, dryRun: o.dryRun === "server" });
  return o.dryRun ? { ...result, action: "would-create" } : result;
}
