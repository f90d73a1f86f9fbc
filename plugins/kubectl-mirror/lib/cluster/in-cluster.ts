// `kubectl mirror sync|copy --in-cluster`: plan on the client, run the transfer as one Indexed Job next to the
// registry, merge the pods' reports. Design: docs/in-cluster.md.
//   1. plan      resolve every item in the source (shard-plan.ts), drop what the destination already has,
//                split the rest into N shards balanced by upload bytes, one owner per shared blob
//   2. image     the runner image (runner-image.ts): --runner-base + this plugin's linux binary, pushed to the
//                destination registry, pinned by digest
//   3. apply     Job (suspended) → ConfigMap (plan) and Secret (docker config.json + CA), both owned by the Job
//                so they go with it → Job resumed
//   4. watch     Job status until Complete/Failed (progress on stderr; pods that cannot start end the run)
//   5. merge     each pod's JSON lines (newest pod of an index wins), items nobody reported are failed with the
//                shard's reason; the Job (and with it the Secret) is deleted unless --keep-job
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { KubeApiError, type KubeClient, type KubeObject } from "../../../../shared/kube/index.ts";
import { createClient, type RegistryOptions } from "../../../../shared/oci/client.ts";
import type { CopyJob } from "../../../../shared/oci/copy.ts";
import { formatPlatform } from "../../../../shared/oci/platform.ts";
import { parseRegistryReference } from "../../../../shared/oci/reference.ts";
import type { Platform } from "../../../../shared/oci/types.ts";
import { buildRunnerImage, findRunnerBinary, runnerRepository, runnerTag, RUNNER_PATH, type Arch } from "./runner-image.ts";
import { rbacSummary } from "./in-cluster-rbac.ts";
import { assignShards, planJobs } from "../plan/shard-plan.ts";
import { PLAN_API, type ShardPlanFile, type ShardPlanItem, type ShardReportLine } from "./shard-job.ts";
import type { ItemResult } from "../transfer/sync.ts";
import { RepoCache } from "../inputs/targets.ts";

export class InClusterError extends Error {
  override name = "InClusterError";
  code = "IN_CLUSTER";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

/** A registry → registry item of the run. */
export interface ClusterItem {
  kind: "image" | "copy";
  source: string;
  pull: string;
  destination: string;
  tags: string[];
}

export interface InClusterOptions {
  kube?: KubeClient;
  namespace: string;
  shards: number;
  /** registry[/path] the runner image goes under (<dest>/kube-airgap/mirror-runner) */
  dest: string;
  runnerBase?: string;
  runnerBinary?: string;
  registry: RegistryOptions;
  concurrency: number;
  platforms: Platform[];
  extras: boolean;
  waitSeconds?: number;
  /** print the manifests, create nothing */
  dryRun?: boolean;
  keepJob?: boolean;
  /** give up on the Job after this long (default: wait) */
  timeoutMs?: number;
  log: (m: string) => void;
}

export interface InClusterResult {
  /** one per item, in the order given */
  items: (ItemResult & { blobsMounted?: number })[];
  /** the manifests (dry run: what would be applied; else what was applied) */
  manifests: KubeObject[];
  job?: string;
}

const LABEL = "app.kubernetes.io/managed-by";
const MANAGER = "kube-airgap-mirror";
const PLAN_MOUNT = "/etc/kube-airgap/plan";
const AUTH_MOUNT = "/etc/kube-airgap/auth";
/** ConfigMaps hold at most 1 MiB; past this the plan is stored gzipped */
const PLAN_INLINE_MAX = 512 << 10;
/** uid and gid of the pods (distroless "nonroot"); also the fsGroup that makes the mounted Secret readable */
const RUNNER_UID = 65532;

function emptyResult(item: ClusterItem, status: ItemResult["status"], digest?: string, error?: string): ItemResult {
  return { kind: "image", source: item.source, destination: item.destination, status, digest, bytesCopied: 0, blobs: 0, blobsCopied: 0, extras: 0, warnings: [], ...(error ? { error } : {}) };
}

/** Cluster architecture: the nodes' (majority), else the API server's platform, else amd64. */
export async function clusterArch(kube: KubeClient): Promise<Arch> {
  const nodes = await kube.list("v1", "Node").catch(() => [] as KubeObject[]);
  const count = new Map<string, number>();
  for (const n of nodes) {
    const a = (n as any).status?.nodeInfo?.architecture;
    if (a) count.set(a, (count.get(a) ?? 0) + 1);
  }
  let arch = [...count].sort((a, b) => b[1] - a[1])[0]?.[0];
  if (!arch) arch = String((await kube.version().catch(() => ({}) as Record<string, unknown>)).platform ?? "").split("/")[1];
  return arch === "arm64" ? "arm64" : "amd64";
}

/** Indexed Jobs' backoffLimitPerIndex: beta and on by default from Kubernetes 1.29. */
export async function supportsBackoffLimitPerIndex(kube: KubeClient | undefined): Promise<boolean> {
  if (!kube) return true;
  const v = await kube.version().catch(() => undefined);
  if (!v) return true;
  const minor = parseInt(String(v.minor ?? "").replace(/\D.*$/, ""), 10);
  return String(v.major) !== "1" || !Number.isFinite(minor) || minor >= 29;
}

/** docker config.json with the credentials the client would use for these hosts (only those). */
export async function podDockerConfig(hosts: string[], registry: RegistryOptions): Promise<{ json: string; hosts: string[] }> {
  const auths: Record<string, Record<string, string>> = {};
  for (const h of [...new Set(hosts)].sort()) {
    const c = await registry.credentials?.(h).catch(() => undefined);
    if (!c) continue;
    if (c.username !== undefined && c.password !== undefined) auths[h] = { auth: Buffer.from(`${c.username}:${c.password}`).toString("base64") };
    else if (c.identityToken) auths[h] = { identitytoken: c.identityToken };
    else if (c.registryToken) auths[h] = { registrytoken: c.registryToken };
  }
  return { json: JSON.stringify({ auths }), hosts: Object.keys(auths) };
}

export function jobName(planJson: string): string {
  return `kubectl-mirror-${createHash("sha256").update(planJson).digest("hex").slice(0, 10)}`;
}

/** Job, ConfigMap and Secret for a plan. `secretData` undefined (dry run): the Secret shows placeholders. */
export function jobManifests(o: { name: string; namespace: string; image: string; plan: ShardPlanFile; perIndex: boolean; secretData?: Record<string, string>; secretKeys: string[] }): KubeObject[] {
  const labels = { [LABEL]: MANAGER, "app.kubernetes.io/name": "kubectl-mirror", "app.kubernetes.io/instance": o.name };
  const planJson = JSON.stringify(o.plan);
  const cmData = Buffer.byteLength(planJson) > PLAN_INLINE_MAX ? { binaryData: { "plan.json.gz": gzipSync(planJson).toString("base64") } } : { data: { "plan.json": planJson } };
  const n = o.plan.shards;
  const job: KubeObject = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: o.name, namespace: o.namespace, labels },
    spec: {
      completionMode: "Indexed",
      completions: n,
      parallelism: n,
      ...(o.perIndex ? { backoffLimitPerIndex: 2, maxFailedIndexes: n } : { backoffLimit: 2 * n }),
      ttlSecondsAfterFinished: 3600,
      suspend: true,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          // the kubelet writes Secret files owned by root: fsGroup makes them group 65532 (group-readable), and
          // the pod's user is in that group (docs/in-cluster.md, "On the node")
          securityContext: { runAsNonRoot: true, runAsUser: RUNNER_UID, runAsGroup: RUNNER_UID, fsGroup: RUNNER_UID, seccompProfile: { type: "RuntimeDefault" } },
          containers: [
            {
              name: "mirror",
              image: o.image,
              command: [RUNNER_PATH, "run-shard", "--plan", `${PLAN_MOUNT}`, "--auth", AUTH_MOUNT],
              env: [{ name: "TMPDIR", value: "/tmp" }, { name: "NO_COLOR", value: "1" }],
              resources: { requests: { cpu: "250m", memory: "128Mi" }, limits: { memory: "512Mi" } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
              volumeMounts: [
                { name: "plan", mountPath: PLAN_MOUNT, readOnly: true },
                { name: "auth", mountPath: AUTH_MOUNT, readOnly: true },
                { name: "tmp", mountPath: "/tmp" },
              ],
            },
          ],
          volumes: [
            { name: "plan", configMap: { name: `${o.name}-plan`, defaultMode: 0o440 } },
            { name: "auth", secret: { secretName: `${o.name}-auth`, defaultMode: 0o440 } },
            { name: "tmp", emptyDir: {} },
          ],
        },
      },
    },
  };
  const cm: KubeObject = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${o.name}-plan`, namespace: o.namespace, labels }, ...cmData };
  const secret: KubeObject = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: `${o.name}-auth`, namespace: o.namespace, labels },
    type: "Opaque",
    ...(o.secretData
      ? { data: Object.fromEntries(Object.entries(o.secretData).map(([k, v]) => [k, Buffer.from(v).toString("base64")])) }
      : { stringData: Object.fromEntries(o.secretKeys.map((k) => [k, "<written at run time; not printed>"])) }),
  };
  return [job, cm, secret];
}

function ownedBy(obj: KubeObject, job: KubeObject): KubeObject {
  return { ...obj, metadata: { ...obj.metadata, ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: job.metadata.name ?? "", uid: job.metadata.uid ?? "" }] } };
}

/** Plan: resolve in the source, drop what the destination has, split into shards. */
export async function planCluster(items: ClusterItem[], o: Pick<InClusterOptions, "registry" | "shards" | "platforms" | "concurrency" | "extras" | "waitSeconds">): Promise<{ plan: ShardPlanFile; upToDate: Map<number, ItemResult>; failed: Map<number, ItemResult> }> {
  const client = createClient(o.registry);
  const repos = new RepoCache(client);
  try {
    const jobs: CopyJob[] = items.map((i) => {
      const s = repos.open(i.pull);
      const d = repos.open(i.destination);
      return { src: s.store, srcRef: s.reference, dst: d.store, dstTags: i.tags };
    });
    const planned = await planJobs(jobs, { platforms: o.platforms });
    const upToDate = new Map<number, ItemResult>();
    const failed = new Map<number, ItemResult>();
    // already there (same digest under every tag): nothing for the Job (platform filters change digests: always run)
    await Promise.all(
      items.map(async (it, i) => {
        const p = planned[i]!;
        if (p.error) return void failed.set(i, emptyResult(it, "failed", undefined, p.error));
        if (o.platforms.length || !p.digest) return;
        const d = jobs[i]!.dst;
        const ok = it.tags.length
          ? (await Promise.all(it.tags.map((t) => d.resolve(t).then((x) => x.digest === p.digest, () => false)))).every(Boolean)
          : await d.exists({ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: p.digest, size: 0 }).catch(() => false);
        if (ok) upToDate.set(i, { ...emptyResult(it, "up-to-date", p.digest), blobs: p.blobs.length });
      }),
    );
    const todo = items.map((_, i) => i).filter((i) => !upToDate.has(i) && !failed.has(i));
    const shards = Math.max(1, Math.min(o.shards, todo.length));
    const a = assignShards(todo.map((i) => planned[i]!), shards);
    const planItems: ShardPlanItem[] = todo.map((i, k) => ({ id: i, shard: a.shardOf[k]!, kind: items[i]!.kind, source: items[i]!.source, pull: items[i]!.pull, destination: items[i]!.destination, tags: items[i]!.tags, bytes: planned[i]!.bytes }));
    const owners: Record<string, number> = {};
    // only blobs needed by more than one shard are listed
    const shardsOf = new Map<string, Set<number>>();
    todo.forEach((i, k) => planned[i]!.blobs.forEach((b) => shardsOf.set(b.digest, (shardsOf.get(b.digest) ?? new Set()).add(a.shardOf[k]!))));
    for (const [d, s] of shardsOf) if (s.size > 1) owners[d] = todo[a.owner.get(d)!]!;
    const reg = o.registry;
    const plan: ShardPlanFile = {
      apiVersion: PLAN_API,
      kind: "MirrorShardPlan",
      shards,
      waitSeconds: o.waitSeconds ?? 900,
      concurrency: o.concurrency,
      platforms: o.platforms.map(formatPlatform),
      extras: o.extras,
      registry: { plainHttp: reg.plainHttp ?? false, insecure: reg.insecure ?? false, ca: !!reg.caFiles?.length, ...(reg.retries !== undefined ? { retries: reg.retries } : {}) },
      items: planItems,
      owners,
    };
    return { plan, upToDate, failed };
  } finally {
    client.transport.close();
  }
}

function caBundle(reg: RegistryOptions): string | undefined {
  if (!reg.caFiles?.length) return undefined;
  return reg.caFiles.map((f) => readFileSync(f.file, "utf8")).join("\n");
}

function condition(job: any, type: string): any {
  return (job?.status?.conditions ?? []).find((c: any) => c.type === type && c.status === "True");
}

const STUCK = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError"]);

/** Run the items as an Indexed Job; results in item order. */
export async function runInCluster(items: ClusterItem[], o: InClusterOptions): Promise<InClusterResult> {
  if (!items.length) return { items: [], manifests: [] };
  const { plan, upToDate, failed } = await planCluster(items, o);
  const results: (ItemResult | undefined)[] = items.map((_, i) => upToDate.get(i) ?? failed.get(i));
  const pending = plan.items.length;
  o.log(`plan: ${items.length} item(s), ${upToDate.size} already in place${failed.size ? `, ${failed.size} unreadable` : ""}, ${pending} to copy in ${plan.shards} shard(s)`);
  const hosts = [...new Set(plan.items.flatMap((i) => [parseRegistryReference(i.pull).registry, parseRegistryReference(i.destination).registry]).concat(parseRegistryReference(`${o.dest}/x`).registry))];
  const planJson = JSON.stringify(plan);
  const name = jobName(planJson);
  const ca = caBundle(o.registry);
  const secretKeys = ["config.json", ...(ca ? ["ca.crt"] : [])];
  const kube = o.kube;
  if (!pending) {
    return { items: results.map((r, i) => r ?? emptyResult(items[i]!, "up-to-date")), manifests: [] };
  }
  if (o.dryRun) {
    const arch = kube ? await clusterArch(kube).catch(() => "amd64" as Arch) : "amd64";
    const image = `${runnerRepository(o.dest)}:${runnerTag(arch)}`;
    const manifests = jobManifests({ name, namespace: o.namespace, image, plan, perIndex: await supportsBackoffLimitPerIndex(kube), secretKeys });
    for (const l of rbacSummary(o.namespace)) o.log(l);
    return { items: results.map((r, i) => r ?? { ...emptyResult(items[i]!, "would-copy"), bytesCopied: plan.items.find((x) => x.id === i)?.bytes ?? 0 }), manifests, job: name };
  }
  if (!kube) throw new InClusterError("--in-cluster needs a cluster: no kubeconfig context");
  if (!o.runnerBase) throw new InClusterError("--in-cluster needs --runner-base IMAGE", "a glibc base image already in your registry, e.g. reg.local/distroless/cc-debian12:nonroot");
  const arch = await clusterArch(kube);
  const binary = findRunnerBinary(arch, o.runnerBinary);
  const client = createClient(o.registry);
  let image: string;
  try {
    image = (await buildRunnerImage(client, { base: o.runnerBase, repository: runnerRepository(o.dest), arch, binary, log: o.log })).image;
  } finally {
    client.transport.close();
  }
  const auth = await podDockerConfig(hosts, o.registry);
  const [job, cm, secret] = jobManifests({ name, namespace: o.namespace, image, plan, perIndex: await supportsBackoffLimitPerIndex(kube), secretData: { "config.json": auth.json, ...(ca ? { "ca.crt": ca } : {}) }, secretKeys });
  // idempotent: a running Job of the same plan is followed; a finished one is replaced
  let live = await kube.tryGet("batch/v1", "Job", name, { namespace: o.namespace });
  if (live && (condition(live, "Complete") || condition(live, "Failed"))) {
    o.log(`replacing the finished Job ${o.namespace}/${name} of an earlier run`);
    await kube.delete("batch/v1", "Job", name, { namespace: o.namespace, propagationPolicy: "Background" });
    await kube.waitFor("batch/v1", "Job", name, "deleted", { namespace: o.namespace, timeoutMs: 60_000 });
    live = undefined;
  }
  let created: KubeObject | undefined;
  if (!live) {
    try {
      created = await kube.create(job!, { namespace: o.namespace });
    } catch (e) {
      // another run of the same plan created it a moment ago: follow that one
      if (!(e instanceof KubeApiError && e.status === 409)) throw e;
    }
  }
  if (!created) o.log(`following the Job ${o.namespace}/${name} already running this plan`);
  else {
    try {
      await kube.create(ownedBy(cm!, created), { namespace: o.namespace });
      await kube.create(ownedBy(secret!, created), { namespace: o.namespace });
      await kube.patch("batch/v1", "Job", name, { spec: { suspend: false } }, { namespace: o.namespace, type: "merge" });
    } catch (e) {
      await kube.delete("batch/v1", "Job", name, { namespace: o.namespace, propagationPolicy: "Background" }).catch(() => {});
      throw e;
    }
    o.log(`Job ${o.namespace}/${name}: ${plan.shards} shard(s) of ${image}`);
  }
  const started = Date.now();
  let last = "";
  let final: any;
  try {
    for (let tick = 0; ; tick++) {
      const j: any = await kube.tryGet("batch/v1", "Job", name, { namespace: o.namespace });
      if (!j) break; // deleted under us (the run we followed finished and cleaned up): see below
      const s = j.status ?? {};
      const line = `Job ${name}: ${s.succeeded ?? 0}/${plan.shards} shard(s) done, ${s.active ?? 0} running${s.failed ? `, ${s.failed} pod failure(s)` : ""}${s.failedIndexes ? ` (failed shard indexes ${s.failedIndexes})` : ""}`;
      if (line !== last) o.log(`${line} [${Math.round((Date.now() - started) / 1000)}s]`);
      last = line;
      if (condition(j, "Complete") || condition(j, "Failed")) {
        final = j;
        break;
      }
      if (tick % 5 === 4) {
        const pods = await kube.list("v1", "Pod", { namespace: o.namespace, labelSelector: `job-name=${name}` }).catch(() => [] as KubeObject[]);
        for (const p of pods as any[]) {
          const w = (p.status?.containerStatuses ?? []).map((c: any) => c.state?.waiting).find((x: any) => x && STUCK.has(x.reason));
          if (w) throw new InClusterError(`pod ${p.metadata.name} cannot start: ${w.reason}${w.message ? `: ${w.message}` : ""}`, `check that the cluster can pull ${image}`);
        }
      }
      if (o.timeoutMs && Date.now() - started > o.timeoutMs) throw new InClusterError(`Job ${o.namespace}/${name} did not finish within ${Math.round(o.timeoutMs / 1000)}s`, "it keeps running; run the same command again to follow it");
      await new Promise((r) => setTimeout(r, Math.min(2000, 250 + tick * 100)));
    }
    if (!final) {
      // the Job is gone with its pods: what the destination now holds is the answer
      o.log(`Job ${o.namespace}/${name} was deleted before this run saw it finish (another run of the same plan cleaned up); checking the destination`);
      const again = await planCluster(items, o);
      for (const it of plan.items) results[it.id] = again.upToDate.get(it.id) ?? emptyResult(items[it.id]!, "failed", undefined, `the Job ${name} was deleted before it finished; run the command again`);
      return { items: results.map((r, i) => r ?? emptyResult(items[i]!, "failed", undefined, "not planned")), manifests: [], job: name };
    }
    // merge the pods' reports: the newest pod of each index wins
    const pods = ((await kube.list("v1", "Pod", { namespace: o.namespace, labelSelector: `job-name=${name}` })) as any[]).sort((a, b) => String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)) || String(a.metadata.name).localeCompare(String(b.metadata.name)));
    const lastPod = new Map<number, any>();
    for (const p of pods) {
      const idx = Number(p.metadata.annotations?.["batch.kubernetes.io/job-completion-index"] ?? p.metadata.labels?.["batch.kubernetes.io/job-completion-index"]);
      if (Number.isInteger(idx)) lastPod.set(idx, p);
      const text = await kube.logsText(p.metadata.name, { namespace: o.namespace }).catch(() => "");
      for (const l of text.split("\n")) {
        if (!l.startsWith("{")) continue;
        let r: ShardReportLine;
        try {
          r = JSON.parse(l);
        } catch {
          continue;
        }
        if (r.kind !== "item" || !Number.isInteger(r.id) || !items[r.id]) continue;
        // a retried pod finds "up-to-date" what an earlier attempt of this run copied: this run copied it
        if (results[r.id]?.status === "copied" && r.result.status === "up-to-date") continue;
        // the destination is the plan's (a pod cannot redirect the report)
        results[r.id] = { ...r.result, kind: "image", source: items[r.id]!.source, destination: items[r.id]!.destination };
      }
    }
    const failedIdx = String(final.status?.failedIndexes ?? "");
    // items no pod reported (pods already cleaned up by another run of the plan, or a shard that died): what
    // the destination holds decides
    const unreported = plan.items.filter((it) => !results[it.id]);
    if (unreported.length) {
      const again = await planCluster(unreported.map((it) => items[it.id]!), o).catch(() => undefined);
      unreported.forEach((it, k) => {
        const r = again?.upToDate.get(k);
        if (r) results[it.id] = r;
      });
    }
    for (const it of plan.items) {
      if (results[it.id]) continue;
      const p = lastPod.get(it.shard);
      const why = p ? `pod ${p.metadata.name} ${p.status?.phase ?? "ended"}${p.status?.reason ? ` (${p.status.reason})` : ""}` : "no pod ran";
      results[it.id] = emptyResult(items[it.id]!, "failed", undefined, `shard ${it.shard + 1}/${plan.shards} did not report this item (${why}${failedIdx ? `; failed indexes ${failedIdx}` : ""})`);
    }
  } finally {
    if (!o.keepJob) await kube.delete("batch/v1", "Job", name, { namespace: o.namespace, propagationPolicy: "Background" }).catch(() => {});
  }
  return { items: results.map((r, i) => r ?? emptyResult(items[i]!, "failed", undefined, "not planned")), manifests: [job!, cm!, secret!].map((x) => (x.kind === "Secret" ? { ...x, data: undefined, stringData: Object.fromEntries(secretKeys.map((k) => [k, "<not printed>"])) } : x)), job: name };
}
