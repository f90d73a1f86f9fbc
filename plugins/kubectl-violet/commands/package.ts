// kubectl violet package DIR [-O FILE] [-o json|yaml]: copy the images and write the package .tgz (+ .sha256).
import { defineCommand } from "citty";
import { globalArgs } from "../../../shared/cli/args.ts";
import { outputFlag } from "../../../shared/cli/conventions.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, versioned } from "../../../shared/cli/output.ts";
import { createProgress, humanBytes } from "../../../shared/cli/progress.ts";
import { concurrencyArgs, concurrencyOf, violetRegistryArgs, violetRegistryOptions, VIOLET_CREDENTIALS_HELP } from "../lib/args.ts";
import { packageDir, readWorkDir, workDirRegistryHost } from "../lib/pack.ts";

export default defineCommand({
  meta: {
    name: "package",
    description: "Write a package .tgz from a directory made by create (copies the related images into it)",
    examples: [
      "kubectl violet package topolvm --no-auth",
      "kubectl violet package log-center -O log-center.ALL.v1.2.0.tgz --username admin --password-stdin",
      "kubectl violet package topolvm --no-auth -o json",
    ],
    notes: VIOLET_CREDENTIALS_HELP,
  } as any,
  args: {
    ...globalArgs,
    dir: { type: "positional", description: "Directory made by `kubectl violet create`", required: true },
    "output-file": { type: "string", alias: ["O"], description: "Package file (default: <name>[.<channel>].<arch>.<version>.tgz in the current directory)", valueHint: "FILE" },
    // violet's own `--output FILE` still names the package file (with a deprecation warning); -o is the format
    output: outputFlag(["json", "yaml"], { legacyFileFlag: "output-file" }),
    ...violetRegistryArgs,
    ...concurrencyArgs,
  },
  async run({ args, rawArgs }) {
    const meta = await readWorkDir(String(args.dir));
    // the registry credentials belong to the artifact's registry; related images elsewhere use stored credentials
    const host = workDirRegistryHost(meta);
    const registry = await violetRegistryOptions(args, rawArgs, host ? [host] : undefined);
    const todo = meta.imagesIncluded ? meta.relatedImages.filter((i) => !i.digest).length : 0;
    const progress = createProgress({ total: todo, quiet: !!args.quiet });
    try {
      const r = await packageDir(String(args.dir), { output: args["output-file"] as string | undefined, registry, concurrency: concurrencyOf(args), onEvent: progress.onEvent, log: (l) => logger().info(l) });
      progress.finish();
      const data = { file: r.file, checksumFile: r.checksumFile, sha256: r.sha256, size: r.size, type: r.metadata.type, name: r.metadata.name, version: r.metadata.version, images: r.metadata.relatedImages.filter((i) => i.digest).length + 1 };
      printData(versioned("PackageReport", data), args.output as string | undefined, () => `${r.file}\n`);
      logger().info(`package ${r.file} (${humanBytes(r.size)}, sha256 ${r.sha256.slice(0, 12)}…, ${data.images} images) and ${r.checksumFile} written`);
    } finally {
      progress.finish();
    }
  },
});
