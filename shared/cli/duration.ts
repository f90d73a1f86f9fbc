// Durations as kubectl and Go spell them, the one parser for every duration flag (--request-timeout, --wait,
// --timeout …): "0" (none), a bare number of seconds ("30", "1.5"), or units ("500ms", "30s", "2m", "1h30m").
import { UsageError } from "./errors.ts";

/** Milliseconds. */
export function parseDuration(s: string, flag = "--request-timeout"): number {
  const v = s.trim();
  if (/^\d+(?:\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(v))) {
    total += Number(m[1]) * units[m[2]!]!;
    pos = re.lastIndex;
  }
  if (!v || pos !== v.length) throw new UsageError(`invalid ${flag} ${JSON.stringify(s)}`, "use a duration like 30s, 2m or 1h30m, or 0 for none");
  return Math.round(total);
}

/** What --request-timeout means, for every command (kube API requests and registry requests alike). */
export const REQUEST_TIMEOUT_HELP = "Give up a request that makes no progress for this long: an API call (Palette, Kubernetes) that does not answer, a transfer that moves under 1 KiB in that time (downloads then resume where they stopped); e.g. 30s, 2m; default 60s (Kubernetes API calls: none, except in kubectl scar); 0 = none, except in kubectl scar";
