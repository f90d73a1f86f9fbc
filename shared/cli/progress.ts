// Progress for long transfers, on stderr: a live line on a TTY, one line per image otherwise.
import type { CopyEvent, CopyResult } from "../oci/copy.ts";
import { printable, redact } from "../runtime/redact.ts";

export function humanBytes(n: number): string {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${u[i]}`;
}

export function resultLine(r: CopyResult): string {
  const short = r.digest ? r.digest.slice(0, 19) : "";
  switch (r.status) {
    case "failed":
      return `FAILED  ${r.label}: ${r.error}`;
    case "up-to-date":
      return `ok      ${r.label} ${short} (up to date)`;
    case "would-copy":
      return `plan    ${r.label} ${short} (${r.blobs - r.blobsExisting} of ${r.blobs} blobs to copy, ${humanBytes(r.bytesCopied)})`;
    default:
      return `copied  ${r.label} ${short} (${r.blobsCopied} blobs ${humanBytes(r.bytesCopied)}${r.blobsMounted ? `, ${r.blobsMounted} mounted` : ""}${r.blobsExisting ? `, ${r.blobsExisting} present` : ""}${r.extras.length ? `, +${r.extras.length} signatures/attestations` : ""})`;
  }
}

export interface ProgressOptions {
  total: number;
  tty?: boolean;
  quiet?: boolean;
  out?: NodeJS.WriteStream;
}

/** Returns an onEvent handler and a finish() that clears the live line. */
export function createProgress(opts: ProgressOptions): { onEvent: (e: CopyEvent) => void; finish: () => void } {
  const out = opts.out ?? process.stderr;
  const tty = opts.tty ?? !!out.isTTY;
  let done = 0;
  let bytes = 0;
  let planned = 0;
  const started = Date.now();
  let last = 0;
  let live = false;
  const draw = (force = false) => {
    if (!tty || opts.quiet) return;
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    const secs = Math.max((now - started) / 1000, 0.001);
    // total 0: not known up front (violet push learns each package's images as it opens it)
    const line = `[${opts.total ? `${done}/${opts.total}` : done} images] ${humanBytes(bytes)}${planned ? ` of ≤${humanBytes(planned)}` : ""}  ${humanBytes(bytes / secs)}/s`;
    out.write(`\r\x1b[2K${line}`);
    live = true;
  };
  const clear = () => {
    if (live) out.write("\r\x1b[2K");
    live = false;
  };
  return {
    onEvent(e) {
      if (e.type === "progress") {
        bytes += e.bytes;
        draw();
      } else if (e.type === "plan") {
        planned += e.bytes;
        draw();
      } else if (e.type === "warn") {
        clear();
        out.write(printable(redact(`warning: ${e.label}: ${e.message}`)) + "\n");
        draw(true);
      } else if (e.type === "done") {
        done++;
        clear();
        // a registry that refused the credentials or cannot be reached is reported once, by the command
        if (!e.result.failedHost && (!opts.quiet || e.result.status === "failed")) out.write(printable(redact(resultLine(e.result))) + "\n");
        draw(true);
      }
    },
    finish: clear,
  };
}

/**
 * When a registry host failed as a whole (credentials refused, unreachable, TLS), the one error to report for the
 * run: the first such error, and how many items it stopped. undefined when no host failed.
 */
export function hostFailure(results: { status: string; error?: string; failedHost?: string }[]): { message: string; host: string; stopped: number } | undefined {
  // the host's own error, not that of a chart left untagged because of it
  const first = results.find((r) => r.failedHost && r.error && !r.error.startsWith("not tagged:")) ?? results.find((r) => r.failedHost && r.error);
  if (!first) return undefined;
  const host = first.failedHost!;
  const stopped = results.filter((r) => r.failedHost === host).length;
  return { message: first.error!, host, stopped };
}
