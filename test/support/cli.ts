// Run a plugin entry from source (bun) as a child process, like a user would: argv, stdin, env.
//   const r = await runCli("kubectl-mirror", ["copy", a, b, "--plain-http"], { stdin: "secret\n" });
//   r.code, r.stdout, r.stderr
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..", "..");
export const BUN = join(ROOT, "node_modules", ".bin", "bun");
export const DENO = join(ROOT, "node_modules", ".bin", "deno");
export const HELM3 = join(ROOT, ".tools", "helm3", "helm");
export const HELM4 = join(ROOT, ".tools", "helm4", "helm");
export const KUBECTL = join(ROOT, ".tools", "helm4", "kubectl");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(plugin: string, args: string[], opts: { stdin?: string; env?: Record<string, string | undefined>; runtime?: "bun" | "deno"; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const entry = join(ROOT, "plugins", plugin, "main.ts");
  const [cmd, pre] = opts.runtime === "deno" ? [DENO, ["run", "-A", "--quiet", entry]] : [BUN, [entry]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...pre, ...args], { cwd: opts.cwd ?? ROOT, env: { ...process.env, NO_COLOR: "1", ...opts.env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      // a -o json|yaml report must match its schema (schema.ts imports this file: loaded here, not at the top)
      import("./schema.ts").then(({ reportMismatch }) => {
        const bad = reportMismatch(stdout);
        if (bad) reject(new Error(`${plugin} ${args.join(" ").slice(0, 200)}: ${bad}`));
        else resolve({ code: code ?? -1, stdout, stderr });
      }, reject);
    });
    child.stdin.end(opts.stdin ?? "");
  });
}

/** An isolated environment for CLI runs below `tmp`: HOME (created), DOCKER_CONFIG, HELM_* homes, HELM_BIN = Helm 3.17, NO_COLOR. */
export function isolatedEnv(tmp: string): Record<string, string> {
  const home = join(tmp, "home");
  mkdirSync(home, { recursive: true });
  return {
    HOME: home,
    DOCKER_CONFIG: join(home, ".docker"),
    HELM_BIN: HELM3,
    HELM_CACHE_HOME: join(tmp, "helm/cache"),
    HELM_CONFIG_HOME: join(tmp, "helm/config"),
    HELM_DATA_HOME: join(tmp, "helm/data"),
    NO_COLOR: "1",
  };
}
