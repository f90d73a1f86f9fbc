// `kubectl violet create OUTDIR --artifact REF`: inspect the main artifact (OLM bundle image, cluster-plugin
// chart, any chart), copy it into OUTDIR/oci and write OUTDIR/violet-package.yaml (+ resources). Related
// images are recorded, not copied: `package` copies them (unless --skip-package-images).
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { parse as parseYaml } from "yaml";
import {
  copy,
  createClient,
  formatReference,
  MT,
  OciLayoutStore,
  openSource,
  parsePlatform,
  parseReference,
  pushArtifactTo,
  type AuthClient,
  type Platform,
  type RegistryOptions,
  type RegistryReference,
} from "../../../shared/oci/index.ts";
import { helmOciAnnotations, helmOciConfig, ociTagForVersion } from "../../../shared/helm/chart.ts";
import { createLimit } from "../../../shared/runtime/limit.ts";
import { version as toolVersion } from "../../../shared/cli/version.ts";
import { discoverImages } from "../../../shared/helm/discover.ts";
import { loadChart } from "../../../shared/helm/chart-source.ts";
import { API_VERSION, KIND, LAYOUT_DIR, METADATA_FILE, MODULE_PLUGIN_FILE, metadataText, type PackageMetadata } from "./format.ts";
import { artifactKind, ArtifactError, imageManifest, imagePlatforms, pluginImages, readBundle, readChartFile, readOciChart, type ChartInfo } from "./inspect.ts";
import { removeOnInterrupt } from "../../../shared/runtime/interrupt.ts";

export interface CreateOptions {
  artifact: string;
  platforms?: string[];
  defaultCatalogSource?: string;
  skipPackageImages?: boolean;
  /** a ModulePlugin YAML to use instead of the chart's module-plugin.yaml (makes the chart a cluster plugin) */
  modulePlugin?: string;
  /** force the type of a chart: "chart" keeps a chart with module-plugin.yaml a plain chart */
  chartRepoUrl?: string;
  chartVersion?: string;
  registry?: RegistryOptions;
  client?: AuthClient;
  /** images inspected in parallel (default 4) */
  concurrency?: number;
  /** helm binary for rendering plain charts (false: static discovery only) */
  helm?: string | false;
  log?: (line: string) => void;
}

export class CreateError extends Error {
  override name = "CreateError";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

function isRegistryRef(s: string): boolean {
  if (s.startsWith("oci://")) return true;
  if (/^[a-z]+:\/\//i.test(s) || s.startsWith("/") || s.startsWith(".") || existsSync(s)) return false;
  try {
    return parseReference(s).kind === "registry";
  } catch {
    return false;
  }
}

/**
 * The registry host --artifact is read from (the host the registry credential flags belong to), or undefined for a
 * chart URL, repository chart or file.
 */
export function artifactRegistryHost(artifact: string): string | undefined {
  if (!isRegistryRef(artifact)) return undefined;
  const ref = parseReference(artifact.replace(/^oci:\/\//, ""));
  return ref.kind === "registry" ? ref.registry : undefined;
}

/** Build the working directory. Written to a temp sibling and renamed, so a failure leaves nothing behind. */
export async function createPackageDir(outDir: string, opts: CreateOptions): Promise<PackageMetadata> {
  const out = resolve(outDir);
  if (existsSync(out)) throw new CreateError(`${outDir} already exists`, "create writes a new directory; remove it or choose another path");
  if (!existsSync(dirname(out))) throw new CreateError(`${dirname(outDir)}: no such directory`);
  const platforms: Platform[] = (opts.platforms ?? []).map((p) => {
    try {
      return parsePlatform(p);
    } catch (e) {
      throw new CreateError(`--platforms: ${(e as Error).message}`);
    }
  });
  let modulePluginText: string | undefined;
  if (opts.modulePlugin) {
    modulePluginText = await readFile(opts.modulePlugin, "utf8").catch((e) => {
      throw new CreateError(`--module-plugin ${opts.modulePlugin}: ${(e as Error).message}`);
    });
    checkModulePlugin(modulePluginText, opts.modulePlugin);
  }
  const tmp = join(dirname(out), `.${basename(out)}.partial-${randomBytes(4).toString("hex")}`);
  await mkdir(join(tmp, "resources"), { recursive: true });
  const unregister = removeOnInterrupt(`creating ${out}`, tmp);
  const log = opts.log ?? (() => {});
  try {
    const client = opts.client ?? createClient(opts.registry);
    const layout = await OciLayoutStore.create(join(tmp, LAYOUT_DIR));
    let meta: PackageMetadata;
    let chart: ChartInfo | undefined;
    try {
      if (isRegistryRef(opts.artifact)) {
        const src = await openSource(opts.artifact.replace(/^oci:\/\//, ""), client, opts.registry);
        const ref = src.ref as RegistryReference;
        const root = await src.store.resolve(src.reference);
        const { manifest } = await imageManifest(src.store, root, platforms);
        const kind = artifactKind(manifest);
        if (!kind) throw new ArtifactError(`${opts.artifact}: neither an operator bundle image nor an OCI Helm chart (config ${manifest.config.mediaType})`);
        const refText = formatReference({ ...ref, digest: ref.tag ? undefined : ref.digest });
        // the main artifact goes into the layout (platform filtering applies to multi-arch bundle images)
        const [r] = await copy([{ src: src.store, srcRef: src.reference, dst: layout, dstTags: [refText], label: refText }], { platforms });
        if (!r || r.status === "failed") throw new CreateError(`copy ${refText} into the package: ${r?.error ?? "failed"}`);
        const artifact = { ref: refText, digest: r.digest!, mediaType: r.mediaType, tag: ref.tag ?? "" };
        if (kind === "bundle") {
          log(`reading OLM bundle ${refText}`);
          const b = await readBundle(src.store, manifest, refText);
          if (!artifact.tag) artifact.tag = `v${b.version}`;
          meta = base("bundle", b.packageName, b.version, artifact);
          Object.assign(meta, {
            displayName: b.displayName,
            description: b.description,
            channels: b.channels,
            defaultChannel: b.defaultChannel,
            csv: { name: b.csvName, ...(b.replaces ? { replaces: b.replaces } : {}), ...(b.skipRange ? { skipRange: b.skipRange } : {}), ...(b.minKubeVersion ? { minKubeVersion: b.minKubeVersion } : {}) },
            defaultCatalogSource: opts.defaultCatalogSource ?? "platform",
          });
          meta.relatedImages = b.relatedImages.map((i) => ({ ref: i }));
        } else {
          chart = await readOciChart(src.store, manifest, refText);
          if (!artifact.tag) artifact.tag = ociTagForVersion(String(chart.metadata.version));
          meta = await chartMeta(chart, artifact, ref.registry, modulePluginText, opts);
        }
      } else {
        const loaded = await loadChart({ chart: opts.artifact, repoUrl: opts.chartRepoUrl, version: opts.chartVersion, plainHttp: opts.registry?.plainHttp === true }).catch((e) => {
          throw new CreateError(`--artifact ${opts.artifact}: ${(e as Error).message}`, (e as any).hint);
        });
        try {
          if (!loaded.archive) throw new CreateError(`--artifact ${opts.artifact}: give a packaged chart (.tgz, chart URL or repository chart), not a directory`, "run `helm package DIR` first");
          const info = await readChartFile(loaded.archive, opts.artifact);
          chart = { ...info, cleanup: async () => {} };
          // a repository chart becomes an OCI chart in the package (pushed as such by `push`)
          const m = info.metadata;
          const refText = `charts/${m.name}:${ociTagForVersion(String(m.version))}`;
          const pushed = await pushArtifactTo(layout, [refText], {
            config: { mediaType: MT.helmConfig, bytes: helmOciConfig(m as any) },
            layers: [{ mediaType: MT.helmChart, file: loaded.archive }],
            annotations: helmOciAnnotations(m as any),
          });
          const artifact = { ref: refText, digest: pushed.digest, mediaType: MT.ociManifest, tag: ociTagForVersion(String(m.version)) };
          meta = await chartMeta(chart, artifact, "", modulePluginText, opts, loaded.dir);
        } finally {
          await loaded.cleanup();
        }
      }
    } finally {
      await chart?.cleanup();
    }
    if (opts.defaultCatalogSource && meta.type !== "bundle") log(`--default-catalog-source applies to operator bundles only; ignored for a ${meta.type}`);
    // architectures: --platforms, else what the main artifact and related images offer
    if (platforms.length) meta.architectures = opts.platforms!;
    else meta.architectures = await discoverArchitectures(meta, client, opts, layout);
    meta.imagesIncluded = !opts.skipPackageImages;
    if (modulePluginText && meta.type === "moduleplugin") await writeFile(join(tmp, MODULE_PLUGIN_FILE), modulePluginText);
    await writeFile(join(tmp, METADATA_FILE), metadataText(meta));
    await rename(tmp, out);
    return meta;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    unregister();
  }

  function base(type: PackageMetadata["type"], name: string, version: string, artifact: PackageMetadata["artifact"]): PackageMetadata {
    return { apiVersion: API_VERSION, kind: KIND, type, name, version, architectures: [], artifact, relatedImages: [], imagesIncluded: true, resources: [], createdBy: `kubectl-violet ${toolVersion}`, created: new Date().toISOString() };
  }

  async function chartMeta(chart: Omit<ChartInfo, "cleanup">, artifact: PackageMetadata["artifact"], registry: string, mpText: string | undefined, o: CreateOptions, dir?: string): Promise<PackageMetadata> {
    const m = chart.metadata;
    const mp = mpText ?? chart.modulePlugin;
    if (mp) {
      const plugin = checkModulePlugin(mp, mpText ? o.modulePlugin! : `${artifact.ref}: module-plugin.yaml`);
      modulePluginText = mp;
      const name = String(plugin.spec?.name ?? plugin.metadata?.name);
      const meta = base("moduleplugin", name, String(plugin.spec?.version ?? m.version), artifact);
      const dn = plugin.metadata?.annotations?.["cpaas.io/display-name"];
      let displayName: string | undefined;
      try {
        displayName = dn ? (JSON.parse(dn).en ?? dn) : undefined;
      } catch {
        displayName = dn;
      }
      meta.displayName = displayName ?? String(m.name);
      meta.description = plugin.spec?.description?.en ?? m.description;
      meta.chart = { name: String(m.name), version: String(m.version), ...(m.appVersion ? { appVersion: String(m.appVersion) } : {}) };
      meta.relatedImages = pluginImages(chart.values, registry || "docker.io").map((ref) => ({ ref }));
      meta.resources = [MODULE_PLUGIN_FILE];
      return meta;
    }
    const meta = base("chart", String(m.name), String(m.version), artifact);
    meta.displayName = String(m.name);
    meta.description = m.description;
    meta.chart = { name: String(m.name), version: String(m.version), ...(m.appVersion ? { appVersion: String(m.appVersion) } : {}) };
    // images the way `kubectl mirror images` finds them
    let chartDir = dir;
    let cleanup = async () => {};
    if (!chartDir) {
      const loaded = await loadChart({ chart: chart.archive });
      chartDir = loaded.dir;
      cleanup = loaded.cleanup;
    }
    try {
      const found = await discoverImages({ chartDir, helm: o.helm });
      for (const w of found.warnings) log(`warning: ${w}`);
      meta.relatedImages = found.images.map((i) => ({ ref: i.image }));
    } finally {
      await cleanup();
    }
    return meta;
  }
}

function checkModulePlugin(text: string, where: string): Record<string, any> {
  let o: any;
  try {
    o = parseYaml(text);
  } catch (e) {
    throw new CreateError(`${where}: not valid YAML (${(e as Error).message.split("\n")[0]})`);
  }
  if (o?.kind !== "ModulePlugin") throw new CreateError(`${where}: not a ModulePlugin (kind ${o?.kind ?? "missing"})`, "a cluster plugin chart carries module-plugin.yaml with kind: ModulePlugin");
  if (!o.spec?.name && !o.metadata?.name) throw new CreateError(`${where}: the ModulePlugin has no spec.name`);
  return o;
}

async function discoverArchitectures(meta: PackageMetadata, client: AuthClient, opts: CreateOptions, layout: OciLayoutStore): Promise<string[]> {
  const found = new Set<string>();
  const limit = createLimit(opts.concurrency ?? 4);
  const refs = meta.relatedImages.map((i) => i.ref);
  await Promise.all([
    limit(async () => {
      for (const p of await imagePlatforms(layout, await layout.resolve(meta.artifact.ref))) found.add(p);
    }),
    ...refs.map((ref) =>
      limit(async () => {
        try {
          const src = await openSource(ref, client, opts.registry);
          for (const p of await imagePlatforms(src.store, await src.store.resolve(src.reference))) found.add(p);
        } catch (e) {
          if (opts.skipPackageImages) return opts.log?.(`warning: ${ref}: ${(e as Error).message}`);
          throw new CreateError(`related image ${ref}: ${(e as Error).message}`, (e as any).hint);
        }
      }),
    ),
  ]);
  return [...found].sort();
}
