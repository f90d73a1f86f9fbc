// One JSON schema (issue 24.2): every -o json|yaml report carries apiVersion kube-airgap.io/v1alpha1 and a kind, and
// schemas/<kind>.schema.json describes it. The commands run for real (registries, a chart repository, helm) and
// their output is validated with ajv (draft-07, strict; test/support/schema.ts). Transfer items use the same names
// everywhere: source and destination (copy printed images[].src/dst, verify items[].target).
// Kinds whose commands need a platform double (violet, scar, copy-ca, serve, Palette profiles) are validated where
// their tests already run them; the first test here checks that every schema has such a validation somewhere.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, runCli } from "../support/cli.ts";
import { COMMON_DEFS, reportMismatch, SCHEMAS, validators, validReport } from "../support/schema.ts";
import { renderData, versioned } from "../../shared/cli/output.ts";
import { expectOk, mirror, setupSources, sourceRef, type Sources } from "../mirror/helpers.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";

let s: Sources;
let dst: TestRegistry;

beforeAll(async () => {
  [s, dst] = await Promise.all([setupSources(), startRegistry()]);
}, 180_000);
afterAll(async () => {
  await Promise.all([s?.stop(), dst?.stop()]);
});

const into = () => ["--ca-file", dst.caFile!, "-u", dst.username, "--password-stdin"];
const chartArgs = () => ["--repo-url", s.repo.url, "--chart-url", "fixture/app", "--chart-version", "1.2.3", ...s.srcArgs, ...s.mirrorArgs, ...s.pinnedSet];

const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));

test("every kind a command prints has its schema in schemas/, and every schema compiles (ajv strict)", () => {
  const kinds = new Set<string>();
  for (const f of [...walk(join(ROOT, "plugins")), ...walk(join(ROOT, "shared"))]) for (const m of readFileSync(f, "utf8").matchAll(/versioned\("([A-Za-z]+)"/g)) kinds.add(m[1]!);
  expect(kinds.size).toBeGreaterThan(20);
  for (const k of kinds) expect({ k, schema: validators.has(k) }).toEqual({ k, schema: true });
  for (const f of readdirSync(SCHEMAS).filter((f) => f !== COMMON_DEFS)) {
    expect(f).toMatch(/^[A-Z][A-Za-z]+\.schema\.json$/);
    const schema = JSON.parse(readFileSync(join(SCHEMAS, f), "utf8"));
    expect({ f, title: schema.title, kind: schema.properties?.kind?.const, apiVersion: schema.properties?.apiVersion?.const }).toEqual({ f, title: f.replace(".schema.json", ""), kind: f.replace(".schema.json", ""), apiVersion: "kube-airgap.io/v1alpha1" });
    // a schema no command prints is a stale one
    expect({ f, printed: kinds.has(schema.title) }).toEqual({ f, printed: true });
  }
});

/**
 * Where a schema accepts more than the report holds: a property as `{}` (any value), a subschema without a type, an
 * object without declared properties or without a decision on others (additionalProperties), an object without
 * `required`, an array without `items`. An exception (a free-form map or list, e.g. a chart's values) says so in its
 * description: "free-form: why".
 */
function looseSpots(schema: unknown, at = "#", constraint = false): string[] {
  if (schema === false) return []; // a property that must not appear
  if (schema === true || typeof schema !== "object" || schema === null || !Object.keys(schema).length) return [`${at}: accepts any value`];
  const s = schema as Record<string, any>;
  const out: string[] = [];
  const freeForm = typeof s.description === "string" && /^free-form: \S/.test(s.description);
  // a branch of anyOf/oneOf/allOf in a closed object only constrains it (oneOf: file or directory): no type of its own
  if (!constraint && !("type" in s || "definitions" in s || "const" in s || "enum" in s || "$ref" in s || "anyOf" in s || "oneOf" in s || "allOf" in s)) out.push(`${at}: no type`);
  const types = [s.type].flat();
  if (types.includes("object")) {
    if (!s.properties && typeof s.additionalProperties !== "object" && !freeForm) out.push(`${at}: object without properties`);
    if (s.properties && s.additionalProperties !== false && typeof s.additionalProperties !== "object" && !freeForm && !constraint) out.push(`${at}: additionalProperties undecided`);
    if (s.properties && !Array.isArray(s.required)) out.push(`${at}: object without required`);
  }
  if (types.includes("array") && !("items" in s) && !freeForm) out.push(`${at}: array without items`);
  for (const [k, v] of Object.entries(s.properties ?? {})) out.push(...looseSpots(v, `${at}/properties/${k}`));
  if (typeof s.additionalProperties === "object") out.push(...looseSpots(s.additionalProperties, `${at}/additionalProperties`));
  if ("items" in s) out.push(...looseSpots(s.items, `${at}/items`));
  for (const key of ["definitions", "$defs"]) for (const [k, v] of Object.entries(s[key] ?? {})) out.push(...looseSpots(v, `${at}/${key}/${k}`));
  const closed = s.additionalProperties === false && !!s.properties;
  for (const key of ["anyOf", "oneOf", "allOf"]) (s[key] ?? []).forEach((v: unknown, i: number) => out.push(...looseSpots(v, `${at}/${key}/${i}`, closed)));
  return out;
}

test("no schema leaves a value open: every property typed, every object's properties and required declared, every array's items (exceptions say 'free-form: why')", () => {
  // the check itself finds each kind of loose spot
  expect(looseSpots({ type: "object", required: [], properties: { a: {}, b: { type: "array" }, c: { type: "object" }, d: { description: "x" } }, additionalProperties: false })).toEqual(["#/properties/a: accepts any value", "#/properties/b: array without items", "#/properties/c: object without properties", "#/properties/d: no type"]);
  expect(looseSpots({ type: "object", properties: { a: { type: "string" } } })).toEqual(["#: additionalProperties undecided", "#: object without required"]);
  expect(looseSpots({ type: "object", description: "free-form: the chart's values", additionalProperties: true })).toEqual([]);
  // a oneOf branch of a closed object only says which properties go together
  expect(looseSpots({ type: "object", required: [], properties: { f: { type: "string" } }, additionalProperties: false, oneOf: [{ properties: { f: { type: "string" } }, required: ["f"] }] })).toEqual([]);
  expect(looseSpots({ type: "object", required: [], properties: { f: { type: "string" } }, oneOf: [{ properties: { f: {} }, required: ["f"] }] })).toEqual(["#: additionalProperties undecided", "#/oneOf/0: no type", "#/oneOf/0/properties/f: accepts any value"]);
  const loose = readdirSync(SCHEMAS).flatMap((f) => looseSpots(JSON.parse(readFileSync(join(SCHEMAS, f), "utf8")), f));
  expect(loose).toEqual([]);
});

test("every CLI run of the tests has its -o json|yaml report checked (reportMismatch in runCli and the other spawners)", () => {
  const api = "kube-airgap.io/v1alpha1";
  expect(reportMismatch(JSON.stringify({ apiVersion: api, kind: "Version", clientVersion: { gitVersion: "v1.0.0", gitCommit: "abc", platform: "linux/amd64", extra: 1 } }))).toMatch(/^Version does not match schemas\/Version.schema.json: .*must NOT have additional properties/);
  expect(reportMismatch(`apiVersion: ${api}\nkind: Nope\n`)).toBe("kind Nope has no schemas/Nope.schema.json");
  expect(reportMismatch(JSON.stringify({ apiVersion: api, kind: "Version", clientVersion: { plugin: "kubectl-mirror", gitVersion: "v1.0.0", gitCommit: "abc", platform: "linux/amd64", runtime: "bun 1.4.4" } }))).toBeUndefined();
  // not a report: tables, other documents, several YAML documents (manifests)
  for (const out of ["", "IMAGE   KIND\n", `apiVersion: v1\nkind: ConfigMap\n`, `apiVersion: ${api}\nkind: Version\n---\napiVersion: v1\n`]) expect(reportMismatch(out)).toBeUndefined();
  for (const f of ["test/support/cli.ts", "test/addon-push/helpers.ts", "test/mirror-images/cli.test.ts", "test/ship/support.ts"]) expect({ f, checked: readFileSync(join(ROOT, f), "utf8").includes("reportMismatch(stdout)") }).toEqual({ f, checked: true });
});

test("every schema is validated against a real run's output by some test (validReport(…, \"Kind\"))", () => {
  const covered = new Map<string, string[]>();
  for (const f of walk(join(ROOT, "test"))) {
    for (const line of readFileSync(f, "utf8").split("\n")) for (const m of line.matchAll(/\bvalidReport\(.*?,\s*"([A-Z][A-Za-z]+)"/g)) covered.set(m[1]!, [...(covered.get(m[1]!) ?? []), f.slice(ROOT.length + 1)]);
  }
  const missing = [...validators.keys()].filter((k) => !covered.has(k)).sort();
  expect(missing).toEqual([]);
});

test("printData refuses a structured report without apiVersion/kind; versioned() keeps the report's own kind first", () => {
  for (const f of ["json", "yaml", "jsonpath={.a}"]) expect(() => renderData({ a: 1 }, f, () => "")).toThrow(/without apiVersion/);
  expect(renderData({ a: 1 }, undefined, () => "human\n")).toBe("human\n");
  // a value with its own header (violet's package metadata) is reported under the report's kind
  const v = versioned("PackageInfo", { apiVersion: "violet.kube-airgap.io/v1", kind: "Package", name: "x" });
  expect(Object.entries(v).slice(0, 2)).toEqual([["apiVersion", "kube-airgap.io/v1alpha1"], ["kind", "PackageInfo"]]);
  expect(JSON.parse(renderData(versioned("SignReportList", [{ archive: "a" }]), "json", () => ""))).toEqual({ apiVersion: "kube-airgap.io/v1alpha1", kind: "SignReportList", items: [{ archive: "a" }] });
});

describe("real output of every command validates against its kind's schema", () => {
  test("version -o json|yaml and version --client (every plugin)", async () => {
    for (const plugin of ["kubectl-mirror", "kubectl-violet", "kubectl-scar", "helm-addon-push"]) {
      const j = await runCli(plugin, ["version", "-o", "json"]);
      expectOk(j, `${plugin} version -o json`);
      expect(validReport(j.stdout, "Version").clientVersion.gitVersion).toMatch(/^v\d+\.\d+\.\d+/);
      const y = await runCli(plugin, ["version", "--client", "-o", "yaml"]);
      validReport(y.stdout, "Version", "yaml");
      const plain = await runCli(plugin, ["version", "--client"]);
      expect(plain.code).toBe(0);
      expect(plain.stdout).toMatch(/\d+\.\d+\.\d+/);
    }
  }, 60_000);

  test("images, images --why", async () => {
    const chart = ["--repo-url", s.repo.url, "--chart-url", "fixture/app", "--chart-version", "1.2.3", ...s.pinnedSet];
    const r = await mirror(s, ["images", ...chart, "-o", "json"]);
    expectOk(r, "images");
    validReport(r.stdout, "ImagesReport");
    const w = await mirror(s, ["images", ...chart, "--why", "quay.io/acme/operator:0.9.0", "-o", "yaml"]);
    expectOk(w, "images --why");
    validReport(w.stdout, "ImageExplanation", "yaml");
    // a repository without a tag matches both busybox images: a list of explanations
    const l = await mirror(s, ["images", ...chart, "--why", "docker.io/library/busybox", "-o", "json"]);
    expectOk(l, "images --why (several)");
    expect(validReport(l.stdout, "ImageExplanationList").items.map((i: any) => i.image)).toEqual(["docker.io/library/busybox:1.36", "docker.io/library/busybox:1.37"]);
  }, 120_000);

  test("copy (items[].source/destination, like sync and push), inspect of an archive and of a reference", async () => {
    const img = "docker.io/bitnami/redis-exporter:1.58.0";
    const c = await mirror(s, ["copy", sourceRef(s.src, img), `${dst.host}/copied/redis-exporter:1.58.0`, ...s.srcArgs, ...into(), "-o", "json"], { stdin: dst.password });
    expectOk(c, "copy");
    const rep = validReport(c.stdout, "CopyReport");
    expect(rep.items[0]).toMatchObject({ source: sourceRef(s.src, img), destination: `${dst.host}/copied/redis-exporter:1.58.0`, status: "copied" });
    const tar = join(s.tmp, "schema-copy.tar");
    expectOk(await mirror(s, ["copy", sourceRef(s.src, img), `oci-archive:${tar}:1.58.0`, ...s.srcArgs, "-o", "json"]), "copy → archive");
    const i = await mirror(s, ["inspect", tar, "-o", "json"]);
    expectOk(i, "inspect archive");
    validReport(i.stdout, "ArchiveInspection");
    const ir = await mirror(s, ["inspect", sourceRef(s.src, img), ...s.srcArgs, "-o", "yaml"]);
    expectOk(ir, "inspect reference");
    validReport(ir.stdout, "ImageInspection", "yaml");
  }, 120_000);

  test("export, push, verify, sync", async () => {
    const out = join(s.tmp, "schema.tar");
    const e = await mirror(s, ["export", ...chartArgs(), "-O", out, "-o", "json"]);
    expectOk(e, "export");
    validReport(e.stdout, "ExportReport");
    const p = await mirror(s, ["push", out, "--dest", `${dst.host}/pushed`, ...into(), "-o", "json"], { stdin: dst.password });
    expectOk(p, "push");
    validReport(p.stdout, "PushReport");
    const v = await mirror(s, ["verify", "--archive", out, "--dest", `${dst.host}/pushed`, ...into(), "-o", "json"], { stdin: dst.password });
    expectOk(v, "verify");
    // verify names where each item should be as push does: destination (it was items[].target)
    const ver = validReport(v.stdout, "VerifyReport");
    const pushed = JSON.parse(p.stdout);
    expect(ver.destination).toBe(`${dst.host}/pushed`);
    const byDest = (r: any) => r.items.filter((i: any) => i.kind === "image").map((i: any) => `${i.source} ${i.destination}`).sort();
    expect(byDest(ver)).toEqual(byDest(pushed));
    const y = await mirror(s, ["sync", ...chartArgs(), "--dest", `${dst.host}/synced`, ...into(), "-o", "yaml"], { stdin: dst.password });
    expectOk(y, "sync");
    const sync = validReport(y.stdout, "SyncReport", "yaml");
    // the same thing has the same name in every report
    const keys = (x: any) => Object.keys(x.items[0]).filter((k) => ["source", "destination", "status", "digest"].includes(k)).sort();
    expect(keys(sync)).toEqual(keys(JSON.parse(p.stdout)));
  }, 240_000);

  test("helm addon-push package and push", async () => {
    const pk = await runCli("helm-addon-push", ["package", s.fx.dir, "--destination", join(s.tmp, "pk"), "-o", "json"], { env: s.env });
    expectOk(pk, "addon-push package");
    validReport(pk.stdout, "ChartPackageReport");
    const pu = await runCli("helm-addon-push", [s.fx.tgz, `oci://${dst.host}/addons`, "--ca-file", dst.caFile!, "--username", dst.username, "--password-stdin", "-o", "json"], { env: s.env, stdin: dst.password });
    expectOk(pu, "addon-push push");
    // the repository pushed to (was `target`), the chart's reference there as `destination` like mirror's reports
    expect(validReport(pu.stdout, "ChartPushReport").items[0]).toMatchObject({ status: "pushed", repository: `oci://${dst.host}/addons`, destination: expect.stringMatching(new RegExp(`^${dst.host}/addons/`)) });
  }, 120_000);

  test("kubectl scar package, kubectl violet verify", async () => {
    const dir = join(s.tmp, "scar-manifests");
    mkdirSync(join(dir, "sub"), { recursive: true });
    writeFileSync(join(dir, "sub", "a.yaml"), "kind: ConfigMap\n");
    const pk = await runCli("kubectl-scar", ["package", dir, "--output-file", join(s.tmp, "manifests.tgz"), "-o", "json"], { env: s.env });
    expectOk(pk, "scar package");
    expect(validReport(pk.stdout, "ScarPackageReport").files).toBe(1);
    const pkg = join(s.tmp, "pkg.tgz");
    writeFileSync(pkg, "package bytes");
    writeFileSync(`${pkg}.sha256`, `${createHash("sha256").update("package bytes").digest("hex")}  pkg.tgz\n`);
    const v = await runCli("kubectl-violet", ["verify", pkg, "-o", "yaml"], { env: s.env });
    expectOk(v, "violet verify");
    expect(validReport(v.stdout, "PackageVerifyReport", "yaml").checksum).toEqual([pkg]);
  }, 60_000);
});
