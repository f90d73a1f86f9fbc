// Drives shared/cli/progress.ts with a simulated copy (as the copy engine emits events) so a test can watch it in
// a real terminal (tmux) or through a pipe. Env: PROGRESS_MARK (file written at the midpoint), PROGRESS_CONTINUE
// (file waited for before going on), PROGRESS_INTERVAL_MS (plain-line interval without a TTY), PROGRESS_STEP_MS.
import { existsSync, writeFileSync } from "node:fs";
import { createProgress } from "../../shared/cli/progress.ts";
import type { CopyResult } from "../../shared/oci/copy.ts";

const MiB = 1 << 20;
const jobs = [
  { label: "registry.example.com/platform/very-long-repository-name/controller-manager:v1.28.3", size: 120 * MiB },
  { label: "docker.io/library/nginx:1.27", size: 60 * MiB },
  { label: "quay.io/prometheus/node-exporter:v1.8.0", size: 90 * MiB },
  { label: "ghcr.io/helm/chartmuseum:v0.15.0", size: 40 * MiB },
  { label: "registry.k8s.io/pause:3.10", size: 1 * MiB },
];
const step = Number(process.env.PROGRESS_STEP_MS ?? 15);
const progress = createProgress({ total: jobs.length, intervalMs: process.env.PROGRESS_INTERVAL_MS ? Number(process.env.PROGRESS_INTERVAL_MS) : undefined });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const result = (j: (typeof jobs)[number]): CopyResult => ({ label: j.label, src: j.label, dst: `zot.local/${j.label}`, status: "copied", digest: "sha256:" + "ab".repeat(32), tags: [], blobs: 3, blobsCopied: 3, blobsMounted: 0, blobsExisting: 0, bytes: j.size, bytesCopied: j.size, extras: [], warnings: [] });

let paused = false;
async function run(i: number): Promise<void> {
  const j = jobs[i]!;
  progress.onEvent({ type: "plan", job: i, label: j.label, digest: "sha256:" + "cd".repeat(32), blobs: 3, bytes: j.size });
  const chunk = 2 * MiB;
  for (let sent = 0; sent < j.size; sent += chunk) {
    await sleep(step);
    progress.onEvent({ type: "progress", job: i, bytes: Math.min(chunk, j.size - sent) });
    if (i === 0 && sent >= j.size / 2 && !paused && process.env.PROGRESS_MARK) {
      paused = true;
      writeFileSync(process.env.PROGRESS_MARK, "mid");
      while (process.env.PROGRESS_CONTINUE && !existsSync(process.env.PROGRESS_CONTINUE)) await sleep(50);
    }
  }
  progress.onEvent({ type: "done", job: i, result: result(j) });
}

// three at a time, like the copy engine
let next = 0;
await Promise.all([0, 1, 2].map(async () => {
  while (next < jobs.length) await run(next++);
}));
progress.finish();
process.stdout.write("DONE\n");
