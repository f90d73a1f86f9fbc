// Flags shared by sync / export / export-pack / verify / push, and their translation into library options.
import type { ArgsDef } from "citty";
import { repeated } from "../../../../shared/cli/argv.ts";
import { UsageError } from "../../../../shared/cli/errors.ts";
import { registryOptionsFromArgs } from "../../../../shared/cli/registry.ts";
import { destCredentialArgs } from "../../../../shared/cli/args.ts";
import { chainCredentials } from "../../../../shared/oci/transport/credentials.ts";
import { kubeArgs, KubeClient, kubeOptionsFromArgs } from "../../../../shared/kube/index.ts";
import type { RegistryOptions } from "../../../../shared/oci/client.ts";
import { parsePlatform } from "../../../../shared/oci/platform.ts";
import { parseRegistryReference } from "../../../../shared/oci/reference.ts";
import type { Platform } from "../../../../shared/oci/types.ts";
import type { ChartRequest } from "../../../../shared/helm/chart-source.ts";
import { chartPositional, chartRequestFromArgs, chartSourceArgs, chartSourceHosts, mappingArgs, mappingFromArgs, renderArgs, renderOptionsFromArgs } from "./chart-args.ts";
import { credentialsFromSecret, credFileProvider, credForChartUrl, destinationProvider, readCredFile, withCredentials, type CredFile } from "./credentials.ts";
import { normalizeDest, readRegistryMap, type MapMode } from "../plan/mapping.ts";
import { readMirrorFile } from "./mirror-file.ts";
import { CHART_LAYOUTS, type ChartLayout, type MirrorInput } from "../plan/plan.ts";
import { parseSourceMirrors } from "./targets.ts";
import type { DestinationOptions } from "./targets.ts";
import type { RegistryMapEntry } from "../plan/mapping.ts";
import { logger } from "../../../../shared/cli/logger.ts";
import { contentInput, paletteContentFromArgs, wantsPalette } from "./palette.ts";
import { excludeMatcher } from "../../../../shared/helm/discover.ts";


export const inputArgs = {
  ...chartSourceArgs,
  ...renderArgs,
  "mirror-file": { type: "string", description: "YAML listing charts and extra images (kind MirrorSet, or Hauler Charts/Images manifests; repeatable)", valueHint: "FILE" },
  image: { type: "string", description: "Extra image to mirror (repeatable)", valueHint: "IMAGE" },
  "exclude-image": { type: "string", description: "Leave out discovered images matching a reference or glob with * (repeatable)", valueHint: "PATTERN" },
  "cred-file": { type: "string", alias: ["cred-file-path"], description: 'Palette Edge credentials JSON: {"helm":[{endpoint,username,password}],"image":[…]}', valueHint: "FILE" },
  "source-mirror": { type: "string", description: "Pull images of SOURCE through a mirror/proxy cache: SOURCE=MIRROR[/path] (repeatable)", valueHint: "SRC=MIRROR" },
} as const satisfies ArgsDef;

export const transferArgs = {
  concurrency: { type: "string", description: "Parallel blob transfers across all images (default 8)" },
  platform: { type: "string", description: "Only these platforms of multi-arch images, e.g. linux/amd64 (repeatable; index signatures no longer verify)", valueHint: "OS/ARCH" },
  "exclude-extras": { type: "boolean", description: "Do not copy cosign signatures/attestations/SBOMs and OCI referrers" },
} as const satisfies ArgsDef;

export const destArgs = {
  ...mappingArgs,
  dest: { type: "string", alias: ["dest-registry"], description: "Destination registry[/path] (also --dest-registry): charts go to <dest>/charts/…, images to <dest>/images/<path>", valueHint: "REGISTRY[/PATH]" },
  ...destCredentialArgs,
  "chart-prefix": { type: "string", description: 'Path of charts (and packs) under the destination (default "charts"; packs "packs")', valueHint: "PATH" },
  "dest-credentials-from-secret": { type: "string", description: "Destination credentials from a Secret in the current kube context (registryUsername/registryPassword keys)", valueHint: "NS/NAME" },
  kubeconfig: kubeArgs.kubeconfig,
  context: kubeArgs.context,
} as const satisfies ArgsDef;

type Args = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

export function concurrencyFromArgs(args: Args): number {
  const c = args.concurrency !== undefined ? Number(args.concurrency) : 8;
  if (!Number.isInteger(c) || c < 1 || c > 256) throw new UsageError(`--concurrency: expected a whole number 1-256, got "${args.concurrency}"`);
  return c;
}

export function platformsFromArgs(rawArgs: string[]): Platform[] {
  return repeated(rawArgs, ["platform"]).map((p) => {
    try {
      return parsePlatform(p);
    } catch (e) {
      throw new UsageError(`--platform: ${(e as Error).message}`);
    }
  });
}

/** Apply --cred-file helm credentials to a chart request that has none. */
function applyHelmCreds(req: ChartRequest, cf: CredFile | undefined): ChartRequest {
  if (!cf || req.username !== undefined) return req;
  const url = req.repoUrl ?? (req.chart && /^(oci|https?):\/\//.test(req.chart) ? req.chart : undefined);
  if (!url) return req;
  const e = credForChartUrl(cf, url);
  return e ? { ...req, username: e.username, password: e.password, credentialFrom: "--cred-file" } : req;
}

export interface ResolvedInputs {
  input: MirrorInput;
  registry: RegistryOptions;
  credFile?: CredFile;
  sourceMirrors: RegistryMapEntry[];
}

/** Registry options with --cred-file in front, and --source-mirror. */
export async function connectionFromArgs(args: Args, rawArgs: string[], dest?: string): Promise<Omit<ResolvedInputs, "input">> {
  const credFile = str(args["cred-file"]) ? await readCredFile(String(args["cred-file"])) : undefined;
  const scope = { destination: dest ? [destHost(dest)] : undefined, source: chartSourceHosts(args) };
  // flag credentials first (each bound to its side), then --cred-file and docker config (each for its own host)
  const base = await registryOptionsFromArgs(args, rawArgs, scope);
  const registry = credFile ? { ...base, credentials: chainCredentials(base.credentials, credFileProvider(credFile)) } : base;
  return { registry, credFile, sourceMirrors: parseSourceMirrors(repeated(rawArgs, ["source-mirror"], { split: false })) };
}

/** Charts (positional / --repo-url / --mirror-file), extra images, credentials, source mirrors. */
export async function inputsFromArgs(args: Args, rawArgs: string[], opts: { allowEmpty?: boolean; dest?: string } = {}): Promise<ResolvedInputs> {
  const conn = await connectionFromArgs(args, rawArgs, opts.dest);
  const hasDestination = !!opts.dest;
  const { registry, credFile } = conn;
  const render = renderOptionsFromArgs(args, rawArgs);
  const exclude = repeated(rawArgs, ["exclude-image"]);
  const images = repeated(rawArgs, ["image"]);
  const input: MirrorInput = { charts: [], images: [] };
  const chart = chartPositional(args);
  if (chart || str(args["repo-url"]) || str(args["chart-url"])) {
    const req = applyHelmCreds(await chartRequestFromArgs(args, rawArgs, chart, { registry, hasDestination }), credFile);
    input.charts.push({ request: { ...req, registry }, discover: { ...render, excludeImages: exclude } });
  }
  for (const f of repeated(rawArgs, ["mirror-file"], { split: false })) {
    const base = await chartRequestFromArgs(args, rawArgs, undefined, { registry, hasDestination });
    const m = await readMirrorFile(f, { request: { ...base, chart: undefined, repoUrl: undefined, chartUrl: undefined, version: undefined, registry } as ChartRequest, discover: { ...render, excludeImages: exclude } });
    input.charts.push(...m.charts.map((c) => ({ ...c, request: applyHelmCreds(c.request, credFile) })));
    input.images.push(...m.images);
  }
  input.images.push(...images);
  if (wantsPalette(args)) {
    // --palette-profile: the profiles' content tags (images, charts; --include-packs: pack artifacts)
    const content = await paletteContentFromArgs(args, rawArgs);
    for (const w of content.warnings) logger().warn(w);
    const base = await chartRequestFromArgs(args, rawArgs, undefined);
    const pi = contentInput(content, applyHelmCreds({ ...base, registry }, credFile), { ...render, excludeImages: exclude });
    input.charts.push(...pi.charts.map((c) => ({ ...c, request: applyHelmCreds(c.request, credFile) })));
    input.images.push(...pi.images.filter((i) => !exclude.length || !exclude.some((p) => excludeMatcher(p)(i))));
    input.artifacts = [...(input.artifacts ?? []), ...(pi.artifacts ?? [])];
    if (!content.images.length && !content.charts.length) logger().warn("the profiles declare no images or charts in their packs' content tags");
  }
  if (!opts.allowEmpty && !input.charts.length && !input.images.length && !input.artifacts?.length) {
    throw new UsageError("nothing to mirror", "give a CHART (folder, .tgz, oci://…), --repo-url with --chart-url, --mirror-file FILE, or --image IMAGE");
  }
  return { input, ...conn };
}

/** --dest, --dest-mode, --image-prefix, --registry-map, --map-out, --values-out, --chart-prefix. */
export async function destinationFromArgs(args: Args, required: boolean): Promise<(DestinationOptions & { mapOut?: string; valuesOut?: string; chartPrefix?: string }) | undefined> {
  const m = mappingFromArgs(args);
  if (!m.dest) {
    if (required) throw new UsageError("--dest REGISTRY[/PATH] is required", "e.g. --dest zot.local:30003 or --dest harbor.local/mirror");
    return undefined;
  }
  try {
    normalizeDest(m.dest);
  } catch (e) {
    throw new UsageError(`--dest: ${(e as Error).message}`);
  }
  const registryMap = m.registryMapFile ? await readRegistryMap(m.registryMapFile) : [];
  return { dest: m.dest, mode: m.mode as MapMode, imagePrefix: m.prefix, registryMap, mapOut: m.mapOut, valuesOut: m.valuesOut, chartPrefix: str(args["chart-prefix"]) };
}

/** The registry host of a --dest REGISTRY[/PATH]. */
export function destHost(dest: string): string {
  return parseRegistryReference(`${normalizeDest(dest)}/x`).registry;
}

/** --dest-credentials-from-secret: read the secret now and put it first for the destination host. */
export async function withDestinationSecret(args: Args, rawArgs: string[], registry: RegistryOptions, dest: string | undefined): Promise<RegistryOptions> {
  const spec = str(args["dest-credentials-from-secret"]);
  if (!spec) return registry;
  if (!dest) throw new UsageError("--dest-credentials-from-secret needs --dest");
  const host = parseRegistryReference(`${normalizeDest(dest)}/x`).registry;
  const kube = KubeClient.fromOptions(kubeOptionsFromArgs({ kubeconfig: args.kubeconfig, context: args.context }, []));
  const cred = await credentialsFromSecret(kube, spec, host);
  return withCredentials(registry, destinationProvider(host, cred));
}

/** --chart-layout nested|flat (where charts land under <dest>/<chart-prefix>; plan.ts ChartLayout). */
export const chartLayoutArgs = {
  "chart-layout": { type: "string", description: "nested (default): <dest>/charts/<name>/<name>:<version>, as `helm push … oci://<dest>/charts/<name>` and PaletteAI/Zot expect; flat: <dest>/charts/<name>:<version>", valueHint: "nested|flat" },
} as const satisfies ArgsDef;

export function chartLayoutFromArgs(args: Args): ChartLayout | undefined {
  const v = str(args["chart-layout"]);
  if (v === undefined) return undefined;
  if (!CHART_LAYOUTS.includes(v as ChartLayout)) throw new UsageError(`--chart-layout ${v}: must be one of ${CHART_LAYOUTS.join(", ")}`);
  return v as ChartLayout;
}

/** --zot: the destination is PaletteAI's Zot (found by itself when Zot answers /v2/_zot/ext/discover). */
export const zotArgs = {
  zot: { type: "boolean", description: "The destination is PaletteAI's internal Zot: print the mural-variables values (automatic when the registry announces Zot)" },
} as const satisfies ArgsDef;

/** -q/--quiet (a global flag: citty leaves it under its own spelling). */
export function quietFromArgs(args: Args): boolean {
  return !!(args.quiet || args.q);
}
