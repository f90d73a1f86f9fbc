#!/usr/bin/env bun
// The whole suite in a few `bun test` processes side by side (the README's `npm test`): the tests mostly wait on
// registries, helm, skopeo and kubectl child processes, so on two cores three processes finish in a fraction of the
// time one takes. Files are dealt to the processes by their last known duration (test/timings.json, longest
// first onto the least loaded); a file without a timing counts as the median. Each process's output is printed
// whole when it ends (never interleaved), then one summary in bun's own words (" N pass", " N fail").
//
//   bun scripts/test.ts                 every test file, 3 processes (TEST_JOBS=N to change)
//   bun scripts/test.ts test/mirror     only files under these paths
//   bun scripts/test.ts --timings       also rewrite test/timings.json from this run
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const BUN = process.execPath;
const TIMINGS = join(ROOT, "test", "timings.json");
const jobs = Math.max(1, Number(process.env.TEST_JOBS ?? 3) || 3);
const writeTimings = process.argv.includes("--timings");
const roots = process.argv.slice(2).filter((a) => !a.startsWith("--"));

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...testFiles(p));
    else if (e.endsWith(".test.ts")) out.push(relative(ROOT, p));
  }
  return out;
}

const files = (roots.length ? roots : ["test"]).flatMap((r) => (statSync(join(ROOT, r)).isDirectory() ? testFiles(join(ROOT, r)) : [r])).sort();
const known: Record<string, number> = existsSync(TIMINGS) ? JSON.parse(readFileSync(TIMINGS, "utf8")) : {};
const values = Object.values(known).sort((a, b) => a - b);
const median = values.length ? values[Math.floor(values.length / 2)]! : 10;
const weight = (f: string) => known[f] ?? median;

// longest first onto the least loaded process
const shards = Array.from({ length: Math.min(jobs, files.length) }, () => ({ files: [] as string[], load: 0 }));
for (const f of [...files].sort((a, b) => weight(b) - weight(a))) {
  const s = shards.reduce((a, b) => (b.load < a.load ? b : a));
  s.files.push(f);
  s.load += weight(f);
}

interface ShardResult {
  code: number;
  output: string;
  pass: number;
  fail: number;
  seconds: number;
}

function run(shardFiles: string[], n: number): Promise<ShardResult> {
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(BUN, ["test", "--timeout", "120000", ...shardFiles.map((f) => `./${f}`)], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: process.env });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.stderr.on("data", (c: Buffer) => chunks.push(c));
    child.on("close", (code) => {
      const output = Buffer.concat(chunks).toString("utf8");
      // bun's closing summary: the last " N pass" / " N fail" lines
      const count = (word: string) => {
        let n = 0;
        for (const l of output.split("\n")) {
          const m = new RegExp(`^\\s*(\\d+) ${word}$`).exec(l);
          if (m) n = Number(m[1]);
        }
        return n;
      };
      const r = { code: code ?? 1, output, pass: count("pass"), fail: count("fail"), seconds: (Date.now() - started) / 1000 };
      const failed = [...new Set(output.split("\n").filter((l) => l.startsWith("(fail) ")))];
      process.stderr.write(`test: process ${n + 1}/${shards.length} done in ${r.seconds.toFixed(0)}s: ${r.pass} pass, ${r.fail} fail${r.code && !r.fail ? ` (exit ${r.code})` : ""}\n${failed.map((l) => `test:   ${l}\n`).join("")}`);
      done(r);
    });
  });
}

// Every write to stdout is awaited: stdout is often a pipe (`npm test | tee`), and process.exit() with writes
// still queued cut a CI log mid-line, losing the failures and the closing counts.
const write = (text: string) => new Promise<void>((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())));

process.stderr.write(`test: ${files.length} files in ${shards.length} processes\n`);
const results = await Promise.all(shards.map((s, i) => run(s.files, i)));
for (const [i, r] of results.entries()) {
  await write(`\n===== process ${i + 1}/${shards.length}: ${shards[i]!.files.length} files, ${r.seconds.toFixed(0)}s =====\n`);
  await write(r.output);
}

if (writeTimings) {
  // per-file time from bun's per-test durations (the file's tests, summed)
  const times: Record<string, number> = { ...known };
  for (const r of results) {
    let file: string | undefined;
    for (const line of r.output.split("\n")) {
      if (line.startsWith("Ran ")) continue;
      const f = /^(test\/\S+\.test\.ts):$/.exec(line.trim());
      if (f) {
        file = f[1]!;
        times[file] = 0;
        continue;
      }
      const t = /\[(\d+(?:\.\d+)?)(ms|s)\]\s*$/.exec(line);
      if (file && t) times[file] = Math.round(((times[file] ?? 0) + Number(t[1]) / (t[2] === "ms" ? 1000 : 1)) * 10) / 10;
    }
  }
  writeFileSync(TIMINGS, JSON.stringify(Object.fromEntries(Object.entries(times).sort()), null, 2) + "\n");
}

const pass = results.reduce((n, r) => n + r.pass, 0);
const fail = results.reduce((n, r) => n + r.fail, 0);
const crashed = results.filter((r) => r.code !== 0 && r.fail === 0).length;
await write(`\n ${pass} pass\n ${fail + crashed} fail\n`);
process.exitCode = fail || crashed || results.some((r) => r.code !== 0) ? 1 : 0;
