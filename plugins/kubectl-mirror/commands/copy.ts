// kubectl mirror copy SRC DST [SRC DST …] | --from-file FILE
import { throwIfHostFailed } from "../lib/report/report.ts";
import { defineCommand } from "citty";
import { dryRunArgs, outputArgs, registryArgs, scopedCredentialArgs, CREDENTIALS_HELP } from "../../../shared/cli/args.ts";
import { parseReference } from "../../../shared/oci/reference.ts";
import { repeated } from "../../../shared/cli/argv.ts";
import { CliError, UsageError } from "../../../shared/cli/errors.ts";
import { printData, table, versioned } from "../../../shared/cli/output.ts";
import { createProgress, humanBytes, hostFailure } from "../../../shared/cli/progress.ts";
import { registryOptionsFromArgs } from "../../../shared/cli/registry.ts";
import { parsePlatform } from "../../../shared/oci/platform.ts";
import { mirrorCopy, readPairsFile, type CopyPair } from "../lib/transfer/copy.ts";
import { kubeForCluster, printManifests, printRbacIfAsked, shardArgs, shardFlagsFromArgs } from "../lib/inputs/shard-args.ts";
import { imageVerifierFromArgs, verifySignaturesArgs } from "../lib/inputs/sign-args.ts";
import { logger } from "../../../shared/cli/logger.ts";

export default defineCommand({
  meta: {
    name: "copy",
    description: "Copy images, charts and artifacts between registries, OCI layout dirs and OCI archives",
    notes: CREDENTIALS_HELP,
    examples: [
      "kubectl mirror copy docker.io/library/nginx:1.27 registry.local:5000/library/nginx:1.27",
      "kubectl mirror copy quay.io/org/app:v1 oci-archive:app.tar            # registry → archive",
      "kubectl mirror copy oci-archive:app.tar:v1 registry.local/org/app    # archive → registry (tag kept)",
      "kubectl mirror copy --from-file pairs.txt --platform linux/amd64 --concurrency 16",
      "echo \"$PASS\" | kubectl mirror copy src/app:v1 reg.local/app:v1 --username admin --password-stdin",
      "kubectl mirror copy --from-file pairs.txt --shard 1/3                 # this machine's third of the pairs",
      "kubectl mirror copy --from-file pairs.txt --in-cluster --shards 4 -n mirror --runner-base reg.local/distroless/cc:nonroot",
      "kubectl mirror copy --print-rbac -n mirror | kubectl apply -f -       # the ServiceAccount + Role --in-cluster needs",
    ],
  } as any,
  args: {
    source: { type: "positional", required: false, description: "source reference (host/repo:tag, oci-layout:DIR[:tag], oci-archive:FILE[:tag])" },
    destination: { type: "positional", required: false, description: "destination reference; without a tag the source tag is kept" },
    "from-file": { type: "string", description: "file with one 'SRC DST' pair per line ('-' for stdin)", valueHint: "FILE" },
    concurrency: { type: "string", description: "parallel blob transfers (default 8)" },
    platform: { type: "string", description: "only these platforms of multi-arch images, e.g. linux/amd64 (repeatable)", valueHint: "OS/ARCH" },
    "exclude-extras": { type: "boolean", description: "do not copy cosign signatures/attestations/SBOMs and OCI referrers" },
    gzip: { type: "boolean", description: "gzip-compress oci-archive outputs (default: by .gz/.tgz file suffix)" },
    ...shardArgs,
    ...verifySignaturesArgs,
    namespace: { type: "string", alias: ["n"], description: "--in-cluster: namespace of the Job (default: the context's namespace)", valueHint: "NS" },
    kubeconfig: { type: "string", description: "--in-cluster: kubeconfig file", valueHint: "FILE" },
    context: { type: "string", description: "--in-cluster: kubeconfig context", valueHint: "NAME" },
    ...dryRunArgs,
    ...outputArgs,
    ...registryArgs,
    ...scopedCredentialArgs,
  },
  async run({ args, rawArgs }) {
    if (printRbacIfAsked(args, { namespaceFlag: true })) return;
    const positionals = (args._ as string[]) ?? [];
    if (positionals.length % 2) throw new UsageError(`expected SRC DST pairs, got ${positionals.length} argument(s)`, "each source needs a destination");
    const pairs: CopyPair[] = [];
    for (let i = 0; i < positionals.length; i += 2) pairs.push({ src: positionals[i]!, dst: positionals[i + 1]! });
    if (args["from-file"]) pairs.push(...readPairsFile(String(args["from-file"])));
    if (!pairs.length) throw new UsageError("nothing to copy", 'give SRC DST, or --from-file FILE; see "kubectl mirror copy --help"');
    const concurrency = args.concurrency ? Number(args.concurrency) : 8;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency: expected a positive whole number, got "${args.concurrency}"`);
    const platforms = repeated(rawArgs, ["platform"]).map((p) => {
      try {
        return parsePlatform(p);
      } catch (e) {
        throw new UsageError(`--platform: ${(e as Error).message}`);
      }
    });
    // -u/--password-stdin and --dest-* go to the destination registries only, --src-* to the sources only
    const hosts = (refs: string[]) => [...new Set(refs.map((r) => {
      try {
        const p = parseReference(r);
        return p.kind === "registry" ? p.registry : undefined;
      } catch {
        return undefined;
      }
    }).filter((h): h is string => !!h))];
    const registry = await registryOptionsFromArgs(args, rawArgs, { destination: hosts(pairs.map((p) => p.dst)).length ? hosts(pairs.map((p) => p.dst)) : undefined, source: hosts(pairs.map((p) => p.src)) });
    const sf = shardFlagsFromArgs(args, { namespaceFlag: true });
    const verifyRoot = await imageVerifierFromArgs({ "in-cluster": !!sf.inCluster }, rawArgs);
    if (sf.inCluster) {
      const { copyInCluster } = await import("../lib/cluster/copy-cluster.ts");
      const kube = kubeForCluster(args, !!args["dry-run"]);
      const r = await copyInCluster(pairs, {
        kube, namespace: sf.inCluster.namespace ?? kube?.namespace ?? "default", shards: sf.inCluster.shards, runnerBase: sf.inCluster.runnerBase, runnerBinary: sf.inCluster.runnerBinary, keepJob: sf.inCluster.keepJob, timeoutMs: sf.inCluster.timeoutMs,
        waitSeconds: sf.waitMs !== undefined ? Math.ceil(sf.waitMs / 1000) : undefined, registry, concurrency, platforms, extras: !args["exclude-extras"], dryRun: !!args["dry-run"], log: (m) => logger().info(m),
      });
      if (args["dry-run"]) logger().info(r.manifests.length ? `dry run: the Job that would copy ${r.items.filter((x) => x.status === "would-copy").length} image(s)` : "dry run: every image is already in place: no Job needed");
      if (args["dry-run"] && (args.output === "json" || args.output === "yaml" || !args.output)) return printManifests(r.manifests, args.output as string | undefined);
      const failed = r.items.filter((x) => x.status === "failed");
      printData(
        versioned("CopyReport", { items: r.items, summary: { total: r.items.length, failed: failed.length, bytesCopied: r.items.reduce((a, x) => a + x.bytesCopied, 0) } }),
        args.output as string | undefined,
        () => table(["source", "destination", "status", "digest", "copied"], r.items.map((x) => [x.source, x.destination, x.status, x.digest?.slice(0, 19) ?? "", x.status === "failed" ? x.error : humanBytes(x.bytesCopied)])),
      );
      if (failed.length) throw new CliError(`${failed.length} of ${r.items.length} copies failed`);
      return;
    }
    const progress = createProgress({ total: pairs.length, quiet: !!args.quiet });
    const results = await mirrorCopy(pairs, { registry, concurrency, platforms, extras: !args["exclude-extras"], dryRun: !!args["dry-run"], gzip: args.gzip ? true : undefined, onEvent: progress.onEvent, shard: sf.shard, shardWaitMs: sf.waitMs, verifyRoot });
    progress.finish();
    const failed = results.filter((r) => r.status === "failed");
    const stopped = hostFailure(results);
    if (!stopped || args.output || results.some((i) => !i.failedHost)) printData(
      // the same names and types as sync/push/export items (and copy --in-cluster's): kind, source, destination (not
      // src/dst), extras the number carried along; which ones (cosign tags, referrers) only a local copy knows: extraRefs
      versioned("CopyReport", { items: results.map(({ label, src, dst, extras, ...r }) => ({ kind: "image", source: label.split(" → ")[0] || src, destination: label.split(" → ")[1] ?? dst, ...r, extras: extras.length, extraRefs: extras })), summary: { total: results.length, failed: failed.length, bytesCopied: results.reduce((a, r) => a + r.bytesCopied, 0) } }),
      args.output as string | undefined,
      () => table(["source", "destination", "status", "digest", "copied"], results.map((r) => [r.src, r.label.split(" → ")[1] ?? r.dst, r.status, r.digest?.slice(0, 19) ?? "", r.status === "failed" ? (r.failedHost ? `not done: ${r.failedHost} failed` : r.error) : humanBytes(r.bytesCopied)])),
    );
    throwIfHostFailed(results);
    if (failed.length) throw new CliError(`${failed.length} of ${results.length} copies failed`);
  },
});
