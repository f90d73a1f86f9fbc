// kubectl mirror copy-ca [NS[/SECRET[,SECRET…]]] -n WORKLOAD-NS — copy a registry CA into a workload namespace as
// zot-ca (default source: mural-system/zot-ca or mural-system/oci-tls-hub, as the PaletteAI air-gap guide does).
import { defineCommand, type CommandMeta } from "citty";
import { outputArgs, serverDryRunArgs } from "../../../shared/cli/args.ts";
import { repeated } from "../../../shared/cli/argv.ts";
import { UsageError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, table, versioned } from "../../../shared/cli/output.ts";
import { kubeArgs, KubeClient, kubeOptionsFromArgs, parseDuration } from "../../../shared/kube/index.ts";
import { copyCa } from "../lib/cluster/copy-ca.ts";

export default defineCommand({
  meta: {
    name: "copy-ca",
    description: "Copy the registry CA (only its ca.crt) into a workload namespace as secret zot-ca: by default from mural-system/zot-ca or mural-system/oci-tls-hub, whichever exists, waiting for it with --wait; works across contexts",
    examples: [
      "kubectl mirror copy-ca -n clearml --create-namespace --wait 10m     # mural-system/zot-ca or oci-tls-hub → clearml/zot-ca",
      "kubectl mirror copy-ca zot-system/zot-ca -n my-workloads",
      "kubectl mirror copy-ca mural-system/oci-tls-hub -n my-workloads --to-name registry-ca --wait 5m",
      "kubectl mirror copy-ca zot-system/zot-ca --from-context hub --to-context spoke-1 -n apps",
    ],
  } as CommandMeta,
  args: {
    source: { type: "positional", required: false, description: "Source secret: NAMESPACE/NAME, NAMESPACE/NAME1,NAME2 (the first that exists wins) or NAMESPACE (its zot-ca or oci-tls-hub); default mural-system/zot-ca,oci-tls-hub", valueHint: "NS[/NAME[,NAME]]" },
    ...kubeArgs,
    namespace: { type: "string", alias: ["n"], description: "Target (workload) namespace (required)", valueHint: "NS" },
    "create-namespace": { type: "boolean", description: "Create the target namespace if it does not exist" },
    "to-name": { type: "string", description: "Target secret name (default zot-ca, whatever the source is called)", valueHint: "NAME" },
    "from-context": { type: "string", description: "kubeconfig context of the source (default: current)", valueHint: "NAME" },
    "to-context": { type: "string", description: "kubeconfig context of the target (default: current)", valueHint: "NAME" },
    key: { type: "string", description: "Key(s) to copy; the first present is required (default ca.crt; repeatable)", valueHint: "KEY" },
    "target-key": { type: "string", description: "Store the CA under this key in the target (default: the same key)", valueHint: "KEY" },
    wait: { type: "string", description: "Wait this long for a source secret to appear, e.g. 10m (default 0: do not wait)", valueHint: "DURATION" },
    ...serverDryRunArgs,
    ...outputArgs,
  },
  async run({ args, rawArgs }) {
    const ns = args.namespace as string | undefined;
    if (!ns) throw new UsageError("-n/--namespace TARGET-NAMESPACE is required");
    const base = kubeOptionsFromArgs({ ...args, namespace: undefined }, rawArgs);
    const from = KubeClient.fromOptions({ ...base, context: (args["from-context"] as string | undefined) ?? base.context });
    const to = KubeClient.fromOptions({ ...base, context: (args["to-context"] as string | undefined) ?? base.context });
    const log = logger();
    const r = await copyCa({
      from,
      to,
      source: args.source as string | undefined,
      namespace: ns,
      name: args["to-name"] as string | undefined,
      createNamespace: !!args["create-namespace"],
      keys: repeated(rawArgs, ["key"]),
      targetKey: args["target-key"] as string | undefined,
      waitMs: args.wait ? parseDuration(String(args.wait), "--wait") : 0,
      dryRun: args["dry-run"] as false | "client" | "server",
      onWait: (m) => log.info(m),
    });
    printData(versioned("CopyCAReport", r), args.output as string | undefined, () => table(["source", "target", "keys", "action"], [[`${r.fromContext ? `${r.fromContext}:` : ""}${r.source}`, `${r.toContext ? `${r.toContext}:` : ""}${r.target}`, r.keys.join(","), `${r.action}${r.namespaceCreated ? " (namespace created)" : ""}`]]));
  },
});
