// kubectl mirror verify: is everything a chart / mirror file / export archive needs present in a registry
// (or in an archive), with the right digests?
//   chart/pack   the tag exists and its content layer is the expected chart/pack archive (sha256)
//   image        the tag (or digest) exists; its digest equals the expected one — from the archive's index.json,
//                or resolved at the source (through --source-mirror) unless --offline
import { resolvePossible } from "../plan/possible.ts";
import type { ChartLayout } from "../plan/plan.ts";
import { failedHost } from "../../../../shared/oci/errors.ts";
import { OciArchiveReader } from "../../../../shared/oci/archive.ts";
import { createClient, type RegistryOptions } from "../../../../shared/oci/client.ts";
import { NotFoundError } from "../../../../shared/oci/errors.ts";
import { createLimit } from "../../../../shared/runtime/limit.ts";
import type { Store } from "../../../../shared/oci/store.ts";
import type { ImageManifest } from "../../../../shared/oci/types.ts";
import { buildPlan, layoutTag, type MirrorInput, type PlannedArtifact } from "../plan/plan.ts";
import { destinations, pullReference, RepoCache, type DestinationOptions } from "../inputs/targets.ts";
import { METADATA_FILE, metadataFromIndex, readMetadata, resolveArchiveArg } from "../transfer/archive.ts";
import { checkArchive, type ArchiveTrust } from "../transfer/archive-sign.ts";
import type { VerifyKey } from "../../../../shared/signing/dsse.ts";
import type { RegistryMapEntry } from "../plan/mapping.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export type VerifyStatus = "ok" | "missing" | "digest-mismatch" | "unverified" | "error";

export interface VerifyItem {
  kind: "chart" | "pack" | "image";
  source: string;
  /** where it should be: host/repo:tag, or the archive's reference name (the same name as in push/sync/copy reports) */
  destination: string;
  status: VerifyStatus;
  expected?: string;
  actual?: string;
  detail?: string;
  /** the registry failed as a whole (credentials refused, unreachable): reported once by the command */
  failedHost?: string;
}

export interface VerifyReport {
  /** the registry (--dest) or oci-archive:PATH (--in-archive) checked */
  destination: string;
  items: VerifyItem[];
  summary: { total: number; ok: number; missing: number; mismatched: number; unverified: number; errors: number };
  /** the archives read (--archive, --in-archive): signature verdict */
  trust?: ArchiveTrust[];
}

interface Expectation {
  kind: VerifyItem["kind"];
  source: string;
  /** registry ref (host/repo:tag) or archive ref name */
  destination: string;
  /** expected manifest digest (images) */
  digest?: string;
  /** expected content layer digest (charts/packs) */
  contentDigest?: string;
  /** where to resolve the expected digest when not known: a source ref */
  sourceRef?: string;
}

export type VerifyTarget = { kind: "registry"; destination: DestinationOptions } | { kind: "archive"; path: string };

export interface VerifyOptions {
  target: VerifyTarget;
  registry: RegistryOptions;
  /** do not contact sources: presence (and archive digests) only */
  offline?: boolean;
  sourceMirrors?: RegistryMapEntry[];
  concurrency?: number;
  chartPrefix?: string;
  chartLayout?: ChartLayout;
  /** --key: archives must be signed by one of these and intact */
  keys?: VerifyKey[];
}

function summarize(destination: string, items: VerifyItem[]): VerifyReport {
  const c = (s: VerifyStatus) => items.filter((i) => i.status === s).length;
  return { destination, items, summary: { total: items.length, ok: c("ok"), missing: c("missing"), mismatched: c("digest-mismatch"), unverified: c("unverified"), errors: c("error") } };
}

function targetsFor(artifacts: PlannedArtifact[], images: { image: string; digest?: string }[], t: VerifyTarget): { arts: string[]; imgs: string[] } {
  if (t.kind === "archive") return { arts: artifacts.map(layoutTag), imgs: images.map((i) => i.image) };
  const d = destinations(artifacts, images.map((i) => i.image), t.destination);
  return { arts: d.artifacts.map((a) => a.destination), imgs: d.images.map((i) => i.destination) };
}

/** Expectations from a chart / mirror file (the plan). */
export async function verifyInput(input: MirrorInput, opts: VerifyOptions): Promise<VerifyReport> {
  const plan = await buildPlan(input, { chartPrefix: opts.chartPrefix, requireRender: true, chartLayout: opts.chartLayout });
  try {
    // what sync carries: the required images, and the possible ones the source has (offline: required only)
    if (!opts.offline) await resolvePossible(plan, { registry: opts.registry, sourceMirrors: opts.sourceMirrors, mapping: opts.target.kind === "archive" ? undefined : opts.target.destination, concurrency: opts.concurrency });
    const t = targetsFor(plan.artifacts, plan.images.map((image) => ({ image })), opts.target);
    const ex: Expectation[] = [
      ...plan.artifacts.map((a, i) => ({ kind: a.kind, source: `${a.name} ${a.version}`, destination: t.arts[i]!, contentDigest: a.contentDigest })),
      ...plan.images.map((image, i) => ({ kind: "image" as const, source: image, destination: t.imgs[i]!, sourceRef: opts.offline ? undefined : pullReference(image, opts.sourceMirrors ?? []) })),
    ];
    return await check(ex, opts);
  } finally {
    await plan.cleanup();
  }
}

/** Expectations from an export archive (metadata + index.json digests). */
export async function verifyArchive(archive: string, opts: VerifyOptions): Promise<VerifyReport> {
  let work: string | undefined;
  const { path } = await resolveArchiveArg(archive, async () => (work ??= await mkdtemp(join(tmpdir(), "ka-mirror-verify-"))));
  const reader = await OciArchiveReader.open(path);
  try {
    const meta = (await readMetadata(reader)) ?? (await metadataFromIndex(reader));
    // the same archive as --in-archive: check() verifies it (once)
    const same = opts.target.kind === "archive" && resolve(opts.target.path) === resolve(archive);
    const trust = same ? undefined : await checkArchive(reader, { keys: opts.keys, metadataFile: METADATA_FILE, label: archive });
    const digestOf = new Map(reader.roots().filter((r) => r.tag).map((r) => [r.tag!, r.desc.digest]));
    const arts = meta.artifacts.map((a) => ({ ...a, digest: "", warnings: [] }) as unknown as PlannedArtifact);
    const t = targetsFor(arts, meta.images, opts.target);
    const ex: Expectation[] = [
      ...meta.artifacts.map((a, i) => ({ kind: a.kind, source: `${a.name} ${a.version}`, destination: t.arts[i]!, contentDigest: a.contentDigest, digest: digestOf.get(a.ref) })),
      ...meta.images.map((im, i) => ({ kind: "image" as const, source: im.image, destination: t.imgs[i]!, digest: digestOf.get(im.ref) })),
    ];
    const report = await check(ex, opts);
    return { ...report, trust: [...(trust ? [trust] : []), ...(report.trust ?? [])] };
  } finally {
    await reader.close();
    if (work) await rm(work, { recursive: true, force: true });
  }
}

async function check(ex: Expectation[], opts: VerifyOptions): Promise<VerifyReport> {
  const client = createClient(opts.registry);
  const repos = new RepoCache(client, opts.registry.chunkSize);
  let archive: OciArchiveReader | undefined;
  let work: string | undefined;
  const limit = createLimit(opts.concurrency ?? 8);
  const trust: ArchiveTrust[] = [];
  try {
    let open: (ref: string) => { store: Store; reference: string };
    let label: string;
    if (opts.target.kind === "archive") {
      const { path } = await resolveArchiveArg(opts.target.path, async () => (work ??= await mkdtemp(join(tmpdir(), "ka-mirror-verify-"))));
      archive = await OciArchiveReader.open(path);
      trust.push(await checkArchive(archive, { keys: opts.keys, metadataFile: METADATA_FILE, label: opts.target.path }));
      const a = archive;
      open = (ref) => ({ store: a, reference: ref });
      label = `oci-archive:${opts.target.path}`;
    } else {
      open = (ref) => repos.open(ref);
      label = opts.target.destination.dest;
    }
    const items = await Promise.all(ex.map((e) => limit(() => checkOne(e, open, repos))));
    return { ...summarize(label, items), ...(trust.length ? { trust } : {}) };
  } finally {
    await archive?.close();
    client.transport.close();
    if (work) await rm(work, { recursive: true, force: true });
  }
}

async function checkOne(e: Expectation, open: (ref: string) => { store: Store; reference: string }, repos: RepoCache): Promise<VerifyItem> {
  const item: VerifyItem = { kind: e.kind, source: e.source, destination: e.destination, status: "ok" };
  try {
    const { store, reference } = open(e.destination);
    let desc;
    try {
      desc = await store.resolve(reference);
    } catch (err) {
      if (err instanceof NotFoundError) return { ...item, status: "missing", detail: "not found" };
      throw err;
    }
    item.actual = desc.digest;
    if (e.kind !== "image") {
      const m = JSON.parse(new TextDecoder().decode(await store.fetchManifest(desc))) as ImageManifest;
      const layer = m.layers?.[0]?.digest;
      item.expected = e.contentDigest;
      if (e.contentDigest && layer !== e.contentDigest) return { ...item, status: "digest-mismatch", actual: layer, detail: "content differs from the expected archive" };
      return item;
    }
    let expected = e.digest;
    if (!expected && e.sourceRef) {
      try {
        const s = repos.open(e.sourceRef);
        expected = (await s.store.resolve(s.reference)).digest;
      } catch (err) {
        return { ...item, status: "unverified", detail: `present; source digest unknown: ${(err as Error).message}` };
      }
    }
    if (!expected) {
      // digest references pin the digest themselves
      const at = e.source.indexOf("@");
      expected = at > 0 ? e.source.slice(at + 1) : undefined;
    }
    item.expected = expected;
    if (expected && expected !== desc.digest) return { ...item, status: "digest-mismatch", detail: "tag points at another manifest" };
    return item;
  } catch (err) {
    const host = failedHost(err);
    const hint = (err as { hint?: string }).hint;
    return { ...item, status: "error", detail: (err as Error).message + (host && hint ? ` (${hint})` : ""), ...(host ? { failedHost: host } : {}) };
  }
}
