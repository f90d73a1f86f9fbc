// kubectl violet list: installed aligned/agnostic extensions as the `applications:` YAML (stdout + apps.yaml).
import { defineCommand } from "citty";
import { rename, writeFile } from "node:fs/promises";
import { globalArgs, listOutputArgs } from "../../../shared/cli/args.ts";
import { repeated } from "../../../shared/cli/argv.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, toYaml } from "../../../shared/cli/output.ts";
import { kubeArgs, kubeClientFromArgs } from "../../../shared/kube/index.ts";
import { listApplications } from "../lib/apps.ts";
import { Clusters } from "../lib/clusters.ts";

export default defineCommand({
  meta: {
    name: "list",
    description: "Export installed operators, cluster plugins and chart applications to apps.yaml",
    examples: ["kubectl violet list", "kubectl violet list --clusters global,region1 --output-file upgrade-apps.yaml", "kubectl violet list -o json --platform-address https://acp.example.com --platform-token $TOKEN"],
  } as any,
  args: {
    ...globalArgs,
    clusters: { type: "string", description: "Only applications in these clusters (comma list)", valueHint: "A,B" },
    "output-file": { type: "string", alias: ["O"], description: "Also write the YAML here (default apps.yaml)", valueHint: "FILE" },
    ...kubeArgs,
    ...listOutputArgs,
  },
  async run({ args, rawArgs }) {
    const clusters = new Clusters(kubeClientFromArgs(args, rawArgs, { userAgent: "kubectl-violet" }));
    const apps = await listApplications(clusters, repeated(rawArgs, ["clusters"]));
    const file = (args["output-file"] as string | undefined) ?? "apps.yaml";
    const tmp = `${file}.tmp-${process.pid}`;
    await writeFile(tmp, toYaml(apps));
    await rename(tmp, file);
    printData(apps, args.output as string | undefined, () => toYaml(apps), { names: () => Object.keys(apps.applications) });
    logger().info(`${Object.keys(apps.applications).length} application(s) written to ${file}`);
  },
});
