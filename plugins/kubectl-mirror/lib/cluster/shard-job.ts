// What one pod of the in-cluster Job runs (`kubectl mirror run-shard`), and the plan it reads. The plan is the
// shard planner's result for registry → registry items, serialised into a ConfigMap; credentials come from the
// Secret next to it as a docker config.json (+ ca.crt), mounted as files — never in the pod spec or the logs.
// The pod prints one JSON line per finished item on stdout (the client reads them back from the pod logs).
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { CopyEngine, type CopyJob } from "../../../../shared/oci/copy.ts";
import { createClient, type RegistryOptions } from "../../../../shared/oci/client.ts";
import { parsePlatform } from "../../../../shared/oci/platform.ts";
import { dockerConfigCredentials } from "../../../../shared/oci/transport/credentials.ts";
import { shardBlobSource } from "../plan/shard-plan.ts";
import { itemResult, type ItemResult } from "../transfer/sync.ts";
import { RepoCache } from "../inputs/targets.ts";

export const PLAN_API = "mirror.kube-airgap.io/v1";

export interface ShardPlanItem {
  id: number;
  shard: number;
  kind: "image" | "copy";
  /** as the user named it */
  source: string;
  /** where it is pulled from (source mirrors applied) */
  pull: string;
  /** host/repo[:tag][@digest] */
  destination: string;
  tags: string[];
  bytes: number;
}

export interface ShardPlanFile {
  apiVersion: typeof PLAN_API;
  kind: "MirrorShardPlan";
  shards: number;
  /** how long a shard waits for a blob another shard uploads before copying it itself */
  waitSeconds: number;
  concurrency: number;
  platforms: string[];
  extras: boolean;
  registry: { plainHttp: boolean | string[]; insecure: boolean | string[]; ca: boolean; retries?: number };
  items: ShardPlanItem[];
  /** blob digest → id of the item that uploads it (only blobs more than one shard needs) */
  owners: Record<string, number>;
}

/** A pod's JSON line for one item. */
export interface ShardReportLine {
  kind: "item";
  id: number;
  shard: number;
  result: ItemResult & { blobsMounted: number };
}

export function readPlanFile(path: string): ShardPlanFile {
  const dir = existsSync(join(path, "plan.json")) || existsSync(join(path, "plan.json.gz")) ? path : undefined;
  const file = dir ? (existsSync(join(dir, "plan.json")) ? join(dir, "plan.json") : join(dir, "plan.json.gz")) : path;
  const raw = readFileSync(file);
  const text = file.endsWith(".gz") ? gunzipSync(raw).toString("utf8") : raw.toString("utf8");
  const plan = JSON.parse(text) as ShardPlanFile;
  if (plan.apiVersion !== PLAN_API || plan.kind !== "MirrorShardPlan") throw new Error(`${file}: not a ${PLAN_API} MirrorShardPlan`);
  return plan;
}

/** Registry options of a pod: the plan's transport settings, the mounted docker config and CA. */
export function podRegistryOptions(plan: ShardPlanFile, authDir: string | undefined): RegistryOptions {
  const ca = authDir && plan.registry.ca && existsSync(join(authDir, "ca.crt")) ? [{ file: join(authDir, "ca.crt") }] : [];
  const cfg = authDir ? join(authDir, "config.json") : undefined;
  return {
    plainHttp: plan.registry.plainHttp,
    insecure: plan.registry.insecure,
    caFiles: ca,
    retries: plan.registry.retries,
    credentials: cfg && existsSync(cfg) ? dockerConfigCredentials(cfg) : async () => undefined,
    registryConfig: cfg,
  };
}

/** Run shard `index` of the plan; every finished item goes to `emit` at once. Returns the failed count. */
export async function runPlanShard(plan: ShardPlanFile, index: number, registry: RegistryOptions, emit: (line: ShardReportLine) => void, log: (m: string) => void = () => {}): Promise<{ items: number; failed: number }> {
  if (!Number.isInteger(index) || index < 0 || index >= plan.shards) throw new Error(`shard index ${index} is outside the plan's 0-${plan.shards - 1}`);
  const client = createClient(registry);
  const repos = new RepoCache(client);
  const mine = plan.items.filter((i) => i.shard === index);
  const byId = new Map(plan.items.map((i) => [i.id, i]));
  const jobs: CopyJob[] = mine.map((i) => {
    const src = repos.open(i.pull);
    const dst = repos.open(i.destination);
    return { src: src.store, srcRef: src.reference, dst: dst.store, dstTags: i.tags, label: `${i.source} → ${i.destination}` };
  });
  const warnings = new Map<CopyJob, string[]>();
  const blobSource = shardBlobSource(
    (digest) => {
      const o = plan.owners[digest];
      const owner = o === undefined ? undefined : byId.get(o);
      return owner && owner.shard !== index ? repos.open(owner.destination).store : undefined;
    },
    { waitMs: plan.waitSeconds * 1000, onWarn: (job, m) => (warnings.set(job, [...(warnings.get(job) ?? []), m]), log(m)) },
  );
  let failed = 0;
  log(`shard ${index + 1}/${plan.shards}: ${mine.length} item(s)`);
  const engine = new CopyEngine({
    concurrency: plan.concurrency,
    platforms: plan.platforms.map(parsePlatform),
    extras: plan.extras,
    blobSource,
    onEvent: (e) => {
      if (e.type !== "done") return;
      const item = mine[e.job]!;
      const r = e.result;
      r.warnings.push(...(warnings.get(jobs[e.job]!) ?? []));
      if (r.status === "failed") failed++;
      emit({ kind: "item", id: item.id, shard: index, result: { ...itemResult(item.kind === "copy" ? "image" : item.kind, item.source, item.destination, r), blobsMounted: r.blobsMounted } });
    },
  });
  try {
    await engine.run(jobs);
  } finally {
    client.transport.close();
  }
  return { items: mine.length, failed };
}
