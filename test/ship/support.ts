// Shared by the test/ship files: one build of every plugin for this machine (scripts/build.ts, the release
// flags) packaged like a release (scripts/package.ts), a loopback HTTP server for the archives, and a runner.
// The build is memoised until removeShipBuild(), which each file that uses it calls in afterAll (bun test fires
// no process exit hooks, so the next file builds again: ~10 s).
import { spawn } from "node:child_process";
import { createReadStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join, normalize, resolve } from "node:path";
import { buildPlugin, gitCommit, hostTarget, PLUGIN_NAMES, projectVersion, type BuildResult, type PluginName, type Target } from "../../scripts/build.ts";
import { packagePlugin, type PackageResult } from "../../scripts/package.ts";
import { freePort } from "../support/ports.ts";
import { reportMismatch } from "../support/schema.ts";

export const ROOT = resolve(import.meta.dir, "../..");
export const BUN = join(ROOT, "node_modules/.bin/bun");
export const DENO = join(ROOT, "node_modules/.bin/deno");
export const TOOLS = {
  helm3: join(ROOT, ".tools/helm3/helm"),
  kubectl131: join(ROOT, ".tools/helm3/kubectl"),
  helm4: join(ROOT, ".tools/helm4/helm"),
  kubectl133: join(ROOT, ".tools/helm4/kubectl"),
};

export interface ShipBuild {
  dir: string;
  binDir: string;
  releaseDir: string;
  target: Target;
  version: string;
  commit: string;
  builds: Record<PluginName, BuildResult>;
  archives: Record<PluginName, PackageResult>;
}

let shared: Promise<ShipBuild> | undefined;
let sharedDir: string | undefined;

/** Build and package all four plugins for the host target once per process (gzip level 1 to save time). */
export function shipBuild(): Promise<ShipBuild> {
  shared ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "ka-ship-"));
    sharedDir = dir;
    const target = hostTarget();
    const version = projectVersion();
    const commit = gitCommit();
    const binDir = join(dir, "bin");
    const releaseDir = join(dir, "release");
    const builds = {} as Record<PluginName, BuildResult>;
    const archives = {} as Record<PluginName, PackageResult>;
    for (const plugin of PLUGIN_NAMES) {
      builds[plugin] = await buildPlugin({ plugin, target, outDir: binDir, version, commit });
      archives[plugin] = await packagePlugin({ plugin, target, binDir, outDir: releaseDir, version, level: 1 });
    }
    return { dir, binDir, releaseDir, target, version, commit, builds, archives };
  })();
  return shared;
}

export function removeShipBuild(): void {
  if (sharedDir) rmSync(sharedDir, { recursive: true, force: true });
  sharedDir = undefined;
  shared = undefined;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command with exactly `env` (plus NO_COLOR) — nothing inherited unless passed. */
export function run(cmd: string, args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; stdin?: string; timeoutMs?: number; inheritEnv?: boolean } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...(opts.inheritEnv ? process.env : {}), NO_COLOR: "1", ...opts.env })) if (v !== undefined) env[k] = v;
    const child = spawn(cmd, args, { env, cwd: opts.cwd ?? ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 90_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const bad = reportMismatch(stdout); // a -o json|yaml report matches its schema (test/support/schema.ts)
      if (bad) reject(new Error(`${args.join(" ").slice(0, 200)}: ${bad}`));
      else resolvePromise({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(opts.stdin ?? "");
  });
}

export interface FileServer {
  url: string;
  /** paths requested so far */
  requests: string[];
  stop(): Promise<void>;
}

function contentTypeOf(file: string): string {
  if (/\.(tar\.gz|tgz)$/.test(file)) return "application/gzip";
  if (file.endsWith(".zip")) return "application/zip";
  if (/\.(prov|sha256|yaml)$/.test(file)) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

/**
 * Serve the files of `dir` over plain HTTP on 127.0.0.1 (GET/HEAD, 404 for anything else), with a content type
 * from the extension (application/gzip for .tar.gz) unless `contentType` forces one for every file.
 */
export async function serveDir(dir: string, opts: { contentType?: string } = {}): Promise<FileServer> {
  const port = await freePort();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    requests.push(path);
    const file = join(dir, normalize(path).replace(/^(\.\.[/\\])+/, ""));
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) throw new Error("not a file");
      size = st.size;
    } catch {
      res.writeHead(404).end("not found\n");
      return;
    }
    res.writeHead(200, { "content-type": opts.contentType ?? contentTypeOf(file), "content-length": String(size) });
    if (req.method === "HEAD") return void res.end();
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections?.();
      }),
  };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
