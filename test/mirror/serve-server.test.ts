// Issue 22.3: `kubectl mirror serve` is a server; treat it as one. Each test runs the real CLI as a child process
// and judges it with real clients (skopeo, helm 4, curl) and the OS (/proc, ulimit, signals):
//   - a client that goes away mid-blob leaked one file handle (500 disconnects → 500 handles): under `ulimit -n 64`
//     hundreds of disconnects, then a full skopeo pull still works and the handle count stays flat;
//   - `--address :PORT` listened on every interface while the banner said 127.0.0.1: the banner tells the truth
//     (checked against /proc/net/tcp) and warns; --htpasswd (bcrypt, made by the real `htpasswd -B`) + TLS;
//   - SIGINT/SIGTERM/SIGHUP left the decompressed copy of a .tar.zst/.tar.gz behind;
//   - a duplicate index.json entry was served ("the last one wins") while push refuses the archive;
//   - a tampered blob was served whole: now it is never sent whole, the response is aborted, logged, then 500.
// On the previous code every test here fails (leak → EMFILE, banner 127.0.0.1, no --htpasswd flag, temp copy
// left, duplicate served, tampered bytes sent with 200).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, HELM4, ROOT, runCli } from "../support/cli.ts";
import { createCA, type TestCA } from "../support/pki.ts";
import { helm, skopeo, writeBlob, writeImageLayout, type WrittenLayout } from "../support/images.ts";
import { chartTgz } from "../support/violet-fixtures.ts";
import { validReport } from "../support/schema.ts";

let tmp: string;
let ca: TestCA;
let layout: WrittenLayout;
let bigLayer: { digest: string; size: number };
let chart: string;
const children: ChildProcess[] = [];
const MAIN = join(ROOT, "plugins/kubectl-mirror/main.ts");

interface Served {
  child: ChildProcess;
  /** the URL from the banner (first one printed) */
  url: string;
  port: number;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** start `kubectl mirror serve` as a user would (optionally under a shell's `ulimit -n`); resolves at the banner */
function serve(args: string[], o: { ulimit?: number } = {}): Promise<Served> {
  const cmd = [BUN, MAIN, "serve", ...args];
  const child = o.ulimit
    ? spawn("bash", ["-c", `ulimit -n ${o.ulimit}; exec "$@"`, "bash", ...cmd], { stdio: ["ignore", "pipe", "pipe"] })
    : spawn(cmd[0]!, cmd.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let err = "";
  const exited = new Promise<number | null>((r) => child.on("exit", (code, sig) => r(code ?? (sig ? -1 : null))));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${err}`)), 60_000);
    child.stderr!.on("data", (d) => {
      err += d;
      const m = /serving .* at (https?:\/\/\S+?:(\d+))[ ,]/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, port: Number(m[2]), stderr: () => err, exited });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`serve exited ${code}:\n${err}`), { stderr: err, code }));
    });
  });
}

/** wait until the server's stderr holds `text` (lines after the banner arrive in their own chunks) */
async function until(s: Served, text: string, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !s.stderr().includes(text) && Date.now() < end; ) await Bun.sleep(50);
}

async function stop(s: Served): Promise<void> {
  if (s.child.exitCode === null) s.child.kill("SIGTERM");
  await s.exited;
}

function curl(args: string[]): { status: number; body: Buffer; headers: string; code: number } {
  let out: Buffer;
  let code = 0;
  try {
    out = execFileSync("curl", ["-s", "-D", "-", ...args], { maxBuffer: 64 << 20 });
  } catch (e) {
    out = (e as { stdout: Buffer }).stdout;
    code = (e as { status: number }).status;
  }
  const i = out.indexOf("\r\n\r\n");
  const headers = out.subarray(0, i).toString("latin1");
  return { status: Number(/^HTTP\/[\d.]+ (\d+)/.exec(headers)?.[1] ?? 0), headers, body: out.subarray(i + 4), code };
}

/** GET a blob over a raw socket, read a little of the body, then go away (a client killed mid-download) */
function disconnectMidBlob(port: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = netConnect(port, "127.0.0.1", () => sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
    let got = 0;
    sock.on("data", (d) => {
      got += d.length;
      if (got > 64 << 10) sock.destroy(), resolve();
    });
    sock.on("error", reject);
    sock.on("close", () => resolve());
  });
}

const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
/** the bun process (the child itself: bash exec'd into it) */
const pidOf = (s: Served) => s.child.pid!;

/** a plain-tar OCI archive of a layout directory, written by GNU tar (entries in the order given) */
function tarLayout(dir: string, out: string): string {
  execFileSync("tar", ["-cf", out, "-C", dir, "oci-layout", "index.json", "blobs"]);
  return out;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "ka-serve-server-"));
  mkdirSync(join(tmp, "pki"));
  ca = createCA(join(tmp, "pki"));
  // one image with a 4 MiB uncompressed layer (mid-blob disconnects, tampering), plus a Helm chart artifact
  layout = await writeImageLayout(join(tmp, "layout"), { tag: "acme/app:1.0", layers: [{ size: 4 << 20, compression: "none" }, { size: 2048 }] });
  bigLayer = layout.images[0]!.manifests[0]!.layers[0]!;
  const charts = join(tmp, "charts");
  mkdirSync(charts);
  chart = await chartTgz(charts, { name: "app", version: "0.1.0", values: { image: "acme/app:1.0" } });
  const dir = join(tmp, "layout");
  const cfg = writeBlob(dir, JSON.stringify({ name: "app", version: "0.1.0", apiVersion: "v2" }));
  const content = writeBlob(dir, readFileSync(chart));
  const m = writeBlob(dir, JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.cncf.helm.config.v1+json", ...cfg }, layers: [{ mediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip", ...content }] }));
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
  index.manifests.push({ mediaType: "application/vnd.oci.image.manifest.v1+json", ...m, annotations: { "org.opencontainers.image.ref.name": "charts/app:0.1.0" } });
  writeFileSync(join(dir, "index.json"), JSON.stringify(index));
  tarLayout(dir, join(tmp, "app.tar"));
  execFileSync("zstd", ["-q", "-f", join(tmp, "app.tar"), "-o", join(tmp, "app.tar.zst")]);
  execFileSync("bash", ["-c", `gzip -c "${join(tmp, "app.tar")}" > "${join(tmp, "app.tar.gz")}"`]);
  // tampered: the big layer's bytes changed (same size, same name) — what a damaged or altered copy looks like
  const bad = join(tmp, "bad-layout");
  cpSync(dir, bad, { recursive: true });
  const blob = join(bad, "blobs", "sha256", bigLayer.digest.slice(7));
  const bytes = readFileSync(blob);
  bytes[bytes.length - 10] ^= 0xff;
  writeFileSync(blob, bytes);
  tarLayout(bad, join(tmp, "tampered.tar"));
  // duplicate index.json: GNU tar appends a second one (pointing at the chart only) after the first
  const other = join(tmp, "dup-index");
  mkdirSync(other);
  writeFileSync(join(other, "index.json"), JSON.stringify({ ...index, manifests: index.manifests.slice(-1).map((d: any) => ({ ...d, annotations: { "org.opencontainers.image.ref.name": "evil/app:1.0" } })) }));
  copyFileSync(join(tmp, "app.tar"), join(tmp, "dup.tar"));
  execFileSync("tar", ["-rf", join(tmp, "dup.tar"), "-C", other, "index.json"]);
}, 120_000);

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("kubectl mirror serve as a server", () => {
  test("ulimit -n 64: 300 clients gone mid-blob leak no file handle; a full skopeo pull still works", async () => {
    const s = await serve([join(tmp, "app.tar"), "--address", "127.0.0.1:0"], { ulimit: 64 });
    expect(readFileSync(`/proc/${pidOf(s)}/limits`, "utf8")).toMatch(/Max open files\s+64\s/);
    const path = `/v2/acme/app/blobs/${bigLayer.digest}`;
    await disconnectMidBlob(s.port, path); // warm-up (lazy loads)
    const before = fdCount(pidOf(s));
    for (let i = 0; i < 300; i += 10) await Promise.all(Array.from({ length: 10 }, () => disconnectMidBlob(s.port, path)));
    await Bun.sleep(300);
    expect(fdCount(pidOf(s))).toBeLessThanOrEqual(before + 4);
    const out = join(tmp, "pulled-dir");
    await skopeo(["copy", "--src-tls-verify=false", "--src-no-creds", `docker://127.0.0.1:${s.port}/acme/app:1.0`, `dir:${out}`]);
    expect(readFileSync(join(out, bigLayer.digest.slice(7))).length).toBe(bigLayer.size); // dir: keeps blobs as they are
    await stop(s);
  }, 180_000);

  test("--address :PORT tells the truth: every interface (as /proc/net/tcp shows), with a warning", async () => {
    const s = await serve([join(tmp, "app.tar"), "--address", ":0"]);
    // the OS: the socket listens on 0.0.0.0
    const hexPort = s.port.toString(16).toUpperCase().padStart(4, "0");
    expect(readFileSync("/proc/net/tcp", "utf8")).toMatch(new RegExp(`^\\s*\\d+: 00000000:${hexPort} 00000000:0000 0A `, "m"));
    expect(s.stderr()).toContain(`at http://0.0.0.0:${s.port} (read-only) on every interface`);
    await until(s, "reachable from other machines");
    expect(s.stderr()).toContain(`0.0.0.0:${s.port} is reachable from other machines and serves everything in`);
    expect(s.stderr()).toContain("no authentication");
    await stop(s);
    const j = validReport(await runCliJsonServe([join(tmp, "app.tar"), "--address", "0.0.0.0:0", "-o", "json"]), "ServeInfo");
    expect(j.listen).toMatch(/^0\.0\.0\.0:\d+$/);
    expect(j.exposed).toBe(true);
    expect(j.auth).toBe("none");
    // loopback only: no warning
    const l = await serve([join(tmp, "app.tar"), "--address", "127.0.0.1:0"]);
    expect(l.url).toBe(`http://127.0.0.1:${l.port}`);
    await Bun.sleep(500);
    expect(l.stderr()).not.toContain("reachable from other machines");
    await stop(l);
  }, 120_000);

  test("--htpasswd (htpasswd -B) + TLS: 401 with a Basic challenge; skopeo and helm 4 pull with credentials", async () => {
    const htpasswd = join(tmp, "htpasswd");
    writeFileSync(htpasswd, execFileSync("htpasswd", ["-Bbn", "puller", "s3cret pass"]));
    const cert = ca.server("serve");
    const s = await serve([join(tmp, "app.tar.zst"), "--address", "0.0.0.0:0", "--htpasswd", htpasswd, "--tls-cert", cert.cert, "--tls-key", cert.key]);
    expect(s.url.startsWith("https://0.0.0.0:")).toBe(true);
    expect(s.stderr()).toContain("Basic auth (htpasswd), TLS");
    await Bun.sleep(500);
    expect(s.stderr()).not.toContain("reachable from other machines");
    const host = `127.0.0.1:${s.port}`;
    const anon = curl(["--cacert", ca.cert, `https://${host}/v2/`]);
    expect(anon.status).toBe(401);
    expect(anon.headers).toMatch(/www-authenticate: Basic realm="[^"]+"/i);
    expect(JSON.parse(anon.body.toString()).errors[0].code).toBe("UNAUTHORIZED");
    expect(curl(["--cacert", ca.cert, "-u", "puller:wrong", `https://${host}/v2/acme/app/tags/list`]).status).toBe(401);
    expect(curl(["--cacert", ca.cert, "-u", "puller:s3cret pass", `https://${host}/v2/acme/app/tags/list`]).status).toBe(200);
    const certDir = join(tmp, "certs.d");
    mkdirSync(certDir, { recursive: true });
    copyFileSync(ca.cert, join(certDir, "ca.crt"));
    const noCreds = await skopeo(["inspect", "--raw", `--cert-dir=${certDir}`, "--no-creds", `docker://${host}/acme/app:1.0`]).catch((e) => e as Error);
    expect(noCreds).toBeInstanceOf(Error);
    const out = join(tmp, "pulled-tls");
    await skopeo(["copy", `--src-cert-dir=${certDir}`, "--src-creds", "puller:s3cret pass", `docker://${host}/acme/app:1.0`, `dir:${out}`]);
    expect(readFileSync(join(out, bigLayer.digest.slice(7))).length).toBe(bigLayer.size);
    const dest = join(tmp, "helm-pulled");
    mkdirSync(dest, { recursive: true });
    await helm(["pull", `oci://${host}/charts/app`, "--version", "0.1.0", "--username", "puller", "--password", "s3cret pass", "--ca-file", ca.cert, "--destination", dest], { helmBin: HELM4 });
    expect(readFileSync(join(dest, "app-0.1.0.tgz")).equals(readFileSync(chart))).toBe(true);
    await stop(s);
    // a non-bcrypt entry (htpasswd -m, apr1) is refused like distribution and Zot do
    writeFileSync(htpasswd, execFileSync("htpasswd", ["-mbn", "puller", "x"]));
    const r = await runCli("kubectl-mirror", ["serve", join(tmp, "app.tar"), "--address", "127.0.0.1:0", "--htpasswd", htpasswd], { timeoutMs: 60_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("is not bcrypt");
  }, 180_000);

  for (const [signal, archive] of [["SIGINT", "app.tar.zst"], ["SIGTERM", "app.tar.gz"], ["SIGHUP", "app.tar.zst"]] as const) {
    test(`${signal} removes the decompressed copy of ${archive}`, async () => {
      const temp = join(tmp, `temp-${signal}`);
      mkdirSync(temp, { recursive: true });
      const s = await serve([join(tmp, archive), "--address", "127.0.0.1:0", "--temp-dir", temp]);
      const [work] = readdirSync(temp);
      expect(existsSync(join(temp, work!, "archive.tar"))).toBe(true);
      s.child.kill(signal);
      await s.exited;
      expect(readdirSync(temp)).toEqual([]);
      expect(s.stderr()).toContain("Ctrl-C (or SIGTERM/SIGHUP) to stop"); // the banner names each signal tested here
    }, 60_000);
  }

  test("a duplicate index.json entry: serve refuses the archive as push does (one verdict)", async () => {
    const r = await runCli("kubectl-mirror", ["serve", join(tmp, "dup.tar"), "--address", "127.0.0.1:0"], { timeoutMs: 60_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('duplicate entry "index.json"');
    const p = await runCli("kubectl-mirror", ["push", join(tmp, "dup.tar"), "--dest", "127.0.0.1:9", "--dry-run"], { timeoutMs: 60_000 });
    expect(p.code).not.toBe(0);
    expect(p.stderr).toContain('duplicate entry "index.json"');
  }, 120_000);

  test("a tampered blob is never sent whole: the response is cut short, logged, then 500; skopeo fails; --verify refuses", async () => {
    const s = await serve([join(tmp, "tampered.tar"), "--address", "127.0.0.1:0"]);
    const url = `${s.url}/v2/acme/app/blobs/${bigLayer.digest}`;
    const first = curl([url]);
    expect(first.status).toBe(200); // headers go first; the body is aborted before its last bytes
    expect(first.code).not.toBe(0); // curl: transfer closed with outstanding data
    expect(first.body.length).toBeLessThan(bigLayer.size);
    await until(s, "does not match its digest");
    expect(s.stderr()).toContain(`blob ${bigLayer.digest} in tampered.tar does not match its digest`);
    const again = curl([url]);
    expect(again.status).toBe(500);
    expect(again.body.toString()).toContain("does not match its digest");
    expect(curl(["-H", "Range: bytes=0-99", url]).status).toBe(500);
    const other = await skopeo(["copy", "--src-tls-verify=false", "--src-no-creds", `docker://127.0.0.1:${s.port}/acme/app:1.0`, `dir:${join(tmp, "never")}`]).catch((e) => e as Error);
    expect(other).toBeInstanceOf(Error);
    await stop(s);
    // a range of a never-checked blob: the whole blob is checked first, nothing is sent
    const s2 = await serve([join(tmp, "tampered.tar"), "--address", "127.0.0.1:0"]);
    expect(curl(["-H", "Range: bytes=0-99", `${s2.url}/v2/acme/app/blobs/${bigLayer.digest}`]).status).toBe(500);
    await stop(s2);
    const v = await runCli("kubectl-mirror", ["serve", join(tmp, "tampered.tar"), "--address", "127.0.0.1:0", "--verify"], { timeoutMs: 60_000 });
    expect(v.code).not.toBe(0);
    expect(v.stderr).toContain("--verify: 1 of");
    expect(v.stderr).toContain(bigLayer.digest);
    const good = await serve([join(tmp, "app.tar"), "--address", "127.0.0.1:0", "--verify"]);
    expect(good.stderr()).toMatch(/--verify: all \d+ blobs of app\.tar match their digests/);
    expect(curl([`${good.url}/v2/acme/app/blobs/${bigLayer.digest}`]).body.length).toBe(bigLayer.size);
    await stop(good);
  }, 180_000);
});

/** serve -o json: the data line on stdout, then stop it */
async function runCliJsonServe(args: string[]): Promise<any> {
  const child = spawn(BUN, [MAIN, "serve", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  const exited = new Promise((r) => child.on("exit", r));
  const j = await new Promise<any>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("no JSON from serve")), 60_000);
    child.stdout!.on("data", (d) => {
      out += d;
      try {
        const v = JSON.parse(out);
        clearTimeout(t);
        resolve(v);
      } catch {}
    });
  });
  child.kill("SIGTERM");
  await exited;
  return j;
}
