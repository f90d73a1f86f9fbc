// Talking to the Helm binary that runs us ($HELM_BIN).
import { execFile } from "node:child_process";

export class HelmBinError extends Error {
  override name = "HelmBinError";
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
