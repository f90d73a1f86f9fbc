// kubectl scar push FILE --registry HOST [--base-path P] [--tag T]
import { defineCommand } from "citty";
import { dryRunArgs, outputArgs } from "../../../shared/cli/args.ts";
import { UsageError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData } from "../../../shared/cli/output.ts";
import { registryFromArgs, targetArgs, targetFromArgs, timeoutArgs } from "../lib/args.ts";
import { pushManifests } from "../lib/artifact.ts";

export default defineCommand({
  meta: {
    name: "push",
    description: "Push manifests.tgz to <registry>/<base-path>/spectro-manifests/manifest:<tag>, shaped like ORAS 1.0.0's `oras push`",
    examples: [
      "kubectl scar push manifests.tgz --registry harbor.example.com --username admin --password-stdin",
      "aws ecr get-login-password | kubectl scar push manifests.tgz --registry 123456789012.dkr.ecr.us-east-1.amazonaws.com --registry-username AWS --password-stdin",
      "kubectl scar push manifests.tgz --registry 127.0.0.1:5000 --plain-http --tag 0.0.0",
    ],
  } as any,
  args: {
    file: { type: "positional", required: false, description: "the manifests.tgz archive" },
    ...targetArgs,
    ...timeoutArgs,
    force: { type: "boolean", description: "push even when the tag already holds the same archive" },
    ...dryRunArgs,
    ...outputArgs,
  },
  async run({ args, rawArgs }) {
    const pos = (args._ as string[]) ?? [];
    if (pos.length !== 1) throw new UsageError(pos.length ? `expected one file, got ${pos.length}` : "the archive is required", "kubectl scar push FILE --registry HOST");
    const target = targetFromArgs(args)!;
    const registry = await registryFromArgs(args, rawArgs);
    const r = await pushManifests(pos[0]!, target, { registry, force: !!args.force, dryRun: !!args["dry-run"] });
    if (args["dry-run"]) logger().info(r.digest ? `${r.reference} already holds this archive` : `would push ${pos[0]} (${r.size} bytes, ${r.layerDigest}) to ${r.reference}`);
    else logger().info(r.pushed ? `pushed ${r.reference}` : `${r.reference} already holds this archive; nothing pushed (--force to push anyway)`);
    printData(r, args.output as string | undefined, () => `${r.reference}@${r.digest || "(not pushed)"}\n`);
  },
});
