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
  /** items expected (images, charts…); 0 = unknown */
  total: number;
  tty?: boolean;
  quiet?: boolean;
  out?: NodeJS.WriteStream;
  /** terminal width (default: the stream's columns, re-read on every draw, else 80) */
  columns?: number;
  /** what the items are called in the overall line (default "images") */
  unit?: string;
  /** charts and packs expected (jobs labelled "chart NAME VERSION → …" / "pack …"), counted apart from images */
  charts?: number;
  packs?: number;
  /** without a TTY: a plain progress line this often once a run is this long (default 10 s) */
  intervalMs?: number;
  /** most per-item lines shown at once (default 4) */
  maxItems?: number;
  /** clock (tests) */
  now?: () => number;
}

interface Item {
  label: string;
  total: number;
  bytes: number;
  started: number;
  /** blobs planned, and settled (copied, mounted or present): when all are, the bar leaves the live block */
  blobs: number;
  settled: number;
}

/** A chart or pack job's label ("chart app 1.2.3 → bundle.tar"); anything else is an image. */
const ARTIFACT_LABEL = /^(chart|pack) \S+ \S+( → |$)/;

/**
 * A label fitted to `width`, keeping what tells bars apart: the image name and tag. The registry and the leading path
 * go first ("…/controller-manager:v1.28.3 → bundle.tar"), then the destination, then the start of the name itself.
 */
export function fitLabel(label: string, width: number): string {
  const chars = (x: string) => [...x].length;
  if (chars(label) <= width) return label;
  const arrow = label.indexOf(" → ");
  const src = arrow >= 0 ? label.slice(0, arrow) : label;
  const dst = arrow >= 0 ? label.slice(arrow) : "";
  const parts = src.split("/");
  // cut leading path components (registry first) while the rest fits with the destination, then without it
  for (const tail of dst ? [dst, ""] : [""]) {
    for (let i = 1; i < parts.length; i++) {
      const cand = `…/${parts.slice(i).join("/")}${tail}`;
      if (chars(cand) <= width) return cand;
    }
    if (tail && chars(src) <= width) return src;
  }
  // the name itself is too long: keep its end (the tag and the end of the name)
  const name = parts[parts.length - 1]!;
  const c = [...name];
  return width <= 1 ? c.slice(-Math.max(width, 0)).join("") : "…" + c.slice(c.length - (width - 1)).join("");
}

export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** Fit `s` into `width` columns, cutting the middle of long labels ("registry.exa…/app:1.0"). */
export function fit(s: string, width: number): string {
  const chars = [...s];
  if (chars.length <= width) return s;
  if (width <= 1) return chars.slice(0, Math.max(width, 0)).join("");
  const head = Math.ceil((width - 1) / 2);
  return chars.slice(0, head).join("") + "…" + chars.slice(chars.length - (width - 1 - head)).join("");
}

function bar(frac: number, width: number): string {
  if (width < 3) return "";
  const inner = width - 2;
  const full = Math.min(inner, Math.floor(Math.max(0, Math.min(1, frac)) * inner));
  return "[" + "=".repeat(full) + (full < inner ? ">" + " ".repeat(inner - full - 1) : "") + "]";
}

/**
 * One progress line: `label [====>   ]  45%  ETA 3s  5.2 MiB/s  12.3 MiB/27.1 MiB`, fitted to `width`: the
 * label shrinks first, then the bar, then the numbers drop from the right (sizes, rate, ETA), never wrapping.
 */
export function progressLine(label: string, bytes: number, total: number, elapsedMs: number, width: number, extra = ""): string {
  const rate = elapsedMs > 0 ? (bytes * 1000) / elapsedMs : 0;
  const pct = total > 0 ? `${Math.min(100, Math.floor((bytes / total) * 100))}%` : "";
  const size = total > 0 ? `${humanBytes(bytes)}/${humanBytes(total)}` : humanBytes(bytes);
  const speed = rate > 0 ? `${humanBytes(rate)}/s` : "";
  const eta = total > 0 && rate > 0 && bytes < total ? `ETA ${humanDuration(((total - bytes) / rate) * 1000)}` : "";
  // narrow terminals lose the sizes first, then the rate, then the ETA
  const fields = [extra, pct, eta, speed, size].filter(Boolean);
  // drop fields from the right until label (≥ 8) + bar (≥ 10) fit, then shrink the bar and the label
  for (let n = fields.length; n >= 0; n--) {
    const tail = fields.slice(0, n).join("  ");
    const room = width - 1 - (tail ? tail.length + 2 : 0);
    const labelW = Math.min([...label].length, Math.max(8, Math.floor(room * 0.45)));
    const barW = Math.min(30, room - labelW - 1);
    if (barW >= 10 || (n === 0 && room >= 1)) {
      const b = total > 0 && barW >= 3 ? bar(bytes / total, barW) : "";
      const lw = b ? labelW : Math.max(0, room);
      const line = [fitLabel(label, lw).padEnd(b ? lw : 0), b, tail].filter((x) => x !== "").join(" ");
      return fit(line, width - 1);
    }
  }
  return fitLabel(label, width - 1);
}

/**
 * Progress for long transfers on stderr. On a TTY: a live block, redrawn in place at most 10 times a second,
 * with one line per item in flight (bar, percentage, sizes, rate, ETA) and an overall line; every line is fitted
 * to the terminal's current width (re-read on every draw and on resize) so nothing wraps and a redraw leaves nothing
 * behind. Result lines print above
 * the block. Without a TTY: the result lines, and for long runs a plain progress line every `intervalMs`
 * (no control characters), so CI logs show life. finish() clears the block and stops the timer.
 */
export function createProgress(opts: ProgressOptions): { onEvent: (e: CopyEvent) => void; finish: () => void; setTotals: (t: { images?: number; charts?: number; packs?: number }) => void } {
  const out = opts.out ?? process.stderr;
  const tty = opts.tty ?? !!out.isTTY;
  const now = opts.now ?? Date.now;
  const unit = opts.unit ?? "images";
  const maxItems = opts.maxItems ?? 4;
  const intervalMs = opts.intervalMs ?? 10_000;
  const items = new Map<number, Item>();
  let done = 0;
  let failed = 0;
  let total = opts.total;
  const artifacts = { chart: { total: opts.charts ?? 0, done: 0 }, pack: { total: opts.packs ?? 0, done: 0 } };
  let bytes = 0;
  let planned = 0;
  const started = now();
  let lastDraw = 0;
  const finished = new Set<number>(); // jobs whose blobs are all in place
  let drawn: number[] = []; // lengths of the live block's lines on screen (the cursor sits on its last line)
  let lastPlain = started;
  let timer: ReturnType<typeof setInterval> | undefined;

  const columns = () => Math.max(10, opts.columns ?? ((out as { columns?: number }).columns || 80));
  const overall = (width: number) => {
    const count = `${counts()}${failed ? `, ${failed} failed` : ""}`;
    return progressLine("total", bytes, planned, now() - started, width, count);
  };
  // images (or the unit) and, apart, charts and packs: "3/7 images, 1/1 charts"
  const counts = () => {
    const n = (d: number, t: number, what: string) => `${d}${t ? `/${t}` : ""} ${what}`;
    const out = [n(done, total, unit)];
    if (artifacts.chart.total || artifacts.chart.done) out.push(n(artifacts.chart.done, artifacts.chart.total, "charts"));
    if (artifacts.pack.total || artifacts.pack.done) out.push(n(artifacts.pack.done, artifacts.pack.total, "packs"));
    return out.join(", ");
  };
  const block = (): string[] => {
    const width = columns();
    const active = [...items.values()];
    const shown = active.slice(0, maxItems).map((it) => progressLine(it.label, it.bytes, it.total, now() - it.started, width));
    if (active.length > maxItems) shown.push(fit(`… and ${active.length - maxItems} more`, width - 1));
    return [...shown, overall(width)];
  };
  // back to the first row of the block: every line was fitted to the width it was drawn at (one row each); if
  // the terminal has since narrowed, it reflowed them (tmux, VTE, iTerm2 …): count the rows they take now
  const up = () => {
    const cols = columns();
    const rows = drawn.reduce((n, len) => n + Math.max(1, Math.ceil(len / cols)), 0);
    return `\r${rows > 1 ? `\x1b[${rows - 1}A` : ""}`;
  };
  const clear = () => {
    if (!drawn.length) return;
    out.write(`${up()}\x1b[J`); // clear to the end of the screen
    drawn = [];
  };
  const draw = (force = false) => {
    if (!tty || opts.quiet) return;
    const t = now();
    if (!force && t - lastDraw < 100) return;
    lastDraw = t;
    const lines = block();
    out.write(`${drawn.length ? up() : "\r"}\x1b[J${lines.join("\n")}`);
    drawn = lines.map((l) => [...l].length);
  };
  const plain = () => {
    if (tty || opts.quiet) return;
    const t = now();
    if (t - lastPlain < intervalMs) return;
    lastPlain = t;
    const rate = (bytes * 1000) / Math.max(1, t - started);
    const eta = planned > bytes && rate > 0 ? `, ETA ${humanDuration(((planned - bytes) / rate) * 1000)}` : "";
    out.write(`progress: ${counts()}, ${humanBytes(bytes)}${planned ? ` of ${humanBytes(planned)}` : ""}, ${humanBytes(rate)}/s${eta}, ${items.size} in flight, ${humanDuration(t - started)} elapsed\n`);
  };
  // without a TTY, a stalled transfer still prints a line now and then (the timer never keeps the process alive)
  const startTimer = () => {
    if (tty || opts.quiet || timer) return;
    timer = setInterval(plain, Math.max(50, Math.min(intervalMs, 1000)));
    (timer as { unref?: () => void }).unref?.();
  };
  startTimer();
  const onResize = () => draw(true);
  let listening = false;
  const listen = (on: boolean) => {
    const s = out as NodeJS.WriteStream;
    if (!tty || on === listening || typeof s.on !== "function") return;
    if (on) s.on("resize", onResize);
    else s.off("resize", onResize);
    listening = on;
  };
  listen(true);
  return {
    onEvent(e) {
      startTimer();
      listen(true);
      if (e.type === "progress") {
        bytes += e.bytes;
        const it = items.get(e.job);
        if (it) it.bytes += e.bytes;
        draw();
        plain();
      } else if (e.type === "plan") {
        planned += e.bytes;
        const it = items.get(e.job);
        if (it) (it.total += e.bytes), (it.blobs += e.blobs);
        else if (!finished.has(e.job)) items.set(e.job, { label: e.label, total: e.bytes, bytes: 0, started: now(), blobs: e.blobs, settled: 0 });
        draw();
      } else if (e.type === "blob") {
        // a blob the target has (or got by a mount) moves no bytes: it still counts towards the bar
        if (e.action !== "copied") bytes += e.size;
        const it = items.get(e.job);
        if (it) {
          if (e.action !== "copied") it.bytes += e.size;
          // every blob of the job is in place (its manifests and tag follow, e.g. after the images a chart needs)
          if (++it.settled >= it.blobs) items.delete(e.job), finished.add(e.job);
        }
        draw(true);
      } else if (e.type === "warn") {
        clear();
        out.write(printable(redact(`warning: ${e.label}: ${e.message}`)) + "\n");
        draw(true);
      } else if (e.type === "done") {
        const kind = ARTIFACT_LABEL.exec(e.result.label)?.[1] as "chart" | "pack" | undefined;
        if (kind) artifacts[kind].done++;
        else done++;
        if (e.result.status === "failed") failed++;
        items.delete(e.job);
        clear();
        // a registry that refused the credentials or cannot be reached is reported once, by the command
        if (!e.result.failedHost && (!opts.quiet || e.result.status === "failed")) out.write(printable(redact(resultLine(e.result))) + "\n");
        draw(true);
      }
    },
    /** the real totals once known (export learns a chart's images from its plan) */
    setTotals(t) {
      if (t.images !== undefined) total = t.images;
      if (t.charts !== undefined) artifacts.chart.total = t.charts;
      if (t.packs !== undefined) artifacts.pack.total = t.packs;
      draw(true);
    },
        /** clear the live block and stop the timer (a later event starts them again) */
    finish() {
      clear();
      if (timer) clearInterval(timer);
      timer = undefined;
      listen(false);
    },
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
