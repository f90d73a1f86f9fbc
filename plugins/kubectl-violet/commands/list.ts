// kubectl violet list: installed aligned/agnostic extensions as the `applications:` YAML (stdout + apps.yaml);
// -o json|yaml prints kind InstalledApplications (the same applications map), the file stays violet's document.
import { defineCommand } from "citty";
import { rename, writeFile } from "node:fs/promises";
import { globalArgs, listOutputArgs } from "../../../shared/cli/args.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, toJson, toYaml, versioned } from "../../../shared/cli/output.ts";
import { VIOLET_PLATFORM_CREDENTIALS_HELP } from "../lib/args.ts";
import { kubeArgs } from "../../../shared/kube/index.ts";
import { listApplications } from "../lib/apps.ts";
import { GLOBAL } from "../lib/clusters.ts";
import { allClusters, checkClusters, clusterNames, connect, platformArgs } from "../lib/platform.ts";

export default defineCommand({
  meta: {
    name: "list",
    description: "Export installed operators, cluster plugins and chart applications to apps.yaml",
    examples: [
      "kubectl violet list",
      "kubectl violet list --clusters global,region1 --output-file upgrade-apps.yaml",
      "kubectl violet list --platform-address https://acp.example.com --platform-username admin --platform-password-stdin",
      "kubectl violet list -o json --output-file apps.json --platform-address https://acp.example.com --platform-token $TOKEN",
    ],
    notes: VIOLET_PLATFORM_CREDENTIALS_HELP,
  } as any,
  args: {
    ...globalArgs,
    clusters: { type: "string", description: "Only applications in these clusters (comma list; default: every cluster you can see)", valueHint: "A,B" },
    "output-file": { type: "string", alias: ["O"], description: "Also write the applications: document here, as violet does (default apps.yaml; JSON with -o json or a .json name)", valueHint: "FILE" },
    ...kubeArgs,
    ...platformArgs,
    ...listOutputArgs,
  },
  async run({ args, rawArgs }) {
    const only = clusterNames(rawArgs, args.clusters);
    const conn = await connect(args, rawArgs, { userAgent: "kubectl-violet" });
    await checkClusters(conn, only ?? [GLOBAL]); // unknown names and a refused credential fail here, before anything
    const apps = await listApplications(conn.clusters, only ?? [], (mentioned) => allClusters(conn, mentioned));
    const file = (args["output-file"] as string | undefined) ?? "apps.yaml";
    const json = args.output === "json" || (args.output === undefined && /\.json$/i.test(file));
    const tmp = `${file}.tmp-${process.pid}`;
    await writeFile(tmp, json ? toJson(apps) : toYaml(apps));
    await rename(tmp, file);
    // the file keeps the applications: document violet's tooling reads; -o json|yaml prints it as a versioned report
    printData(versioned("InstalledApplications", apps), args.output as string | undefined, () => toYaml(apps), { names: () => Object.keys(apps.applications) });
    logger().info(`${Object.keys(apps.applications).length} application(s) written to ${file}`);
  },
});
