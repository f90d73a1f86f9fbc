// Issue 12 point 9: SIGINT/SIGTERM during an export removes the partial archive and the plan's temp folders,
// says what was interrupted, and exits 130/143.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { BUN, ROOT } from "../support/cli.ts";
import { file, image, indexJson, mirror, OCI_LAYOUT, regFlags, sha, writeArchive } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "ka-sig-"));
let reg: TestRegistry;
let proxy: FaultProxy;
const layer = Buffer.alloc(1 << 20, 9);

beforeAll(async () => {
  reg = await startRegistry({ auth: "htpasswd", tls: true });
  proxy = await startFaultProxy(reg.url, { ca: reg.ca!.certPem });
  const img = image([layer, Buffer.alloc(100, 2)]);
  const a = writeArchive(tmp, "seed.tar", [file("oci-layout", OCI_LAYOUT), file("index.json", indexJson([{ img, tag: "v1" }])), ...img.blobs]);
  expect((await mirror(reg, ["copy", `oci-archive:${a}:v1`, `${reg.host}/src/img:v1`])).code).toBe(0);
}, 60_000);
afterAll(async () => {
  await proxy.stop();
  await reg.stop();
  rmSync(tmp, { recursive: true, force: true });
});

async function interruptExport(signal: "SIGINT" | "SIGTERM" | "SIGKILL", name: string) {
  // the big layer hangs at the source, so the export sits mid-way with its partial archive open
  proxy.setRules([{ method: "GET", path: new RegExp(`/blobs/${sha(layer)}`), fault: "delay", delayMs: 60_000, times: Infinity }]);
  const out = join(tmp, `out-${signal}`);
  const temp = join(tmp, `tmp-${signal}`);
  mkdirSync(out);
  mkdirSync(temp);
  const args = [join(ROOT, "plugins/kubectl-mirror/main.ts"), "export", "--image", `${proxy.host}/src/img:v1`, "-O", join(out, name), "--plain-http-host", proxy.host, ...regFlags(reg, [proxy.host])];
  const child = spawn(BUN, args, { env: { ...process.env, TMPDIR: temp, NO_COLOR: "1", DOCKER_CONFIG: "/nonexistent" }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on("close", (code, sig) => r(code ?? (sig ? -1 : null))));
  // wait for the partial archive and the plan folder to exist
  const t0 = Date.now();
  while (Date.now() - t0 < 20_000 && !(readdirSync(out).some((f) => f.includes(".partial-")) && readdirSync(temp).some((f) => f.startsWith("ka-mirror-plan-")))) await new Promise((r) => setTimeout(r, 50));
  expect(readdirSync(out).some((f) => f.includes(".partial-"))).toBe(true);
  child.kill(signal);
  const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r("timeout"), 10_000))]);
  if (code === "timeout") child.kill("SIGKILL");
  proxy.clear();
  return { code, stderr, outFiles: readdirSync(out), tempFiles: readdirSync(temp), out, args, pid: child.pid! };
}

describe("signals during export (point 9)", () => {
  test("SIGINT: partial archive and plan folder removed, exit 130, says what was interrupted", async () => {
    const r = await interruptExport("SIGINT", "app.tar.gz");
    expect(r.code).toBe(130);
    expect(r.outFiles).toEqual([]);
    expect(r.tempFiles).toEqual([]);
    expect(r.stderr).toMatch(/interrupted \(SIGINT\) while .*writing archive .*app\.tar\.gz/);
  }, 40_000);

  test("SIGTERM: the same, exit 143", async () => {
    const r = await interruptExport("SIGTERM", "app.tar");
    expect(r.code).toBe(143);
    expect(r.outFiles).toEqual([]);
    expect(r.tempFiles).toEqual([]);
    expect(r.stderr).toMatch(/interrupted \(SIGTERM\)/);
  }, 40_000);

  test("SIGKILL leaves NAME.partial-PID (no handler runs); the next export of that name removes it, not a live process's nor another archive's", async () => {
    const r = await interruptExport("SIGKILL", "app.tar");
    expect(r.outFiles).toEqual([`app.tar.partial-${r.pid}`]);
    // a concurrent export of the same name that is still running (this test's own pid is alive) and a dead
    // run of another archive in the same folder
    writeFileSync(join(r.out, `app.tar.partial-${process.pid}`), "in progress");
    writeFileSync(join(r.out, `other.tar.partial-${r.pid}`), "not ours");
    const again = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const c = spawn(BUN, r.args, { env: { ...process.env, NO_COLOR: "1", DOCKER_CONFIG: "/nonexistent" }, stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      c.stderr.on("data", (d) => (err += d));
      c.on("close", (code) => resolve({ code, stderr: err }));
    });
    expect(again.code, again.stderr).toBe(0);
    expect(readdirSync(r.out).sort()).toEqual(["app.tar", `app.tar.partial-${process.pid}`, `other.tar.partial-${r.pid}`]);
  }, 60_000);
});
