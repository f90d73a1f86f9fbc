// Printing data to stdout: json | yaml | table (default for humans).
import { stringify } from "yaml";
import { printable, printableBlock } from "../runtime/redact.ts";
import { UsageError } from "./errors.ts";
import { renderJsonPath } from "./jsonpath.ts";

/** apiVersion of every -o json|yaml report (schemas/<kind>.schema.json describes each kind). */
export const API_VERSION = "kube-airgap.io/v1alpha1";

/**
 * A report as printed with -o json|yaml: `apiVersion` and `kind` first, then its fields; a list becomes
 * `{apiVersion, kind, items: […]}` (the shape of a Kubernetes List).
 */
export function versioned<T>(kind: string, value: T): { apiVersion: string; kind: string } & (T extends unknown[] ? { items: T } : T) {
  // a value with its own apiVersion/kind (a file format's header) never overrides the report's
  const { apiVersion: _a, kind: _k, ...body } = (Array.isArray(value) ? { items: value } : value) as Record<string, unknown>;
  return { apiVersion: API_VERSION, kind, ...body } as never;
}

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

/** How a listing command renders `-o name` and `-o wide` (see listOutputArgs). */
export interface ListOutput {
  /** one resource name per entry, like `kubectl get -o name` */
  names: () => string[];
  /** the table with more columns (default: the human table) */
  wide?: () => string;
}

/**
 * Print structured data in the chosen format (validated by the entry against the command's -o flag):
 * json, yaml, jsonpath=TEMPLATE (applied to what -o json prints), name/wide (with `list`); else `human()`.
 */
export function printData(value: unknown, format: string | undefined, human: () => string, list?: ListOutput): void {
  process.stdout.write(renderData(value, format, human, list));
}

export function renderData(value: unknown, format: string | undefined, human: () => string, list?: ListOutput): string {
  // every structured report is a versioned kind with its schema in schemas/ (test/cli/json-schema.test.ts)
  if ((format === "json" || format === "yaml" || format?.startsWith("jsonpath=")) && (value as { apiVersion?: unknown } | null)?.apiVersion !== API_VERSION) throw new Error(`internal error: a -o ${format} report without apiVersion ${API_VERSION} (use versioned(kind, …))`);
  if (format === "json") return toJson(value);
  if (format === "yaml") return toYaml(value);
  if (format?.startsWith("jsonpath=")) {
    const out = renderJsonPath(format.slice(9), JSON.parse(JSON.stringify(value ?? null)));
    return out.endsWith("\n") || !out ? out : out + "\n";
  }
  if (format === "name") {
    if (!list) throw new UsageError(`-o name is not supported here`);
    return list.names().map((n) => printable(n) + "\n").join("");
  }
  // json/yaml escape control characters themselves; the human forms are escaped here (newlines kept)
  if (format === "wide") return printableBlock(list?.wide ? list.wide() : human());
  return printableBlock(human());
}
