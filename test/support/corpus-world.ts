// A world for mirroring the real corpus charts (corpus.ts): for each chart × value set ("defaults" and
// values/<chart>.everything.yaml) the oracle of its required images (Helm's render, never our code), a source
// registry holding a tiny synthetic image under exactly each rendered reference, and a TLS + htpasswd destination.
//
//   const w = await startCorpusWorld();                        // every corpus chart × both value sets
//   for (const c of w.cases) {                                   // c.id "redis-defaults", c.truth (sorted refs)
//     const r = await w.mirror(["sync", c.chart.tgz, ...c.valueArgs, ...w.sourceArgs(c), ...w.destArgs(c)], { stdin: w.dest.password + "\n" });
//   }
//   await w.stop();
//
// Source: token auth with anonymous pull (public-like), TLS with its own CA. A chart's images live under
// <src>/<chart>/<original host>/<path>:<tag>, reached through --source-mirror HOST=<src>/<chart>/HOST, so image
// names stay the real ones. The source of a chart holds the union of what its value sets render (every image the
// chart is known to run), so a possible image of one value set that another renders is present, and a reference
// the chart never renders (a static scan's invention) is absent. Digest-pinned references cannot be synthesised:
// DIGEST_SETS clears those pins with --set (the everything value sets already do), and the oracle is computed
// with the same flags.
// Destination: startRegistry() default (TLS with a private CA + htpasswd); each case writes below <dest>/<case id>.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CORPUS_CHARTS, corpusChart, renderedImages, type CorpusChart } from "./corpus.ts";
import { startRegistry, type TestRegistry } from "./registry.ts";
import { writeImageLayout, type ImageSpec } from "./images.ts";
import { HELM3, isolatedEnv, runCli, type CliResult } from "./cli.ts";
import { mirrorCopy } from "../../plugins/kubectl-mirror/lib/transfer/copy.ts";
import { parseRegistryReference } from "../../shared/oci/reference.ts";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";
import type { RegistryOptions } from "../../shared/oci/client.ts";

export type ValueSet = "defaults" | "everything";
export const VALUE_SETS: ValueSet[] = ["defaults", "everything"];

/** --set flags that clear a chart's digest pins (synthetic images cannot have the real digests). */
export const DIGEST_SETS: Record<string, string[]> = {
  "ingress-nginx": ["controller.image.digest=", "controller.admissionWebhooks.patch.image.digest="],
};

/** Registries whose names are mirrored to the source for every chart (plus every host the charts render). */
const KNOWN_HOSTS = ["docker.io", "quay.io", "ghcr.io", "registry.k8s.io", "gcr.io", "public.ecr.aws", "mcr.microsoft.com"];

export interface CorpusCase {
  /** "<chart>-<value set>" (also the destination sub-path) */
  id: string;
  chart: CorpusChart;
  valueSet: ValueSet;
  /** helm/kubectl-mirror flags giving the value set: -f FILE, --set … */
  valueArgs: string[];
  /** the required images: what Helm 3.17 renders with valueArgs, sorted */
  truth: string[];
}

export interface CorpusWorld {
  tmp: string;
  src: TestRegistry;
  dest: TestRegistry;
  cases: CorpusCase[];
  /** the images the source holds for a chart (union of its cases' truth), sorted */
  sourceImages(chart: string): string[];
  /** --source-mirror HOST=<src>/<chart>/HOST for every mirrored host, and the source's CA */
  sourceArgs(c: CorpusCase): string[];
  /** --dest <dest>/<case id>, its CA, -u USER --password-stdin (give `dest.password + "\n"` on stdin) */
  destArgs(c: CorpusCase): string[];
  /** <dest>/<case id> */
  destOf(c: CorpusCase): string;
  /** our client's options for reading the destination */
  destRegistry: RegistryOptions;
  /** environment for CLI runs: temp HOME/DOCKER_CONFIG/HELM_* and HELM_BIN = Helm 3.17 */
  env: Record<string, string>;
  /** run kubectl-mirror with the world's env; stdin defaults to the destination password */
  mirror(args: string[], opts?: { stdin?: string; timeoutMs?: number; env?: Record<string, string> }): Promise<CliResult>;
  stop(): Promise<void>;
}

function valueArgs(c: CorpusChart, set: ValueSet): { values: string[]; set: string[] } {
  return { values: set === "everything" ? [c.everything] : [], set: set === "defaults" ? (DIGEST_SETS[c.name] ?? []) : [] };
}

/** Where an image lives in the source registry for a chart. */
export function corpusSourceRef(src: TestRegistry, chart: string, image: string): string {
  const r = parseRegistryReference(image);
  return `${src.host}/${chart}/${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ""}`;
}

/** Start the source (seeded) and destination registries and compute every case's oracle. */
export async function startCorpusWorld(opts: { charts?: readonly string[]; valueSets?: ValueSet[] } = {}): Promise<CorpusWorld> {
  const charts = (opts.charts ?? CORPUS_CHARTS).map((n) => corpusChart(n));
  const sets = opts.valueSets ?? VALUE_SETS;
  const tmp = mkdtempSync(join(tmpdir(), "ka-corpus-world-"));
  const [src, dest, cases] = await Promise.all([
    startRegistry({ auth: "token", anonymous: ["pull"] }),
    startRegistry(),
    Promise.all(
      charts.flatMap((chart) =>
        sets.map(async (valueSet): Promise<CorpusCase> => {
          const v = valueArgs(chart, valueSet);
          const truth = [...(await renderedImages(chart.tgz, { values: v.values, set: v.set, helmBin: HELM3 }))].sort();
          return { id: `${chart.name}-${valueSet}`, chart, valueSet, valueArgs: [...v.values.flatMap((f) => ["-f", f]), ...v.set.flatMap((s) => ["--set", s])], truth };
        }),
      ),
    ),
  ]);
  const byChart = new Map<string, string[]>();
  for (const c of cases) byChart.set(c.chart.name, [...new Set([...(byChart.get(c.chart.name) ?? []), ...c.truth])].sort());
  for (const [chart, images] of byChart) {
    const digested = images.filter((i) => i.includes("@"));
    if (digested.length) throw new Error(`corpus chart ${chart} renders digest-pinned images (${digested.join(", ")}): add --set flags to DIGEST_SETS`);
  }
  // one tiny single-layer image per distinct reference (shared base layer), written once, copied where they go
  const srcRegistry: RegistryOptions = { caFiles: [{ host: src.host, file: src.caFile! }], credentials: staticCredentials({ username: "writer", password: src.users.writer! }) };
  const all = [...new Set([...byChart.values()].flat())].sort();
  const layout = join(tmp, "layout");
  const specs: ImageSpec[] = all.map((image, i) => ({ tag: `img${i}`, seed: image, layers: [{ seed: "corpus-base", size: 512 }, { size: 256 }], platforms: ["linux/amd64"] }));
  await writeImageLayout(layout, specs);
  const pairs = [...byChart].flatMap(([chart, images]) => images.map((image) => ({ src: `oci-layout:${layout}:img${all.indexOf(image)}`, dst: corpusSourceRef(src, chart, image) })));
  const results = await mirrorCopy(pairs, { registry: srcRegistry, extras: false });
  const bad = results.find((r) => r.status === "failed");
  if (bad) throw new Error(`seeding the corpus source registry: ${bad.error}`);

  const env: Record<string, string> = { ...isolatedEnv(tmp), KUBE_AIRGAP_CACHE_DIR: join(tmp, "cache") };
  const hostsOf = (chart: string) => [...new Set([...KNOWN_HOSTS, ...(byChart.get(chart) ?? []).map((i) => parseRegistryReference(i).registry)])].sort();
  const destOf = (c: CorpusCase) => `${dest.host}/${c.id}`;
  return {
    tmp,
    src,
    dest,
    cases,
    sourceImages: (chart) => byChart.get(chart) ?? [],
    sourceArgs: (c) => ["--ca-file", `${src.host}=${src.caFile}`, ...hostsOf(c.chart.name).flatMap((h) => ["--source-mirror", `${h}=${src.host}/${c.chart.name}/${h}`])],
    destArgs: (c) => ["--dest", destOf(c), "--ca-file", `${dest.host}=${dest.caFile}`, "-u", dest.username, "--password-stdin"],
    destOf,
    destRegistry: { caFiles: [{ host: dest.host, file: dest.caFile! }], credentials: staticCredentials({ username: dest.username, password: dest.password }) },
    env,
    mirror: (args, o = {}) => runCli("kubectl-mirror", args, { env: { ...env, ...o.env }, stdin: o.stdin ?? `${dest.password}\n`, timeoutMs: o.timeoutMs ?? 180_000 }),
    stop: async () => {
      await Promise.all([src.stop(), dest.stop()]);
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}
