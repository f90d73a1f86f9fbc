// Printing data to stdout: json | yaml | table (default for humans).
import { stringify } from "yaml";
import { printable, printableBlock } from "../runtime/redact.ts";

export type OutputFormat = "json" | "yaml" | "table" | "name" | "wide";

export function toYaml(value: unknown): string {
  return stringify(value, { compat: "yaml-1.1", lineWidth: 0, aliasDuplicateObjects: false });
}

export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

/** Render rows as an aligned text table with an upper-case header, like kubectl get. */
export function table(headers: string[], rows: (string | number | undefined | null)[][]): string {
  // cells come from untrusted input (tags, names): one line each, no control characters
  const cells = [headers.map((h) => h.toUpperCase()), ...rows.map((r) => r.map((c) => (c === undefined || c === null ? "" : printable(String(c)))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : (c ?? "").padEnd(widths[i]!))).join("   ").trimEnd()).join("\n") + "\n";
}

/** Print structured data in the chosen format; `human` renders the table/text form. */
export function printData(value: unknown, format: string | undefined, human: () => string): void {
  // json/yaml escape control characters themselves; the human form is escaped here (newlines kept)
  const out = format === "json" ? toJson(value) : format === "yaml" ? toYaml(value) : printableBlock(human());
  process.stdout.write(out);
}
