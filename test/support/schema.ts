// One JSON schema (issue 24.2): validate a command's real -o json|yaml output against schemas/<kind>.schema.json
// (ajv, draft-07, strict). Tests of a command call validReport(stdout, "Kind") where they already run it;
// test/cli/json-schema.test.ts checks that every schema is validated by at least one such call with a literal kind.
import { expect } from "bun:test";
import Ajv from "ajv";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { ROOT } from "./cli.ts";
import { API_VERSION } from "../../shared/cli/output.ts";

export const SCHEMAS = join(ROOT, "schemas");
/** shapes several kinds share (a transfer item, a registry map entry, …): `$ref: common.defs.json#/definitions/NAME` */
export const COMMON_DEFS = "common.defs.json";
export const ajv = new Ajv({ strict: true, allErrors: true });
ajv.addSchema(JSON.parse(readFileSync(join(SCHEMAS, COMMON_DEFS), "utf8")));
/** title (= kind) → compiled validator, one per schemas/*.schema.json */
export const validators = new Map<string, ReturnType<typeof ajv.compile>>();
for (const f of readdirSync(SCHEMAS).filter((f) => f.endsWith(".schema.json"))) {
  const schema = JSON.parse(readFileSync(join(SCHEMAS, f), "utf8"));
  validators.set(schema.title, ajv.compile(schema));
}

/**
 * Every CLI run of the tests (runCli, the addon-push, images and ship helpers) passes its stdout
 * here: a versioned report (apiVersion kube-airgap.io/v1alpha1) that does not match its kind's schema is a failure of
 * that run, so every -o json|yaml output of every test (dry runs, in-cluster, failures…) is checked, not only the ones
 * a test hands to validReport. Returns why, or undefined (not a report, or a valid one).
 */
export function reportMismatch(stdout: string): string | undefined {
  if (!stdout.includes(API_VERSION)) return undefined;
  let doc: any;
  try {
    doc = stdout.trimStart().startsWith("{") ? JSON.parse(stdout) : parse(stdout);
  } catch {
    return undefined; // several documents (manifests), or a report inside other text: not one report
  }
  if (doc?.apiVersion !== API_VERSION) return undefined;
  const v = validators.get(doc.kind);
  if (!v) return `kind ${doc.kind} has no schemas/${doc.kind}.schema.json`;
  return v(doc) ? undefined : `${doc.kind} does not match schemas/${doc.kind}.schema.json: ${ajv.errorsText(v.errors)}`;
}

/** Validate a command's stdout (json or yaml; or the parsed document) as a report of `kind`; returns the parsed report. */
export function validReport(stdout: string | object, kind: string, format: "json" | "yaml" = "json"): any {
  const doc = typeof stdout !== "string" ? stdout : format === "json" ? JSON.parse(stdout) : parse(stdout);
  expect(doc.apiVersion).toBe(API_VERSION);
  expect(doc.kind).toBe(kind);
  const v = validators.get(kind);
  expect(v, `schemas/${kind}.schema.json`).toBeDefined();
  const ok = v!(doc);
  expect({ kind, errors: ok ? null : ajv.errorsText(v!.errors) }).toEqual({ kind, errors: null });
  return doc;
}
