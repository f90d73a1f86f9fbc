// `kubectl violet push FILE|DIR`: verify, push the package's images to --dest-repo straight out of the
// compressed package (one sequential pass, constant memory), then write the resources: operator → Artifact +
// ArtifactVersion on each target cluster; cluster plugin → ModulePlugin + ModuleConfig on global; chart →
// upload to the ChartRepo's ChartMuseum. Existing versions are skipped unless force.
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { parse as parseYaml } from "yaml";
import {
  CopyEngine,
  createClient,
  isIndex,
  MT,
  NotFoundError,
  OciArchiveReader,
  parseRegistryReference,
  RegistryRepository,
  type AuthClient,
  type CopyEvent,
  type CopyJob,
  type Descriptor,
  type ImageManifest,
  type RegistryOptions,
  type Store,
} from "../../../shared/oci/index.ts";
import { KubeApiError, type KubeClient, type KubeObject } from "../../../shared/kube/index.ts";
import { ChartRepoAuthError, uploadChart } from "../../../shared/chartmuseum/client.ts";
import { registerSecret } from "../../../shared/runtime/redact.ts";
import { createLimit } from "../../../shared/runtime/limit.ts";
import { listPackages, verifyFile, type PublicKey } from "../../../shared/signing/index.ts";
import { Clusters, GLOBAL, NAMESPACE } from "./clusters.ts";
import { MODULE_PLUGIN_FILE, readPackage, type PackageImage, type PackageMetadata } from "./format.ts";
import { imagePlatforms, json } from "./inspect.ts";
import { openPackageLayout } from "./open.ts";
import { APP_V1ALPHA1, artifactObject, artifactVersionObject, CLUSTER_V1ALPHA1, modulePluginObject, moduleConfigObject } from "./resources.ts";

export interface PushOptions {
  destRepo?: string;
  registry?: RegistryOptions;
  client?: AuthClient;
  /** lazily built kube access (not needed with skipCrs) */
  clusters?: () => Clusters;
  /** --clusters (operators); default: global */
  targetClusters?: string[];
  targetCatalogSource?: string;
  targetChartRepo?: string;
  skipPush?: boolean;
  skipCrs?: boolean;
  skipVerify?: boolean;
  force?: boolean;
  dryRun?: boolean;
  /** with dryRun: send every Kubernetes write as a server-side dry run (dryRun=All) */
  serverDryRun?: boolean;
  keys?: PublicKey[];
  /** packages pushed in parallel (default 2) */
  packageConcurrency?: number;
  /** blob transfers per package (default 4) */
  concurrency?: number;
  onEvent?: (e: CopyEvent) => void;
  /** one human line per image/resource, as it happens */
  onLine?: (line: string) => void;
}

export type Action = "created" | "updated" | "skipped" | "unchanged" | "would-create" | "would-update" | "would-skip" | "uploaded";

export interface ImageOutcome {
  source: string;
  destination: string;
  status: string;
  digest?: string;
  /** the digest the tag held before (--force replaced it) */
  replaced?: string;
  error?: string;
}

export interface ResourceOutcome {
  kind: string;
  name: string;
  namespace?: string;
  cluster: string;
  action: Action;
  message?: string;
  object?: KubeObject;
}

export interface PackagePushResult {
  file: string;
  type: PackageMetadata["type"];
  name: string;
  version: string;
  verified: string;
  images: ImageOutcome[];
  resources: ResourceOutcome[];
  error?: string;
}

export class PushError extends Error {
  override name = "PushError";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

/** dest-repo + the image's repository path and tag: reg.example/acp/foo:v1 → DEST/acp/foo:v1. */
export function destinationOf(ref: string, destRepo: string): { ref: string; registry: string; repository: string; tag?: string } {
  const r = parseRegistryReference(ref);
  const d = destRepo.replace(/^[a-z]+:\/\//, "").replace(/\/+$/, "");
  const slash = d.indexOf("/");
  const registry = slash < 0 ? d : d.slice(0, slash);
  const prefix = slash < 0 ? "" : d.slice(slash + 1) + "/";
  const repository = prefix + r.repository;
  return { ref: `${registry}/${repository}${r.tag ? `:${r.tag}` : `@${r.digest}`}`, registry, repository, tag: r.tag };
}

export function checkPushOptions(o: PushOptions): void {
  if (o.skipCrs && o.skipPush) throw new PushError("--skip-crs and --skip-push cannot be used together (there would be nothing to do)");
  if (!o.skipPush && !o.destRepo) throw new PushError("--dest-repo is required to push images", "give the registry host[:port] with credentials or --no-auth, or pass --skip-push to only create the resources");
}

/** Push one file or every package of a directory; packages run with bounded concurrency. */
/** Push the packages at `path` (a file or a directory; several, as a shell glob gives them). */
export async function pushPath(path: string | string[], opts: PushOptions): Promise<PackagePushResult[]> {
  checkPushOptions(opts);
  const files: string[] = [];
  for (const p of Array.isArray(path) ? path : [path]) {
    const found = await listPackages(p).catch((e) => {
      throw new PushError((e as Error).message);
    });
    if (!found.length) throw new PushError(`${p}: no .tgz packages there`);
    for (const f of found) if (!files.includes(f)) files.push(f);
  }
  const limit = createLimit(opts.packageConcurrency ?? 2);
  return Promise.all(
    files.map((f) =>
      limit(async () => {
        try {
          return await pushPackage(f, opts);
        } catch (e) {
          const r: PackagePushResult = { file: f, type: "bundle", name: "", version: "", verified: "", images: [], resources: [], error: (e as Error).message + ((e as any).hint ? ` (${(e as any).hint})` : "") };
          opts.onLine?.(`error: ${f}: ${r.error}`);
          return r;
        }
      }),
    ),
  );
}

export async function pushPackage(file: string, opts: PushOptions): Promise<PackagePushResult> {
  const line = opts.onLine ?? (() => {});
  let verified = "skipped";
  if (!opts.skipVerify) {
    const v = await verifyFile(file, { keys: opts.keys });
    if (v.status === "failed") throw new PushError(`${file} failed verification: ${v.reason}`, "re-download the package, or check --keyring");
    if (v.status === "unverified") throw new PushError(`${file} has no signature (.sig) or checksum (.sha256) next to it`, "pass --skip-verify to push it anyway");
    verified = v.status;
  }
  const { metadata: m, resources } = await readPackage(file, { resources: true });
  const result: PackagePushResult = { file, type: m.type, name: m.name, version: m.version, verified, images: [], resources: [] };
  const label = `${m.type} ${m.name} ${m.version}`;
  // a cluster plugin's ModulePlugin comes from the package: a package without it is refused before anything moves
  if (m.type === "moduleplugin" && !opts.skipCrs && !resources.get(MODULE_PLUGIN_FILE)) throw new PushError(`${file}: a cluster plugin package without ${MODULE_PLUGIN_FILE}`, "create the package again");
  // ---- images
  if (!opts.skipPush) {
    const all: PackageImage[] = [m.artifact, ...m.relatedImages];
    const inside = all.filter((i) => i.digest);
    for (const i of all.filter((x) => !x.digest)) {
      result.images.push({ source: i.ref, destination: destinationOf(i.ref, opts.destRepo!).ref, status: "not-in-package" });
      line(`warning: ${i.ref} is not in the package (made with --skip-package-images); it must already be in ${opts.destRepo}`);
    }
    if (inside.length) {
      const client = opts.client ?? createClient(opts.registry);
      const opened = await openPackageLayout(file, opts.onLine);
      const src = opened.src;
      try {
        // before the first byte moves: the whole package is there and fits, and no tag would be replaced silently
        await checkPackage(src, inside, label);
        const replacing = await checkTags(src, inside, client, opts, m, label);
        for (const r of replacing) line(`warning: --force: ${r.destination} now holds ${describeContent(r.theirs)}; it will point at the package's ${describeContent(r.ours)}`);
        if (opts.dryRun) {
          for (const i of inside) {
            const d = destinationOf(i.ref, opts.destRepo!);
            result.images.push({ source: i.ref, destination: d.ref, status: "would-push", digest: i.digest });
            line(`image ${i.ref} -> ${d.ref} (dry run)`);
          }
        } else {
          const jobs: CopyJob[] = inside.map((i) => {
            const d = destinationOf(i.ref, opts.destRepo!);
            return { src, srcRef: i.digest!, dst: RegistryRepository.fromReference(client, parseRegistryReference(d.ref)), dstTags: d.tag ? [d.tag] : [], label: `${i.ref} -> ${d.ref}` };
          });
          const results = await new CopyEngine({ concurrency: opts.concurrency ?? 4, onEvent: opts.onEvent }).run(jobs);
          results.forEach((r, n) => {
            const i = inside[n]!;
            const dest = destinationOf(i.ref, opts.destRepo!).ref;
            const old = replacing.find((x) => x.destination === dest);
            result.images.push({ source: i.ref, destination: dest, status: r.status, digest: r.digest, ...(old && r.status === "copied" ? { replaced: old.theirs.digest } : {}), ...(r.error ? { error: r.error.split(src.name).join("the package") } : {}) });
          });
          const failed = results.filter((r) => r.status === "failed");
          // errors name the package file once (at the start), not once per image
          const inPackage = (t?: string) => (t ?? "").split(` in ${src.name}`).join(" in the package").split(src.name).join("the package");
          // a registry that refused us or is down fails every image the same way: say it once
          const reasons = [...new Set(failed.map((f) => inPackage(f.error)))];
          if (failed.length > 1 && reasons.length === 1 && failed.every((f) => f.failedHost)) throw new PushError(`${label}: ${failed.length} of ${jobs.length} images failed: ${reasons[0]}`);
          if (failed.length) throw new PushError(`${label}: ${failed.length} of ${jobs.length} images failed: ${failed.map((f) => `${f.label}: ${inPackage(f.error)}`).join("; ")}`);
        }
      } finally {
        await opened.close();
      }
    }
  }
  // ---- resources
  if (!opts.skipCrs) {
    if (!opts.clusters) throw new PushError("no Kubernetes access configured");
    const clusters = opts.clusters();
    if (m.type === "bundle") await pushOperator(m, clusters, opts, result);
    else if (m.type === "moduleplugin") await pushPlugin(m, resources, clusters, opts, result);
    else await pushChart(file, m, clusters, opts, result);
  }
  return result;
}

/** Registries need not take a manifest larger than this (OCI distribution spec: "at least 4 MiB"). */
export const MANIFEST_LIMIT = 4 << 20;

/**
 * The whole package, before anything is pushed: every manifest, config and layer of every image is in the
 * package with the size its descriptor says, and no manifest is larger than registries take. All problems are
 * reported together; a broken package changes nothing anywhere.
 */
export async function checkPackage(src: OciArchiveReader, images: PackageImage[], label: string): Promise<void> {
  const sizes = await src.blobSizes();
  const problems: string[] = [];
  const mib = (n: number) => `${(n / (1 << 20)).toFixed(1)} MiB`;
  const have = (ref: string, what: string, d: Descriptor): boolean => {
    const size = sizes.get(d.digest);
    if (size === undefined) problems.push(`${ref}: ${what} ${d.digest} is not in the package`);
    else if (size !== d.size) problems.push(`${ref}: ${what} ${d.digest} is ${size} bytes in the package, its descriptor says ${d.size}`);
    else return true;
    return false;
  };
  const walk = async (ref: string, d: Descriptor, seen: Set<string>): Promise<void> => {
    if (seen.has(d.digest)) return;
    seen.add(d.digest);
    const kind = isIndex(d.mediaType) ? "index" : "manifest";
    if (d.size > MANIFEST_LIMIT) return void problems.push(`${ref}: ${kind} ${d.digest} is ${mib(d.size)}, more than the ${mib(MANIFEST_LIMIT)} registries accept`);
    if (!have(ref, kind, d)) return;
    const j = json<{ manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] }>(await src.fetchManifest(d));
    for (const c of j.manifests ?? []) await walk(ref, c, seen);
    if (j.config) have(ref, "config", j.config);
    // foreign (non-distributable) layers with URLs are not copied (as the copy engine does)
    for (const l of j.layers ?? []) if (!(l.urls?.length && /foreign|nondistributable/.test(l.mediaType))) have(ref, "layer", l);
  };
  for (const i of images) await walk(i.ref, await src.resolve(i.digest!), new Set());
  if (problems.length) throw new PushError(`${label}: the package is broken, nothing was pushed: ${problems.join("; ")}`, "get the package again from its source, or create it again with kubectl violet create/package");
}

interface TagContent {
  digest: string;
  mediaType: string;
  platforms: string[];
}

function describeContent(c: TagContent): string {
  const p = c.platforms.length ? c.platforms.join(", ") : "no platform";
  return `${c.digest} (${isIndex(c.mediaType) ? "index" : "image manifest"} for ${p})`;
}

async function content(store: Store, d: Descriptor): Promise<TagContent> {
  return { digest: d.digest, mediaType: d.mediaType, platforms: await imagePlatforms(store, d).catch(() => []) };
}

/**
 * Tags of the destination that hold something else than the package: without --force the push stops (before any
 * upload) naming both digests and what --force would do; with --force they are returned, to be reported.
 */
export async function checkTags(src: OciArchiveReader, images: PackageImage[], client: AuthClient, opts: PushOptions, m: PackageMetadata, label: string): Promise<{ destination: string; theirs: TagContent; ours: TagContent }[]> {
  const found = await Promise.all(
    images.map(async (i) => {
      const d = destinationOf(i.ref, opts.destRepo!);
      if (!d.tag) return undefined;
      const repo = RegistryRepository.fromReference(client, parseRegistryReference(d.ref));
      let now: Descriptor;
      try {
        now = await repo.resolve(d.tag);
      } catch (e) {
        if (e instanceof NotFoundError) return undefined;
        throw e;
      }
      if (now.digest === i.digest) return undefined;
      return { destination: d.ref, theirs: await content(repo, now), ours: await content(src, await src.resolve(i.digest!)) };
    }),
  );
  const conflicts = found.filter((x): x is NonNullable<typeof x> => !!x);
  if (!conflicts.length || opts.force) return conflicts;
  const what = conflicts.map((c) => `${c.destination} is ${describeContent(c.theirs)}, the package has ${describeContent(c.ours)}`).join("; ");
  const narrowing = conflicts.some((c) => isIndex(c.theirs.mediaType) && c.theirs.platforms.some((p) => !c.ours.platforms.includes(p)));
  const resource = m.type === "bundle" ? "ArtifactVersion" : m.type === "moduleplugin" ? "ModulePlugin/ModuleConfig" : "chart";
  throw new PushError(
    `${label}: ${conflicts.length === 1 ? "a tag in the registry holds" : `${conflicts.length} tags in the registry hold`} other content, nothing was pushed: ${what}`,
    `--force would point ${conflicts.length === 1 ? "that tag" : "those tags"} at the package's content${narrowing ? " (nodes of the platforms it lacks could no longer pull the image)" : ""} and overwrite an existing ${resource}; the old content stays in the registry under its digest`,
  );
}

function record(result: PackagePushResult, opts: PushOptions, r: ResourceOutcome): void {
  result.resources.push(r);
  const where = `${r.kind.toLowerCase()} ${r.namespace ? `${r.namespace}/` : ""}${r.name}`;
  const msg =
    r.message ??
    (r.action === "skipped"
      ? `${where} already exists, skipped (use --force to overwrite)`
      : r.action.startsWith("would-")
        ? `${where} would be ${r.action === "would-create" ? "created" : r.action === "would-update" ? "updated" : "skipped (already exists)"} on ${r.cluster} (${opts.serverDryRun && r.action !== "would-skip" ? "server dry run: accepted by the API server" : "dry run"})`
        : `${where} ${r.action} on ${r.cluster}`);
  opts.onLine?.(msg);
}

/**
 * One write of push: for real; with --dry-run=server sent to the API server as a dry run (dryRun=All: admission,
 * validation, RBAC); with a client dry run not sent at all. Records the outcome.
 */
async function write(kube: KubeClient, verb: "create" | "update", obj: KubeObject, result: PackagePushResult, opts: PushOptions, r: Omit<ResourceOutcome, "action" | "object">): Promise<KubeObject> {
  const server = !!opts.dryRun && !!opts.serverDryRun;
  if (opts.dryRun && !server) {
    record(result, opts, { ...r, action: verb === "create" ? "would-create" : "would-update", object: obj, message: undefined });
    return obj;
  }
  const got = verb === "create" ? await kube.create(obj, { dryRun: server }) : await kube.update(obj, { dryRun: server });
  record(result, opts, { ...r, action: server ? (verb === "create" ? "would-create" : "would-update") : verb === "create" ? "created" : "updated", object: got, ...(server ? { message: undefined } : {}) });
  return got;
}

// ------------------------------------------------------------------ operators

async function pushOperator(m: PackageMetadata, clusters: Clusters, opts: PushOptions, result: PackagePushResult): Promise<void> {
  if (!opts.destRepo) throw new PushError("no registry for the Artifact: pass --dest-repo (the platform registry could not be found)");
  const target = destinationOf(m.artifact.ref, opts.destRepo);
  const t = { registry: target.registry, repository: target.repository, tag: m.artifact.tag, catalogSource: opts.targetCatalogSource ?? m.defaultCatalogSource ?? "platform" };
  const names = opts.targetClusters?.length ? opts.targetClusters : [GLOBAL];
  for (const cluster of names) {
    const kube = clusters.client(cluster);
    const want = artifactObject(m, t);
    const at = { kind: "Artifact", name: m.name, namespace: NAMESPACE, cluster };
    let artifact = await kube.tryGet(APP_V1ALPHA1, "Artifact", m.name, { namespace: NAMESPACE });
    if (!artifact) artifact = await write(kube, "create", want, result, opts, at);
    else {
      // an Absent package (present: false) or one pointing at another registry is corrected without --force
      const stale = artifact.spec?.present !== true || artifact.metadata.labels?.["cpaas.io/present"] === "false" || artifact.spec?.registry !== t.registry || artifact.spec?.repository !== t.repository;
      if (opts.force || stale) {
        const why = artifact.spec?.present !== true ? " (was absent)" : stale ? ` (registry was ${artifact.spec?.registry}/${artifact.spec?.repository})` : "";
        const merged = { ...artifact, metadata: { ...artifact.metadata, labels: { ...artifact.metadata.labels, ...want.metadata.labels } }, spec: { ...artifact.spec, ...want.spec } };
        artifact = await write(kube, "update", merged, result, opts, { ...at, message: `artifact ${NAMESPACE}/${m.name} updated on ${cluster}${why}` });
      } else record(result, opts, { ...at, action: "unchanged", message: `artifact ${NAMESPACE}/${m.name} exists on ${cluster}` });
    }
    const av = artifactVersionObject(m, t, artifact?.metadata.uid ? { uid: artifact.metadata.uid } : undefined);
    const avName = av.metadata.name!;
    const vt = { kind: "ArtifactVersion", name: avName, namespace: NAMESPACE, cluster };
    const existing = await kube.tryGet(APP_V1ALPHA1, "ArtifactVersion", avName, { namespace: NAMESPACE });
    const absent = !!existing && (existing.spec?.present !== true || existing.metadata.labels?.["cpaas.io/present"] === "false");
    if (existing && !opts.force && !absent) {
      record(result, opts, { ...vt, action: opts.dryRun ? "would-skip" : "skipped", message: `artifactversion ${NAMESPACE}/${avName} already exists on ${cluster}, skipped (use --force to overwrite)` });
    } else if (existing) {
      const merged = { ...existing, metadata: { ...existing.metadata, labels: { ...existing.metadata.labels, ...av.metadata.labels }, annotations: { ...existing.metadata.annotations, ...av.metadata.annotations }, ownerReferences: av.metadata.ownerReferences ?? existing.metadata.ownerReferences }, spec: { ...existing.spec, ...av.spec } };
      await write(kube, "update", merged, result, opts, { ...vt, message: `artifactversion ${NAMESPACE}/${avName} updated on ${cluster}${absent ? " (was absent, now present)" : ""}` });
    } else await write(kube, "create", av, result, opts, vt);
  }
}

// ------------------------------------------------------------------ cluster plugins

async function pushPlugin(m: PackageMetadata, resources: Map<string, string>, clusters: Clusters, opts: PushOptions, result: PackagePushResult): Promise<void> {
  const text = resources.get(MODULE_PLUGIN_FILE);
  if (!text) throw new PushError(`${result.file}: a cluster plugin package without ${MODULE_PLUGIN_FILE}`, "create the package again");
  if (opts.targetClusters?.length) opts.onLine?.(`note: cluster plugins are published to the global cluster; --clusters is ignored for ${m.name}`);
  const kube = clusters.global;
  const plugin = modulePluginObject(parseYaml(text), m);
  const config = moduleConfigObject(plugin, m);
  const name = plugin.metadata.name!;
  const existingConfig = await kube.tryGet(CLUSTER_V1ALPHA1, "ModuleConfig", config.metadata.name!);
  if (existingConfig && !opts.force) {
    record(result, opts, { kind: "ModuleConfig", name: config.metadata.name!, cluster: GLOBAL, action: opts.dryRun ? "would-skip" : "skipped", message: `moduleplugin ${name} version ${m.version} already exists, skipped (use --force to overwrite)` });
    return;
  }
  const existing = await kube.tryGet(CLUSTER_V1ALPHA1, "ModulePlugin", name);
  // real writes print one success line (violet's), dry runs one line per resource
  const quiet = opts.dryRun ? opts : { ...opts, onLine: undefined };
  const mp = { kind: "ModulePlugin", name, cluster: GLOBAL };
  const mc = { kind: "ModuleConfig", name: config.metadata.name!, cluster: GLOBAL };
  if (existing) await write(kube, "update", { ...existing, metadata: { ...existing.metadata, labels: { ...existing.metadata.labels, ...plugin.metadata.labels }, annotations: { ...existing.metadata.annotations, ...plugin.metadata.annotations } }, spec: plugin.spec }, result, quiet, mp);
  else await write(kube, "create", plugin, result, quiet, mp);
  if (existingConfig) await write(kube, "update", { ...existingConfig, metadata: { ...existingConfig.metadata, labels: config.metadata.labels, annotations: config.metadata.annotations }, spec: config.spec }, result, quiet, mc);
  else await write(kube, "create", config, result, quiet, mc);
  if (!opts.dryRun) opts.onLine?.(`moduleplugin ${name} has been updated successfully`);
}

// ------------------------------------------------------------------ charts

async function chartRepoAccess(kube: KubeClient, repoName: string): Promise<{ url: string; username?: string; password?: string; secret?: string }> {
  let repo: KubeObject | undefined;
  for (const v of ["v1beta1", "v1alpha1"]) {
    try {
      repo = await kube.tryGet(`app.alauda.io/${v}`, "ChartRepo", repoName, { namespace: NAMESPACE });
      if (repo) break;
    } catch (e) {
      if (!(e instanceof KubeApiError) || e.status !== 404) throw e;
    }
  }
  if (!repo) throw new PushError(`ChartRepo ${NAMESPACE}/${repoName} not found on the global cluster`, "check --target-chartrepo (default public-charts)");
  const url = repo.spec?.url as string | undefined;
  if (!url) throw new PushError(`ChartRepo ${NAMESPACE}/${repoName} has no spec.url`);
  const s = repo.spec?.secret as { name?: string; namespace?: string } | undefined;
  if (!s?.name) return { url };
  const secret = await kube.get("v1", "Secret", s.name, { namespace: s.namespace || NAMESPACE });
  const dec = (v?: string) => (v ? Buffer.from(v, "base64").toString("utf8") : undefined);
  const username = dec(secret.data?.username);
  const password = dec(secret.data?.password);
  registerSecret(password);
  return { url, username, password, secret: `${s.namespace || NAMESPACE}/${s.name}` };
}

/** Write the chart .tgz of the package's main artifact to a temp file. */
async function extractChart(file: string, m: PackageMetadata, dir: string): Promise<string> {
  const opened = await openPackageLayout(file);
  const src = opened.src;
  try {
    const manifest = json<ImageManifest>(await src.fetchManifest(await src.resolve(m.artifact.digest!)));
    const layer = manifest.layers.find((l) => l.mediaType === MT.helmChart) ?? manifest.layers[0];
    if (!layer) throw new PushError(`${file}: the chart artifact has no layers`);
    const out = join(dir, `${m.chart?.name ?? m.name}-${m.chart?.version ?? m.version}.tgz`);
    if (src.canFetch(layer)) await pipeline(await src.fetchBlob(layer), createWriteStream(out));
    else await src.streamBlobs(new Set([layer.digest]), (_d, s) => pipeline(s, createWriteStream(out)));
    return out;
  } finally {
    await opened.close();
  }
}

async function pushChart(file: string, m: PackageMetadata, clusters: Clusters, opts: PushOptions, result: PackagePushResult): Promise<void> {
  const repoName = opts.targetChartRepo ?? "public-charts";
  const access = await chartRepoAccess(clusters.global, repoName);
  const chartName = m.chart?.name ?? m.name;
  const chartVersion = m.chart?.version ?? m.version;
  const id = `${chartName}-${chartVersion}`;
  if (opts.dryRun) {
    record(result, opts, { kind: "Chart", name: id, namespace: NAMESPACE, cluster: GLOBAL, action: "would-create", message: `chart ${chartName} ${chartVersion} would be uploaded to chartrepo ${repoName} (dry run)` });
    return;
  }
  if (!m.artifact.digest) throw new PushError(`${file}: the chart itself is not in the package`);
  const dir = await mkdtemp(join(tmpdir(), "violet-push-chart-"));
  try {
    const tgz = await extractChart(file, m, dir);
    const r = await uploadChart({ url: access.url, name: repoName }, tgz, { auth: { username: access.username, password: access.password }, force: !!opts.force, skipExisting: !opts.force, prov: false }).catch((e) => {
      if (!(e instanceof ChartRepoAuthError)) throw e;
      const msg = (e as Error).message.replace(/\s*\(check --username[^)]*\)\s*$/, "");
      const cred = access.secret ? `the credentials from Secret ${access.secret} (ChartRepo ${NAMESPACE}/${repoName} spec.secret)` : `no credentials (ChartRepo ${NAMESPACE}/${repoName} has no spec.secret)`;
      throw new PushError(`${msg}; sent ${cred}`, `fix the Secret of ChartRepo ${NAMESPACE}/${repoName}, or pick another with --target-chartrepo`);
    });
    const action: Action = r.status === "skipped" ? "skipped" : opts.force ? "updated" : "uploaded";
    record(result, opts, {
      kind: "Chart",
      name: id,
      namespace: NAMESPACE,
      cluster: GLOBAL,
      action,
      message: r.status === "skipped" ? `chart ${chartName} ${chartVersion} already exists in chartrepo ${repoName}, skipped (use --force to overwrite)` : `chart ${chartName} ${chartVersion} has been uploaded to chartrepo ${repoName}`,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
