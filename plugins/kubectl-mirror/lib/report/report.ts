// Human tables for sync / export / push / verify.
import { table } from "../../../../shared/cli/output.ts";
import { hostFailure, humanBytes } from "../../../../shared/cli/progress.ts";
import { CliError } from "../../../../shared/cli/errors.ts";
import type { ItemResult } from "../transfer/sync.ts";
import type { VerifyReport } from "./verify.ts";
import type { RegistryMapEntry } from "../plan/mapping.ts";
import type { SkippedImage } from "../plan/possible.ts";

export function itemsTable(items: ItemResult[]): string {
  return table(
    ["kind", "source", "destination", "status", "digest", "copied"],
    items.map((r) => [r.kind, r.source, r.destination, r.status, r.digest?.slice(0, 19) ?? "", r.status === "failed" ? (r.failedHost ? `not done: ${r.failedHost} failed` : r.error) : humanBytes(r.bytesCopied)]),
  );
}

/** Possible images (static scan only) that were not copied, and why. */
export function skippedText(skipped: SkippedImage[] = []): string {
  return skipped.length ? `\nSKIPPED possible images (found by the static scan only, not rendered with these values)\n${table(["image", "reason"], skipped.map((s) => [s.image, s.reason]))}` : "";
}

export function mapText(m: RegistryMapEntry[]): string {
  return m.length ? `\nREGISTRY MAP (source → destination)\n${m.map((e) => `  ${e.source} → ${e.destination}`).join("\n")}\n` : "";
}

export function verifyTable(r: VerifyReport, all = false): string {
  const rows = r.items.filter((i) => all || i.status !== "ok");
  const head = `${r.summary.ok} of ${r.summary.total} present and matching in ${r.destination}${r.summary.missing ? `; ${r.summary.missing} missing` : ""}${r.summary.mismatched ? `; ${r.summary.mismatched} digest mismatch` : ""}${r.summary.unverified ? `; ${r.summary.unverified} unverified` : ""}${r.summary.errors ? `; ${r.summary.errors} errors` : ""}\n`;
  if (!rows.length) return head;
  return head + "\n" + table(["kind", "source", "destination", "status", "detail"], rows.map((i) => [i.kind, i.source, i.destination, i.status, i.detail ?? (i.status === "digest-mismatch" ? `expected ${i.expected?.slice(0, 19)}, found ${i.actual?.slice(0, 19)}` : i.actual?.slice(0, 19) ?? "")]));
}

/** A whole registry failed (refused credentials, unreachable): one error for the run instead of one per item. */
export function throwIfHostFailed(items: ItemResult[] | { status: string; error?: string; failedHost?: string }[]): void {
  const hf = hostFailure(items);
  if (hf) throw new CliError(hf.message, 1, items.length > 1 ? `stopped: nothing more was sent to ${hf.host}; ${hf.stopped} of ${items.length} items not done` : undefined);
}
