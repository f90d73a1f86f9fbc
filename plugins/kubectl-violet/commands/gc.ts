// kubectl violet gc: delete Artifacts of uninstalled operators, old ArtifactVersions, uninstalled ModulePlugins
// and obsolete ModuleConfigs, as OperatorView and ModulePluginView tell.
import { defineCommand } from "citty";
import { dryRunArgs, globalArgs, outputArgs } from "../../../shared/cli/args.ts";
import { repeated } from "../../../shared/cli/argv.ts";
import { CliError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData } from "../../../shared/cli/output.ts";
import { kubeArgs, kubeClientFromArgs } from "../../../shared/kube/index.ts";
import { collect, garbage, gcSummary } from "../lib/apps.ts";
import { Clusters } from "../lib/clusters.ts";

export default defineCommand({
  meta: {
    name: "gc",
    description: "Delete leftovers of uninstalled operators and cluster plugins (Artifact, ArtifactVersion, ModulePlugin, ModuleConfig)",
    examples: ["kubectl violet gc --dry-run -v", "kubectl violet gc --clusters region1", "kubectl violet gc -o json"],
  } as any,
  args: {
    ...globalArgs,
    clusters: { type: "string", description: "Only these clusters (comma list; default: every cluster with operators)", valueHint: "A,B" },
    verbose: { type: "boolean", alias: ["v"], description: "Also print what is kept and why, and the reason for each deletion" },
    ...dryRunArgs,
    ...kubeArgs,
    ...outputArgs,
  },
  async run({ args, rawArgs }) {
    const clusters = new Clusters(kubeClientFromArgs(args, rawArgs, { userAgent: "kubectl-violet", fieldManager: "kubectl-violet" }));
    const plan = await garbage(clusters, repeated(rawArgs, ["clusters"]));
    const dryRun = !!args["dry-run"];
    const verbose = !!args.verbose;
    let failed = 0;
    const deleted = dryRun ? plan.delete : await collect(clusters, plan.delete, (r, e) => (failed++, logger().error(`delete ${r.type} ${r.name} on ${r.cluster}: ${e.message}`)));
    printData({ dryRun, deleted, ...(verbose ? { kept: plan.keep } : {}) }, args.output as string | undefined, () => gcSummary(deleted, dryRun, verbose ? plan.keep : undefined));
    if (failed) throw new CliError(`${failed} resource(s) could not be deleted`);
  },
});
