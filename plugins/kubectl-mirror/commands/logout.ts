// kubectl mirror logout REGISTRY — remove saved credentials from docker config.json.
import { defineCommand, type CommandMeta } from "citty";
import { CliError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { defaultDockerConfigPath, removeDockerConfigAuth } from "../../../shared/oci/transport/credentials.ts";
import { endpointHost } from "../lib/inputs/credentials.ts";

export default defineCommand({
  meta: {
    name: "logout",
    description: "Remove a registry's credentials from docker config.json",
    examples: ["kubectl mirror logout zot.local:30003", "kubectl mirror logout harbor.local --registry-config ./auth.json"],
  } as CommandMeta,
  args: {
    registry: { type: "positional", required: true, description: "Registry host[:port]", valueHint: "REGISTRY" },
    "registry-config": { type: "string", description: "docker config.json (default: $DOCKER_CONFIG/config.json)", valueHint: "FILE" },
  },
  async run({ args }) {
    const registry = endpointHost(String(args.registry));
    const file = (args["registry-config"] as string | undefined) ?? defaultDockerConfigPath();
    if (!removeDockerConfigAuth(file, registry)) throw new CliError(`not logged in to ${registry} (no entry in ${file})`);
    logger().info(`removed credentials for ${registry} from ${file}`);
    process.stdout.write(`Removing login credentials for ${registry}\n`);
  },
});
