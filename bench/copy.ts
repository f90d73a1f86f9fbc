#!/usr/bin/env bun
// Benchmark: `kubectl mirror copy` vs `skopeo sync` in the same run (ratios, not absolute times).
//   bun bench/copy.ts [--images N] [--base-mib B] [--own-mib O] [--rounds R] [--big-mib M] [--skip-big] [--skip-images] [--from-source]
// Ours is the compiled binary (as installed by krew) unless --from-source.
// 1. N synthetic images in a source registry: one shared base layer + one own layer each.
// 2. Cold: copy all of them to an empty registry, ours (one invocation, --from-file) vs skopeo sync (YAML source).
//    Warm: the same again onto the complete target. Rounds alternate ours/skopeo; medians and ratios printed.
// 3. One big layer registry → registry against `curl GET | curl PUT` of the same blob (rounds alternate, fresh
//    target repositories), and peak RSS (GNU time %M) registry → registry, → archive and archive → registry.
// Targets (issues 2, 17, 26): cold ≤ 0.6× skopeo's wall time (8 images of 60 MiB shared + 40 MiB own: --images 8
// --base-mib 60 --own-mib 40), warm ≤ 1.5×, big layer ≤ 1.1× curl|curl, peak RSS ≤ 150 MiB (≤ 128 MiB for the 8-image
// set). The cold rounds also print CPU seconds (user, system) and minor page faults per GiB moved, ours and skopeo's,
// and then the same for `export` of the N images to .tar.zst (with its peak RSS; no peer).
import { execFileSync } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pushArtifact } from "../shared/oci/artifact.ts";
import { createClient } from "../shared/oci/client.ts";
import { startRegistry, type TestRegistry } from "../test/support/registry.ts";
// plain HTTP without auth: these measure transfer overhead against peers given the same plain registries
const PLAIN = { auth: "none", tls: false } as const;
import { mirrorCommand } from "./mirror-bin.ts";
import { cpuPerGiB, gnuTime, median, ratioRow, type Timed } from "./report.ts";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg("images", 20);
const ROUNDS = arg("rounds", 3);
const BIG_MIB = arg("big-mib", 1024);
const BASE_MIB = arg("base-mib", 16);
const OWN_MIB = arg("own-mib", 2);
const ROOT = join(import.meta.dir, "..");
const tmp = mkdtempSync(join(tmpdir(), "ka-bench-"));

const timed = gnuTime;

async function main() {
  const MIRROR = await mirrorCommand(tmp);
  const src = await startRegistry(PLAIN);
  const regs: TestRegistry[] = [src];
  try {
    const skipImages = process.argv.includes("--skip-images");
    if (!skipImages) console.error(`creating ${N} images (shared ${BASE_MIB} MiB base + own ${OWN_MIB} MiB layer) in ${src.host}`);
    const client = createClient({ plainHttp: true });
    const base = skipImages ? Buffer.alloc(0) : randomBytes(BASE_MIB << 20);
    for (let i = 0; i < (skipImages ? 0 : N); i++) {
      await pushArtifact(`${src.host}/bench/app${i}:v1`, { config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", i })) }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", bytes: base }, { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", bytes: randomBytes(OWN_MIB << 20) }] }, { client });
    }
    client.transport.close();
    const cold = { ours: [] as number[], skopeo: [] as number[] };
    // CPU of the cold runs (user, system, minor page faults): what each process spends per GiB it moves
    const coldCpu = { ours: [] as Timed[], skopeo: [] as Timed[] };
    const warm = { ours: [] as number[], skopeo: [] as number[] };
    for (let round = 0; round < (skipImages ? 0 : ROUNDS); round++) {
      const [a, b] = await Promise.all([startRegistry(PLAIN), startRegistry(PLAIN)]);
      regs.push(a, b);
      const pairs = join(tmp, `pairs-${round}.txt`);
      writeFileSync(pairs, Array.from({ length: N }, (_, i) => `${src.host}/bench/app${i}:v1 ${a.host}/app${i}:v1`).join("\n"));
      const yaml = join(tmp, `sync-${round}.yaml`);
      writeFileSync(yaml, `${src.host}:\n  tls-verify: false\n  images:\n${Array.from({ length: N }, (_, i) => `    bench/app${i}: ["v1"]`).join("\n")}\n`);
      const ours = [...MIRROR, "copy", "--from-file", pairs, "--plain-http", "--exclude-extras", "-q"];
      const sk = ["skopeo", "sync", "--src", "yaml", "--dest", "docker", "--dest-tls-verify=false", "--preserve-digests", yaml, `${b.host}`];
      const order = round % 2 ? ["skopeo", "ours"] : ["ours", "skopeo"];
      for (const who of order) {
        const t = timed(who === "ours" ? ours : sk);
        (who === "ours" ? cold.ours : cold.skopeo).push(t.secs);
        (who === "ours" ? coldCpu.ours : coldCpu.skopeo).push(t);
      }
      for (const who of order) (who === "ours" ? warm.ours : warm.skopeo).push(timed(who === "ours" ? ours : sk).secs);
      // both targets must hold identical digests (skopeo sync keeps the last path component)
      const d1 = execFileSync("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${a.host}/app0:v1`]);
      const d2 = execFileSync("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${b.host}/app0:v1`]);
      if (!d1.equals(d2)) throw new Error("ours and skopeo produced different manifests");
      await Promise.all([a.stop(), b.stop()]);
    }
    const row = (name: string, x: { ours: number[]; skopeo: number[] }, target: number) => console.log(ratioRow(name, x, target, { ours: "ours", peer: "skopeo" }));
    if (!skipImages) {
      console.log(`\n${N} images (${BASE_MIB} MiB shared + ${OWN_MIB} MiB own), ${ROUNDS} rounds (median wall time, whole processes)`);
      row("cold", cold, 0.6);
      row("warm", warm, 1.5);
      const gib = (BASE_MIB + N * OWN_MIB) / 1024;
      console.log(`CPU per GiB moved, cold (median of ${ROUNDS}):`);
      console.log(`  ours    ${cpuPerGiB(coldCpu.ours, gib)}`);
      console.log(`  skopeo  ${cpuPerGiB(coldCpu.skopeo, gib)}`);
      // the same images exported to one .tar.zst (the archive route of the issue-26 memory row; no peer writes
      // .tar.zst, so CPU and peak RSS only)
      const exports: Timed[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const out = join(tmp, `set-${round}.tar.zst`);
        exports.push(timed([...MIRROR, "export", ...Array.from({ length: N }, (_, i) => ["--image", `${src.host}/bench/app${i}:v1`]).flat(), "--plain-http", "-O", out, "-q"]));
        rmSync(out, { force: true });
      }
      console.log(`export of the ${N} images to .tar.zst (median of ${ROUNDS}): ${median(exports.map((t) => t.secs)).toFixed(2)}s`);
      console.log(`  ours    ${cpuPerGiB(exports, gib)}`);
    }

    if (!process.argv.includes("--skip-big")) {
      console.error(`\nwriting a ${BIG_MIB} MiB layer`);
      const big = join(tmp, "big.bin");
      await new Promise<void>((resolve, reject) => {
        const w = createWriteStream(big);
        let left = BIG_MIB;
        const chunk = randomBytes(1 << 20);
        const pump = () => {
          while (left > 0) {
            left--;
            chunk[0] = left & 255;
            if (!w.write(chunk)) return void w.once("drain", pump);
          }
          w.end(resolve);
        };
        w.on("error", reject);
        pump();
      });
      const pushed = await pushArtifact(`${src.host}/bench/big:v1`, { config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from("{}") }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", file: big }] }, { plainHttp: true });
      const dst = await startRegistry(PLAIN);
      regs.push(dst);
      // the same blob moved by two curls: GET from the source piped into a monolithic PUT (after a POST)
      const D = pushed.manifest.layers[0]!.digest;
      const pipe = (repo: string) => ["sh", "-c", `set -e; loc=$(curl -sfi -X POST http://${dst.host}/v2/${repo}/blobs/uploads/ | tr -d '\\r' | sed -n 's/^[Ll]ocation: //p'); curl -sf http://${src.host}/v2/bench/big/blobs/${D} | curl -sf -X PUT -T - -H 'Content-Type: application/octet-stream' "$loc&digest=${D}"`];
      const big1 = { ours: [] as number[], curl: [] as number[] };
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 ? ["curl", "ours"] : ["ours", "curl"];
        for (const who of order) {
          if (who === "ours") big1.ours.push(timed([...MIRROR, "copy", `${src.host}/bench/big:v1`, `${dst.host}/big/ours${round}:v1`, "--plain-http", "-q"]).secs);
          else big1.curl.push(timed(pipe(`big/curl${round}`)).secs);
        }
      }
      const br = median(big1.ours) / median(big1.curl);
      console.log(`\none ${BIG_MIB} MiB layer registry → registry: ours ${median(big1.ours).toFixed(2)}s  curl GET | curl PUT ${median(big1.curl).toFixed(2)}s  ratio ${br.toFixed(2)} (target ≤ 1.1) ${br <= 1.1 ? "OK" : "MISSED"}`);
      const archive = join(tmp, "big.tar");
      const r1 = timed([...MIRROR, "copy", `${src.host}/bench/big:v1`, `${dst.host}/big/one:v1`, "--plain-http", "-q"]);
      const r2 = timed([...MIRROR, "copy", `${src.host}/bench/big:v1`, `oci-archive:${archive}`, "--plain-http", "-q"]);
      const r3 = timed([...MIRROR, "copy", `oci-archive:${archive}:v1`, `${dst.host}/big/two:v1`, "--plain-http", "-q"]);
      const sk = timed(["skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false", `docker://${src.host}/bench/big:v1`, `docker://${dst.host}/big/skopeo:v1`]);
      console.log(`\npeak RSS moving one ${BIG_MIB} MiB layer (target ≤ 150 MiB):`);
      console.log(`  registry → registry  ${r1.rssMiB.toFixed(0)} MiB  ${r1.secs.toFixed(1)}s`);
      console.log(`  registry → archive   ${r2.rssMiB.toFixed(0)} MiB  ${r2.secs.toFixed(1)}s`);
      console.log(`  archive  → registry  ${r3.rssMiB.toFixed(0)} MiB  ${r3.secs.toFixed(1)}s`);
      console.log(`  (skopeo copy registry → registry ${sk.rssMiB.toFixed(0)} MiB  ${sk.secs.toFixed(1)}s)`);
    }
  } finally {
    await Promise.all(regs.map((r) => r.stop()));
    rmSync(tmp, { recursive: true, force: true });
  }
}
await main();
