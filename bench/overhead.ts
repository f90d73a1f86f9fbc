#!/usr/bin/env bun
// Benchmark: per-image overhead of `kubectl mirror copy` vs `skopeo sync` (ratios in the same run).
//   bun bench/overhead.ts [--images 150] [--rounds 3] [--curve 100,300,1000] [--base-kib 1024] [--own-kib 4]
//   (--images 0: the warm-check curve only)
// 1. N small images in a source registry (one shared base layer, a tiny own layer each).
// 2. Cold: all of them into an empty registry, ours (one invocation, --from-file) vs skopeo sync; warm: the same
//    again onto the complete target. Rounds alternate who goes first; medians of whole-process wall times.
// 3. Warm-check curve: ours onto a complete target for 100/300/1000 images (wall time per image should stay flat).
// Targets (issues 17, 26): cold ≤ 0.35× skopeo sync, warm ≤ 0.5×, 1,000 images warm < 2 s, cost linear in N.
// --serve: set up, print the commands for an external timer, and keep the registries until Ctrl-C.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pushArtifact } from "../shared/oci/artifact.ts";
import { createClient } from "../shared/oci/client.ts";
import { createLimit } from "../shared/runtime/limit.ts";
import { startRegistry, type TestRegistry } from "../test/support/registry.ts";
// plain HTTP without auth: these measure transfer overhead against peers given the same plain registries
const PLAIN = { auth: "none", tls: false } as const;
import { mirrorCommand, untilStopped } from "./mirror-bin.ts";
import { gnuTime, median, ratioRow } from "./report.ts";

const argv = process.argv;
const arg = (name: string, def: number) => {
  const i = argv.indexOf(`--${name}`);
  return i > 0 ? Number(argv[i + 1]) : def;
};
const N = arg("images", 150);
const ROUNDS = arg("rounds", 3);
const BASE_KIB = arg("base-kib", 1024);
const OWN_KIB = arg("own-kib", 4);
const CURVE = (argv.includes("--curve") ? argv[argv.indexOf("--curve") + 1]! : "100,300,1000").split(",").map(Number).filter((x) => x > 0);
const tmp = mkdtempSync(join(tmpdir(), "ka-bench-overhead-"));

/** Wall seconds of a whole process; `cpu` gets its user + system seconds, `rss` its peak RSS (MiB). */
function timed(cmd: string[], cpu?: number[], rss?: number[]): number {
  const t = gnuTime(cmd);
  cpu?.push(t.user + t.sys);
  rss?.push(t.rssMiB);
  return t.secs;
}

/** CPU seconds a registry process has used so far (Linux /proc; 0 where unavailable). */
function registryCpu(reg: TestRegistry): number {
  try {
    for (const pid of readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (!cmd.includes(reg.configFile)) continue;
      const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      return (Number(f[11]) + Number(f[12])) / 100; // utime + stime in clock ticks (USER_HZ 100)
    }
  } catch {}
  return 0;
}

async function seed(src: TestRegistry, count: number): Promise<void> {
  const client = createClient({ plainHttp: true });
  const base = randomBytes(BASE_KIB << 10);
  const limit = createLimit(8);
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      limit(() => pushArtifact(`${src.host}/bench/app${i}:v1`, { config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", i })) }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", bytes: base }, { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", bytes: randomBytes(OWN_KIB << 10) }] }, { client })),
    ),
  );
  client.transport.close();
}

function files(src: TestRegistry, dst: string, count: number, tag: string): { pairs: string; yaml: string } {
  const pairs = join(tmp, `pairs-${tag}.txt`);
  writeFileSync(pairs, Array.from({ length: count }, (_, i) => `${src.host}/bench/app${i}:v1 ${dst}/app${i}:v1`).join("\n"));
  const yaml = join(tmp, `sync-${tag}.yaml`);
  writeFileSync(yaml, `${src.host}:\n  tls-verify: false\n  images:\n${Array.from({ length: count }, (_, i) => `    bench/app${i}: ["v1"]`).join("\n")}\n`);
  return { pairs, yaml };
}

async function main() {
  const MIRROR = await mirrorCommand(tmp);
  const src = await startRegistry(PLAIN);
  const regs: TestRegistry[] = [src];
  try {
    const most = Math.max(N, ...CURVE);
    console.error(`creating ${most} images (shared ${BASE_KIB} KiB base + own ${OWN_KIB} KiB layer) in ${src.host}`);
    await seed(src, most);
    const ours = (pairs: string) => [...MIRROR, "copy", "--from-file", pairs, "--plain-http", "--exclude-extras", "-q"];
    const sk = (yaml: string, host: string) => ["skopeo", "sync", "--src", "yaml", "--dest", "docker", "--dest-tls-verify=false", "--preserve-digests", yaml, host];
    if (argv.includes("--serve")) {
      const [a, b] = await Promise.all([startRegistry(PLAIN), startRegistry(PLAIN)]);
      regs.push(a, b);
      for (const n of CURVE) {
        const f = files(src, a.host, n, `serve-${n}`);
        const g = files(src, b.host, n, `serve-sk-${n}`);
        timed(ours(f.pairs));
        timed(sk(g.yaml, b.host));
        console.log(`warm ${n}: ${ours(f.pairs).join(" ")}\n  vs: ${sk(g.yaml, b.host).join(" ")}`);
      }
      await untilStopped();
      return;
    }
    const cold = { ours: [] as number[], skopeo: [] as number[] };
    const warm = { ours: [] as number[], skopeo: [] as number[] };
    for (let round = 0; round < (N > 0 ? ROUNDS : 0); round++) {
      const [a, b] = await Promise.all([startRegistry(PLAIN), startRegistry(PLAIN)]);
      regs.push(a, b);
      const f = files(src, a.host, N, `r${round}`);
      const g = files(src, b.host, N, `s${round}`);
      const order = round % 2 ? ["skopeo", "ours"] : ["ours", "skopeo"];
      for (const who of order) (who === "ours" ? cold.ours : cold.skopeo).push(timed(who === "ours" ? ours(f.pairs) : sk(g.yaml, b.host)));
      for (const who of order) (who === "ours" ? warm.ours : warm.skopeo).push(timed(who === "ours" ? ours(f.pairs) : sk(g.yaml, b.host)));
      await Promise.all([a.stop(), b.stop()]);
      regs.splice(regs.indexOf(a), 2);
    }
    const row = (name: string, x: { ours: number[]; skopeo: number[] }, target: number) => console.log(ratioRow(name, x, target, { ours: "ours", peer: "skopeo sync" }));
    if (N > 0) {
      console.log(`\n${N} images (${BASE_KIB} KiB shared + ${OWN_KIB} KiB own), ${ROUNDS} rounds, median wall time of whole processes`);
      row("cold", cold, 0.35);
      row("warm", warm, 0.5);
    }
    if (CURVE.length) {
      const a = await startRegistry(PLAIN);
      regs.push(a);
      console.log(`\nwarm check onto a complete target (ours; ${ROUNDS} runs, median):`);
      for (const n of CURVE) {
        const f = files(src, a.host, n, `c${n}`);
        timed(ours(f.pairs));
        // where the time goes: our process's CPU and the two registries' CPU during the same runs
        const cpu: number[] = [];
        const rss: number[] = [];
        const before = registryCpu(src) + registryCpu(a);
        const t = median(Array.from({ length: ROUNDS }, () => timed(ours(f.pairs), cpu, rss)));
        const regs = (registryCpu(src) + registryCpu(a) - before) / ROUNDS;
        console.log(`  ${String(n).padStart(5)} images  ${t.toFixed(2)}s  ${((t * 1000) / n).toFixed(2)} ms/image  CPU: ours ${median(cpu).toFixed(2)}s, registries ${regs.toFixed(2)}s  peak RSS ${median(rss).toFixed(0)} MiB${n >= 1000 ? ` (target < 2 s: ${t < 2 ? "OK" : "MISSED"})` : ""}`);
      }
    }
  } finally {
    await Promise.all(regs.map((r) => r.stop()));
    rmSync(tmp, { recursive: true, force: true });
  }
}
await main();
