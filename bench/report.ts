// What the paired benchmarks print: medians of whole-process wall times and the ratio taken pair by pair (each
// round ran both commands back to back, so a drift of the machine's speed cancels), with its range.

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** One row: `<name> <ours label> Ns  <peer label> Ns  ratio R (rounds min–max; target ≤ T) OK|MISSED`. */
export function ratioRow(name: string, x: { ours: number[]; skopeo: number[] }, target: number, labels: { ours: string; peer: string }): string {
  const pairs = x.ours.map((o, i) => o / x.skopeo[i]!);
  const r = median(pairs);
  return `${name.padEnd(6)} ${labels.ours} ${median(x.ours).toFixed(2)}s  ${labels.peer} ${median(x.skopeo).toFixed(2)}s  ratio ${r.toFixed(2)} (rounds ${Math.min(...pairs).toFixed(2)}–${Math.max(...pairs).toFixed(2)}; target ≤ ${target}) ${r <= target ? "OK" : "MISSED"}`;
}
