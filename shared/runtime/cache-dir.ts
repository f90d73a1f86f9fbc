// The per-user cache directory of kube-airgap: $KUBE_AIRGAP_CACHE_DIR, else $XDG_CACHE_HOME/kube-airgap, else
// ~/.cache/kube-airgap; none with KUBE_AIRGAP_NO_CACHE=1 (or no HOME). Holds what a later run may reuse and can
// always be deleted: the discovery cache (kubectl-mirror lib/plan/plan.ts), upload sessions (shared/oci/upload-journal.ts).
import { join } from "node:path";

export function cacheDir(env: Record<string, string | undefined> = process.env): string | undefined {
  if (env.KUBE_AIRGAP_NO_CACHE === "1" || env.KUBE_AIRGAP_NO_CACHE === "true") return undefined;
  if (env.KUBE_AIRGAP_CACHE_DIR) return env.KUBE_AIRGAP_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || (env.HOME ? join(env.HOME, ".cache") : undefined);
  return base ? join(base, "kube-airgap") : undefined;
}
