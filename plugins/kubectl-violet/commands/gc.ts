// kubectl violet gc: delete Artifacts of uninstalled operators, old ArtifactVersions, uninstalled ModulePlugins
// and obsolete ModuleConfigs, as OperatorView and ModulePluginView tell.
import { defineCommand } from "citty";
import { globalArgs, listOutputArgs, serverDryRunArgs } from "../../../shared/cli/args.ts";
import { CliError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, versioned } from "../../../shared/cli/output.ts";
import { VIOLET_PLATFORM_CREDENTIALS_HELP } from "../lib/args.ts";
import { kubeArgs } from "../../../shared/kube/index.ts";
import { collect, garbage, gcSummary } from "../lib/apps.ts";
import { GLOBAL } from "../lib/clusters.ts";
import { checkClusters, clusterNames, connect, platformArgs } from "../lib/platform.ts";

export default defineCommand({
  meta: {
    name: "gc",
    description: "Delete leftovers of uninstalled operators and cluster plugins (Artifact, ArtifactVersion, ModulePlugin, ModuleConfig)",
    examples: ["kubectl violet gc --dry-run -v", "kubectl violet gc --dry-run=server", "kubectl violet gc --clusters region1", "kubectl violet gc -o json"],
    notes: VIOLET_PLATFORM_CREDENTIALS_HELP,
  } as any,
  args: {
    ...globalArgs,
    clusters: { type: "string", description: "Only these clusters (comma list; default: every cluster you can see)", valueHint: "A,B" },
    verbose: { type: "boolean", alias: ["v"], description: "Also print what is kept and why, and the reason for each deletion" },
    ...serverDryRunArgs,
    ...kubeArgs,
    ...platformArgs,
    ...listOutputArgs,
  },
  async run({ args, rawArgs }) {
    const only = clusterNames(rawArgs, args.clusters);
    const conn = await connect(args, rawArgs, { userAgent: "kubectl-violet", fieldManager: "kubectl-violet" });
    await checkClusters(conn, only ?? [GLOBAL]); // unknown names and a refused credential fail here, before anything
    const clusters = conn.clusters;
    const plan = await garbage(clusters, only ?? []);
    const dryRun = !!args["dry-run"];
    const verbose = !!args.verbose;
    let failed = 0;
    // --dry-run=server: the API servers run each delete as a dry run (admission, RBAC), nothing is deleted
    const server = args["dry-run"] === "server";
    const onError = (r: (typeof plan.delete)[number], e: Error) => (failed++, logger().error(`delete ${r.type} ${r.name} on ${r.cluster}: ${e.message}`));
    const deleted = dryRun && !server ? plan.delete : await collect(clusters, plan.delete, onError, { dryRun: server });
    printData(versioned("GCReport", { dryRun, deleted, ...(verbose ? { kept: plan.keep } : {}) }), args.output as string | undefined, () => gcSummary(deleted, dryRun, verbose ? plan.keep : undefined), { names: () => deleted.map((r) => `${r.type.toLowerCase()}/${r.name}`) });
    if (failed) throw new CliError(`${failed} resource(s) could not be deleted`);
  },
});
