#!/usr/bin/env bun
// Benchmark: `kubectl mirror sync` of a chart with N images (from a local HTTP chart repo, rendered with real
// helm, chart pushed as a Helm OCI artifact) versus what an admin scripts without us, the same job done by the
// usual tools: `helm pull` + `helm template | grep image:` + `skopeo sync` of those images + `helm push` of the
// chart (bench/admin-sync.sh; skopeo alone does no chart work, so comparing with it alone compared unlike jobs).
//   bun bench/sync.ts [--images N] [--rounds R] [--base-mib B] [--own-mib O] [--concurrency C] [--exclude-extras] [--debug] [--serve]
//   bun bench/sync.ts --corpus kube-prometheus-stack [--rounds R] [--base-mib B] [--own-mib O]
// --corpus: a real chart of the corpus (../shared/corpus; test/support/corpus.ts) instead of the generated one, with a
// synthetic image (shared base + own layer) under each reference Helm renders for it, served by a local registry that
// both sides reach as a pull-through mirror of the chart's registries (ours: --source-mirror HOST=SRC/HOST; the
// pipeline's skopeo: a registries.conf mirror for each HOST).
// Cold: into empty registries; warm: the same again onto the complete targets. Rounds alternate who goes
// first; medians of whole-process wall times and the ratio ours/pipeline are printed.
// Targets (issue 17): cold ≤ 0.5× the pipeline's wall time, warm ≤ 1.5×. Ours is the compiled binary unless --from-source.
import { spawn, spawnSync } from "node:child_process";
import { mirrorCommand, untilStopped } from "./mirror-bin.ts";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pushArtifact } from "../shared/oci/artifact.ts";
import { createClient } from "../shared/oci/client.ts";
import { startRegistry, type TestRegistry } from "../test/support/registry.ts";
// plain HTTP without auth: these measure transfer overhead against peers given the same plain registries
const PLAIN = { auth: "none", tls: false } as const;
import { startChartRepo } from "../test/support/chart-repo.ts";
import { corpusChart, renderedImages } from "../test/support/corpus.ts";
import { parseRegistryReference } from "../shared/oci/reference.ts";
import { median, ratioRow } from "./report.ts";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg("images", 10);
const ROUNDS = arg("rounds", 3);
const BASE_MIB = arg("base-mib", 16);
const OWN_MIB = arg("own-mib", 4);
const CONC = arg("concurrency", 0);
const CORPUS = process.argv.includes("--corpus") ? process.argv[process.argv.indexOf("--corpus") + 1]! : undefined;
/** --debug: run ours with --debug and show its timing lines */
const DEBUG = process.argv.includes("--debug");
const ROOT = join(import.meta.dir, "..");
const HELM = join(ROOT, ".tools/helm3/helm");
const tmp = mkdtempSync(join(tmpdir(), "ka-bench-sync-"));

/** peak RSS (MiB, GNU time) of each run of ours, cold and warm */
const rss = { cold: [] as number[], warm: [] as number[] };
let rssRuns = 0;

/** Wall time of a whole process (async: the chart repo server lives in this process); `peak`: record ours' peak RSS. */
function timed(cmd: string[], env: Record<string, string> = {}, peak?: number[]): Promise<number> {
  const t = performance.now();
  const rssFile = join(tmp, `rss-${rssRuns++}`);
  if (peak) cmd = ["/usr/bin/time", "-f", "%M", "-o", rssFile, ...cmd];
  return new Promise((resolve, reject) => {
    const c = spawn(cmd[0]!, cmd.slice(1), { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    c.stderr.on("data", (d) => (err += d));
    c.on("error", reject);
    c.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${cmd.join(" ")} failed:\n${err.slice(-2000)}`));
      if (DEBUG && cmd.includes("--debug")) process.stderr.write(err);
      if (peak) peak.push(Number(readFileSync(rssFile, "utf8").trim().split("\n").pop()) / 1024);
      resolve((performance.now() - t) / 1000);
    });
  });
}

/** A chart whose Deployment runs N containers, images from values (registry/repository/tag maps). */
function makeChart(src: string): string {
  const dir = join(tmp, "chart", "bench");
  mkdirSync(join(dir, "templates"), { recursive: true });
  writeFileSync(join(dir, "Chart.yaml"), "apiVersion: v2\nname: bench\nversion: 1.0.0\nappVersion: \"1.0\"\n");
  writeFileSync(join(dir, "values.yaml"), `images:\n${Array.from({ length: N }, (_, i) => `  - registry: ${src}\n    repository: bench/app${i}\n    tag: v1\n`).join("")}`);
  writeFileSync(
    join(dir, "templates", "deployment.yaml"),
    `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  selector:\n    matchLabels: {app: bench}\n  template:\n    metadata:\n      labels: {app: bench}\n    spec:\n      containers:\n{{- range $i, $img := .Values.images }}\n        - name: c{{ $i }}\n          image: "{{ $img.registry }}/{{ $img.repository }}:{{ $img.tag }}"\n{{- end }}\n`,
  );
  const out = join(tmp, "dist");
  const r = spawnSync(HELM, ["package", dir, "--destination", out], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`helm package: ${r.stderr}`);
  return join(out, "bench-1.0.0.tgz");
}

async function main() {
  const MIRROR = await mirrorCommand(tmp);
  const src = await startRegistry(PLAIN);
  const regs: TestRegistry[] = [src];
  const repo = await startChartRepo({ charts: [] });
  try {
    // the chart, its images (source references → where they sit in the local source registry), and how ours and the
    // pipeline reach them
    const chart = CORPUS ? corpusChart(CORPUS) : { name: "bench", version: "1.0.0", tgz: "" };
    const norm = (ref: string) => {
      const r = parseRegistryReference(ref);
      return `${r.registry}/${r.repository}:${r.tag ?? "latest"}`;
    };
    const refs = CORPUS ? [...new Set([...(await renderedImages(chart.tgz, { helmBin: HELM }))].map(norm))].sort() : Array.from({ length: N }, (_, i) => `${src.host}/bench/app${i}:v1`);
    // the same job on both sides: ours also carries images named only in values (disabled components); leave those out
    const exclude = CORPUS ? (JSON.parse(spawnSync(MIRROR[0]!, [...MIRROR.slice(1), "images", chart.tgz, "-o", "json"], { encoding: "utf8", env: { ...process.env, HELM_BIN: HELM } }).stdout) as { images: { image: string }[] }).images.map((i) => norm(i.image)).filter((i) => !refs.includes(i)) : [];
    const hosts = [...new Set(refs.map((r) => parseRegistryReference(r).registry))];
    const at = (ref: string) => {
      const r = parseRegistryReference(ref);
      return CORPUS ? `${src.host}/${r.registry}/${r.repository}:${r.tag}` : ref;
    };
    console.error(`creating ${refs.length} images (shared ${BASE_MIB} MiB base + own ${OWN_MIB} MiB layer) in ${src.host}`);
    const client = createClient({ plainHttp: true });
    const base = randomBytes(BASE_MIB << 20);
    for (const [i, ref] of refs.entries()) {
      await pushArtifact(at(ref), { config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", i })) }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", bytes: base }, { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", bytes: randomBytes(OWN_MIB << 20) }] }, { client });
    }
    client.transport.close();
    repo.add(CORPUS ? chart.tgz : makeChart(src.host));
    const mirrorArgs = CORPUS ? [...hosts.flatMap((h) => ["--source-mirror", `${h}=${src.host}/${h}`]), ...exclude.flatMap((i) => ["--exclude-image", i])] : [];
    const registriesConf = join(tmp, "registries.conf");
    writeFileSync(registriesConf, hosts.map((h) => `[[registry]]\nprefix = "${h}"\nlocation = "${h}"\n[[registry.mirror]]\nlocation = "${src.host}/${h}"\ninsecure = true\n`).join("\n"));
    const env = { HELM_BIN: HELM, HELM_CACHE_HOME: join(tmp, "h/cache"), HELM_CONFIG_HOME: join(tmp, "h/config"), HELM_DATA_HOME: join(tmp, "h/data"), ...(CORPUS ? { REGISTRIES_CONF: registriesConf } : {}) };
    if (process.argv.includes("--serve")) {
      // for an external timer: each run goes to a fresh destination path on long-lived registries. Fair for
      // comparing two builds of ours; NOT against the pipeline: skopeo's blob-info cache remembers where a blob
      // already is on that registry and mounts it from an earlier run's repository instead of uploading it
      const [a, b] = await Promise.all([startRegistry(PLAIN), startRegistry(PLAIN)]);
      regs.push(a, b);
      const counter = join(tmp, "run");
      writeFileSync(counter, "0");
      const next = `n=$(($(cat ${counter})+1)); echo $n > ${counter}`;
      const envs = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(" ");
      console.log(`cold sync:  sh -c '${next}; ${envs} KUBE_AIRGAP_CACHE_DIR=${tmp}/cache-$n exec ${MIRROR.join(" ")} sync --repo-url ${repo.url} --chart-url ${chart.name}/${chart.name} --chart-version ${chart.version} --dest ${a.host}/r$n --plain-http -q ${mirrorArgs.join(" ")}'`);
      console.log(`  pipeline: sh -c '${next}; exec sh ${join(import.meta.dir, "admin-sync.sh")} ${HELM} ${repo.url} ${chart.name} ${chart.version} ${b.host}/r$n ${tmp}/admin-$n'`);
      await untilStopped();
      return;
    }
    const cold = { ours: [] as number[], skopeo: [] as number[] };
    const warm = { ours: [] as number[], skopeo: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      const [a, b] = await Promise.all([startRegistry(PLAIN), startRegistry(PLAIN)]);
      regs.push(a, b);
      const ours = [...MIRROR, "sync", "--repo-url", repo.url, "--chart-url", `${chart.name}/${chart.name}`, "--chart-version", chart.version, "--dest", a.host, "--plain-http", "-q", ...mirrorArgs, ...(CONC ? ["--concurrency", String(CONC)] : []), ...(process.argv.includes("--exclude-extras") ? ["--exclude-extras"] : []), ...(DEBUG ? ["--debug"] : [])];
      const sk = ["sh", join(import.meta.dir, "admin-sync.sh"), HELM, repo.url, chart.name, chart.version, b.host, join(tmp, `admin-${round}`)];
      const order = round % 2 ? ["skopeo", "ours"] : ["ours", "skopeo"];
      // cold: empty target AND an empty discovery cache; warm: both filled by the cold run
      const cache = { ...env, KUBE_AIRGAP_CACHE_DIR: join(tmp, `cache-${round}`) };
      for (const who of order) (who === "ours" ? cold.ours : cold.skopeo).push(await (who === "ours" ? timed(ours, cache, rss.cold) : timed(sk, env)));
      for (const who of order) (who === "ours" ? warm.ours : warm.skopeo).push(await (who === "ours" ? timed(ours, cache, rss.warm) : timed(sk, env)));
      // the same image content landed on both sides
      const first = parseRegistryReference(refs[0]!);
      const d1 = spawnSync("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${a.host}/images/${first.repository}:${first.tag}`]).stdout;
      const d2 = spawnSync("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${b.host}/images/${first.repository.split("/").pop()}:${first.tag}`]).stdout; // skopeo sync keeps the last path component
      if (!d1.length || !d1.equals(d2)) throw new Error("ours and the pipeline produced different manifests");
      const c1 = spawnSync("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${a.host}/charts/${chart.name}/${chart.name}:${chart.version}`]).stdout;
      const c2 = spawnSync("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${b.host}/charts/${chart.name}:${chart.version}`]).stdout;
      if (!c1.length || !c2.length) throw new Error("a chart is missing at the destination");
      await Promise.all([a.stop(), b.stop()]);
    }
    const row = (name: string, x: { ours: number[]; skopeo: number[] }, target: number) => console.log(ratioRow(name, x, target, { ours: "sync", peer: "helm+skopeo pipeline" }));
    console.log(`\n${CORPUS ? `${chart.name} ${chart.version} (corpus)` : "chart"} with ${refs.length} images (${BASE_MIB} MiB shared + ${OWN_MIB} MiB own each), ${ROUNDS} rounds, median wall time of whole processes`);
    row("cold", cold, 0.5);
    row("warm", warm, CORPUS ? 0.2 : 1.5);
    console.log(`peak RSS of ours (median): cold ${median(rss.cold).toFixed(0)} MiB, warm ${median(rss.warm).toFixed(0)} MiB (target ≤ 128 MiB)`);
  } finally {
    await repo.stop();
    await Promise.all(regs.map((r) => r.stop()));
    rmSync(tmp, { recursive: true, force: true });
  }
}
await main();
