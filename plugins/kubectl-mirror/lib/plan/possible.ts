// Possible images (shared/helm/discover.ts: found by the static scan only, not rendered with the user's values):
// each is looked up at its source — a HEAD of the manifest through the same transport, credentials and
// --source-mirror as the copy — before anything is copied.
//   present  → mirrored like the others (unless --images required), but never holding back a chart's tag
//   absent   → "not found at the source, skipped": listed in the report and -o json, never a failure
// A possible image that would land on the destination repository of another source repository (a guess such as
// docker.io/ingress-nginx/controller next to the rendered registry.k8s.io/ingress-nginx/controller) is skipped too:
// a guess never stops the mirror with a mapping collision.
import type { ArgsDef } from "citty";
import { UsageError } from "../../../../shared/cli/errors.ts";
import { parseImage, repositoryOf } from "../../../../shared/helm/image-ref.ts";
import { createClient, type RegistryOptions } from "../../../../shared/oci/client.ts";
import { NotFoundError } from "../../../../shared/oci/errors.ts";
import { mapRepository, normalizeDest, type MapMode, type RegistryMapEntry } from "./mapping.ts";
import type { MirrorPlan } from "./plan.ts";
import { pullReference, RepoCache } from "../inputs/targets.ts";

export type ImagesMode = "all" | "required";
export const IMAGES_MODES: ImagesMode[] = ["all", "required"];

export const imagesModeArgs = {
  images: {
    type: "string",
    description: "Which images to carry: all (default: the rendered, required ones plus the possible ones — found by the static scan only — that the source has) or required (only what helm template renders)",
    valueHint: "all|required",
  },
} as const satisfies ArgsDef;

export function imagesModeFromArgs(args: Record<string, unknown>): ImagesMode {
  const v = args.images;
  if (v === undefined || v === "") return "all";
  if (!IMAGES_MODES.includes(v as ImagesMode)) throw new UsageError(`--images ${String(v)}: expected one of ${IMAGES_MODES.join(", ")}`);
  return v as ImagesMode;
}

export interface SkippedImage {
  image: string;
  /** charts that list it ("name version") */
  charts: string[];
  /** "not found at the source" | "not mirrored (--images required)" | collision / lookup failure text */
  reason: string;
  /** why it is only possible (discovery) */
  why?: string;
}

export interface PossibleOptions {
  registry: RegistryOptions;
  sourceMirrors?: RegistryMapEntry[];
  mode?: ImagesMode;
  /** the destination mapping used (dest, mode, prefix, registry map): collisions are checked with it */
  mapping?: { dest: string; mode?: MapMode; imagePrefix?: string; registryMap?: RegistryMapEntry[] };
  /** parallel lookups (default 8) */
  concurrency?: number;
}

/**
 * Decide the plan's possible images: look each up at the source, add the present ones to `plan.images` (and to
 * `plan.optional`, so nothing waits for them), return the skipped ones. Lookups never throw.
 */
export async function resolvePossible(plan: MirrorPlan, opts: PossibleOptions): Promise<SkippedImage[]> {
  const skipped: SkippedImage[] = [];
  const candidates = plan.possible.filter((p) => !plan.images.includes(p.image));
  if (!candidates.length) return skipped;
  if (opts.mode === "required") {
    return candidates.map((p) => ({ image: p.image, charts: p.charts, reason: "not mirrored (--images required)", ...(p.why ? { why: p.why } : {}) }));
  }
  // a guess must not collide (at the destination) with a repository that is mirrored anyway
  const m = opts.mapping ?? { dest: "mirror.invalid" };
  const destRepo = (img: string) => mapRepository(img, normalizeDest(m.dest), m.mode ?? "strip-host", m.registryMap ?? [], { prefix: m.imagePrefix });
  const taken = new Map<string, string>();
  const safeMap = (img: string) => {
    try {
      return destRepo(img);
    } catch {
      return undefined;
    }
  };
  for (const img of plan.images) {
    const d = safeMap(img);
    if (d) taken.set(d, repositoryOf(parseImage(img)));
  }
  const lookups: typeof candidates = [];
  for (const p of candidates) {
    const d = safeMap(p.image);
    const repo = repositoryOf(parseImage(p.image));
    const other = d ? taken.get(d) : undefined;
    if (other && other !== repo) {
      skipped.push({ image: p.image, charts: p.charts, reason: `would be mirrored to ${d}, where ${other} goes (a guess next to a rendered image)`, ...(p.why ? { why: p.why } : {}) });
      continue;
    }
    if (d) taken.set(d, repo);
    lookups.push(p);
  }
  const client = createClient(opts.registry);
  const repos = new RepoCache(client, opts.registry.chunkSize);
  const present: string[] = [];
  try {
    const queue = [...lookups];
    await Promise.all(
      Array.from({ length: Math.min(opts.concurrency ?? 8, queue.length) }, async () => {
        for (let p = queue.shift(); p; p = queue.shift()) {
          const src = repos.open(pullReference(p.image, opts.sourceMirrors ?? []));
          try {
            await src.store.resolve(src.reference);
            present.push(p.image);
          } catch (e) {
            const reason = e instanceof NotFoundError ? "not found at the source" : `not looked up at the source (${(e as Error).message})`;
            skipped.push({ image: p.image, charts: p.charts, reason, ...(p.why ? { why: p.why } : {}) });
          }
        }
      }),
    );
  } finally {
    client.transport.close();
  }
  plan.images = [...new Set([...plan.images, ...present])].sort();
  for (const p of present) plan.optional.add(p);
  return skipped.sort((a, b) => a.image.localeCompare(b.image));
}

/** One stderr line per skipped possible image. */
export function skippedLines(skipped: SkippedImage[]): string[] {
  return skipped.map((s) => (s.reason === "not found at the source" ? `possible image ${s.image} (${s.charts.join(", ")}): not found at the source, skipped` : `possible image ${s.image} (${s.charts.join(", ")}): ${s.reason}, skipped`));
}
