#!/usr/bin/env bun
// Benchmark: the air-gap bundle — `kubectl mirror export` → `kubectl mirror push` of the SAME image set as
// .tar, .tar.gz and .tar.zst: wall time of each step, archive size, and peak RSS (GNU time %M) of each process.
//   bun bench/bundle.ts [--images N] [--big-mib M] [--from-source]
// Image set: N images sharing a 16 MiB base layer (already-compressed bytes, like real gzip layers) with an
// own 4 MiB layer each (half of them uncompressed text tar layers, which compress), plus one image with a
// M MiB layer (memory must stay flat however big a blob is). Target (issue 16): peak RSS ≤ 150 MiB.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pushArtifact } from "../shared/oci/artifact.ts";
import { createClient } from "../shared/oci/client.ts";
import { startRegistry, type TestRegistry } from "../test/support/registry.ts";
// plain HTTP without auth: these measure transfer overhead against peers given the same plain registries
const PLAIN = { auth: "none", tls: false } as const;
import { mirrorCommand } from "./mirror-bin.ts";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg("images", 10);
const BIG_MIB = arg("big-mib", 256);
const tmp = mkdtempSync(join(tmpdir(), "ka-bench-bundle-"));

function timed(cmd: string[]): { secs: number; rssMiB: number } {
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M", ...cmd], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd.join(" ")} failed:\n${r.stderr.slice(-2000)}`);
  const [secs, kb] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number);
  return { secs: secs!, rssMiB: kb! / 1024 };
}

function text(bytes: number, seed: number): Buffer {
  const words = ["kube", "airgap", "mirror", "registry", "layer", "manifest", "digest", "zstd", "bundle", "palette", "profile", "pack"];
  const parts: string[] = [];
  let n = 0;
  let x = seed;
  while (n < bytes) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const w = `${words[x % words.length]}-${x % 9973} `;
    parts.push(w);
    n += w.length;
  }
  return Buffer.from(parts.join("")).subarray(0, bytes);
}

/** `serve ARCHIVE`, then skopeo copies the big image out of it; wall time from start to pulled, peak RSS (VmHWM). */
async function serveAndPull(MIRROR: string[], archive: string): Promise<{ secs: number; rssMiB: number }> {
  const t0 = Date.now();
  const child = spawn(MIRROR[0]!, [...MIRROR.slice(1), "serve", archive, "--address", "127.0.0.1:0"], { stdio: ["ignore", "ignore", "pipe"] });
  const host = await new Promise<string>((resolve, reject) => {
    let err = "";
    child.stderr!.on("data", (d) => {
      err += d;
      const m = / at http:\/\/(127\.0\.0\.1:\d+) /.exec(err);
      if (m) resolve(m[1]!);
    });
    child.on("exit", (c) => reject(new Error(`serve exited ${c}: ${err}`)));
  });
  const dir = join(tmp, `pulled-${Date.now()}`);
  const r = spawnSync("skopeo", ["copy", "-q", "--src-tls-verify=false", `docker://${host}/bench/big:v1`, `dir:${dir}`], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`skopeo copy from serve failed: ${r.stderr}`);
  const secs = (Date.now() - t0) / 1000;
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
  child.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
  return { secs, rssMiB: Number(hwm?.[1] ?? 0) / 1024 };
}

async function main() {
  const MIRROR = await mirrorCommand(tmp);
  const src = await startRegistry(PLAIN);
  const regs: TestRegistry[] = [src];
  try {
    console.error(`creating ${N} images (shared 16 MiB base + own 4 MiB) and one ${BIG_MIB} MiB image in ${src.host}`);
    const client = createClient({ plainHttp: true });
    const base = randomBytes(16 << 20);
    const images: string[] = [];
    const cfg = (i: number) => ({ mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", i })) });
    for (let i = 0; i < N; i++) {
      const own = i % 2 ? { mediaType: "application/vnd.oci.image.layer.v1.tar", bytes: text(4 << 20, i) } : { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", bytes: randomBytes(4 << 20) };
      await pushArtifact(`${src.host}/bench/app${i}:v1`, { config: cfg(i), layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", bytes: base }, own] }, { client });
      images.push(`${src.host}/bench/app${i}:v1`);
    }
    const big = Buffer.concat([randomBytes(BIG_MIB << 19), text(BIG_MIB << 19, 7)]);
    await pushArtifact(`${src.host}/bench/big:v1`, { config: cfg(-1), layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", bytes: big }] }, { client });
    images.push(`${src.host}/bench/big:v1`);
    client.transport.close();
    const rows: string[] = [];
    for (const ext of ["tar", "tar.gz", "tar.zst"]) {
      const out = join(tmp, `bundle.${ext}`);
      const e = timed([...MIRROR, "export", ...images.flatMap((i) => ["--image", i]), "--plain-http", "-O", out, "-q"]);
      const size = statSync(out).size;
      const dst = await startRegistry(PLAIN);
      regs.push(dst);
      const p = timed([...MIRROR, "push", out, "--dest", dst.host, "--plain-http", "-q"]);
      const sv = await serveAndPull(MIRROR, out);
      rows.push(`| \`.${ext}\` | ${(size / (1 << 20)).toFixed(0)} MiB | ${e.secs.toFixed(1)} s (${e.rssMiB.toFixed(0)} MiB) | ${p.secs.toFixed(1)} s (${p.rssMiB.toFixed(0)} MiB) | ${sv.secs.toFixed(1)} s (${sv.rssMiB.toFixed(0)} MiB) | ${Math.max(e.rssMiB, p.rssMiB, sv.rssMiB) <= 150 ? "OK" : "MISSED"} |`);
      console.error(rows.at(-1));
      await dst.stop();
      rmSync(out, { force: true });
    }
    console.log(`\n${N + 1} images (${N} × (16 MiB shared + 4 MiB) + ${BIG_MIB} MiB), export → push, wall time (peak RSS):`);
    console.log("| archive | size | export | push | serve (start + skopeo pulls the big image) | RSS ≤ 150 MiB |\n| --- | --- | --- | --- | --- | --- |");
    for (const r of rows) console.log(r);
  } finally {
    await Promise.all(regs.map((r) => r.stop()));
    rmSync(tmp, { recursive: true, force: true });
  }
}
await main();
