// kubectl mirror sync CHART|--mirror-file FILE --dest REGISTRY — charts + their images into one registry.
import { isZot, muralText, muralVariables } from "../lib/report/zot.ts";
import { archPlatforms, paletteArgs } from "../lib/inputs/palette.ts";
import { defineCommand, type CommandMeta } from "citty";
import { dryRunArgs, outputArgs, CREDENTIALS_HELP } from "../../../shared/cli/args.ts";
import { CliError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, versioned } from "../../../shared/cli/output.ts";
import { createProgress, humanBytes, hostFailure } from "../../../shared/cli/progress.ts";
import { concurrencyFromArgs, destArgs, destinationFromArgs, inputArgs, inputsFromArgs, platformsFromArgs, transferArgs, withDestinationSecret } from "../lib/inputs/mirror-args.ts";
import { chartLayoutArgs, chartLayoutFromArgs, quietFromArgs, zotArgs } from "../lib/inputs/mirror-args.ts";
import { itemsTable, mapText, skippedText, throwIfHostFailed } from "../lib/report/report.ts";
import { runSync, type SyncReport } from "../lib/transfer/sync.ts";
import { valuesOutFailure, valuesOutLines } from "../lib/plan/values-out.ts";
import { imagesModeArgs, imagesModeFromArgs, skippedLines } from "../lib/plan/possible.ts";
import { kubeForCluster, printManifests, printRbacIfAsked, shardArgs, shardFlagsFromArgs } from "../lib/inputs/shard-args.ts";
import { imageVerifierFromArgs, verifySignaturesArgs } from "../lib/inputs/sign-args.ts";

export default defineCommand({
  meta: {
    name: "sync",
    description: "Mirror charts and every image they use into a registry: charts to <dest>/charts/<name>/<name>:<version> (Helm OCI; --chart-layout flat: <dest>/charts/<name>:<version>), images to <dest>/images/…",
    notes: CREDENTIALS_HELP,
    examples: [
      "kubectl mirror sync --chart-url clearml/clearml --chart-version 7.14.7 --release-name clearml --repo-url https://clearml.github.io/clearml-helm-charts --dest-registry 10.10.233.0:30003/spectro-content --dest-username \"$zot_admin_username\" --dest-password \"$zot_admin_password\" --dest-insecure",
      "kubectl mirror sync --repo-url https://charts.example.com --chart-url example/app --chart-version 1.2.3 --dest zot.local:30003",
      "kubectl mirror sync oci://registry.example.com/charts/app --chart-version 1.2.3 --dest harbor.local/mirror --map-out registry-map.yaml",
      "kubectl mirror sync ./app-1.2.3.tgz --dest reg.local:5000 --dest-mode keep-host --platform linux/amd64",
      "kubectl mirror sync --mirror-file mirror.yaml --dest zot.local:30003 --dest-credentials-from-secret zot-system/zot-secret",
      "kubectl mirror sync ./chart --dest reg.local --values-out mirror-values.yaml   # then: helm install app oci://reg.local/charts/app -f mirror-values.yaml",
      "kubectl mirror sync ./chart --dest reg.local --registry-map map.yaml --rewrite-chart",
      "kubectl mirror sync ./chart -f prod.yaml --dest reg.local --images required   # only what helm template renders; possible images are listed as skipped",
      "kubectl mirror sync ./chart --dest reg.local --source-mirror docker.io=proxy.local/dockerhub --cred-file creds.json",
      "echo $KEY | kubectl mirror sync --palette-profile ID --project-id P --palette-endpoint https://api.spectrocloud.com --api-key-stdin --dest zot.local:30003",
      "kubectl mirror sync --mirror-file release.yaml --dest reg.local --shard 2/4            # one of four machines",
      "kubectl mirror sync --mirror-file release.yaml --dest reg.local --in-cluster --shards 8 --runner-base reg.local/distroless/cc:nonroot",
      "kubectl mirror sync --mirror-file release.yaml --dest reg.local --in-cluster --dry-run -o yaml   # the Job, ConfigMap, Secret",
      "kubectl mirror sync --print-rbac --job-namespace mirror | kubectl apply -f -   # the ServiceAccount + Role --in-cluster needs",
    ],
  } as CommandMeta,
  args: {
    chart: { type: "positional", required: false, description: "Chart folder, .tgz, https://…/chart.tgz, oci://registry/repo/chart, or a chart name with --repo-url", valueHint: "CHART" },
    ...inputArgs,
    ...paletteArgs,
    ...destArgs,
    ...transferArgs,
    ...chartLayoutArgs,
    ...imagesModeArgs,
    "rewrite-chart": { type: "boolean", description: "Rewrite the chart's image references (values.yaml gets the --values-out override; annotations, templates) to the mirror before pushing it (also reaches images hard-coded in templates, which --values-out cannot); checked with helm template: images it still renders from their source are named, exit 3" },
    ...zotArgs,
    ...shardArgs,
    ...verifySignaturesArgs,
    ...dryRunArgs,
    ...outputArgs,
  },
  async run({ args, rawArgs }) {
    if (printRbacIfAsked(args)) return;
    const log = logger();
    const dest = (await destinationFromArgs(args, true))!;
    const { input, registry, sourceMirrors } = await inputsFromArgs(args, rawArgs, { dest: dest.dest });
    const reg = await withDestinationSecret(args, rawArgs, registry, dest.dest);
    const sf = shardFlagsFromArgs(args);
    imagesModeFromArgs(args); // a bad --images is a usage error before anything is loaded
    const verifyRoot = await imageVerifierFromArgs(args, rawArgs);
    const total = input.charts.length + input.images.length;
    const progress = createProgress({ total, quiet: quietFromArgs(args) || !!sf.inCluster });
    let report: SyncReport;
    if (sf.inCluster) {
      const { buildPlan } = await import("../lib/plan/plan.ts");
      const { syncPlanInCluster } = await import("../lib/cluster/sync-cluster.ts");
      const kube = kubeForCluster(args, !!args["dry-run"]);
      const started = Date.now();
      const plan = await buildPlan(input, { chartPrefix: dest.chartPrefix });
      try {
        const r = await syncPlanInCluster(
          plan,
          { ...dest, registry: reg, sourceMirrors, concurrency: concurrencyFromArgs(args), platforms: platformsFromArgs(rawArgs), extras: !args["exclude-extras"], dryRun: !!args["dry-run"], rewriteChart: !!args["rewrite-chart"], images: imagesModeFromArgs(args) },
          { kube, namespace: sf.inCluster.namespace ?? kube?.namespace ?? "default", shards: sf.inCluster.shards, runnerBase: sf.inCluster.runnerBase, runnerBinary: sf.inCluster.runnerBinary, keepJob: sf.inCluster.keepJob, timeoutMs: sf.inCluster.timeoutMs, waitSeconds: sf.waitMs !== undefined ? Math.ceil(sf.waitMs / 1000) : undefined, log: (m) => log.info(m) },
          started,
        );
        report = r.report;
        if (args["dry-run"]) {
          for (const w of report.warnings) log.warn(w);
          log.info(`dry run: ${r.manifests.length ? `the Job that would copy ${report.items.filter((x) => x.status === "would-copy" && x.kind === "image").length} image(s)` : "every image is already in place: no Job needed"}`);
          if (args.output === "json" || args.output === "yaml" || !args.output) return printManifests(r.manifests, args.output as string | undefined);
        }
      } finally {
        await plan.cleanup();
      }
    } else report = await runSync(input, {
      ...dest,
      shard: sf.shard,
      shardWaitMs: sf.waitMs,
      registry: reg,
      sourceMirrors,
      concurrency: concurrencyFromArgs(args),
      platforms: [...platformsFromArgs(rawArgs), ...archPlatforms(args)],
      extras: !args["exclude-extras"],
      dryRun: !!args["dry-run"],
      rewriteChart: !!args["rewrite-chart"],
      chartLayout: chartLayoutFromArgs(args),
      images: imagesModeFromArgs(args),
      onEvent: progress.onEvent,
      verifyRoot,
    });
    progress.finish();
    for (const w of report.warnings) log.warn(w);
    for (const l of skippedLines(report.skipped ?? [])) log.info(l);
    if (dest.mapOut && !args["dry-run"]) log.info(`registry map written to ${dest.mapOut}`);
    for (const l of valuesOutLines(report.values ?? [])) log.info(l);
    const s = report.summary;
    if (report.shard) log.info(`shard ${report.shard.shard}: ${report.shard.items} of the plan's items, ${humanBytes(report.shard.uploadBytes)} to upload`);
    if (!hostFailure(report.items)) log.info(`${args["dry-run"] ? "dry run: " : ""}${s.charts} chart(s), ${s.images} image(s) → ${dest.dest}: ${humanBytes(s.bytesCopied)} ${args["dry-run"] ? "to copy" : "copied"} in ${s.seconds}s${s.failed ? `, ${s.failed} FAILED` : ""}`);
    const stopped = hostFailure(report.items);
    // PaletteAI's Zot: the values its docs ask to patch into mural-variables (also in -o json)
    const mural = !stopped && !report.summary.failed && (args.zot || (await isZot(dest.dest, reg))) ? muralVariables(dest.dest) : undefined;
    const out = mural ? { ...report, muralVariables: mural } : report;
    if (!stopped || args.output || report.items.some((i) => !i.failedHost)) printData(versioned("SyncReport", out), args.output as string | undefined, () => itemsTable(report.items) + skippedText(report.skipped) + mapText(report.registryMap) + (mural ? muralText(mural) : ""));
    throwIfHostFailed(report.items);
    if (s.failed) throw new CliError(`${s.failed} of ${report.items.length} items failed`, 1, "re-run to retry: what was copied is skipped");
    // --rewrite-chart: images the pushed chart still renders from their source, each named (exit 3)
    const left = report.charts.flatMap((c) => (c.notRewritten ?? []).map((n) => `${c.name} ${c.version}: ${n.image} [${n.from.join("; ")}]`));
    if (left.length) throw new CliError(`--rewrite-chart: ${left.length} image(s) still render from their source in the rewritten chart: ${left.join(", ")}`, 3, "they are set by your own values (-f/--set) or built in a way the rewrite cannot reach: point them at the mirror in your values");
    const vf = valuesOutFailure(report.values, new Set(args["rewrite-chart"] ? report.charts.map((c) => `${c.name}@${c.version}`) : []));
    if (vf) throw vf;
  },
});
