// shared/kube: kubeconfig loading (kubectl rules), connection flags, a typed REST client, platform routing.
//
//   import { kubeArgs, kubeClientFromArgs } from "../../shared/kube/index.ts";
//   args: { ...kubeArgs, ...outputArgs }
//   run: async ({ args, rawArgs }) => { const kube = kubeClientFromArgs(args, rawArgs); await kube.list(...) }
import { KubeClient, type KubeClientOptions } from "./client.ts";
import { kubeOptionsFromArgs } from "./flags.ts";

export * from "./client.ts";
export * from "./config.ts";
export * from "./errors.ts";
export * from "./flags.ts";
export * from "./platform.ts";
export { clearExecCredentialCache, getExecCredential, type ExecCredentialResult } from "./exec-credential.ts";

/** Resolve kubeconfig + flags (kubeArgs) and return a client. Throws KubeConfigError/UsageError on bad input. */
export function kubeClientFromArgs(args: Record<string, unknown>, rawArgs: string[] = [], opts?: KubeClientOptions): KubeClient {
  return KubeClient.fromOptions(kubeOptionsFromArgs(args, rawArgs), opts);
}
