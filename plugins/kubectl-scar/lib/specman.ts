// Specman sync state from the logs of every specman-* pod in hubble-system. Specman logs (logrus text):
//   msg="Syncing with OCI repo"  msg="tags[4.5.13 4.5.15 0.0.0]"  msg="Downloading 0.0.0"
//   msg="listing dir /tmp/0.0.0123"  msg="filename: manifests.tgz, isDir: false"  msg="Persisting 0.0.0"
import type { KubeClient, KubeObject } from "../../../shared/kube/index.ts";
import { NAMESPACE, SPECMAN_POD_PREFIX } from "./constants.ts";
import { ScarError } from "./errors.ts";

export interface PodSync {
  pod: string;
  phase?: string;
  /** tags Specman listed last */
  tags?: string[];
  downloaded: boolean;
  foundArchive: boolean;
  persisted: boolean;
  /** last error-level line, if any */
  lastError?: string;
  logError?: string;
}

export interface SpecmanSync {
  namespace: string;
  tag: string;
  pods: PodSync[];
  /** every specman pod persisted the tag */
  synced: boolean;
}

function msgOf(line: string): string {
  const m = /msg="((?:[^"\\]|\\.)*)"/.exec(line) ?? /msg=(\S+)/.exec(line);
  return m ? m[1]!.replace(/\\"/g, '"') : line;
}

/** Parse one pod's log text for the sync of `tag`. */
export function parseSpecmanLog(text: string, tag: string): Omit<PodSync, "pod" | "phase"> {
  const out: Omit<PodSync, "pod" | "phase"> = { downloaded: false, foundArchive: false, persisted: false };
  const esc = tag.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const dl = new RegExp(`^Downloading ${esc}$`);
  const ps = new RegExp(`^Persisting ${esc}$`);
  for (const line of text.split(/\r?\n/)) {
    if (!line.trim()) continue;
    const msg = msgOf(line).trim();
    const tags = /^tags\[(.*)\]$/.exec(msg);
    if (tags) out.tags = tags[1]!.split(/\s+/).filter(Boolean);
    if (dl.test(msg)) out.downloaded = true;
    if (/^filename: manifests\.tgz\b/.test(msg)) out.foundArchive = true;
    if (ps.test(msg)) out.persisted = true;
    if (/level=(error|fatal)/.test(line)) out.lastError = msg;
  }
  return out;
}

export async function specmanPods(kube: KubeClient, namespace = NAMESPACE): Promise<KubeObject[]> {
  const pods = await kube.list("v1", "Pod", { namespace });
  return pods.filter((p) => p.metadata.name?.startsWith(SPECMAN_POD_PREFIX)).sort((a, b) => (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""));
}

/** Read the logs of every specman pod once. */
export async function specmanSync(kube: KubeClient, tag: string, opts: { namespace?: string; sinceSeconds?: number } = {}): Promise<SpecmanSync> {
  const namespace = opts.namespace ?? NAMESPACE;
  const pods = await specmanPods(kube, namespace);
  const res: PodSync[] = [];
  for (const p of pods) {
    const name = p.metadata.name ?? "";
    const phase = (p as { status?: { phase?: string } }).status?.phase;
    try {
      const text = await kube.logsText(name, { namespace, sinceSeconds: opts.sinceSeconds });
      res.push({ pod: name, phase, ...parseSpecmanLog(text, tag) });
    } catch (e) {
      res.push({ pod: name, phase, downloaded: false, foundArchive: false, persisted: false, logError: (e as Error).message });
    }
  }
  return { namespace, tag, pods: res, synced: res.length > 0 && res.every((p) => p.persisted) };
}

/**
 * Poll until every specman pod persisted the tag, or time out (ScarError naming the pods still waiting). The
 * deadline is exact: the last poll happens at the deadline, never a whole interval before it.
 */
export async function waitForSpecman(kube: KubeClient, tag: string, opts: { namespace?: string; timeoutMs: number; intervalMs?: number; sinceSeconds?: () => number | undefined; onPoll?: (s: SpecmanSync) => void; hint?: string }): Promise<SpecmanSync> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 3000;
  for (;;) {
    const s = await specmanSync(kube, tag, { namespace: opts.namespace, sinceSeconds: opts.sinceSeconds?.() });
    opts.onPoll?.(s);
    if (s.synced) return s;
    const left = deadline - Date.now();
    if (left <= 0) {
      if (!s.pods.length) throw new ScarError(`no specman pods in namespace ${s.namespace}`, opts.hint ?? "Specman runs in Palette 4.5.15 and later; check `kubectl get pods -n hubble-system`");
      const waiting = s.pods.filter((p) => !p.persisted).map((p) => `${p.pod}${p.lastError ? ` (last error: ${p.lastError})` : p.logError ? ` (${p.logError})` : p.downloaded ? " (downloaded, not persisted yet)" : ""}`);
      throw new ScarError(`Specman has not persisted ${tag} after ${formatSeconds(opts.timeoutMs)}: ${waiting.join(", ")}`, opts.hint ?? "check `kubectl logs -n hubble-system <pod>`; wait longer with --timeout, then run `kubectl scar verify`");
    }
    await new Promise((r) => setTimeout(r, Math.min(interval, left)));
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 ? `${(ms / 1000).toFixed(1)}s` : `${ms / 1000}s`;
}
