// Flag sets for commands that load and render a chart (images now, sync/export later) and map images to a
// destination, plus the translation of parsed flags into library options.
import type { ArgsDef } from "citty";
import { repeated } from "../../../shared/cli/argv.ts";
import { registryArgs } from "../../../shared/cli/args.ts";
import { UsageError } from "../../../shared/cli/errors.ts";
import { readStdinSecret, registryOptionsFromArgs } from "../../../shared/cli/registry.ts";
import { registerSecret } from "../../../shared/runtime/redact.ts";
import type { ChartRequest } from "../../../shared/helm/chart-source.ts";
import type { DiscoverOptions } from "../../../shared/helm/discover.ts";
import { MAP_MODES, type MapMode } from "./mapping.ts";

export const chartSourceArgs = {
  "repo-url": { type: "string", description: "HTTP(S) chart repository URL (with --chart-url or a CHART name)", valueHint: "URL" },
  "chart-url": { type: "string", description: "Chart in --repo-url as ALIAS/CHART (the alias is informational)", valueHint: "ALIAS/CHART" },
  "chart-version": { type: "string", description: "Chart version or constraint (default: latest stable)", valueHint: "VERSION" },
  devel: { type: "boolean", description: "Allow prerelease chart versions when picking the latest" },
  "pass-credentials": { type: "boolean", description: "Send repository credentials to chart URLs on other hosts too" },
  ...registryArgs,
} as const satisfies ArgsDef;

export const renderArgs = {
  "release-name": { type: "string", description: "Release name used to render the chart (default: the chart name)", valueHint: "NAME" },
  namespace: { type: "string", alias: ["n"], description: "Namespace used to render the chart (default: default)" },
  values: { type: "string", alias: ["f"], description: "Values file (repeatable)", valueHint: "FILE" },
  set: { type: "string", description: "Set a value, key=val[,key=val] (repeatable, Helm syntax)", valueHint: "KEY=VAL" },
  "set-string": { type: "string", description: "Set a STRING value (repeatable)", valueHint: "KEY=VAL" },
  "set-json": { type: "string", description: "Set a JSON value (repeatable)", valueHint: "KEY=JSON" },
  "kube-version": { type: "string", description: "Kubernetes version for Capabilities.KubeVersion when rendering", valueHint: "VERSION" },
  "api-versions": { type: "string", description: "Extra API versions for Capabilities.APIVersions (repeatable)", valueHint: "GROUP/VERSION" },
  helm: { type: "string", description: "helm binary used to render and pull (default: $HELM_BIN, then helm on PATH)", valueHint: "PATH" },
  render: { type: "boolean", default: true, description: "Render the chart with helm template (--no-render: same as --static-only; rendering runs the chart's template code)" },
  "static-only": { type: "boolean", description: "Do not render: accept images found statically (values, annotations, images.lock, image: lines in templates); images computed in templates can be missed" },
  "skip-tests": { type: "boolean", description: "Leave out helm test hooks when rendering" },
} as const satisfies ArgsDef;

export const mappingArgs = {
  dest: { type: "string", description: "Destination registry[/path] to map images to (shows DESTINATION and the registry map)", valueHint: "REGISTRY[/PATH]" },
  "dest-mode": { type: "string", description: "Destination naming: strip-host (default), keep-host, flat", valueHint: "MODE" },
  "image-prefix": { type: "string", description: 'Path between the destination and the image path (default "images"; "" for none)', valueHint: "PATH" },
  "registry-map": { type: "string", description: "File of source prefix → destination prefix entries (wins over --dest-mode)", valueHint: "FILE" },
  "map-out": { type: "string", description: "Write the registry map actually used to this file (source repository → mirror repository; readable by --registry-map; not Helm values: see --values-out)", valueHint: "FILE" },
  "values-out": { type: "string", description: "Write Helm values pointing every image the chart takes from its values at the mirror (helm install -f FILE); checked with helm template; a directory for several charts", valueHint: "FILE|DIR/" },
} as const satisfies ArgsDef;

type Args = Record<string, unknown>;

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}


/** ChartRequest from the chart source flags (reads --password-stdin); oci:// charts are pulled with the OCI core. */
export async function chartRequestFromArgs(args: Args, rawArgs: string[], chart?: string): Promise<ChartRequest> {
  // the shared registry options read --password-stdin once (cached) and validate the credential flags
  const registry = await registryOptionsFromArgs(args, rawArgs);
  let password = str(args.password);
  if (args["password-stdin"]) password = readStdinSecret("--password-stdin");
  registerSecret(password);
  const username = str(args.username);
  const caFiles = repeated(rawArgs, ["ca-file"], { split: false });
  const caFile = caFiles.length ? caFiles[caFiles.length - 1]!.replace(/^[^=/]*=/, "") : undefined;
  return {
    chart,
    repoUrl: str(args["repo-url"]),
    chartUrl: str(args["chart-url"]),
    version: str(args["chart-version"]),
    devel: !!args.devel,
    passCredentials: !!args["pass-credentials"],
    username,
    password,
    caFile,
    insecure: !!args.insecure || repeated(rawArgs, ["insecure-host"]).length > 0,
    plainHttp: !!args["plain-http"] || repeated(rawArgs, ["plain-http-host"]).length > 0,
    registryConfig: str(args["registry-config"]),
    helm: str(args.helm),
    registry,
  };
}

/** Render/discovery options from the render flags. */
export function renderOptionsFromArgs(args: Args, rawArgs: string[]): Omit<DiscoverOptions, "chartDir"> {
  return {
    releaseName: str(args["release-name"]),
    namespace: str(args.namespace),
    valuesFiles: repeated(rawArgs, ["values", "f"]),
    set: repeated(rawArgs, ["set"], { split: false }),
    setString: repeated(rawArgs, ["set-string"], { split: false }),
    setJson: repeated(rawArgs, ["set-json"], { split: false }),
    kubeVersion: str(args["kube-version"]),
    apiVersions: repeated(rawArgs, ["api-versions"]),
    helm: args.render === false || args["static-only"] ? false : str(args.helm),
    skipTests: !!args["skip-tests"],
  };
}

export interface MappingFlags {
  dest?: string;
  mode: MapMode;
  prefix?: string;
  registryMapFile?: string;
  mapOut?: string;
  valuesOut?: string;
}

export function mappingFromArgs(args: Args): MappingFlags {
  const mode = (str(args["dest-mode"]) ?? "strip-host") as MapMode;
  if (!MAP_MODES.includes(mode)) throw new UsageError(`--dest-mode ${mode}: must be one of ${MAP_MODES.join(", ")}`);
  const dest = str(args.dest);
  const registryMapFile = str(args["registry-map"]);
  const mapOut = str(args["map-out"]);
  if (!dest && (args["dest-mode"] !== undefined || args["image-prefix"] !== undefined)) throw new UsageError("--dest-mode and --image-prefix need --dest");
  const valuesOut = str(args["values-out"]);
  if (mapOut && !dest && !registryMapFile) throw new UsageError("--map-out needs --dest or --registry-map");
  if (valuesOut && !dest) throw new UsageError("--values-out needs --dest (the registry the images are mirrored to)");
  return { dest, mode, prefix: typeof args["image-prefix"] === "string" ? args["image-prefix"] : undefined, registryMapFile, mapOut, valuesOut };
}
