// kubectl violet whoami: the context, cluster server, user and namespace this plugin resolved from the
// kubeconfig and flags, plus who the API server says we are (SelfSubjectReview). Proves the kube wiring.
import { defineCommand } from "citty";
import { globalArgs, outputArgs } from "../../../shared/cli/args.ts";
import { printData, table, versioned } from "../../../shared/cli/output.ts";
import { KubeApiError, kubeArgs } from "../../../shared/kube/index.ts";
import { VIOLET_PLATFORM_CREDENTIALS_HELP } from "../lib/args.ts";
import { connect, platformArgs } from "../lib/platform.ts";

export default defineCommand({
  meta: {
    name: "whoami",
    description: "Show the context, cluster, user and namespace violet will use",
    examples: [
      "kubectl violet whoami",
      "kubectl violet whoami --context prod -n cpaas-system -o json",
      "kubectl violet whoami --offline",
      "kubectl violet whoami --platform-address https://acp.example.com --platform-token $TOKEN",
    ],
    notes: VIOLET_PLATFORM_CREDENTIALS_HELP,
  } as any,
  args: {
    ...globalArgs,
    ...kubeArgs,
    ...platformArgs,
    ...outputArgs,
    offline: { type: "boolean", description: "Only resolve the kubeconfig; do not ask the API server who we are" },
  },
  async run({ args, rawArgs }) {
    const kube = (await connect(args, rawArgs, { userAgent: "kubectl-violet" })).clusters.kube;
    const c = kube.config;
    const info: Record<string, unknown> = {
      context: c.contextName ?? null,
      cluster: c.clusterName ?? null,
      server: c.server,
      user: c.userName ?? null,
      namespace: c.namespace,
      auth: c.auth.kind,
      source: c.source,
      kubeconfig: c.files,
    };
    if (c.impersonate.user || c.impersonate.groups.length) info.impersonate = { user: c.impersonate.user ?? null, groups: c.impersonate.groups };
    if (!args.offline) {
      try {
        const me = await kube.selfSubjectReview();
        info.serverUser = me.username ?? null;
        info.serverGroups = me.groups ?? [];
      } catch (e) {
        // clusters older than 1.28 have no SelfSubjectReview; everything else is a real error
        if (!(e instanceof KubeApiError && e.status === 404)) throw e;
        info.serverUser = null;
      }
    }
    printData(versioned("WhoAmI", info), args.output as string | undefined, () =>
      table(
        ["field", "value"],
        Object.entries(info).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : v && typeof v === "object" ? JSON.stringify(v) : (v as string) ?? "<none>"]),
      ),
    );
  },
});
