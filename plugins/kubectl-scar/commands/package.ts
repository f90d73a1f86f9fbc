// kubectl scar package DIR [-o FILE]
import { defineCommand } from "citty";
import { UsageError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { packageManifests } from "../lib/package.ts";

export default defineCommand({
  meta: {
    name: "package",
    description: "Archive a manifests directory into manifests.tgz (like `cd DIR && tar -czf manifests.tgz .`)",
    examples: ["kubectl scar package /var/www/html                      # → ./manifests.tgz", "kubectl scar package /var/www/html -o /tmp/manifests.tgz"],
  } as any,
  args: {
    dir: { type: "positional", required: false, description: "the manifests directory" },
    output: { type: "string", alias: ["o"], description: "archive to write (default ./manifests.tgz)", valueHint: "FILE" },
    json: { type: "boolean", description: "print the result as JSON (file, digest, size, files)" },
  },
  async run({ args }) {
    const pos = (args._ as string[]) ?? [];
    if (pos.length !== 1) throw new UsageError(pos.length ? `expected one directory, got ${pos.length}` : "the manifests directory is required", "kubectl scar package DIR [-o FILE]");
    const r = await packageManifests(pos[0]!, (args.output as string | undefined) ?? "manifests.tgz");
    for (const s of r.skipped) logger().warn(`skipped ${s} (not a regular file or directory)`);
    if (args.json) process.stdout.write(JSON.stringify({ file: r.file, digest: r.digest, size: r.size, files: r.files, directories: r.directories, skipped: r.skipped }, null, 2) + "\n");
    else process.stdout.write(`${r.file}\t${r.digest}\t${r.size} bytes\t${r.files} files\n`);
  },
});
