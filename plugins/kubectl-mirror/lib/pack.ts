// Palette pack tarballs for `kubectl mirror export-pack`: PACK.tgz holding pack.json (name, version, …),
// values.yaml (its `pack.content.images` list names the images the pack needs; `pack.content.charts` may
// name charts) and charts/*.tgz. The pack becomes
//   - an OCI artifact packs/<name>:<version> (config = pack.json, one layer = the tarball as is; media types
//     application/vnd.spectrocloud.pack.config.v1+json / …pack.content.v1.tar+gzip — our choice, INFERENCE:
//     Spectro Cloud's own registry layout for packs is not public)
//   - its charts (as Helm OCI artifacts, with their discovered images)
//   - the images from pack.content.images
// all in one plan, exported into the same archive format as `export`.
import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parse } from "yaml";
import { readChartArchive as readTarGz } from "../../../shared/helm/chart-tar.ts";
import { tryNormalizeImage } from "../../../shared/helm/image-ref.ts";
import type { DiscoverOptions } from "../../../shared/helm/discover.ts";
import type { ChartRequest } from "../../../shared/helm/chart-source.ts";
import { PACK_CONFIG_MT, PACK_CONTENT_MT, type ArtifactInput, type ChartInput } from "./plan.ts";

export class PackError extends Error {
  override name = "PackError";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

export interface LoadedPack {
  name: string;
  version: string;
  images: string[];
  charts: string[];
  artifact: ArtifactInput;
  warnings: string[];
  cleanup(): Promise<void>;
}

function safeRel(name: string): string | undefined {
  const n = name.replace(/^\.\//, "");
  if (!n || n.startsWith("/") || n.split("/").some((p) => p === "..")) return undefined;
  return n;
}

/** Read and unpack a pack tarball into a temp dir. */
export async function loadPack(file: string): Promise<LoadedPack> {
  let entries;
  try {
    entries = await readTarGz(file);
  } catch (e) {
    throw new PackError(`${file}: not a pack tarball (${(e as Error).message})`);
  }
  const work = await mkdtemp(join(tmpdir(), "ka-pack-"));
  const cleanup = () => import("node:fs/promises").then((f) => f.rm(work, { recursive: true, force: true }));
  try {
    for (const e of entries) {
      if (e.type !== "file") continue;
      const rel = safeRel(e.name);
      if (!rel) throw new PackError(`${file}: unsafe path "${e.name}"`);
      await mkdir(dirname(join(work, rel)), { recursive: true });
      await writeFile(join(work, rel), e.data);
    }
    // pack.json at the top or in one top-level folder
    const pj = entries.map((e) => safeRel(e.name)).filter((n): n is string => !!n && /^([^/]+\/)?pack\.json$/.test(n)).sort((a, b) => a.length - b.length)[0];
    if (!pj) throw new PackError(`${file}: no pack.json`, "is this a Palette pack tarball?");
    const root = join(work, dirname(pj));
    const pack = JSON.parse(entries.find((e) => safeRel(e.name) === pj)!.data.toString()) as { name?: string; version?: string; [k: string]: unknown };
    if (!pack.name || !pack.version) throw new PackError(`${file}: pack.json needs name and version`);
    const warnings: string[] = [];
    const vEntry = entries.find((e) => safeRel(e.name) === join(dirname(pj), "values.yaml").replace(/^\.\//, ""));
    const values = vEntry ? (parse(new TextDecoder().decode(vEntry.data)) as any) : undefined;
    const images: string[] = [];
    for (const [i, x] of ((values?.pack?.content?.images ?? []) as any[]).entries()) {
      const raw = typeof x === "string" ? x : x?.image;
      const n = tryNormalizeImage(raw);
      if (n) images.push(n);
      else warnings.push(`values.yaml pack.content.images[${i}]: not an image reference: ${JSON.stringify(raw)}`);
    }
    const chartsDir = join(root, "charts");
    const charts = (await readdir(chartsDir).catch(() => [] as string[])).filter((f) => /\.(tgz|tar\.gz)$/.test(f)).map((f) => join(chartsDir, f));
    const artifact: ArtifactInput = {
      kind: "pack",
      name: String(pack.name),
      version: String(pack.version),
      spec: {
        config: { mediaType: PACK_CONFIG_MT, bytes: entries.find((e) => safeRel(e.name) === pj)!.data },
        layers: [{ mediaType: PACK_CONTENT_MT, file }],
        annotations: { "org.opencontainers.image.title": String(pack.name), "org.opencontainers.image.version": String(pack.version) },
      },
      images,
      source: file,
    };
    return { name: String(pack.name), version: String(pack.version), images, charts, artifact, warnings, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Chart inputs for the charts inside a pack (discovered with the chart's defaults; rendering optional). */
export function packChartInputs(p: LoadedPack, request: Omit<ChartRequest, "chart">, discover: Omit<DiscoverOptions, "chartDir">): ChartInput[] {
  return p.charts.map((c) => ({ request: { ...request, chart: c }, discover }));
}
