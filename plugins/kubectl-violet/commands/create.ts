// kubectl violet create OUTDIR --artifact REF: build a package working directory from a registry artifact.
import { defineCommand } from "citty";
import { resolve } from "node:path";
import { globalArgs, outputArgs } from "../../../shared/cli/args.ts";
import { repeated } from "../../../shared/cli/argv.ts";
import { UsageError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, versioned } from "../../../shared/cli/output.ts";
import { concurrencyArgs, concurrencyOf, violetRegistryArgs, violetRegistryOptions, VIOLET_CREDENTIALS_HELP } from "../lib/args.ts";
import { artifactRegistryHost, createPackageDir } from "../lib/create.ts";
import { showData, showText } from "../lib/show.ts";

export default defineCommand({
  meta: {
    name: "create",
    description: "Create a package directory from an operator bundle image, a cluster-plugin chart or a Helm chart",
    examples: [
      "kubectl violet create topolvm --artifact harbor.demo.io/acp/topolvm-operator-bundle:v3.11.0 --platforms linux/amd64,linux/arm64 --no-auth",
      "kubectl violet create log-center --artifact oci://harbor.demo.io/acp/chart-log-center:v1.2.0 --username admin --password-stdin",
      "kubectl violet create nginx --artifact https://charts.example.com/nginx-1.0.0.tgz --skip-package-images",
    ],
    notes: VIOLET_CREDENTIALS_HELP,
  } as any,
  args: {
    ...globalArgs,
    outdir: { type: "positional", description: "Directory to create (must not exist)", required: true },
    artifact: { type: "string", description: "Main artifact: bundle image, OCI chart (oci:// or host/repo:tag), chart URL or .tgz", valueHint: "REF" },
    platforms: { type: "string", description: "Platforms to keep, os/arch[/variant] (comma list, repeatable; default: all)", valueHint: "LIST" },
    "default-catalog-source": { type: "string", description: "CatalogSource operators go to unless push says otherwise (default platform)", valueHint: "NAME" },
    "skip-package-images": { type: "boolean", description: "Metadata-only package: do not carry the related images" },
    "module-plugin": { type: "string", description: "ModulePlugin YAML to use (makes the chart a cluster plugin)", valueHint: "FILE" },
    "repo-url": { type: "string", description: "Chart repository URL (with --artifact CHART-NAME)", valueHint: "URL" },
    "chart-version": { type: "string", description: "Chart version (with --repo-url)", valueHint: "VERSION" },
    ...violetRegistryArgs,
    ...concurrencyArgs,
    ...outputArgs,
  },
  async run({ args, rawArgs }) {
    if (!args.artifact) throw new UsageError("--artifact is required", "e.g. --artifact registry.example.com/acp/foo-operator-bundle:v1.0.0");
    // the registry credentials belong to the artifact's registry; related images elsewhere use stored credentials
    const host = artifactRegistryHost(String(args.artifact));
    const registry = await violetRegistryOptions(args, rawArgs, host ? [host] : undefined);
    const meta = await createPackageDir(String(args.outdir), {
      artifact: String(args.artifact),
      platforms: repeated(rawArgs, ["platforms"]),
      defaultCatalogSource: args["default-catalog-source"] as string | undefined,
      skipPackageImages: !!args["skip-package-images"],
      modulePlugin: args["module-plugin"] as string | undefined,
      chartRepoUrl: args["repo-url"] as string | undefined,
      chartVersion: args["chart-version"] as string | undefined,
      registry,
      concurrency: concurrencyOf(args),
      log: (l) => (l.startsWith("warning: ") ? logger().warn(l.slice(9)) : logger().info(l)),
    });
    logger().info(`created ${args.outdir}: ${meta.type} ${meta.name} ${meta.version} with ${meta.relatedImages.length} related images`);
    printData(versioned("PackageInfo", showData(meta, { directory: resolve(String(args.outdir)) })), args.output as string | undefined, () => showText(meta, true));
  },
});
