// kubectl violet gc: delete Artifacts of uninstalled operators, old ArtifactVersions, uninstalled ModulePlugins
// and obsolete ModuleConfigs, as OperatorView and ModulePluginView tell.
import { defineCommand } from "citty";
import { globalArgs, listOutputArgs, serverDryRunArgs } from "../../../shared/cli/args.ts";
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
    examples: ["kubectl violet gc --dry-run", "kubectl violet gc --dry-run=server", "kubectl violet gc --clusters region1", "kubectl violet gc -o json"],
  } as any,
  args: {
    ...globalArgs,
    clusters: { type: "string", description: "Only these clusters (comma list; default: every cluster with operators)", valueHint: "A,B" },
    ...serverDryRunArgs,
    ...kubeArgs,
    ...listOutputArgs,
  },
  async run({ args, rawArgs }) {
    const clusters = new Clusters(kubeClientFromArgs(args, rawArgs, { userAgent: "kubectl-violet", fieldManager: "kubectl-violet" }));
    const rows = await garbage(clusters, repeated(rawArgs, ["clusters"]));
    const dryRun = !!args["dry-run"];
    let failed = 0;
    // --dry-run=server: the API servers run each delete as a dry run (admission, RBAC), nothing is deleted
    const server = args["dry-run"] === "server";
    const onError = (r: (typeof rows)[number], e: Error) => (failed++, logger().error(`delete ${r.type} ${r.name} on ${r.cluster}: ${e.message}`));
    const deleted = dryRun && !server ? rows : await collect(clusters, rows, onError, { dryRun: server });
    printData({ dryRun, deleted }, args.output as string | undefined, () => gcSummary(deleted, dryRun) + (deleted.length ? "\n" : ""), { names: () => deleted.map((r) => `${r.type.toLowerCase()}/${r.name}`) });
    if (failed) throw new CliError(`${failed} resource(s) could not be deleted`);
  },
});
