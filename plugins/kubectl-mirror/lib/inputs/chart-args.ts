// Flag sets for commands that load and render a chart (images now, sync/export later) and map images to a
// destination, plus the translation of parsed flags into library options.
import type { ArgsDef } from "citty";
import { repeated } from "../../../../shared/cli/argv.ts";
import { registryArgs, srcCredentialArgs } from "../../../../shared/cli/args.ts";
import { UsageError } from "../../../../shared/cli/errors.ts";
import { credentialsFromFlags, registryOptionsFromArgs } from "../../../../shared/cli/registry.ts";
import { findRepository, loadRepositories, type HelmRepoEntry } from "../../../../shared/helm/config.ts";
import type { RegistryOptions } from "../../../../shared/oci/client.ts";
import { existsSync } from "node:fs";
import { registerSecret } from "../../../../shared/runtime/redact.ts";
import type { ChartRequest } from "../../../../shared/helm/chart-source.ts";
import type { DiscoverOptions } from "../../../../shared/helm/discover.ts";
import { MAP_MODES, type MapMode } from "../plan/mapping.ts";

export const chartSourceArgs = {
  "repo-url": { type: "string", description: "HTTP(S) or oci:// chart repository URL, or a Helm repo name from repositories.yaml (with --chart-url or a CHART name)", valueHint: "URL|ALIAS" },
  "chart-url": { type: "string", description: "Chart as ALIAS/CHART: in --repo-url, or (without --repo-url) in the Helm repo ALIAS of repositories.yaml", valueHint: "ALIAS/CHART" },
  "chart-version": { type: "string", description: "Chart version or constraint (default: latest stable)", valueHint: "VERSION" },
  devel: { type: "boolean", description: "Allow prerelease chart versions when picking the latest" },
  "pass-credentials": { type: "boolean", description: "Send repository credentials to chart URLs on other hosts too" },
  ...registryArgs,
  ...srcCredentialArgs,
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


/** The CHART positional: one per run (--chart-version, --values… apply to it); a second one is a usage error, never silently dropped. */
export function chartPositional(args: Args): string | undefined {
  const given = (args._ as string[] | undefined) ?? [];
  if (given.length > 1) throw new UsageError(`one CHART per run, got ${given.length}: ${given.join(" ")}`, "list several charts in a --mirror-file (kind MirrorSet), or run once per chart");
  return given[0] ?? str(args.chart);
}

/**
 * ChartRequest from the chart source flags; oci:// charts are pulled with the OCI core (`registry`).
 * Chart repository credentials: --src-username/--src-password-stdin (and, in commands without a destination,
 * -u/--password-stdin), else the repositories.yaml entry of a Helm repo alias. An alias from repositories.yaml
 * resolves like Helm's: `--repo-url ALIAS`, or `--chart-url ALIAS/CHART` / `ALIAS/CHART` without --repo-url.
 */
export async function chartRequestFromArgs(args: Args, rawArgs: string[], chart?: string, opts: { registry?: RegistryOptions; hasDestination?: boolean } = {}): Promise<ChartRequest> {
  // the registry options read --password-stdin once (cached) and validate the credential flags
  const registry = opts.registry ?? (await registryOptionsFromArgs(args, rawArgs, { destination: undefined, source: chartSourceHosts({ ...args, chart: chart ?? args.chart }) }));
  const flags = credentialsFromFlags(args);
  const cred = opts.hasDestination ? flags.src : (flags.dest ?? flags.src);
  // the registry TLS flags apply per host (--ca-file HOST=FILE, --insecure-host, --plain-http-host); an http(s)://
  // chart repository keeps its URL's scheme (see ChartRequest.plainHttp)
  const caFiles = [...(registry.caFiles ?? [])];
  let insecure: boolean | string[] = registry.insecure ?? false;
  let repoUrl = str(args["repo-url"]);
  const chartUrl = str(args["chart-url"]);
  let username = cred?.username;
  let password = cred?.password;
  const srcFlags = "--src-username/--src-password-stdin";
  let credentialFrom = username === undefined ? undefined : opts.hasDestination || !flags.dest ? srcFlags : "-u/--password-stdin";
  // a Helm repository alias (helm repo add NAME URL) where a URL is expected, or ALIAS/CHART without --repo-url
  const aliasEntry = await helmAlias(repoUrl, chartUrl ?? chart);
  if (aliasEntry) {
    repoUrl = aliasEntry.url;
    if (username === undefined && aliasEntry.username) {
      username = aliasEntry.username;
      password = aliasEntry.password;
      credentialFrom = `the repositories.yaml entry "${aliasEntry.name}"`;
    }
    // the entry's TLS settings are its own host's (like helm's per-repository caFile/insecure_skip_tls_verify)
    const host = hostOf(aliasEntry.url);
    if (aliasEntry.caFile) caFiles.unshift(host ? { host, file: aliasEntry.caFile } : { file: aliasEntry.caFile });
    if (aliasEntry.insecure_skip_tls_verify && insecure !== true && host) insecure = [...(insecure || []), host];
  }
  const credentialFlags = opts.hasDestination
    ? `${srcFlags}, --cred-file or the repository's repositories.yaml entry (helm repo add --username); -u/--password-stdin and --dest-* are the destination's`
    : `-u/--password-stdin (or ${srcFlags}), --cred-file or the repository's repositories.yaml entry (helm repo add --username)`;
  registerSecret(password);
  return {
    chart,
    repoUrl,
    chartUrl,
    version: str(args["chart-version"]),
    devel: !!args.devel,
    passCredentials: !!args["pass-credentials"] || !!aliasEntry?.pass_credentials_all,
    username,
    password,
    caFiles,
    insecure,
    plainHttp: registry.plainHttp ?? false,
    credentialFrom,
    credentialFlags,
    registryConfig: str(args["registry-config"]),
    helm: str(args.helm),
    registry,
  };
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The repositories.yaml entry a chart source names, like Helm: `--repo-url NAME` (not a URL) must be a known repo;
 * `ALIAS/CHART` without --repo-url is looked up when ALIAS is a known repo and no such local path exists.
 */
async function helmAlias(repoUrl: string | undefined, spec: string | undefined): Promise<HelmRepoEntry | undefined> {
  if (repoUrl) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(repoUrl)) return undefined;
    try {
      return await findRepository(repoUrl);
    } catch (e) {
      throw new UsageError(`--repo-url ${repoUrl}: not a URL, and ${(e as Error).message}`);
    }
  }
  const m = spec ? /^([\w.-]+)\/([\w.-]+)$/.exec(spec) : null;
  if (!m || existsSync(spec!)) return undefined;
  const repos = await loadRepositories().catch(() => [] as HelmRepoEntry[]);
  return repos.find((r) => r.name === m[1]);
}

/**
 * Hosts the source credentials (--src-*, and -u in commands without a destination) belong to: the chart's own
 * repository or registry (--repo-url, oci://… or https://… CHART). Image registries use stored credentials.
 */
export function chartSourceHosts(args: Args): string[] {
  const specs = [str(args["repo-url"]), str((args._ as string[] | undefined)?.[0]), str(args.chart), str(args["chart-url"])];
  return [...new Set(specs.filter((x): x is string => !!x && /^(oci|https?):\/\//.test(x)).map((x) => x.replace(/^[a-z]+:\/\//, "").split("/")[0]!.toLowerCase()))];
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
