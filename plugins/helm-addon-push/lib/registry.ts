// Registry options for oci:// pushes: the shared registry flags, with credentials looked up like Helm does:
// flags, REGISTRY_USERNAME/PASSWORD, Helm's registry config ($HELM_REGISTRY_CONFIG, written by
// `helm registry login`), then docker's config.json. An explicit --registry-config replaces both files.
import { readStdinSecret, registryOptionsFromArgs } from "../../../shared/cli/registry.ts";
import type { RegistryOptions } from "../../../shared/oci/client.ts";
import { chainCredentials, dockerConfigCredentials, envCredentials, staticCredentials } from "../../../shared/oci/transport/credentials.ts";
import { registryConfigPath } from "../../../shared/helm/config.ts";

export async function registryOptionsForHelm(args: Record<string, unknown>, rawArgs: string[], env = process.env): Promise<RegistryOptions> {
  const opts = await registryOptionsFromArgs(args, rawArgs);
  if (args["registry-config"]) return opts;
  const username = args.username as string | undefined;
  const password = (args.password as string | undefined) ?? (args["password-stdin"] ? readStdinSecret("--password-stdin") : undefined);
  opts.credentials = chainCredentials(
    username && password ? staticCredentials({ username, password }) : undefined,
    envCredentials(env),
    dockerConfigCredentials(registryConfigPath(env)),
    dockerConfigCredentials(),
  );
  return opts;
}
