// Push many sources to one target concurrently: package each (addon dir, chart dir, .tgz), upload it to a
// ChartMuseum-style repo or an OCI registry, report one result per source.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { discoverContextPath, uploadChart, type UploadResult } from "../../../shared/chartmuseum/client.ts";
import type { RegistryOptions } from "../../../shared/oci/client.ts";
import { prepareChart, type PackageOptions, type PreparedChart } from "./package.ts";
import { targetLabel, type ChartMuseumTarget, type PushTarget } from "./target.ts";
import { removeOnInterrupt } from "../../../shared/runtime/interrupt.ts";

export interface PushOptions extends PackageOptions {
  force?: boolean;
  skipExisting?: boolean;
  /** parallel pushes (default 4) */
  concurrency?: number;
  /** idle timeout per request, ms */
  timeoutMs?: number;
  /** package and resolve, but upload nothing */
  dryRun?: boolean;
  /** OCI registry options (from registryOptionsFromArgs), needed for oci:// targets */
  registry?: unknown;
  /** called as each source finishes */
  onResult?: (r: PushResult) => void;
}

export interface PushResult {
  source: string;
  /** packaged file name, e.g. fluxcd-1.2.0.tgz (empty when packaging failed) */
  file: string;
  chart?: string;
  version?: string;
  /** the chart repository pushed to, as given (oci://host/path, a ChartMuseum URL or a repo name) */
  repository: string;
  status: "pushed" | "skipped" | "would-push" | "failed";
  /** OCI reference or upload URL */
  destination?: string;
  digest?: string;
  prov?: boolean;
  error?: string;
  /** packaged files that are often unintended (see package.ts) */
  warnings?: string[];
}

/** Run `fn` over `items` with at most `n` in flight, keeping input order in the result. */
export async function mapLimit<T, R>(items: T[], n: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
  return out;
}

async function pushOne(p: PreparedChart, target: PushTarget, o: PushOptions): Promise<Pick<PushResult, "status" | "destination" | "digest" | "prov">> {
  if (target.kind === "oci") {
    const { pushChartOci, ociReference } = await import("./oci.ts");
    if (o.dryRun) return { status: "would-push", destination: ociReference(target.base, p.metadata) };
    const r = await pushChartOci(target.base, p, o.registry);
    return { status: "pushed", destination: r.reference, digest: r.digest, prov: r.prov };
  }
  if (o.dryRun) return { status: "would-push", destination: target.url };
  const r: UploadResult = await uploadChart({ url: target.url, name: target.name }, p.file, {
    force: o.force,
    skipExisting: o.skipExisting,
    prov: p.prov ?? false,
    auth: target.auth,
    tls: target.tls,
    contextPath: target.contextPath ?? "",
    timeoutMs: o.timeoutMs,
  });
  return { status: r.status, destination: r.url, prov: r.prov };
}

/**
 * Package and push every source. Never throws for a single source's failure: each gets a result with
 * status "failed" and the error message. Throws only for problems with the target itself.
 */
export async function pushAll(sources: string[], target: PushTarget, o: PushOptions = {}): Promise<PushResult[]> {
  const label = targetLabel(target);
  let t: PushTarget = target;
  if (t.kind === "chartmuseum" && t.contextPath === undefined && !o.dryRun) {
    // once for all sources; auth and network problems surface here, before any packaging
    t = { ...t, contextPath: await discoverContextPath({ url: t.url, name: t.name }, { auth: t.auth, tls: t.tls, timeoutMs: o.timeoutMs }).catch((err) => {
      if ((err as { status?: number }).status === 0 || (err as { status?: number }).status === 401 || (err as { status?: number }).status === 403) throw err;
      return "";
    }) } as ChartMuseumTarget;
  }
  if (t.kind === "oci" && !o.dryRun && o.registry && !("client" in (o.registry as object))) {
    // one client for every source: one TLS pool and one login per registry, not one per chart
    const { createClient } = await import("../../../shared/oci/client.ts");
    const reg = o.registry as RegistryOptions;
    o = { ...o, registry: { client: createClient(reg), chunkSize: reg.chunkSize } };
  }
  const work = await mkdtemp(join(tmpdir(), "addon-push-"));
  const unregister = removeOnInterrupt(`pushing to ${label}`, work);
  try {
    return await mapLimit(sources, o.concurrency ?? 4, async (source, i) => {
      let prepared: PreparedChart | undefined;
      let result: PushResult;
      try {
        prepared = await prepareChart(source, join(work, String(i)), o);
        const r = await pushOne(prepared, t, o);
        result = { source, file: basename(prepared.file), chart: String(prepared.metadata.name), version: String(prepared.metadata.version), repository: label, ...r, ...(prepared.warnings?.length ? { warnings: prepared.warnings } : {}) };
      } catch (err) {
        result = {
          source,
          file: prepared ? basename(prepared.file) : "",
          chart: prepared ? String(prepared.metadata.name) : undefined,
          version: prepared ? String(prepared.metadata.version) : undefined,
          repository: label,
          status: "failed",
          // the hint (e.g. "the registry seems to speak plain HTTP: add --plain-http") is what to do about it
          error: (err as Error).message ? `${(err as Error).message}${(err as { hint?: string }).hint ? ` (${(err as { hint?: string }).hint})` : ""}` : String(err),
        };
      }
      o.onResult?.(result);
      return result;
    });
  } finally {
    await rm(work, { recursive: true, force: true });
    unregister();
  }
}

/** cm-push style line for a result. */
export function resultLine(r: PushResult): string {
  const what = r.file || basename(r.source);
  if (r.status === "pushed") return `Pushing ${what} to ${r.repository}... Done.${r.digest ? ` (${r.destination} ${r.digest})` : ""}`;
  if (r.status === "skipped") return `Pushing ${what} to ${r.repository}... Skipped (already exists).`;
  if (r.status === "would-push") return `Pushing ${what} to ${r.repository}... Dry run (${r.destination}).`;
  return `Pushing ${what} to ${r.repository}... Failed: ${r.error}`;
}
