// Running the CLI and the real Helm binaries in isolated homes.
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { reportMismatch } from "../support/schema.ts";

export const ROOT = resolve(import.meta.dir, "../..");
export const BUN = join(ROOT, "node_modules/.bin/bun");
export const MAIN = join(ROOT, "plugins/helm-addon-push/main.ts");
export const HELM = { helm3: join(ROOT, ".tools/helm3/helm"), helm4: join(ROOT, ".tools/helm4/helm") };

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { env?: Record<string, string | undefined>; stdin?: string; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, NO_COLOR: "1", ...opts.env })) if (v !== undefined) env[k] = v;
    const child = spawn(cmd, args, { env, cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
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

/** Run `helm addon-push` from source. */
export function cli(args: string[], opts: Parameters<typeof run>[2] = {}): Promise<RunResult> {
  return run(BUN, [MAIN, ...args], opts);
}

/** Helm home dirs under `dir` (config, cache, data) as HELM_* variables. */
export function helmEnv(dir: string): Record<string, string> {
  const env = {
    HELM_CONFIG_HOME: join(dir, "config"),
    HELM_CACHE_HOME: join(dir, "cache"),
    HELM_DATA_HOME: join(dir, "data"),
    HELM_REPOSITORY_CONFIG: join(dir, "config", "repositories.yaml"),
    HELM_REPOSITORY_CACHE: join(dir, "cache", "repository"),
    HELM_REGISTRY_CONFIG: join(dir, "config", "registry", "config.json"),
    DOCKER_CONFIG: join(dir, "docker"),
  };
  for (const d of [env.HELM_CONFIG_HOME, env.HELM_CACHE_HOME, env.HELM_DATA_HOME]) mkdirSync(d, { recursive: true });
  return env;
}
