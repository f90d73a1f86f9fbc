// Progress people can read (issue 15 point 7), checked in a REAL terminal: tmux panes 40 and 160 columns wide run
// a simulated copy (test/support/progress-driver.ts) through shared/cli/progress.ts; capture-pane shows the live
// block mid-run (per-item bar, %, rate, ETA, an overall line, nothing wrapped or duplicated) and after the run
// (nothing left behind). Without a TTY: plain periodic lines, no control characters.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fit, fitLabel, progressLine } from "../../shared/cli/progress.ts";
import { BUN, ROOT } from "../support/cli.ts";

const DRIVER = join(ROOT, "test/support/progress-driver.ts");
const SOCKET = `ka-progress-${process.pid}`;
let dir: string;

const tmux = (...args: string[]) => spawnSync("tmux", ["-L", SOCKET, ...args], { encoding: "utf8" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "ka-progress-"));
});
afterAll(() => {
  tmux("kill-server"); // only the server on our own socket
  rmSync(dir, { recursive: true, force: true });
});

async function until(what: string, f: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe("on a TTY (tmux)", () => {
  for (const width of [40, 160]) {
    test(`${width} columns: live bars with %, rate and ETA, an overall line, redrawn in place; nothing left behind`, async () => {
      const mark = join(dir, `mark-${width}`);
      const cont = join(dir, `continue-${width}`);
      const s = `w${width}`;
      const cmd = `env PROGRESS_MARK=${mark} PROGRESS_CONTINUE=${cont} ${BUN} ${DRIVER}; echo EXIT; sleep 60`;
      expect(tmux("new-session", "-d", "-x", String(width), "-y", "40", "-s", s, cmd).status).toBe(0);
      const pane = () => tmux("capture-pane", "-p", "-t", s).stdout.split("\n").map((l) => l.trimEnd());
      const filled = () => pane().filter(Boolean);
      // midway: the first (longest) image is half done and paused, the other four have finished
      await until("the midpoint", () => existsSync(mark) && filled().filter((l) => l.startsWith("copied  ")).length === 4 && filled().some((l) => l.startsWith("total")));
      await sleep(300);
      const mid = filled();
      const bars = mid.filter((l) => /\[[= >]*\]/.test(l));
      expect(bars).toHaveLength(2); // one image in flight + the overall line, drawn once each
      expect(mid[mid.length - 1]).toMatch(/^total \[=+>? *\] 4\/5 images  \d+%/);
      expect(mid[mid.length - 2]).toMatch(/^….*:v1\.28\.3 +\[=+>? *\] 5\d%  ETA \d+s/); // the long name, its registry cut first
      for (const l of mid) expect([...l].length).toBeLessThanOrEqual(width);
      if (width >= 160) {
        expect(mid[mid.length - 2]).toMatch(/\d+%  ETA \d+s  [\d.]+ (KiB|MiB|GiB)\/s  [\d.]+ MiB\/120\.0 MiB$/);
        expect(mid[mid.length - 1]).toMatch(/ETA \d+s  [\d.]+ (KiB|MiB|GiB)\/s  [\d.]+ MiB\/311\.0 MiB$/);
      }
      writeFileSync(cont, "go");
      await until("the end", () => pane().includes("EXIT"));
      const end = filled();
      expect(end.slice(-2)).toEqual(["DONE", "EXIT"]);
      expect(end.filter((l) => l.startsWith("copied  "))).toHaveLength(5);
      expect(end.join("\n")).not.toMatch(/total|\[=|%/); // the live block is gone
    }, 40_000);
  }
});

describe("export into a new archive at 80 columns (issue 24.4)", () => {
  test("charts counted apart from images with the plan's totals; image names kept, registries cut first; a finished chart leaves the block", async () => {
    const mark = join(dir, "mark-export");
    const cont = join(dir, "continue-export");
    const cmd = `env PROGRESS_SCENARIO=export PROGRESS_MARK=${mark} PROGRESS_CONTINUE=${cont} PROGRESS_STEP_MS=20 ${BUN} ${DRIVER}; echo EXIT; sleep 60`;
    expect(tmux("new-session", "-d", "-x", "80", "-y", "40", "-s", "export", cmd).status).toBe(0);
    const screen = () => tmux("capture-pane", "-p", "-t", "export").stdout.split("\n").map((l) => l.trimEnd()).filter(Boolean);
    const marked = (m: string) => existsSync(mark) && readFileSync(mark, "utf8") === m;
    await until("the last image half done", () => marked("mid") && screen().some((l) => l.startsWith("total")));
    await sleep(300);
    const mid = screen();
    for (const l of mid) expect([...l].length).toBeLessThanOrEqual(80);
    expect(mid[mid.length - 1]).toMatch(/^total .* 0\/3 images, 0\/1 charts/);
    // the chart's blobs are all written: no bar sits at 96% for the rest of the export
    expect(mid.filter((l) => l.includes("chart app"))).toEqual([]);
    // every bar names its image: the registry goes first, the name and tag stay
    const bars = mid.filter((l) => /\[[= >]*\]/.test(l) && !l.startsWith("total"));
    expect(bars.length).toBeGreaterThanOrEqual(1);
    for (const l of bars) expect(l).toMatch(/^…\/(library\/nginx|acme\/operator|acme\/agent):v1( → c80\.tar)? +\[/);
    expect(mid.join("\n")).not.toContain("127.0.0.1:650…");
    writeFileSync(`${cont}.mid`, "go");
    await until("the chart's and two images' results", () => marked("done") && screen().some((l) => l.startsWith("total")));
    await sleep(200);
    const late = screen();
    expect(late[late.length - 1]).toMatch(/^total .* 2\/3 images, 1\/1 charts/);
    expect(late.filter((l) => /^copied  /.test(l))).toHaveLength(3);
    writeFileSync(`${cont}.done`, "go");
    await until("the end", () => screen().includes("EXIT"));
    expect(screen().filter((l) => l.startsWith("copied  "))).toHaveLength(4);
  }, 40_000);

  test("fitLabel: the registry first, then the destination, then the start of the name", () => {
    const l = "127.0.0.1:65000/library/nginx:v1 → c80.tar";
    expect(fitLabel(l, 60)).toBe(l);
    expect(fitLabel(l, 32)).toBe("…/library/nginx:v1 → c80.tar");
    expect(fitLabel(l, 22)).toBe("…/nginx:v1 → c80.tar");
    expect(fitLabel(l, 12)).toBe("…/nginx:v1");
    expect(fitLabel(l, 6)).toBe("…nx:v1");
    expect(fitLabel("chart app 1.2.3 → c80.tar", 15)).toBe("chart app 1.2.3");
  });
});

describe("on a TTY that is resized mid-run (tmux 160 → 50 columns)", () => {
  // tmux reflows on resize and pushes what no longer fits above the cursor into its scrollback, where no program
  // can erase it; the screen itself must be right: redrawn at the new width, no stale block, no result line lost
  test("the block is redrawn at the new width; nothing stale on screen; every result line kept", async () => {
    const mark = join(dir, "mark-resize");
    const cont = join(dir, "continue-resize");
    const cmd = `sleep 0.5; env PROGRESS_MARK=${mark} PROGRESS_CONTINUE=${cont} PROGRESS_STEP_MS=30 ${BUN} ${DRIVER}; echo EXIT; sleep 60`;
    expect(tmux("new-session", "-d", "-x", "160", "-y", "40", "-s", "resize", cmd, ";", "set-option", "-t", "resize", "scroll-on-clear", "off").status).toBe(0);
    const screen = () => tmux("capture-pane", "-p", "-t", "resize").stdout.split("\n").map((l) => l.trimEnd()).filter(Boolean);
    const everything = () => tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "resize").stdout.split("\n").map((l) => l.trimEnd()).filter(Boolean);
    await until("the midpoint", () => existsSync(mark) && screen().some((l) => l.startsWith("total")));
    expect(tmux("resize-window", "-t", "resize", "-x", "50").status).toBe(0);
    // wait for the redraw to complete (a capture can land between the block's writes): total line last, fitted
    await until("a redraw at 50 columns", () => {
      const s = screen();
      return s.some((l) => l.startsWith("total") && l.length <= 50) && /^total /.test(s[s.length - 1] ?? "");
    }, 10_000);
    const mid = screen();
    expect(mid.filter((l) => l.startsWith("total"))).toHaveLength(1);
    expect(mid[mid.length - 1]).toMatch(/^total \[=*>? *\] [1-4]\/5 images/);
    for (const l of mid.slice(mid.findIndex((x) => /\[=*>? *\]/.test(x)))) expect(l.length).toBeLessThanOrEqual(50);
    writeFileSync(cont, "go");
    await until("the end", () => screen().includes("EXIT"));
    expect(screen().join("\n")).not.toMatch(/^total|\[=+>? *\] \d+%/m);
    const copied = everything().filter((l) => l.startsWith("copied  "));
    expect(copied).toHaveLength(5); // each result line exactly once (-J joins the wrapped rows)
  }, 40_000);
});

describe("without a TTY", () => {
  test("a plain progress line every interval for long runs, no control characters; none for short runs", async () => {
    const run = (env: Record<string, string>) =>
      new Promise<string>((resolve) => {
        const c = spawn(BUN, [DRIVER], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
        let err = "";
        c.stderr.on("data", (d) => (err += d));
        c.on("close", () => resolve(err));
      });
    const long = await run({ PROGRESS_INTERVAL_MS: "200", PROGRESS_STEP_MS: "15" });
    expect(long).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    const lines = long.split("\n").filter((l) => l.startsWith("progress: "));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines[0]).toMatch(/^progress: \d\/5 images, [\d.]+ (MiB|KiB|B) of [\d.]+ MiB, [\d.]+ (KiB|MiB|GiB|B)\/s(, ETA \d+s)?, \d in flight, \ds elapsed$/);
    expect(long.split("\n").filter((l) => l.startsWith("copied  "))).toHaveLength(5);
    const short = await run({ PROGRESS_STEP_MS: "1" });
    expect(short).not.toContain("progress: ");
  }, 30_000);
});

describe("line fitting", () => {
  test.each([10, 20, 40, 80, 200])("never longer than %p - 1 columns", (w) => {
    const l = progressLine("registry.example.com/a/very/long/name:tag", 5 << 20, 20 << 20, 1000, w, "3/7 images");
    expect([...l].length).toBeLessThanOrEqual(w - 1);
  });
  test("middle ellipsis", () => {
    expect(fit("abcdefghij", 5)).toBe("ab…ij");
    expect(fit("abc", 5)).toBe("abc");
  });
});

describe("unknown total (violet push of a directory learns each package's images as it opens it)", () => {
  test("total 0 counts images without a /0", async () => {
    const { createProgress } = await import("../../shared/cli/progress.ts");
    const chunks: string[] = [];
    const out = { isTTY: true, columns: 100, write: (s: string) => (chunks.push(s), true) } as unknown as NodeJS.WriteStream;
    const done = (label: string) => ({ type: "done", result: { label, src: "a", dst: "b", status: "copied", digest: "sha256:" + "0".repeat(64), tags: [], blobs: 1, blobsCopied: 1, blobsMounted: 0, blobsExisting: 0, bytes: 10, bytesCopied: 10, extras: [], warnings: [] } }) as any;
    const p = createProgress({ total: 0, tty: true, out });
    p.onEvent({ type: "progress", bytes: 100 } as any);
    p.onEvent(done("one"));
    p.onEvent(done("two"));
    p.finish();
    const text = chunks.join("");
    expect(text).not.toMatch(/\/0 images/);
    expect(text).toContain("2 images");
  });
});
