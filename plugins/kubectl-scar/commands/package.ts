// kubectl scar package DIR [-O FILE] [-o json|yaml]
import { defineCommand } from "citty";
import { outputFlag } from "../../../shared/cli/conventions.ts";
import { UsageError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, versioned } from "../../../shared/cli/output.ts";
import { packageManifests } from "../lib/package.ts";

export default defineCommand({
  meta: {
    name: "package",
    description: "Archive a manifests directory into manifests.tgz (like `cd DIR && tar -czf manifests.tgz .`)",
    examples: ["kubectl scar package /var/www/html                      # → ./manifests.tgz", "kubectl scar package /var/www/html -O /tmp/manifests.tgz -o json"],
  } as any,
  args: {
    dir: { type: "positional", required: false, description: "the manifests directory" },
    "output-file": { type: "string", alias: ["O"], description: "Archive to write (default ./manifests.tgz)", valueHint: "FILE" },
    // -o is the output format (json|yaml); -o FILE was this command's old spelling: still read as the archive (with a deprecation warning)
    output: outputFlag(["json", "yaml"], { legacyFileFlag: "output-file" }),
    json: { type: "boolean", description: "deprecated: use -o json" },
  },
  async run({ args }) {
    const pos = (args._ as string[]) ?? [];
    if (pos.length !== 1) throw new UsageError(pos.length ? `expected one directory, got ${pos.length}` : "the manifests directory is required", "kubectl scar package DIR [-O FILE]");
    if (args.json) logger().warn("--json is deprecated: use -o json");
    const format = (args.output as string | undefined) ?? (args.json ? "json" : undefined);
    const r = await packageManifests(pos[0]!, (args["output-file"] as string | undefined) ?? "manifests.tgz");
    for (const s of r.skipped) logger().warn(`skipped ${s} (not a regular file, directory or symbolic link)`);
    for (const l of r.outsideLinks) logger().warn(`symbolic link ${l} points outside ${pos[0]}: stored as a link (like tar), its target is not in the archive`);
    const out = { file: r.file, digest: r.digest, size: r.size, files: r.files, directories: r.directories, symlinks: r.symlinks, skipped: r.skipped, outsideLinks: r.outsideLinks };
    printData(versioned("ScarPackageReport", out), format, () => `${r.file}\t${r.digest}\t${r.size} bytes\t${r.files} files${r.symlinks ? `\t${r.symlinks} symlinks` : ""}\n`);
  },
});
