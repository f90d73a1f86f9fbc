#!/usr/bin/env bun
// Startup of the compiled plugins: median wall time of `<binary> --help` (and through the real kubectl:
// `kubectl mirror --help`), plus binary and archive sizes. No hyperfine: N timed runs with process.hrtime
// after warm-up runs.
//
//   bun bench/startup.ts                    build (host target) + package into a temp dir, 30 runs each
//   bun bench/startup.ts --runs 50 --bin dist/bin --release dist/release   measure existing builds
//   bun bench/startup.ts --json             machine-readable result on stdout
//
// Target (issue 7): compiled `kubectl mirror --help` and `kubectl violet --help` ≤ 60 ms median.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { binaryName, buildPlugin, gitCommit, hostTarget, PLUGIN_NAMES, projectVersion, ROOT, type PluginName } from "../scripts/build.ts";
import { archiveName, packagePlugin } from "../scripts/package.ts";

const LIMIT_MS = 60;

export interface Timing {
  name: string;
  runs: number;
  medianMs: number;
  p90Ms: number;
  minMs: number;
  maxMs: number;
}

/** Time `cmd args` `runs` times after `warmup` runs; the command must exit 0. */
export function timeCommand(name: string, cmd: string, args: string[], opts: { runs: number; warmup?: number; env?: NodeJS.ProcessEnv }): Timing {
  const once = () => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"], env: opts.env });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${name}: exit ${r.status}: ${r.stderr?.toString().trim().slice(0, 300)}`);
    return ms;
  };
  for (let i = 0; i < (opts.warmup ?? 3); i++) once();
  const ms = Array.from({ length: opts.runs }, once).sort((a, b) => a - b);
  const q = (p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!;
  const median = ms.length % 2 ? ms[(ms.length - 1) / 2]! : (ms[ms.length / 2 - 1]! + ms[ms.length / 2]!) / 2;
  return { name, runs: opts.runs, medianMs: round(median), p90Ms: round(q(0.9)), minMs: round(ms[0]!), maxMs: round(ms[ms.length - 1]!) };
}

const round = (n: number) => Math.round(n * 10) / 10;

async function main() {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { runs: { type: "string" }, bin: { type: "string" }, release: { type: "string" }, json: { type: "boolean" }, kubectl: { type: "string" } },
    strict: true,
  });
  const runs = Number(values.runs ?? 30);
  const target = hostTarget();
  const version = projectVersion();
  let tmp: string | undefined;
  let binDir = values.bin ? resolve(values.bin) : "";
  let releaseDir = values.release ? resolve(values.release) : "";
  try {
    if (!binDir) {
      tmp = mkdtempSync(join(tmpdir(), "ka-bench-startup-"));
      binDir = join(tmp, "bin");
      releaseDir = join(tmp, "release");
      const commit = gitCommit();
      for (const plugin of PLUGIN_NAMES) {
        await buildPlugin({ plugin, target, outDir: binDir, version, commit, log: (l) => console.error(l) });
        await packagePlugin({ plugin, target, binDir, outDir: releaseDir, version, log: (l) => console.error(l) });
      }
    }
    const sizes = PLUGIN_NAMES.map((p: PluginName) => {
      const bin = join(binDir, target, binaryName(p, target));
      const arc = releaseDir ? join(releaseDir, archiveName(p, version, target)) : "";
      return { plugin: p, binaryBytes: statSync(bin).size, archiveBytes: arc && existsSync(arc) ? statSync(arc).size : null };
    });
    // kubectl dispatch: a PATH with only kubectl-<name> links, like krew's bin dir
    tmp ??= mkdtempSync(join(tmpdir(), "ka-bench-path-"));
    const pathDir = join(tmp, "path");
    mkdirSync(pathDir, { recursive: true });
    for (const p of ["kubectl-mirror", "kubectl-violet"] as const) {
      const link = join(pathDir, p);
      if (!existsSync(link)) symlinkSync(join(binDir, target, binaryName(p, target)), link);
    }
    const kubectl = values.kubectl ?? join(ROOT, ".tools/helm4/kubectl");
    const env = { PATH: pathDir, HOME: pathDir };
    const timings: Timing[] = [];
    for (const p of ["kubectl-mirror", "kubectl-violet", "kubectl-scar", "helm-addon-push"] as const) {
      timings.push(timeCommand(`${p} --help`, join(binDir, target, binaryName(p, target)), ["--help"], { runs, env }));
    }
    timings.push(timeCommand("kubectl-mirror copy --help (loads the copy engine)", join(binDir, target, binaryName("kubectl-mirror", target)), ["copy", "--help"], { runs, env }));
    if (existsSync(kubectl)) {
      timings.push(timeCommand("kubectl version --client (kubectl alone)", kubectl, ["version", "--client"], { runs, env }));
      timings.push(timeCommand("kubectl mirror --help (via kubectl)", kubectl, ["mirror", "--help"], { runs, env }));
      timings.push(timeCommand("kubectl violet --help (via kubectl)", kubectl, ["violet", "--help"], { runs, env }));
    }
    const gated = timings.filter((t) => /^kubectl-(mirror|violet) --help$/.test(t.name));
    const ok = gated.every((t) => t.medianMs <= LIMIT_MS);
    if (values.json) {
      console.log(JSON.stringify({ target, version, runs, limitMs: LIMIT_MS, ok, timings, sizes }, null, 2));
    } else {
      console.log(`startup, ${target}, ${runs} runs after 3 warm-up runs (median / p90 / min / max, ms)`);
      for (const t of timings) console.log(`  ${t.name.padEnd(52)} ${String(t.medianMs).padStart(6)} ${String(t.p90Ms).padStart(6)} ${String(t.minMs).padStart(6)} ${String(t.maxMs).padStart(6)}`);
      console.log(`\nsizes (MB: binary / archive)`);
      for (const s of sizes) console.log(`  ${s.plugin.padEnd(18)} ${(s.binaryBytes / 1e6).toFixed(1).padStart(7)} ${s.archiveBytes ? (s.archiveBytes / 1e6).toFixed(1).padStart(7) : "      -"}`);
      console.log(`\n${ok ? "PASS" : "FAIL"}: compiled kubectl-mirror/kubectl-violet --help median ≤ ${LIMIT_MS} ms`);
    }
    if (!ok) process.exitCode = 1;
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.main) await main();
