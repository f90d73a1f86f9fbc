// The kubectl-style connection flags every kube-talking command accepts. Spread `kubeArgs` into the command's
// args and call `kubeOptionsFromArgs(args, rawArgs)` (or `kubeClientFromArgs`) in run().
import type { ArgsDef } from "citty";
import { repeated } from "../cli/argv.ts";
import { parseDuration, REQUEST_TIMEOUT_HELP } from "../cli/duration.ts";
import { UsageError } from "../cli/errors.ts";
import { registerSecret } from "../runtime/redact.ts";
import type { KubeOptions } from "./config.ts";

export const kubeArgs = {
  kubeconfig: { type: "string", description: "Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)", valueHint: "FILE" },
  context: { type: "string", description: "The kubeconfig context to use", valueHint: "NAME" },
  cluster: { type: "string", description: "The kubeconfig cluster to use", valueHint: "NAME" },
  user: { type: "string", description: "The kubeconfig user to use", valueHint: "NAME" },
  namespace: { type: "string", alias: ["n"], description: "Namespace (default: the context's namespace, else default)", valueHint: "NS" },
  as: { type: "string", description: "Username to impersonate", valueHint: "USER" },
  "as-group": { type: "string", description: "Group to impersonate (repeatable)", valueHint: "GROUP" },
  "as-uid": { type: "string", description: "UID to impersonate", valueHint: "UID" },
  "request-timeout": { type: "string", description: REQUEST_TIMEOUT_HELP, valueHint: "DURATION" },
  "insecure-skip-tls-verify": { type: "boolean", description: "Do not verify the API server certificate (insecure)" },
  "certificate-authority": { type: "string", description: "PEM CA file to trust for the API server", valueHint: "FILE" },
  "platform-address": { type: "string", description: "Platform URL; clusters are reached at <address>/kubernetes/<cluster> (needs --platform-token)", valueHint: "URL" },
  "platform-token": { type: "string", description: "Platform API token (Profile → API Tokens)", valueHint: "TOKEN" },
} as const satisfies ArgsDef;

/** kubectl durations ("0", "30", "500ms", "2m", "1h30m") → ms; shared with the registry flags (shared/cli/duration.ts). */
export { parseDuration } from "../cli/duration.ts";

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** KubeOptions from parsed citty args (+ rawArgs for the repeatable --as-group). */
export function kubeOptionsFromArgs(args: Record<string, unknown>, rawArgs: string[] = []): KubeOptions {
  const timeout = str(args["request-timeout"]);
  const token = str(args["platform-token"]);
  if (token) registerSecret(token);
  const namespace = str(args.namespace);
  if (namespace !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)) {
    throw new UsageError(`invalid namespace ${JSON.stringify(namespace)}`, "a namespace is lower-case letters, digits and '-'");
  }
  const groups = repeated(rawArgs, ["as-group"], { split: false });
  const asGroup = str(args["as-group"]);
  return {
    kubeconfig: str(args.kubeconfig),
    context: str(args.context),
    cluster: str(args.cluster),
    user: str(args.user),
    namespace,
    as: str(args.as),
    asGroups: groups.length ? groups : asGroup ? [asGroup] : [],
    asUid: str(args["as-uid"]),
    requestTimeoutMs: timeout === undefined ? undefined : parseDuration(timeout),
    insecureSkipTlsVerify: args["insecure-skip-tls-verify"] === true || undefined,
    certificateAuthority: str(args["certificate-authority"]),
    platformAddress: str(args["platform-address"]),
    platformToken: token,
  };
}
