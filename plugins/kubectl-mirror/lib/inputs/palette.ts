// `--palette-profile ID[,ID…]` for export / sync / images: build the content list from Palette cluster profiles,
// like `palette content build --profiles` / `palette-edge build --cluster-profile-ids`. Each profile's packs are
// read through the Palette API (shared/palette/content.ts); the images and charts their content tags declare
// become the run's input, with the profile and pack they came from. --exclude-profiles subtracts the content of
// other profiles (day-2 deltas); --include-packs carries each pack's definition (name, tag, layer, values) as a
// pack artifact; --arch resolves images to one platform.
import type { ArgsDef } from "citty";
import { readFileSync } from "node:fs";
import { repeated } from "../../../../shared/cli/argv.ts";
import { UsageError } from "../../../../shared/cli/errors.ts";
import { logger } from "../../../../shared/cli/logger.ts";
import { readStdinSecret } from "../../../../shared/cli/registry.ts";
import { tryNormalizeImage } from "../../../../shared/helm/image-ref.ts";
import { packContent, PaletteContentClient, profilePacks, type PackContent, type PaletteProfile } from "../../../../shared/palette/content.ts";
import type { Platform } from "../../../../shared/oci/types.ts";
import { registerSecret } from "../../../../shared/runtime/redact.ts";
import { PACK_CONFIG_MT, type ArtifactInput, type ChartInput, type MirrorInput } from "../plan/plan.ts";
import type { ChartRequest } from "../../../../shared/helm/chart-source.ts";
import type { DiscoverOptions } from "../../../../shared/helm/discover.ts";

export const PACK_VALUES_MT = "application/vnd.spectrocloud.pack.values.v1+yaml";

export const paletteArgs = {
  "palette-profile": { type: "string", alias: ["profiles", "cluster-profile-ids"], description: "Palette cluster profile ID(s): carry every image and chart their packs' content tags declare (comma-separated or repeated)", valueHint: "ID[,ID…]" },
  "project-id": { type: "string", description: "Palette project UID the profiles belong to (sent as the ProjectUid header)", valueHint: "UID" },
  "palette-endpoint": { type: "string", alias: ["console-url"], description: "Palette API endpoint, e.g. https://api.spectrocloud.com (or PALETTE_ENDPOINT)", valueHint: "URL" },
  "api-key-stdin": { type: "boolean", description: "Read the Palette API key from stdin (or set PALETTE_API_KEY, or --api-key-file)" },
  "api-key-file": { type: "string", description: "File holding the Palette API key", valueHint: "FILE" },
  "api-key": { type: "string", description: "Palette API key (visible to other users; prefer --api-key-stdin or PALETTE_API_KEY)", valueHint: "KEY" },
  "palette-ca-file": { type: "string", description: "PEM CA to trust for the Palette API", valueHint: "FILE" },
  "palette-insecure": { type: "boolean", description: "Skip TLS verification for the Palette API only" },
  "exclude-profiles": { type: "string", description: "Leave out what these profiles already carry (day-2 delta bundles; comma-separated or repeated)", valueHint: "ID[,ID…]" },
  "include-packs": { type: "boolean", description: "Also carry each pack's definition (name, tag, layer, values) as an OCI artifact under packs/<name>:<tag>" },
  arch: { type: "string", alias: ["a"], description: "amd64 or arm64: resolve every image to that one platform (digests change; multi-arch signatures no longer verify)", valueHint: "amd64|arm64" },
} as const satisfies ArgsDef;

type Args = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

export interface ProvenancedImage {
  image: string;
  from: { profile: string; profileUid: string; pack: string; tag?: string }[];
}

export interface PaletteContent {
  images: ProvenancedImage[];
  charts: (PackContent["charts"][number] & { from: ProvenancedImage["from"] })[];
  packs: PackContent[];
  artifacts: ArtifactInput[];
  warnings: string[];
}

/** Whether the command line asks for profiles. */
export function wantsPalette(args: Args): boolean {
  return !!str(args["palette-profile"]);
}

/** --arch → platforms (and the digest warning, once). */
export function archPlatforms(args: Args): Platform[] {
  const a = str(args.arch);
  if (!a) return [];
  if (a !== "amd64" && a !== "arm64") throw new UsageError(`--arch ${a}: must be amd64 or arm64`);
  logger().warn(`--arch ${a}: every image is resolved to linux/${a}; digests change and multi-arch signatures no longer verify`);
  return [{ os: "linux", architecture: a }];
}

/** The API key: --api-key-stdin, PALETTE_API_KEY, --api-key-file, or (warned) --api-key. Never required on the command line. */
export function apiKeyFromArgs(args: Args, env: Record<string, string | undefined> = process.env): string {
  if (args["api-key-stdin"]) {
    if (args["password-stdin"]) throw new UsageError("--api-key-stdin and --password-stdin both want stdin", "give the API key with PALETTE_API_KEY or --api-key-file");
    return readStdinSecret("--api-key-stdin");
  }
  const file = str(args["api-key-file"]);
  if (file) {
    let k: string;
    try {
      k = readFileSync(file, "utf8").trim();
    } catch (e) {
      throw new UsageError(`--api-key-file ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
    }
    if (!k) throw new UsageError(`--api-key-file ${file} is empty`);
    registerSecret(k);
    return k;
  }
  if (env.PALETTE_API_KEY) {
    registerSecret(env.PALETTE_API_KEY);
    return env.PALETTE_API_KEY;
  }
  const inline = str(args["api-key"]);
  if (inline) {
    registerSecret(inline);
    logger().warn("an API key on the command line is visible to other users of this machine; prefer --api-key-stdin or PALETTE_API_KEY");
    return inline;
  }
  throw new UsageError("--palette-profile needs a Palette API key", "pipe it to --api-key-stdin, set PALETTE_API_KEY, or use --api-key-file FILE");
}

function ids(rawArgs: string[], names: string[]): string[] {
  return [...new Set(repeated(rawArgs, names).flatMap((v) => v.split(",")).map((s) => s.trim()).filter(Boolean))];
}

export function clientFromArgs(args: Args, env: Record<string, string | undefined> = process.env): PaletteContentClient {
  const endpoint = str(args["palette-endpoint"]) ?? env.PALETTE_ENDPOINT;
  if (!endpoint) throw new UsageError("--palette-profile needs --palette-endpoint URL", "e.g. --palette-endpoint https://api.spectrocloud.com (or PALETTE_ENDPOINT)");
  const projectUid = str(args["project-id"]) ?? env.PALETTE_PROJECT_UID;
  return new PaletteContentClient({ endpoint, apiKey: apiKeyFromArgs(args, env), projectUid, caFile: str(args["palette-ca-file"]), insecure: !!args["palette-insecure"] });
}

/** Read the profiles and collect their content. */
export async function collectProfiles(client: PaletteContentClient, profileIds: string[], opts: { exclude?: string[]; includePacks?: boolean } = {}): Promise<PaletteContent> {
  const warnings: string[] = [];
  const packs: PackContent[] = [];
  const profiles: PaletteProfile[] = [];
  for (const id of profileIds) profiles.push(await client.getClusterProfile(id));
  for (const p of profiles) {
    const list = profilePacks(p);
    if (!list.length) warnings.push(`profile ${p.metadata.name ?? p.metadata.uid}: no packs`);
    for (const pack of list) {
      const c = packContent(p, pack);
      warnings.push(...c.warnings);
      if (!c.tagged) warnings.push(`profile ${c.profile.name} pack ${pack.name}${pack.tag ? ` ${pack.tag}` : ""}: no content tags (pack.content.images/charts) in its values, so none of its images are carried; add them to the pack values or pass --image`);
      packs.push(c);
    }
  }
  // what the excluded profiles already carry
  const excludedImages = new Set<string>();
  const excludedCharts = new Set<string>();
  for (const id of opts.exclude ?? []) {
    const p = await client.getClusterProfile(id);
    for (const pack of profilePacks(p)) {
      const c = packContent(p, pack);
      for (const i of c.images) excludedImages.add(tryNormalizeImage(i) ?? i);
      for (const ch of c.charts) excludedCharts.add(`${ch.repo}|${ch.name}|${ch.version}`);
    }
  }
  const images = new Map<string, ProvenancedImage>();
  const charts = new Map<string, PaletteContent["charts"][number]>();
  for (const c of packs) {
    const from = { profile: c.profile.name, profileUid: c.profile.uid, pack: c.pack.name, ...(c.pack.tag ? { tag: c.pack.tag } : {}) };
    for (const raw of c.images) {
      const n = tryNormalizeImage(raw);
      if (!n) {
        warnings.push(`profile ${c.profile.name} pack ${c.pack.name}: "${raw}" is not an image reference; skipped`);
        continue;
      }
      if (excludedImages.has(n)) continue;
      const e = images.get(n) ?? { image: n, from: [] };
      e.from.push(from);
      images.set(n, e);
    }
    for (const ch of c.charts) {
      const k = `${ch.repo}|${ch.name}|${ch.version}`;
      if (excludedCharts.has(k)) continue;
      const e = charts.get(k) ?? { ...ch, from: [] };
      e.from.push(from);
      charts.set(k, e);
    }
  }
  const artifacts: ArtifactInput[] = [];
  if (opts.includePacks) {
    const seen = new Set<string>();
    for (const c of packs) {
      const version = c.pack.tag ?? c.pack.version ?? "latest";
      const key = `${c.pack.name}:${version}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const def = { name: c.pack.name, version, tag: c.pack.tag, layer: c.pack.layer, type: c.pack.type, registryUid: c.pack.registryUid, packUid: c.pack.packUid, digest: c.pack.digest, profile: c.profile };
      artifacts.push({
        kind: "pack",
        name: c.pack.name,
        version,
        spec: {
          config: { mediaType: PACK_CONFIG_MT, bytes: Buffer.from(JSON.stringify(def)) },
          layers: [{ mediaType: PACK_VALUES_MT, bytes: Buffer.from(c.pack.values ?? ""), annotations: { "org.opencontainers.image.title": "values.yaml" } }],
          annotations: { "org.opencontainers.image.title": c.pack.name, "org.opencontainers.image.version": version, "io.spectrocloud.profile.uid": c.profile.uid },
        },
        images: c.images.map((i) => tryNormalizeImage(i)).filter((i): i is string => !!i && !excludedImages.has(i)),
        source: `palette:${c.profile.uid}/${c.pack.name}:${version}`,
      });
    }
  }
  return { images: [...images.values()].sort((a, b) => a.image.localeCompare(b.image)), charts: [...charts.values()], packs, artifacts, warnings };
}

/** The profiles' content as mirror input (charts pulled from their repos with the run's chart options). */
export function contentInput(c: PaletteContent, request: Omit<ChartRequest, "chart">, discover: Omit<DiscoverOptions, "chartDir">): MirrorInput {
  const charts: ChartInput[] = c.charts.map((ch) =>
    ch.repo.startsWith("oci://")
      ? { request: { ...request, repoUrl: undefined, chartUrl: undefined, chart: `${ch.repo.replace(/\/+$/, "")}/${ch.name}`, version: ch.version }, discover }
      : { request: { ...request, chart: ch.name, repoUrl: ch.repo, chartUrl: undefined, version: ch.version }, discover },
  );
  return { charts, images: c.images.map((i) => i.image), artifacts: c.artifacts };
}

/** --palette-profile → content (throws one-line errors for a bad key / missing profile). */
export async function paletteContentFromArgs(args: Args, rawArgs: string[]): Promise<PaletteContent> {
  const client = clientFromArgs(args);
  return collectProfiles(client, ids(rawArgs, ["palette-profile", "profiles", "cluster-profile-ids"]), {
    exclude: ids(rawArgs, ["exclude-profiles"]),
    includePacks: !!args["include-packs"],
  });
}
