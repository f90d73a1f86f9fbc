// kubectl mirror verify (CHART | --mirror-file F | --archive A) (--dest REGISTRY | --in-archive A2)
import { hostFailure } from "../../../shared/cli/progress.ts";
import { throwIfHostFailed } from "../lib/report/report.ts";
import { defineCommand, type CommandMeta } from "citty";
import { outputArgs, CREDENTIALS_HELP } from "../../../shared/cli/args.ts";
import { CliError, UsageError } from "../../../shared/cli/errors.ts";
import { printData, versioned } from "../../../shared/cli/output.ts";
import { keyArgs, logTrust, verifyKeysFromArgs } from "../lib/inputs/sign-args.ts";
import { chartLayoutArgs, chartLayoutFromArgs, concurrencyFromArgs, connectionFromArgs, destArgs, destinationFromArgs, inputArgs, inputsFromArgs, withDestinationSecret } from "../lib/inputs/mirror-args.ts";
import { verifyTable } from "../lib/report/report.ts";
import { verifyArchive, verifyInput, type VerifyTarget } from "../lib/report/verify.ts";

export default defineCommand({
  meta: {
    name: "verify",
    description: "Check that every chart tag and image of a chart, mirror file or export archive is in the registry (or an archive) with matching digests",
    notes: CREDENTIALS_HELP,
    examples: [
      "kubectl mirror verify --repo-url https://charts.example.com --chart-url example/app --chart-version 1.2.3 --dest zot.local:30003",
      "kubectl mirror verify --archive app.tar --dest zot.local:30003          # inside the air gap, after push",
      "kubectl mirror verify --mirror-file mirror.yaml --dest harbor.local/mirror --offline",
      "kubectl mirror verify ./chart --in-archive app.tar                     # is the archive complete?",
      "kubectl mirror verify --in-archive app.tar --key key.pub               # signed by key.pub, intact, index.json = its metadata",
    ],
  } as CommandMeta,
  args: {
    chart: { type: "positional", required: false, description: "Chart folder, .tgz, oci://… or a chart name with --repo-url", valueHint: "CHART" },
    ...inputArgs,
    archive: { type: "string", description: "Expect what this export archive holds (its metadata and digests)", valueHint: "ARCHIVE" },
    ...destArgs,
    ...chartLayoutArgs,
    "in-archive": { type: "string", description: "Verify this archive instead of a registry", valueHint: "ARCHIVE" },
    offline: { type: "boolean", description: "Do not contact source registries: check presence (and archive digests) only" },
    all: { type: "boolean", description: "List every item, not only the problems" },
    concurrency: { type: "string", description: "Parallel checks (default 8)" },
    ...keyArgs,
    ...outputArgs,
  },
  async run({ args, rawArgs }) {
    const inArchive = args["in-archive"] as string | undefined;
    const dest = await destinationFromArgs(args, !inArchive);
    if (inArchive && dest) throw new UsageError("give --dest or --in-archive, not both");
    if (dest?.valuesOut) throw new UsageError("verify writes no values: --values-out belongs to images, sync, export and push");
    const target: VerifyTarget = inArchive ? { kind: "archive", path: inArchive } : { kind: "registry", destination: dest! };
    const keys = await verifyKeysFromArgs(rawArgs);
    // only --in-archive: the archive is checked against its own metadata (signature, blobs, index.json)
    const archiveArg = (args.archive as string | undefined) ?? (inArchive && !hasInput(args) ? inArchive : undefined);
    const common = { keys, target, offline: !!args.offline, concurrency: concurrencyFromArgs(args), chartPrefix: args["chart-prefix"] as string | undefined, chartLayout: chartLayoutFromArgs(args) };
    let report;
    if (archiveArg) {
      const conn = await connectionFromArgs(args, rawArgs, dest?.dest);
      const registry = await withDestinationSecret(args, rawArgs, conn.registry, dest?.dest);
      report = await verifyArchive(archiveArg, { ...common, registry, sourceMirrors: conn.sourceMirrors });
    } else {
      const { input, registry, sourceMirrors } = await inputsFromArgs(args, rawArgs, { dest: dest?.dest });
      report = await verifyInput(input, { ...common, registry: await withDestinationSecret(args, rawArgs, registry, dest?.dest), sourceMirrors });
    }
    logTrust(report.trust ?? []);
    // a registry that refused the credentials or cannot be reached: one error, not one row per item
    const asResults = report.items.map((i) => ({ status: i.status, error: i.detail, failedHost: i.failedHost }));
    if (!hostFailure(asResults) || args.output) printData(versioned("VerifyReport", report), args.output as string | undefined, () => verifyTable(report, !!args.all));
    throwIfHostFailed(asResults);
    const bad = report.summary.missing + report.summary.mismatched + report.summary.errors;
    if (bad) throw new CliError(`verification failed: ${bad} of ${report.summary.total} items missing or different`, 1, report.summary.missing ? "run sync or push again" : undefined);
  },
});

/** A chart, mirror file, image or Palette profile to take the expectation from. */
function hasInput(args: Record<string, unknown>): boolean {
  return !!((args._ as string[] | undefined)?.length || ["chart", "repo-url", "chart-url", "mirror-file", "image", "palette-profile"].some((k) => args[k]));
}
