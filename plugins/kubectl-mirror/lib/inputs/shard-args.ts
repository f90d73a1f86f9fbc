// Flags of `sync` and `copy` for splitting a run: --shard I/N (one part, locally) and --in-cluster (all parts as
// an Indexed Job in the current kube context).
import type { ArgsDef } from "citty";
import { UsageError } from "../../../../shared/cli/errors.ts";
import { parseDuration } from "../../../../shared/cli/registry.ts";
import { stringify } from "yaml";
import { KubeClient, kubeOptionsFromArgs, type KubeObject } from "../../../../shared/kube/index.ts";
import { inClusterRbac } from "../cluster/in-cluster-rbac.ts";
import { parseShardSpec, type ShardSpec } from "../plan/shard-plan.ts";

export const shardArgs = {
  shard: { type: "string", description: "Run only part I of N of the plan (1-based, e.g. 2/4): N machines or CI jobs split one mirror; each shard uploads the blobs it owns and mounts the others' once they are present", valueHint: "I/N" },
  "shard-wait": { type: "string", description: "How long a shard waits for a blob (or, for charts, an image) another shard copies before copying it itself (default 15m)", valueHint: "DURATION" },
  "in-cluster": { type: "boolean", description: "Run the transfer as an Indexed Job in the current kube context, next to the registry (see --shards, --runner-base)" },
  shards: { type: "string", description: "--in-cluster: number of pods (Job completions and parallelism; default 4)", valueHint: "N" },
  "job-namespace": { type: "string", description: "--in-cluster: namespace of the Job (default: the context's namespace)", valueHint: "NS" },
  "runner-base": { type: "string", description: "--in-cluster: base image in your registry for the runner (glibc, e.g. a distroless cc image); the plugin's linux binary is added as one layer", valueHint: "IMAGE" },
  "runner-binary": { type: "string", description: "--in-cluster: the linux kubectl-mirror binary for the cluster's architecture (default: this one, when it is)", valueHint: "FILE" },
  "keep-job": { type: "boolean", description: "--in-cluster: keep the finished Job (and its Secret) for inspection; otherwise it is deleted" },
  "job-timeout": { type: "string", description: "--in-cluster: stop following the Job after this long (it keeps running; re-run to follow it)", valueHint: "DURATION" },
  "print-rbac": { type: "boolean", description: "--in-cluster: print the ServiceAccount, Role, RoleBinding (and node-reader ClusterRole) the run needs, for `kubectl apply -f -`, and exit" },
} as const satisfies ArgsDef;

type Args = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

export interface ShardFlags {
  shard?: ShardSpec;
  waitMs?: number;
  inCluster?: { shards: number; namespace?: string; runnerBase?: string; runnerBinary?: string; keepJob: boolean; timeoutMs?: number };
}

export function shardFlagsFromArgs(args: Args, opts: { namespaceFlag?: boolean } = {}): ShardFlags {
  const out: ShardFlags = {};
  if (str(args.shard)) {
    try {
      out.shard = parseShardSpec(String(args.shard));
    } catch (e) {
      throw new UsageError((e as Error).message, (e as { hint?: string }).hint);
    }
  }
  if (str(args["shard-wait"])) out.waitMs = parseDuration(String(args["shard-wait"]), "--shard-wait");
  const clusterOnly = ["shards", "job-namespace", "runner-base", "runner-binary", "keep-job", "job-timeout"].filter((k) => args[k] !== undefined && args[k] !== false && args[k] !== "");
  if (!args["in-cluster"]) {
    if (clusterOnly.length) throw new UsageError(`--${clusterOnly[0]} needs --in-cluster`);
    return out;
  }
  if (out.shard) throw new UsageError("--shard and --in-cluster are exclusive", "--in-cluster runs every shard as a pod; --shard runs one here");
  const shards = args.shards !== undefined ? Number(args.shards) : 4;
  if (!Number.isInteger(shards) || shards < 1 || shards > 100) throw new UsageError(`--shards: expected a whole number 1-100, got "${args.shards}"`);
  const namespace = str(args["job-namespace"]) ?? (opts.namespaceFlag ? str(args.namespace) : undefined);
  if (namespace && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)) throw new UsageError(`invalid namespace ${JSON.stringify(namespace)}`);
  out.inCluster = {
    shards,
    namespace,
    runnerBase: str(args["runner-base"]),
    runnerBinary: str(args["runner-binary"]),
    keepJob: !!args["keep-job"],
    timeoutMs: str(args["job-timeout"]) ? parseDuration(String(args["job-timeout"]), "--job-timeout") : undefined,
  };
  if (!args["dry-run"] && !out.inCluster.runnerBase) throw new UsageError("--in-cluster needs --runner-base IMAGE", "a glibc base image already in your registry, e.g. reg.local/distroless/cc-debian12:nonroot (or use --dry-run to see the manifests)");
  return out;
}

/** The kube client of the current context (undefined in a dry run without a usable kubeconfig). */
export function kubeForCluster(args: Args, dryRun: boolean): KubeClient | undefined {
  try {
    return KubeClient.fromOptions(kubeOptionsFromArgs({ kubeconfig: args.kubeconfig, context: args.context }, []));
  } catch (e) {
    if (dryRun) return undefined;
    throw e;
  }
}

/**
 * --print-rbac: the RBAC objects of --in-cluster for the Job's namespace (--job-namespace, -n, the context's,
 * else default) on stdout (YAML, or a v1 List with -o json). Returns false when not asked.
 */
export function printRbacIfAsked(args: Args, opts: { namespaceFlag?: boolean } = {}): boolean {
  if (!args["print-rbac"]) return false;
  let namespace = str(args["job-namespace"]) ?? (opts.namespaceFlag ? str(args.namespace) : undefined);
  if (namespace && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)) throw new UsageError(`invalid namespace ${JSON.stringify(namespace)}`);
  namespace ??= kubeForCluster(args, true)?.namespace ?? "default";
  printManifests(inClusterRbac(namespace), args.output === "json" ? "json" : "yaml");
  return true;
}

/** --dry-run output of --in-cluster: the manifests as a YAML stream (-o yaml / default) or a v1 List (-o json). */
export function printManifests(objs: KubeObject[], format: string | undefined): void {
  if (format === "json") process.stdout.write(JSON.stringify({ apiVersion: "v1", kind: "List", items: objs }, null, 2) + "\n");
  else process.stdout.write(objs.map((o) => stringify(o, { lineWidth: 0 })).join("---\n"));
}
