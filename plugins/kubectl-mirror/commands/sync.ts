// kubectl mirror sync CHART|--mirror-file FILE --dest REGISTRY — charts + their images into one registry.
import { archPlatforms, paletteArgs } from "../lib/palette.ts";
import { defineCommand, type CommandMeta } from "citty";
import { dryRunArgs, outputArgs } from "../../../shared/cli/args.ts";
import { CliError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData } from "../../../shared/cli/output.ts";
import { createProgress, humanBytes } from "../../../shared/cli/progress.ts";
import { concurrencyFromArgs, destArgs, destinationFromArgs, inputArgs, inputsFromArgs, platformsFromArgs, transferArgs, withDestinationSecret } from "../lib/mirror-args.ts";
import { quietFromArgs } from "../lib/mirror-args.ts";
import { itemsTable, mapText } from "../lib/report.ts";
import { runSync } from "../lib/sync.ts";

export default defineCommand({
  meta: {
    name: "sync",
    description: "Mirror charts and every image they use into a registry: charts to <dest>/charts/<name>:<version> (Helm OCI), images to <dest>/images/…",
    examples: [
      "kubectl mirror sync --repo-url https://charts.example.com --chart-url example/app --chart-version 1.2.3 --dest zot.local:30003",
      "kubectl mirror sync oci://registry.example.com/charts/app --chart-version 1.2.3 --dest harbor.local/mirror --map-out registry-map.yaml",
      "kubectl mirror sync ./app-1.2.3.tgz --dest reg.local:5000 --dest-mode keep-host --platform linux/amd64",
      "kubectl mirror sync --mirror-file mirror.yaml --dest zot.local:30003 --dest-credentials-from-secret zot-system/zot-secret",
      "kubectl mirror sync ./chart --dest reg.local --registry-map map.yaml --rewrite-chart",
      "kubectl mirror sync ./chart --dest reg.local --source-mirror docker.io=proxy.local/dockerhub --cred-file creds.json",
      "echo $KEY | kubectl mirror sync --palette-profile ID --project-id P --palette-endpoint https://api.spectrocloud.com --api-key-stdin --dest zot.local:30003",
    ],
  } as CommandMeta,
  args: {
    chart: { type: "positional", required: false, description: "Chart folder, .tgz, https://…/chart.tgz, oci://registry/repo/chart, or a chart name with --repo-url", valueHint: "CHART" },
    ...inputArgs,
    ...paletteArgs,
    ...destArgs,
    ...transferArgs,
    "rewrite-chart": { type: "boolean", description: "Rewrite the chart's image references (values, annotations, templates) to the mirror before pushing it" },
    ...dryRunArgs,
    ...outputArgs,
  },
  async run({ args, rawArgs }) {
    const log = logger();
    const dest = (await destinationFromArgs(args, true))!;
    const { input, registry, sourceMirrors } = await inputsFromArgs(args, rawArgs);
    const reg = await withDestinationSecret(args, rawArgs, registry, dest.dest);
    const total = input.charts.length + input.images.length;
    const progress = createProgress({ total, quiet: quietFromArgs(args) });
    const report = await runSync(input, {
      ...dest,
      registry: reg,
      sourceMirrors,
      concurrency: concurrencyFromArgs(args),
      platforms: [...platformsFromArgs(rawArgs), ...archPlatforms(args)],
      extras: !args["exclude-extras"],
      dryRun: !!args["dry-run"],
      rewriteChart: !!args["rewrite-chart"],
      onEvent: progress.onEvent,
    });
    progress.finish();
    for (const w of report.warnings) log.warn(w);
    if (dest.mapOut && !args["dry-run"]) log.info(`registry map written to ${dest.mapOut}`);
    const s = report.summary;
    log.info(`${args["dry-run"] ? "dry run: " : ""}${s.charts} chart(s), ${s.images} image(s) → ${dest.dest}: ${humanBytes(s.bytesCopied)} ${args["dry-run"] ? "to copy" : "copied"} in ${s.seconds}s${s.failed ? `, ${s.failed} FAILED` : ""}`);
    printData(report, args.output as string | undefined, () => itemsTable(report.items) + mapText(report.registryMap));
    if (s.failed) throw new CliError(`${s.failed} of ${report.items.length} items failed`, 1, "re-run to retry: what was copied is skipped");
  },
});
