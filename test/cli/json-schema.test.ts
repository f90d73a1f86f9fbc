// One JSON schema (issue 24.2): every -o json|yaml report carries apiVersion kube-airgap.io/v1alpha1 and a kind, and
// schemas/<kind>.schema.json describes it. The commands run for real (registries, a chart repository, helm) and
// their output is validated with ajv (draft-07, strict). Transfer items use the same names everywhere: source and
// destination (copy printed images[].src/dst, sync/push items[].source/destination).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Ajv from "ajv";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { ROOT, runCli } from "../support/cli.ts";
import { expectOk, mirror, setupSources, sourceRef, type Sources } from "../mirror/helpers.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";

const SCHEMAS = join(ROOT, "schemas");
const ajv = new Ajv({ strict: true, allErrors: true });
const validators = new Map<string, ReturnType<typeof ajv.compile>>();
for (const f of readdirSync(SCHEMAS)) {
  const schema = JSON.parse(readFileSync(join(SCHEMAS, f), "utf8"));
  validators.set(schema.title, ajv.compile(schema));
}

const seen = new Set<string>();
/** Validate a command's stdout (json or yaml) against the schema of its kind; returns the parsed report. */
function valid(stdout: string, kind: string, format: "json" | "yaml" = "json"): any {
  const doc = format === "json" ? JSON.parse(stdout) : parse(stdout);
  expect(doc.apiVersion).toBe("kube-airgap.io/v1alpha1");
  expect(doc.kind).toBe(kind);
  const v = validators.get(kind);
  expect(v, `schemas/${kind}.schema.json`).toBeDefined();
  const ok = v!(doc);
  expect({ kind, errors: ok ? null : ajv.errorsText(v!.errors) }).toEqual({ kind, errors: null });
  seen.add(kind);
  return doc;
}

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

test("every kind a command prints has its schema in schemas/, and every schema compiles (ajv strict)", () => {
  const kinds = new Set<string>();
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
  for (const f of [...walk(join(ROOT, "plugins")), ...walk(join(ROOT, "shared"))]) for (const m of readFileSync(f, "utf8").matchAll(/versioned\("([A-Za-z]+)"/g)) kinds.add(m[1]!);
  expect(kinds.size).toBeGreaterThan(10);
  for (const k of kinds) expect({ k, schema: validators.has(k) }).toEqual({ k, schema: true });
  for (const f of readdirSync(SCHEMAS)) expect(f).toMatch(/^[A-Z][A-Za-z]+\.schema\.json$/);
});

describe("real output of every command validates against its kind's schema", () => {
  test("version -o json|yaml and version --client (every plugin)", async () => {
    for (const plugin of ["kubectl-mirror", "kubectl-violet", "kubectl-scar", "helm-addon-push"]) {
      const j = await runCli(plugin, ["version", "-o", "json"]);
      expectOk(j, `${plugin} version -o json`);
      expect(valid(j.stdout, "Version").clientVersion.gitVersion).toMatch(/^v\d+\.\d+\.\d+/);
      const y = await runCli(plugin, ["version", "--client", "-o", "yaml"]);
      valid(y.stdout, "Version", "yaml");
      const plain = await runCli(plugin, ["version", "--client"]);
      expect(plain.code).toBe(0);
      expect(plain.stdout).toMatch(/\d+\.\d+\.\d+/);
    }
  }, 60_000);

  test("images, images --why", async () => {
    const chart = ["--repo-url", s.repo.url, "--chart-url", "fixture/app", "--chart-version", "1.2.3", ...s.pinnedSet];
    const r = await mirror(s, ["images", ...chart, "-o", "json"]);
    expectOk(r, "images");
    valid(r.stdout, "ImagesReport");
    const w = await mirror(s, ["images", ...chart, "--why", "quay.io/acme/operator:0.9.0", "-o", "yaml"]);
    expectOk(w, "images --why");
    valid(w.stdout, "ImageExplanation", "yaml");
  }, 120_000);

  test("copy (items[].source/destination, like sync and push), inspect of an archive and of a reference", async () => {
    const img = "docker.io/bitnami/redis-exporter:1.58.0";
    const c = await mirror(s, ["copy", sourceRef(s.src, img), `${dst.host}/copied/redis-exporter:1.58.0`, ...s.srcArgs, ...into(), "-o", "json"], { stdin: dst.password });
    expectOk(c, "copy");
    const rep = valid(c.stdout, "CopyReport");
    expect(rep.items[0]).toMatchObject({ source: sourceRef(s.src, img), destination: `${dst.host}/copied/redis-exporter:1.58.0`, status: "copied" });
    const tar = join(s.tmp, "schema-copy.tar");
    expectOk(await mirror(s, ["copy", sourceRef(s.src, img), `oci-archive:${tar}:1.58.0`, ...s.srcArgs, "-o", "json"]), "copy → archive");
    const i = await mirror(s, ["inspect", tar, "-o", "json"]);
    expectOk(i, "inspect archive");
    valid(i.stdout, "ArchiveInspection");
    const ir = await mirror(s, ["inspect", sourceRef(s.src, img), ...s.srcArgs, "-o", "yaml"]);
    expectOk(ir, "inspect reference");
    valid(ir.stdout, "ImageInspection", "yaml");
  }, 120_000);

  test("export, push, verify, sync", async () => {
    const out = join(s.tmp, "schema.tar");
    const e = await mirror(s, ["export", ...chartArgs(), "-O", out, "-o", "json"]);
    expectOk(e, "export");
    valid(e.stdout, "ExportReport");
    const p = await mirror(s, ["push", out, "--dest", `${dst.host}/pushed`, ...into(), "-o", "json"], { stdin: dst.password });
    expectOk(p, "push");
    valid(p.stdout, "PushReport");
    const v = await mirror(s, ["verify", "--archive", out, "--dest", `${dst.host}/pushed`, ...into(), "-o", "json"], { stdin: dst.password });
    expectOk(v, "verify");
    valid(v.stdout, "VerifyReport");
    const y = await mirror(s, ["sync", ...chartArgs(), "--dest", `${dst.host}/synced`, ...into(), "-o", "yaml"], { stdin: dst.password });
    expectOk(y, "sync");
    const sync = valid(y.stdout, "SyncReport", "yaml");
    // the same thing has the same name in every report
    const keys = (x: any) => Object.keys(x.items[0]).filter((k) => ["source", "destination", "status", "digest"].includes(k)).sort();
    expect(keys(sync)).toEqual(keys(JSON.parse(p.stdout)));
  }, 240_000);

  test("helm addon-push package and push", async () => {
    const pk = await runCli("helm-addon-push", ["package", s.fx.dir, "--destination", join(s.tmp, "pk"), "-o", "json"], { env: s.env });
    expectOk(pk, "addon-push package");
    valid(pk.stdout, "ChartPackageReport");
    const pu = await runCli("helm-addon-push", [s.fx.tgz, `oci://${dst.host}/addons`, "--ca-file", dst.caFile!, "--username", dst.username, "--password-stdin", "-o", "json"], { env: s.env, stdin: dst.password });
    expectOk(pu, "addon-push push");
    expect(valid(pu.stdout, "ChartPushReport").items[0].status).toBe("pushed");
  }, 120_000);

  test("kubectl scar package, kubectl violet verify", async () => {
    const dir = join(s.tmp, "scar-manifests");
    mkdirSync(join(dir, "sub"), { recursive: true });
    writeFileSync(join(dir, "sub", "a.yaml"), "kind: ConfigMap\n");
    const pk = await runCli("kubectl-scar", ["package", dir, "--output-file", join(s.tmp, "manifests.tgz"), "-o", "json"], { env: s.env });
    expectOk(pk, "scar package");
    expect(valid(pk.stdout, "ScarPackageReport").files).toBe(1);
    const pkg = join(s.tmp, "pkg.tgz");
    writeFileSync(pkg, "package bytes");
    writeFileSync(`${pkg}.sha256`, `${createHash("sha256").update("package bytes").digest("hex")}  pkg.tgz\n`);
    const v = await runCli("kubectl-violet", ["verify", pkg, "-o", "yaml"], { env: s.env });
    expectOk(v, "violet verify");
    expect(valid(v.stdout, "PackageVerifyReport", "yaml").checksum).toEqual([pkg]);
  }, 60_000);

  test("the kinds validated here", () => {
    expect([...seen].sort()).toEqual(["ArchiveInspection", "ChartPackageReport", "ChartPushReport", "CopyReport", "ExportReport", "ImageExplanation", "ImageInspection", "ImagesReport", "PackageVerifyReport", "PushReport", "ScarPackageReport", "SyncReport", "VerifyReport", "Version"]);
  });
});
