// Demo of kubectl mirror: sync a chart from an HTTP chart repo (chart + every image it uses, one command),
// then the air-gap flow export → archive → push into a second registry, then verify. Runs the real plugin CLI
// (bun plugins/kubectl-mirror/main.ts) and prints each command and the interesting lines of its output.
//
//   import { demoMirror, setupDemoMirror } from "./demo-mirror.ts";
//   await demoMirror(log, inputs)          // inputs: see DemoMirrorInputs (registries + chart repo already running)
//   const env = await setupDemoMirror();  await demoMirror(log, env.inputs);  await env.stop();   // self-contained
//   bun scripts/demo-mirror.ts             // runs the self-contained version
//
// Inputs (DemoMirrorInputs):
//   chartRepoUrl    HTTP(S) chart repository serving index.yaml + the chart .tgz
//   chartName       chart name in that repository (chartVersion: exact version, default latest)
//   syncRegistry    empty registry host:port for `sync`         (plain HTTP)
//   pushRegistry    empty registry host:port for `push`         (plain HTTP; the "air-gapped" side)
//   sourceMirrors   optional --source-mirror SOURCE=MIRROR values when the chart names images by their public
//                   names but they are served from a local registry (as setupDemoMirror does)
//   set             optional --set values for rendering
//   workDir         directory for the archive and the registry map
//   env             extra environment for the CLI (HELM_BIN, HOME, …)
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
const BUN = join(ROOT, "node_modules/.bin/bun");
const MAIN = join(ROOT, "plugins/kubectl-mirror/main.ts");

export interface DemoMirrorInputs {
  chartRepoUrl: string;
  chartName: string;
  chartVersion?: string;
  syncRegistry: string;
  pushRegistry: string;
  sourceMirrors?: string[];
  set?: string[];
  workDir: string;
  env?: Record<string, string>;
  /** flags for the image source registry (its CA) */
  sourceArgs?: string[];
}

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(BUN, [MAIN, ...args], { env: { ...process.env, NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    c.on("error", reject);
    c.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

export async function demoMirror(log: (line: string) => void, i: DemoMirrorInputs): Promise<void> {
  const common = [
    "--repo-url", i.chartRepoUrl, "--chart-url", `demo/${i.chartName}`,
    ...(i.chartVersion ? ["--chart-version", i.chartVersion] : []),
    "--plain-http-host", i.syncRegistry, "--plain-http-host", i.pushRegistry,
    ...(i.sourceArgs ?? []),
    ...(i.sourceMirrors ?? []).flatMap((m) => ["--source-mirror", m]),
    ...(i.set ?? []).flatMap((s) => ["--set", s]),
  ];
  const step = async (title: string, args: string[], show: (r: { stdout: string; stderr: string }) => string[]) => {
    log(`\n$ kubectl mirror ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(" ")}`);
    const r = await cli(args, i.env);
    if (r.code !== 0) throw new Error(`${title} failed (exit ${r.code}): ${r.stderr.trim().split("\n").pop()}`);
    for (const l of show(r)) log(`  ${l}`);
  };
  const lastInfo = (r: { stderr: string }) => r.stderr.trim().split("\n").filter((l) => !/^(copied|ok|plan) /.test(l)).slice(-2);

  log("== kubectl mirror sync: chart + images from an HTTP chart repo into a registry ==");
  const mapFile = join(i.workDir, "registry-map.yaml");
  await step("sync", ["sync", ...common, "--dest", i.syncRegistry, "--map-out", mapFile], (r) => [...r.stdout.trim().split("\n").slice(0, 8), "…", ...lastInfo(r)]);
  log(`  registry map for Helm values / studio import: ${mapFile}`);
  await step("sync (again)", ["sync", ...common, "--dest", i.syncRegistry, "-q", "-o", "json"], (r) => {
    const j = JSON.parse(r.stdout);
    return [`second run: ${j.items.filter((x: any) => x.status === "up-to-date").length} of ${j.items.length} items up to date, ${j.summary.bytesCopied} bytes copied`];
  });

  log("\n== air gap: export on the connected side → one archive → push inside ==");
  const archive = join(i.workDir, `${i.chartName}-bundle.tar`);
  await step("export", ["export", ...common, "-O", archive], (r) => [...lastInfo(r), `archive: ${archive} (${(statSync(archive).size / 1024 / 1024).toFixed(1)} MiB)`]);
  await step("push", ["push", archive, "--dest", i.pushRegistry, "--plain-http", "-o", "json"], (r) => lastInfo(r));
  await step("verify", ["verify", "--archive", archive, "--dest", i.pushRegistry, "--plain-http"], (r) => r.stdout.trim().split("\n"));
  log(`\nhelm can now use: helm pull oci://${i.pushRegistry}/charts/${i.chartName}/${i.chartName} --plain-http`);
}

/** Self-contained inputs: the discovery fixture chart, its images in a local source registry, two empty registries. */
export async function setupDemoMirror(): Promise<{ inputs: DemoMirrorInputs; stop: () => Promise<void> }> {
  const { setupSources } = await import("../test/mirror/helpers.ts");
  const { startRegistry } = await import("../test/support/registry.ts");
  const s = await setupSources();
  const [a, b] = await Promise.all([startRegistry({ auth: "none", tls: false }), startRegistry({ auth: "none", tls: false })]);
  const workDir = mkdtempSync(join(tmpdir(), "ka-demo-mirror-"));
  return {
    inputs: {
      chartRepoUrl: s.repo.url,
      chartName: "app",
      chartVersion: "1.2.3",
      syncRegistry: a.host,
      pushRegistry: b.host,
      sourceMirrors: s.mirrorArgs.filter((_, k) => k % 2 === 1),
      set: [s.pinnedSet[1]!],
      workDir,
      env: s.env,
      sourceArgs: s.srcArgs,
    },
    stop: async () => {
      await Promise.all([a.stop(), b.stop(), s.stop()]);
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

if (import.meta.main) {
  const env = await setupDemoMirror();
  try {
    await demoMirror((l) => console.log(l), env.inputs);
  } finally {
    await env.stop();
  }
}
