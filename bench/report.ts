import { spawnSync } from "node:child_process";

// What the paired benchmarks print: medians of whole-process wall times and the ratio taken pair by pair (each
// round ran both commands back to back, so a drift of the machine's speed cancels), with its range.

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One row: `<name> <ours label> Ns  <peer label> Ns  ratio R (rounds min–max; target ≤ T) OK|MISSED`. */
export function ratioRow(name: string, x: { ours: number[]; skopeo: number[] }, target: number, labels: { ours: string; peer: string }): string {
  const pairs = x.ours.map((o, i) => o / x.skopeo[i]!);
  const r = median(pairs);
  return `${name.padEnd(6)} ${labels.ours} ${median(x.ours).toFixed(2)}s  ${labels.peer} ${median(x.skopeo).toFixed(2)}s  ratio ${r.toFixed(2)} (rounds ${Math.min(...pairs).toFixed(2)}–${Math.max(...pairs).toFixed(2)}; target ≤ ${target}) ${r <= target ? "OK" : "MISSED"}`;
}

/** One whole process measured by GNU time: wall and CPU seconds, peak RSS, minor page faults. */
export interface Timed {
  secs: number;
  rssMiB: number;
  user: number;
  sys: number;
  faults: number;
}

/** `user U s  system S s  (U+S s)  F page faults per GiB  peak RSS M MiB`, medians over runs that moved `gib` each. */
export function cpuPerGiB(runs: Timed[], gib: number): string {
  const m = (f: (t: Timed) => number) => median(runs.map(f)) / gib;
  return `user ${m((t) => t.user).toFixed(2)} s  system ${m((t) => t.sys).toFixed(2)} s  (${m((t) => t.user + t.sys).toFixed(2)} s)  ${Math.round(m((t) => t.faults))} page faults per GiB  peak RSS ${median(runs.map((t) => t.rssMiB)).toFixed(0)} MiB`;
}

/** Run a whole process under GNU time (it must succeed): wall and CPU seconds, peak RSS, minor page faults. */
export function gnuTime(cmd: string[]): Timed {
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M %U %S %R", ...cmd], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd.join(" ")} failed:\n${r.stderr.slice(-2000)}`);
  const [secs, kb, user, sys, faults] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number);
  return { secs: secs!, rssMiB: kb! / 1024, user: user!, sys: sys!, faults: faults! };
}
