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

// PROGRESS_SCENARIO=export: the events the copy engine emits for `kubectl mirror export` into a new archive — a
// chart job first (its config written with the graph, then its layer), images labelled "SOURCE → ARCHIVE", every
// job's "done" only at the end (an archive is finished as a whole), the totals learned from the plan (setTotals).
// Pauses (PROGRESS_MARK/PROGRESS_CONTINUE) while the last image is half done, and again after the chart's and two
// images' "done" events.
if (process.env.PROGRESS_SCENARIO === "export") {
  const KiB = 1024;
  const archive = "c80.tar";
  const jobsX = [
    { label: `chart app 1.2.3 → ${archive}`, blobs: [{ size: 1 * KiB, prepared: true }, { size: 48 * KiB }] },
    ...["library/nginx:v1", "acme/operator:v1", "acme/agent:v1"].map((n, i) => ({ label: `127.0.0.1:65000/${n} → ${archive}`, blobs: [{ size: 2 * KiB, prepared: true }, { size: (4 + 4 * i) * MiB }] })),
  ];
  const progress = createProgress({ total: 0 });
  const pause = async (mark: string) => {
    if (!process.env.PROGRESS_MARK) return;
    writeFileSync(process.env.PROGRESS_MARK, mark);
    while (process.env.PROGRESS_CONTINUE && !existsSync(`${process.env.PROGRESS_CONTINUE}.${mark}`)) await sleep(50);
  };
  progress.setTotals({ images: jobsX.length - 1, charts: 1 });
  jobsX.forEach((j, i) => progress.onEvent({ type: "plan", job: i, label: j.label, digest: "sha256:" + "cd".repeat(32), blobs: j.blobs.length, bytes: j.blobs.reduce((n, b) => n + b.size, 0) }));
  await Promise.all(jobsX.map(async (j, i) => {
    for (const b of j.blobs) {
      if (b.prepared) {
        // written with the graph: the engine reports it copied, with its bytes
        progress.onEvent({ type: "progress", job: i, bytes: b.size });
      } else {
        for (let sent = 0; sent < b.size; sent += 256 * KiB) {
          await sleep(step);
          progress.onEvent({ type: "progress", job: i, bytes: Math.min(256 * KiB, b.size - sent) });
          if (i === jobsX.length - 1 && sent >= b.size / 2 && sent < b.size / 2 + 256 * KiB) await pause("mid");
        }
      }
      progress.onEvent({ type: "blob", job: i, label: j.label, digest: "sha256:" + "ef".repeat(32), size: b.size, action: "copied" });
    }
  }));
  for (const [i, j] of jobsX.entries()) {
    const size = j.blobs.reduce((n, b) => n + b.size, 0);
    progress.onEvent({ type: "done", job: i, result: { label: j.label, src: j.label, dst: archive, status: "copied", digest: "sha256:" + "ab".repeat(32), tags: [], blobs: j.blobs.length, blobsCopied: j.blobs.length, blobsMounted: 0, blobsExisting: 0, bytes: size, bytesCopied: size, extras: [], warnings: [] } });
    if (i === 2) await pause("done");
  }
  progress.finish();
  process.stdout.write("DONE\n");
  process.exit(0);
}
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
