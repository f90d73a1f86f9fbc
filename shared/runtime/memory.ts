// Bounded memory for long transfers. Every read from a socket or file hands over a freshly allocated buffer; a
// buffer passed on is garbage, but it is freed only when the JS heap is collected, and the runtime's own
// heuristics (Bun's JSC) let hundreds of MiB of such buffers pile up before they collect: copying 380 MB peaked at
// 170–210 MiB RSS. Counting the bytes moved and asking for a collection every RELEASE_EVERY bytes holds it near
// 120 MiB for a few ms of CPU per collection. Where the runtime offers no collection call (Deno; Node without
// --expose-gc) this is a no-op.
const RELEASE_EVERY = 32 << 20;

type Collect = () => void;
const g = globalThis as { Bun?: { gc?: (sync: boolean) => void }; gc?: () => void };
const collect: Collect | undefined = g.Bun?.gc ? () => g.Bun!.gc!(true) : typeof g.gc === "function" ? () => g.gc!() : undefined;
let moved = 0;

/** Count n bytes moved through this process; collect garbage now and then (see above). */
export function bytesMoved(n: number): void {
  if (!collect) return;
  moved += n;
  if (moved < RELEASE_EVERY) return;
  moved = 0;
  collect();
}

/**
 * Collect now: at the start of a transfer, what planning left behind (a chart's parsed values and rendered
 * manifests: ~40 MiB for kube-prometheus-stack) is garbage, and would otherwise stay resident under the transfer's
 * own buffers.
 */
export function releaseMemory(): void {
  if (!collect) return;
  moved = 0;
  collect();
}
