// Ground truth on the real corpus charts (issue 20, item 1): for each chart × value set, Helm's own render is the
// oracle of the required images (test/support/corpus.ts). `kubectl mirror images` must list every one of them as
// required (0 missed); `sync` with the value set must exit 0 and tag the chart at a TLS + htpasswd destination whose
// source holds synthetic images under exactly the rendered references — a guessed (possible) image that the source
// does not have is reported as skipped and never blocks the chart.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { OciArchiveReader } from "../../shared/oci/archive.ts";
import { startCorpusWorld, type CorpusCase, type CorpusWorld } from "../support/corpus-world.ts";
import type { CliResult } from "../support/cli.ts";
import { RegistryRepository } from "../../shared/oci/registry.ts";
import { createClient } from "../../shared/oci/client.ts";
import { parseRegistryReference } from "../../shared/oci/reference.ts";

let w: CorpusWorld;
const imagesOut = new Map<string, CliResult>();
const syncOut = new Map<string, CliResult>();
// export of the case with the most guesses: the archive is written although some possible images are absent
const EXPORT_CASE = "kube-prometheus-stack-defaults";
let exportOut: CliResult | undefined;

/** Run fn over items, at most n at a time. */
async function pool<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: n }, async () => {
    for (let x = queue.shift(); x !== undefined; x = queue.shift()) await fn(x);
  }));
}

beforeAll(async () => {
  w = await startCorpusWorld();
  // the CLI runs of every case, three cases at a time (each run renders with helm)
  await pool(w.cases, 3, async (c) => {
    const [images, sync] = await Promise.all([
      w.mirror(["images", c.chart.tgz, ...c.valueArgs, "-o", "json"]),
      w.mirror(["sync", c.chart.tgz, ...c.valueArgs, ...w.sourceArgs(c), ...w.destArgs(c), "-o", "json"]),
    ]);
    imagesOut.set(c.id, images);
    syncOut.set(c.id, sync);
    if (c.id === EXPORT_CASE) exportOut = await w.mirror(["export", c.chart.tgz, ...c.valueArgs, ...w.sourceArgs(c), "-O", join(w.tmp, `${c.id}.tar`), "-o", "json"]);
  });
}, 600_000);

afterAll(async () => {
  await w?.stop();
});

function ok(r: CliResult | undefined, what: string): CliResult {
  if (!r) throw new Error(`${what}: not run`);
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\nSTDERR:\n${r.stderr.slice(-4000)}\nSTDOUT:\n${r.stdout.slice(0, 2000)}`);
  return r;
}

const CASES = ["redis-defaults", "redis-everything", "ingress-nginx-defaults", "ingress-nginx-everything", "kube-prometheus-stack-defaults", "kube-prometheus-stack-everything"];
const caseOf = (id: string): CorpusCase => w.cases.find((c) => c.id === id)!;

describe("kubectl mirror images on the corpus: every rendered image is required", () => {
  for (const id of CASES) {
    test(id, () => {
      const c = caseOf(id);
      expect(c.truth.length).toBeGreaterThan(0);
      const report = JSON.parse(ok(imagesOut.get(id), `images ${id}`).stdout);
      const byRef = new Map<string, any>(report.images.map((i: any) => [i.image, i]));
      const missed = c.truth.filter((ref) => byRef.get(ref)?.kind !== "required");
      expect(missed).toEqual([]);
      // and nothing beyond the render is called required
      const required = report.images.filter((i: any) => i.kind === "required").map((i: any) => i.image).sort();
      expect(required).toEqual(c.truth);
      // every other image is a possible one, with why it is only possible
      for (const i of report.images.filter((x: any) => x.kind !== "required")) {
        expect(i.kind).toBe("possible");
        expect(i.why).toMatch(/\S/);
      }
      expect(report.summary).toMatchObject({ required: c.truth.length, possible: report.images.length - c.truth.length });
    });
  }
});

describe("kubectl mirror sync on the corpus: exits 0 and tags the chart", () => {
  for (const id of CASES) {
    test(id, async () => {
      const c = caseOf(id);
      const r = ok(syncOut.get(id), `sync ${id}`);
      const report = JSON.parse(r.stdout);
      const client = createClient(w.destRegistry);
      try {
        // the chart, tagged (nested layout)
        const chart = new RegistryRepository(client, w.dest.host, `${c.id}/charts/${c.chart.name}/${c.chart.name}`);
        expect((await chart.resolve(c.chart.version)).digest).toMatch(/^sha256:/);
        // every required image at its mapped destination
        for (const ref of c.truth) {
          const p = parseRegistryReference(ref);
          const repo = new RegistryRepository(client, w.dest.host, `${c.id}/images/${p.repository}`);
          expect((await repo.resolve(p.tag!)).digest).toMatch(/^sha256:/);
        }
      } finally {
        client.transport.close();
      }
      // possible images: present at the source → copied; absent → listed as skipped, not failed
      const present = new Set(w.sourceImages(c.chart.name));
      const copied = new Set<string>(report.items.filter((x: any) => x.kind === "image").map((x: any) => x.source));
      const skipped = new Map<string, any>((report.skipped ?? []).map((x: any) => [x.image as string, x]));
      for (const ref of c.truth) expect(copied.has(ref)).toBe(true);
      for (const [ref, s] of skipped) {
        expect(present.has(ref)).toBe(false);
        expect(c.truth).not.toContain(ref);
        expect(s.reason).toBe("not found at the source");
      }
      for (const ref of copied) if (!c.truth.includes(ref)) expect(present.has(ref)).toBe(true);
      expect(report.summary.failed).toBe(0);
      if (skipped.size) expect(r.stderr).toContain("not found at the source, skipped");
    });
  }
});

test("kubectl mirror export on the corpus: the archive is written, absent possible images listed as skipped", async () => {
  const c = caseOf(EXPORT_CASE);
  const report = JSON.parse(ok(exportOut, `export ${EXPORT_CASE}`).stdout);
  const archive = join(w.tmp, `${c.id}.tar`);
  expect(existsSync(archive)).toBe(true);
  expect(report.summary.failed).toBe(0);
  expect(report.skipped.length).toBeGreaterThan(0);
  for (const s of report.skipped) {
    expect(s.reason).toBe("not found at the source");
    expect(w.sourceImages(c.chart.name)).not.toContain(s.image);
  }
  const reader = await OciArchiveReader.open(archive);
  try {
    const tags = await reader.tags();
    for (const ref of c.truth) expect(tags).toContain(ref);
    expect(tags).toContain(`charts/${c.chart.name}/${c.chart.name}:${c.chart.version}`);
  } finally {
    await reader.close();
  }
  expect(exportOut!.stderr).toContain("not found at the source, skipped");
});
