// kubectl mirror copy-ca: copy a registry CA (e.g. zot-system/zot-ca, or the ca.crt of oci-tls-hub) into a
// workload namespace so pods and controllers there trust the mirror — waiting for the source to appear (it is
// often created by cert-manager after install), across contexts (hub → spoke). Only the CA key(s) are copied:
// never tls.key or other keys of a TLS secret.
import type { KubeClient, KubeObject } from "../../../shared/kube/index.ts";
import { KubeTimeoutError } from "../../../shared/kube/index.ts";
import { parseSecretRef } from "./credentials.ts";

export interface CopyCaOptions {
  from: KubeClient;
  to: KubeClient;
  /** NAMESPACE/NAME of the source secret */
  source: string;
  /** target namespace */
  namespace: string;
  /** target secret name (default: the source name) */
  name?: string;
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

export async function copyCa(o: CopyCaOptions): Promise<CopyCaResult> {
  const { namespace: sns, name: sname } = parseSecretRef(o.source, "source");
  const keys = o.keys?.length ? o.keys : ["ca.crt"];
  const tname = o.name ?? sname;
  let src: Secret | undefined;
  const hasKey = (s: Secret | undefined) => !!s && keys.some((k) => s.data?.[k]);
  if (o.waitMs) {
    o.onWait?.(`waiting up to ${Math.round(o.waitMs / 1000)}s for secret ${sns}/${sname} with ${keys.join(" or ")}`);
    try {
      src = (await o.from.waitFor<Secret>("v1", "Secret", sname, (s) => hasKey(s), { namespace: sns, timeoutMs: o.waitMs, intervalMs: o.intervalMs ?? 1000 })) as Secret;
    } catch (e) {
      if (e instanceof KubeTimeoutError) {
        const now = await o.from.tryGet<Secret>("v1", "Secret", sname, { namespace: sns });
        throw new CopyCaError(`secret ${sns}/${sname} ${now ? `has no ${keys.join(" or ")} key` : "did not appear"} within ${Math.round(o.waitMs / 1000)}s${o.from.config.contextName ? ` (context ${o.from.config.contextName})` : ""}`, now ? `its keys: ${Object.keys(now.data ?? {}).join(", ")}; pick one with --key` : "is the registry installed? raise --wait or check --from-context");
      }
      throw e;
    }
  } else {
    src = await o.from.tryGet<Secret>("v1", "Secret", sname, { namespace: sns });
    if (!src) throw new CopyCaError(`secret ${sns}/${sname} not found${o.from.config.contextName ? ` in context ${o.from.config.contextName}` : ""}`, "add --wait 5m to wait for it");
    if (!hasKey(src)) throw new CopyCaError(`secret ${sns}/${sname} has no ${keys.join(" or ")} key`, `its keys: ${Object.keys(src.data ?? {}).join(", ")}; pick one with --key`);
  }
  const picked = keys.filter((k) => src!.data?.[k]);
  const data: Record<string, string> = {};
  if (o.targetKey) data[o.targetKey] = src!.data![picked[0]!]!;
  else for (const k of picked) data[k] = src!.data![k]!;
  const result: CopyCaResult = { source: `${sns}/${sname}`, target: `${o.namespace}/${tname}`, keys: Object.keys(data), action: "created", fromContext: o.from.config.contextName, toContext: o.to.config.contextName };
  const existing = await o.to.tryGet<Secret>("v1", "Secret", tname, { namespace: o.namespace });
  const labels = { "app.kubernetes.io/managed-by": "kubectl-mirror" };
  const annotations = { "mirror.kube-airgap.io/copied-from": `${o.from.config.contextName ? `${o.from.config.contextName}:` : ""}${sns}/${sname}` };
  if (existing) {
    const same = Object.entries(data).every(([k, v]) => existing.data?.[k] === v);
    if (same) return { ...result, action: "unchanged" };
    if (o.dryRun && o.dryRun !== "server") return { ...result, action: "would-update" };
    await o.to.modify<Secret>("v1", "Secret", tname, (s) => ({ ...s, data: { ...(s.data ?? {}), ...data } }), { namespace: o.namespace, dryRun: o.dryRun === "server" });
    return { ...result, action: o.dryRun ? "would-update" : "updated" };
  }
  if (o.dryRun && o.dryRun !== "server") return { ...result, action: "would-create" };
  const ns = await o.to.tryGet("v1", "Namespace", o.namespace);
  if (!ns) throw new CopyCaError(`namespace ${o.namespace} does not exist${o.to.config.contextName ? ` in context ${o.to.config.contextName}` : ""}`, "create it first (kubectl create namespace …)");
  await o.to.create({ apiVersion: "v1", kind: "Secret", metadata: { name: tname, namespace: o.namespace, labels, annotations }, type: "Opaque", data } as KubeObject, { namespace: o.namespace, dryRun: o.dryRun === "server" });
  return o.dryRun ? { ...result, action: "would-create" } : result;
}
