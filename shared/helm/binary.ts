// Finding and running the helm binary (used to render charts and, until the OCI core does it, to pull
// oci:// charts). Rendering runs the chart's template code: only render charts you trust.
import { spawn } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, isAbsolute, join, resolve } from "node:path";

export class HelmError extends Error {
  override name = "HelmError";
  constructor(message: string, public stderr = "") {
    super(message);
  }
}

function executable(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface HelmLookup {
  /** absolute path of the binary, when found */
  bin?: string;
  /** where it came from: "--helm", "HELM_BIN", "PATH" */
  from?: string;
  /** why no binary is used */
  reason?: string;
}

/**
 * The helm binary to use: the explicit path (--helm), else $HELM_BIN (set when running as a Helm plugin),
 * else `helm` on $PATH. An explicit path that is not executable is an error; a missing one on PATH is not.
 */
export function findHelm(explicit?: string, env: Record<string, string | undefined> = process.env): HelmLookup {
  if (explicit) {
    const p = explicit.includes("/") || explicit.includes("\\") ? resolve(explicit) : lookPath(explicit, env.PATH);
    if (!p || !executable(p)) throw new HelmError(`--helm ${explicit}: not an executable file`);
    return { bin: p, from: "--helm" };
  }
  if (env.HELM_BIN) {
    const p = isAbsolute(env.HELM_BIN) ? env.HELM_BIN : lookPath(env.HELM_BIN, env.PATH);
    if (p && executable(p)) return { bin: p, from: "HELM_BIN" };
  }
  const p = lookPath("helm", env.PATH);
  if (p) return { bin: p, from: "PATH" };
  return { reason: "no helm binary found (use --helm PATH, $HELM_BIN or put helm on PATH)" };
}

function lookPath(name: string, path = ""): string | undefined {
  for (const d of path.split(delimiter)) {
    if (!d) continue;
    for (const ext of process.platform === "win32" ? [".exe", ""] : [""]) {
      const p = join(d, name + ext);
      if (executable(p)) return p;
    }
  }
  return undefined;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run helm with args; never throws for a non-zero exit (check `code`). */
export function runHelm(bin: string, args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(bin, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env } as NodeJS.ProcessEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on("data", (b: Buffer) => out.push(b));
    child.stderr!.on("data", (b: Buffer) => err.push(b));
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (opts.timeoutMs) {
      timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    }
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(new HelmError(`cannot run ${bin}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      resolvePromise({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8") + (signal === "SIGKILL" && opts.timeoutMs ? `\nkilled after ${opts.timeoutMs} ms` : ""),
      });
    });
  });
}

/** "v3.17.3" — the short version of a helm binary. */
export async function helmVersion(bin: string): Promise<string> {
  const r = await runHelm(bin, ["version", "--short"], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new HelmError(`${bin} version failed: ${lastLine(r.stderr)}`, r.stderr);
  return r.stdout.trim().replace(/\+.*$/, "");
}

/** The last meaningful line of helm's stderr, for one-line error messages. */
export function lastLine(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean);
  const err = lines.find((l) => /^Error:/.test(l));
  return (err ?? lines[lines.length - 1] ?? "").replace(/^Error:\s*/, "");
}
