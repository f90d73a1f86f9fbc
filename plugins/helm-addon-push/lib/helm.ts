// Talking to the Helm binary that runs us ($HELM_BIN).
import { execFile } from "node:child_process";

export class HelmBinError extends Error {
  override name = "HelmBinError";
}

/**
 * `helm dependency update DIR [--keyring FILE]` with $HELM_BIN (what `helm cm-push -d` does through Helm's
 * dependency manager): fetches the chart's dependencies into DIR/charts. Helm's own HELM_* settings apply.
 */
export function helmDependencyUpdate(dir: string, opts: { keyring?: string; env?: Record<string, string | undefined> } = {}): Promise<void> {
  const env = opts.env ?? process.env;
  const bin = env.HELM_BIN || "helm";
  const args = ["dependency", "update", dir, ...(opts.keyring ? ["--keyring", opts.keyring] : [])];
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: 600_000, env: env as NodeJS.ProcessEnv, maxBuffer: 16 << 20 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const why = String(stderr).trim().split("\n").filter(Boolean).pop() ?? err.message.split("\n")[0];
      reject(new HelmBinError(`${bin} dependency update ${dir} failed: ${why.replace(/^Error: /, "")}`));
    });
  });
}

/** "3" or "4": the major version of $HELM_BIN (or `helm` on PATH). */
export function helmMajorVersion(env: Record<string, string | undefined> = process.env): Promise<string> {
  const bin = env.HELM_BIN || "helm";
  return new Promise((resolve, reject) => {
    execFile(bin, ["version", "--template", "{{.Version}}"], { timeout: 20_000 }, (err, stdout) => {
      if (err) return reject(new HelmBinError(`cannot run ${bin} version: ${err.message.split("\n")[0]} (set HELM_BIN)`));
      const m = /v?(\d+)\./.exec(String(stdout));
      if (!m) return reject(new HelmBinError(`cannot read the version printed by ${bin}: ${String(stdout).trim()}`));
      resolve(m[1]!);
    });
  });
}
