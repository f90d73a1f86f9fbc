// `helm addon-push package DIR... [-d OUTDIR]` — write <name>-<version>.tgz like `vela addon package`.
import { defineCommand } from "citty";
import { dryRunArgs, outputArgs } from "../../../shared/cli/args.ts";
import { CliError, UsageError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, table, versioned } from "../../../shared/cli/output.ts";

export default defineCommand({
  meta: {
    name: "package",
    description: "Package KubeVela addon dirs (or chart dirs) into <name>-<version>.tgz without pushing",
    examples: ["helm addon-push package ./fluxcd", "helm addon-push package addons/* -d dist/", "helm addon-push package ./fluxcd --version 1.2.1-rc.1 -o json"],
  } as any,
  args: {
    dirs: { type: "positional", required: false, description: "Addon or chart directories", valueHint: "DIR..." },
    destination: { type: "string", alias: ["d"], description: "Directory to write the archives to, created if missing (default: current directory)", valueHint: "OUTDIR" },
    "dependency-update": { type: "boolean", alias: ["u"], description: "Chart dirs: run `helm dependency update` first (like helm package -u)" },
    keyring: { type: "string", description: "Keyring of public keys for the dependency update (default: Helm's)", valueHint: "FILE" },
    version: { type: "string", alias: ["v"], description: "Override the chart version" },
    "app-version": { type: "string", alias: ["a"], description: "Override the chart appVersion" },
    "keep-chartmeta": { type: "boolean", description: "Use the dir's own Chart.yaml instead of generating it from metadata.yaml" },
    ...dryRunArgs,
    ...outputArgs,
  },
  async run({ args }) {
    const dirs = (args._ as string[]).map(String);
    if (!dirs.length) throw new UsageError("must specify addon directory path", 'see "helm addon-push package --help"');
    const out = args.output as string | undefined; // json|yaml, checked by the entry
    const { packageDirs } = await import("../lib/packager.ts");
    const results = await packageDirs(dirs, {
      outDir: (args.destination as string | undefined) || process.cwd(),
      version: args.version as string | undefined,
      appVersion: args["app-version"] as string | undefined,
      keepChartmeta: !!args["keep-chartmeta"],
      dependencyUpdate: !!args["dependency-update"],
      keyring: args.keyring as string | undefined,
      dryRun: !!args["dry-run"],
    });
    for (const w of results.flatMap((r) => r.warnings ?? [])) logger().warn(w);
    printData(versioned("ChartPackageReport", results), out, () =>
      results.length === 1 && results[0]!.file
        ? `${args["dry-run"] ? "Would package" : "Successfully packaged"} ${results[0]!.source} to: ${results[0]!.file}\n`
        : table(["source", "chart", "version", "file", "error"], results.map((r) => [r.source, r.chart, r.version, r.file, r.error])),
    );
    const failed = results.filter((r) => r.error);
    if (failed.length === 1 && results.length === 1) throw new CliError(failed[0]!.error!);
    if (failed.length) throw new CliError(`${failed.length} of ${results.length} directories could not be packaged`);
  },
});
