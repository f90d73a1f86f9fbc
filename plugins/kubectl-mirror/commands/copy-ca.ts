// kubectl mirror copy-ca NS/SECRET -n TARGET-NS — copy a registry CA into a workload namespace (across contexts).
import { defineCommand, type CommandMeta } from "citty";
import { outputArgs, serverDryRunArgs } from "../../../shared/cli/args.ts";
import { repeated } from "../../../shared/cli/argv.ts";
import { UsageError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, table } from "../../../shared/cli/output.ts";
import { kubeArgs, KubeClient, kubeOptionsFromArgs, parseDuration } from "../../../shared/kube/index.ts";
import { copyCa } from "../lib/copy-ca.ts";

export default defineCommand({
  meta: {
    name: "copy-ca",
    description: "Copy a registry CA secret (only its ca.crt) into a workload namespace, waiting for it to exist; works across contexts",
    examples: [
      "kubectl mirror copy-ca zot-system/zot-ca -n my-workloads",
      "kubectl mirror copy-ca mural-system/oci-tls-hub -n my-workloads --to-name zot-ca --wait 5m",
      "kubectl mirror copy-ca zot-system/zot-ca --from-context hub --to-context spoke-1 -n apps",
    ],
  } as CommandMeta,
  args: {
    source: { type: "positional", required: true, description: "Source secret NAMESPACE/NAME", valueHint: "NS/NAME" },
    ...kubeArgs,
    namespace: { type: "string", alias: ["n"], description: "Target namespace (required)", valueHint: "NS" },
    "to-name": { type: "string", description: "Target secret name (default: the source name)", valueHint: "NAME" },
    "from-context": { type: "string", description: "kubeconfig context of the source (default: current)", valueHint: "NAME" },
    "to-context": { type: "string", description: "kubeconfig context of the target (default: current)", valueHint: "NAME" },
    key: { type: "string", description: "Key(s) to copy; the first present is required (default ca.crt; repeatable)", valueHint: "KEY" },
    "target-key": { type: "string", description: "Store the CA under this key in the target (default: the same key)", valueHint: "KEY" },
    wait: { type: "string", description: "Wait this long for the source secret to appear, e.g. 5m (default 0: do not wait)", valueHint: "DURATION" },
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
      source: String(args.source),
      namespace: ns,
      name: args["to-name"] as string | undefined,
      keys: repeated(rawArgs, ["key"]),
      targetKey: args["target-key"] as string | undefined,
      waitMs: args.wait ? parseDuration(String(args.wait), "--wait") : 0,
      dryRun: args["dry-run"] as false | "client" | "server",
      onWait: (m) => log.info(m),
    });
    printData(r, args.output as string | undefined, () => table(["source", "target", "keys", "action"], [[`${r.fromContext ? `${r.fromContext}:` : ""}${r.source}`, `${r.toContext ? `${r.toContext}:` : ""}${r.target}`, r.keys.join(","), r.action]]));
  },
});
