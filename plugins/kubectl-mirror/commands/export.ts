// kubectl mirror export CHART|--mirror-file FILE -O ARCHIVE — connected side: charts + images into one archive.
import { defineCommand, type ArgsDef, type CommandMeta } from "citty";
import { dryRunArgs, outputArgs, CREDENTIALS_HELP } from "../../../shared/cli/args.ts";
import { CliError, UsageError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, versioned } from "../../../shared/cli/output.ts";
import { createProgress, humanBytes, hostFailure } from "../../../shared/cli/progress.ts";
import { repeated } from "../../../shared/cli/argv.ts";
import { parseSize, recordedArgs, runExport } from "../lib/transfer/archive.ts";
import { compressionForName, type Compression } from "../../../shared/oci/compression.ts";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { mappingArgs } from "../lib/inputs/chart-args.ts";
import { concurrencyFromArgs, destinationFromArgs, inputArgs, inputsFromArgs, platformsFromArgs, transferArgs } from "../lib/inputs/mirror-args.ts";
import { chartLayoutArgs, chartLayoutFromArgs, quietFromArgs } from "../lib/inputs/mirror-args.ts";
import { itemsTable, mapText, skippedText, throwIfHostFailed } from "../lib/report/report.ts";
import { valuesOutFailure, valuesOutLines } from "../lib/plan/values-out.ts";
import { archPlatforms, paletteArgs } from "../lib/inputs/palette.ts";
import { imagesModeArgs, imagesModeFromArgs, skippedLines } from "../lib/plan/possible.ts";
import { imageVerifierFromArgs, signArgs, signingKeyFromArgs, verifySignaturesArgs } from "../lib/inputs/sign-args.ts";

export const archiveOutArgs = {
  "output-file": { type: "string", alias: ["O", "archive", "outfile"], description: "Archive to write (OCI layout tar; .tar.gz/.tgz = gzip, .tar.zst = zstd)", valueHint: "FILE" },
  gzip: { type: "boolean", description: "gzip-compress the archive (default: by .gz/.tgz suffix)" },
  zstd: { type: "boolean", description: "zstd-compress the archive (default: by .zst suffix; Palette/Hauler/Zarf bundles are .tar.zst)" },
  "compression-level": { type: "string", description: "Compression level: zstd 1-22 (default 3), gzip 1-9 (default 6)", valueHint: "N" },
  existing: { type: "string", description: "Previous archive: blobs it holds are left out (incremental export; repeatable)", valueHint: "ARCHIVE" },
  "split-size": { type: "string", description: "Split the archive into parts of this size (NAME.part001…, NAME.parts), e.g. 4G", valueHint: "SIZE" },
  "chart-prefix": { type: "string", description: 'Path of charts inside the archive and under the destination (default "charts")', valueHint: "PATH" },
  ...chartLayoutArgs,
} as const satisfies ArgsDef;

/** --gzip / --zstd / --compression-level → export options (suffix decides when neither flag is given). */
export function compressionFromArgs(args: Record<string, unknown>): { compression?: Compression; compressionLevel?: number } {
  if (args.gzip && args.zstd) throw new UsageError("--gzip and --zstd: give one");
  const lv = args["compression-level"];
  let compressionLevel: number | undefined;
  if (lv !== undefined && lv !== "") {
    compressionLevel = Number(lv);
    if (!Number.isInteger(compressionLevel)) throw new UsageError(`--compression-level: expected a whole number, got "${lv}"`);
  }
  return { compression: args.zstd ? "zstd" : args.gzip ? "gzip" : undefined, compressionLevel };
}

export default defineCommand({
  meta: {
    name: "export",
    description: "Write charts and every image they use into one OCI archive to carry into an air gap (then: kubectl mirror push)",
    notes: CREDENTIALS_HELP,
    examples: [
      "kubectl mirror export --repo-url https://charts.example.com --chart-url example/app --chart-version 1.2.3 -O app.tar",
      "kubectl mirror export --mirror-file mirror.yaml -O bundle.tar.gz --platform linux/amd64",
      "kubectl mirror export --mirror-file mirror.yaml -O bundle.tar.zst --compression-level 9      # zstd, like Palette content bundles",
      "kubectl mirror export --mirror-file mirror.yaml -O day2.tar --existing day1.tar          # only what day1.tar lacks",
      "kubectl mirror export ./chart -O big.tar --split-size 4G                                 # big.tar.part001… + big.tar.parts",
      "kubectl mirror export ./chart -O app.tar --sign key.pem        # signed: push/serve/verify --key key.pub check it",
      "kubectl mirror export ./chart -O app.tar --dest zot.local:30003 --map-out registry-map.yaml  # preview the map",
      "kubectl mirror export ./chart -O app.tar --dest zot.local:30003 --values-out mirror-values.yaml  # Helm values for that mirror",
      "PALETTE_API_KEY=… kubectl mirror export --palette-profile ID1,ID2 --project-id P --palette-endpoint https://api.spectrocloud.com -O bundle.tar.zst --cred-file creds.json --arch amd64",
    ],
  } as CommandMeta,
  args: {
    chart: { type: "positional", required: false, description: "Chart folder, .tgz, https://…/chart.tgz, oci://registry/repo/chart, or a chart name with --repo-url", valueHint: "CHART" },
    ...inputArgs,
    ...paletteArgs,
    name: { type: "string", description: "Bundle name (as `palette content build --name`): without -O, writes output/content-bundle/NAME.tar.zst", valueHint: "NAME" },
    ...archiveOutArgs,
    ...signArgs,
    ...verifySignaturesArgs,
    ...mappingArgs,
    ...transferArgs,
    ...imagesModeArgs,
    ...dryRunArgs,
    ...outputArgs,
  },
  async run({ args, rawArgs }) {
    const log = logger();
    let out = args["output-file"] as string | undefined;
    // Palette conventions: `content build --name N` → output/content-bundle/N.tar.zst; `palette-edge build
    // --outfile N` (no archive suffix) → N.tar.zst — both zstd content bundles
    if (!out && args.name) {
      out = join("output", "content-bundle", `${String(args.name)}.tar.zst`);
      await mkdir(dirname(out), { recursive: true });
    }
    if (out && rawArgs.some((a) => a === "--outfile" || a.startsWith("--outfile=")) && compressionForName(out) === "none" && !/\.tar$/i.test(out)) out = `${out}.tar.zst`;
    if (!out) throw new UsageError("-O/--output-file ARCHIVE is required", "e.g. -O app.tar (or app.tar.gz, bundle.tar.zst), or --name NAME");
    const images = imagesModeFromArgs(args);
    const sign = await signingKeyFromArgs(args);
    const verifyRoot = await imageVerifierFromArgs(args, rawArgs);
    const preview = await destinationFromArgs(args, false);
    const { input, registry, sourceMirrors } = await inputsFromArgs(args, rawArgs);
    // the totals come from the plan (onPlan): a chart's images are known only once it is rendered
    const progress = createProgress({ total: 0, quiet: quietFromArgs(args) });
    const report = await runExport(input, {
      output: out,
      ...compressionFromArgs(args),
      existing: repeated(rawArgs, ["existing"], { split: false }),
      splitSize: args["split-size"] ? parseSize(String(args["split-size"])) : undefined,
      preview,
      mapOut: preview?.mapOut,
      valuesOut: preview?.valuesOut,
      chartPrefix: args["chart-prefix"] as string | undefined,
      chartLayout: chartLayoutFromArgs(args),
      registry,
      sourceMirrors,
      concurrency: concurrencyFromArgs(args),
      platforms: [...platformsFromArgs(rawArgs), ...archPlatforms(args)],
      extras: !args["exclude-extras"],
      dryRun: !!args["dry-run"],
      images,
      onEvent: progress.onEvent,
      sign,
      verifyRoot,
      onPlan: progress.setTotals,
      command: "kubectl mirror export",
      args: recordedArgs(rawArgs),
    });
    progress.finish();
    for (const w of report.warnings) log.warn(w);
    for (const l of skippedLines(report.skipped)) log.info(l);
    for (const l of valuesOutLines(report.values ?? [])) log.info(l);
    const s = report.summary;
    if (!args["dry-run"] && !s.failed) log.info(`wrote ${report.parts ? `${report.parts.length} parts of ${out} (${out}.parts)` : out}: ${s.artifacts} chart(s)/pack(s), ${s.images} image(s), ${humanBytes(s.bytesWritten)}${s.blobsSkipped ? `, ${s.blobsSkipped} blobs left out (in --existing)` : ""} in ${s.seconds}s${sign ? `, signed (key ${sign.hint.slice(0, 16)}…)` : ""}`);
    const stopped = hostFailure(report.items);
    if (!stopped || args.output || report.items.some((i) => !i.failedHost)) printData(versioned("ExportReport", report), args.output as string | undefined, () => itemsTable(report.items) + skippedText(report.skipped) + mapText(report.metadata.registryMap ?? []));
    throwIfHostFailed(report.items);
    if (s.failed) throw new CliError(`${s.failed} of ${report.items.length} items failed; no archive written`);
    const vf = valuesOutFailure(report.values);
    if (vf) throw vf;
  },
});
