// kubectl violet show PKG [--all]: the package metadata (reads only the first KiB of the file).
import { defineCommand } from "citty";
import { resolve } from "node:path";
import { globalArgs, outputArgs } from "../../../shared/cli/args.ts";
import { UsageError } from "../../../shared/cli/errors.ts";
import { printData, versioned } from "../../../shared/cli/output.ts";
import { readPackage } from "../lib/format.ts";
import { showData, showText } from "../lib/show.ts";

export default defineCommand({
  meta: {
    name: "show",
    description: "Show a package's name, type, architectures and version (--all: main artifact and images)",
    examples: ["kubectl violet show topolvm-operator.stable.amd64.v2.3.0.tgz", "kubectl violet show pkg.tgz --all", "kubectl violet show pkg.tgz -o json"],
  } as any,
  args: {
    ...globalArgs,
    package: { type: "positional", description: "Package file (.tgz)", required: true },
    all: { type: "boolean", description: "Also show the main artifact and the related images" },
    ...outputArgs,
  },
  async run({ args }) {
    const given = (args._ as string[] | undefined) ?? [];
    if (given.length > 1) throw new UsageError(`show takes one package, got ${given.length}: ${given.join(" ")}`, "run it once per package, or `kubectl violet verify`/`push` for several");
    const file = resolve(String(args.package));
    const { metadata } = await readPackage(file);
    printData(versioned("PackageInfo", showData(metadata, { file })), args.output as string | undefined, () => showText(metadata, !!args.all));
  },
});
