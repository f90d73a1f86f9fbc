// kubectl mirror login REGISTRY — store credentials in docker config.json (like oras login / helm registry login).
import { defineCommand, type CommandMeta } from "citty";
import { CliError, UsageError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { readStdinSecret, registryOptionsFromArgs } from "../../../shared/cli/registry.ts";
import { registryArgs } from "../../../shared/cli/args.ts";
import { defaultDockerConfigPath, saveDockerConfigAuth, staticCredentials } from "../../../shared/oci/transport/credentials.ts";
import { registerSecret } from "../../../shared/runtime/redact.ts";
import { checkLogin, endpointHost } from "../lib/inputs/credentials.ts";

export default defineCommand({
  meta: {
    name: "login",
    description: "Log in to a registry: check the credentials and save them in docker config.json (read by every kubectl mirror command, helm, oras, skopeo)",
    examples: [
      "echo \"$PASS\" | kubectl mirror login zot.local:30003 -u admin --password-stdin",
      "kubectl mirror login harbor.local -u robot --password-stdin --registry-config ./auth.json < pass.txt",
      "kubectl mirror login reg.local:5000 -u admin --password-stdin --plain-http --skip-check",
    ],
  } as CommandMeta,
  args: {
    registry: { type: "positional", required: true, description: "Registry host[:port]", valueHint: "REGISTRY" },
    ...registryArgs,
    "skip-check": { type: "boolean", description: "Save without checking the credentials against the registry" },
  },
  async run({ args, rawArgs }) {
    const registry = endpointHost(String(args.registry));
    if (!/^[a-z0-9.-]+(:\d+)?$/.test(registry)) throw new UsageError(`${args.registry}: not a registry host[:port]`);
    const username = args.username as string | undefined;
    if (!username) throw new UsageError("--username is required", "kubectl mirror login REGISTRY -u USER --password-stdin");
    let password = args.password as string | undefined;
    if (args["password-stdin"]) password = readStdinSecret("--password-stdin");
    if (!password) throw new UsageError("a password is required: --password-stdin (or --password)");
    registerSecret(password);
    const opts = await registryOptionsFromArgs({ ...args, username: undefined, password: undefined, "password-stdin": false }, rawArgs);
    if (!args["skip-check"]) {
      try {
        await checkLogin(registry, { ...opts, credentials: staticCredentials({ username, password }) });
      } catch (e) {
        // the library's hint for a refused password suggests `login` itself: say what to check instead
        const hint = (e as { code?: string }).code === "UNAUTHORIZED" ? "check the username and password (the password is read from stdin with --password-stdin)" : (e as { hint?: string }).hint;
        throw new CliError(`login to ${registry} failed: ${(e as Error).message}`, 1, hint);
      }
    }
    const file = (args["registry-config"] as string | undefined) ?? defaultDockerConfigPath();
    saveDockerConfigAuth(file, registry, { username, password });
    logger().info(`credentials for ${registry} saved in ${file}`);
    process.stdout.write("Login Succeeded\n");
  },
});
