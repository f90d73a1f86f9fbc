// The live progress line (TTY): images done of the total, or just the count when the total is not known up front
// (violet push of a directory learns each package's images as it opens it).
import { describe, expect, test } from "bun:test";
import { createProgress } from "../../shared/cli/progress.ts";

function fakeTty() {
  const chunks: string[] = [];
  return { out: { isTTY: true, write: (s: string) => (chunks.push(s), true) } as unknown as NodeJS.WriteStream, text: () => chunks.join("") };
}
const done = (label: string) => ({ type: "done", result: { label, src: "a", dst: "b", status: "copied", digest: "sha256:" + "0".repeat(64), tags: [], blobs: 1, blobsCopied: 1, blobsMounted: 0, blobsExisting: 0, bytes: 10, bytesCopied: 10, extras: [], warnings: [] } }) as any;

describe("createProgress", () => {
  test("with a known total: [n/total images]", () => {
    const t = fakeTty();
    const p = createProgress({ total: 3, tty: true, out: t.out });
    p.onEvent(done("one"));
    p.finish();
    expect(t.text()).toContain("[1/3 images]");
  });

  test("with an unknown total (0): [n images], never [n/0 images]", () => {
    const t = fakeTty();
    const p = createProgress({ total: 0, tty: true, out: t.out });
    p.onEvent({ type: "progress", bytes: 100 } as any);
    p.onEvent(done("one"));
    p.onEvent(done("two"));
    p.finish();
    expect(t.text()).not.toMatch(/\/0 images/);
    expect(t.text()).toContain("[2 images]");
  });
});
