// `kubectl mirror images` end to end: the real CLI against a local HTTP chart repository (basic auth) and a
// real OCI registry (docker-registry, charts pushed with helm), plus output formats, --why and mapping.
// The registries are realistic: a public-like one (TLS with a private CA, token auth, anonymous pull) and a private
// one (TLS with its own CA + htpasswd); the CLI trusts each with --ca-file HOST=FILE.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { startChartRepo, type ChartRepo } from "../support/chart-repo.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { reportMismatch } from "../support/schema.ts";
import { EXPECTED_RENDERED, EXPECTED_STATIC, HELM3, HELM4, makeFixture, type Fixture } from "./fixture.ts";
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { loadChart } from "../../shared/helm/chart-source.ts";

const execFileAsync = promisify(execFile);
const ROOT = join(import.meta.dir, "../..");
const BUN = join(ROOT, "node_modules/.bin/bun");
const MAIN = join(ROOT, "plugins/kubectl-mirror/main.ts");

let fx: Fixture;
let repo: ChartRepo;
let reg: TestRegistry;
let authReg: TestRegistry;
const USER = "mirror-user";
const PASS = "s3cret-Repo-Pass";

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: "/usr/bin:/bin",
    HOME: join(fx.root, "home"),
    HELM_CACHE_HOME: join(fx.root, "helm/cache"),
    HELM_CONFIG_HOME: join(fx.root, "helm/config"),
    HELM_DATA_HOME: join(fx.root, "helm/data"),
    NO_COLOR: "1",
    ...extra,
  };
}

/** trust a registry's private CA, for that host only */
const caArgs = (r: TestRegistry) => ["--ca-file", `${r.host}=${r.caFile}`];

function run(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(BUN, [MAIN, "images", ...args], { env: opts.env ?? env(), stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b) => (stdout += b));
    child.stderr.on("data", (b) => (stderr += b));
    child.on("error", reject);
    child.on("close", (code) => {
      const bad = reportMismatch(stdout); // a -o json|yaml report matches its schema (test/support/schema.ts)
      if (bad) reject(new Error(`images ${args.join(" ").slice(0, 200)}: ${bad}`));
      else resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}

beforeAll(async () => {
  fx = makeFixture();
  mkdirSync(join(fx.root, "home"), { recursive: true });
  // a second, older version of the chart with another appVersion, and a prerelease
  execFileSync(HELM3, ["package", fx.dir, "--version", "1.1.0", "--app-version", "2.3.0", "--destination", join(fx.root, "dist")], { stdio: "pipe" });
  execFileSync(HELM3, ["package", fx.dir, "--version", "1.3.0-rc.1", "--destination", join(fx.root, "dist")], { stdio: "pipe" });
  repo = await startChartRepo({
    charts: ["app-1.1.0.tgz", "app-1.2.3.tgz", "app-1.3.0-rc.1.tgz"].map((f) => join(fx.root, "dist", f)),
    auth: { username: USER, password: PASS },
    prefix: "charts/",
  });
  [reg, authReg] = await Promise.all([startRegistry({ auth: "token", anonymous: ["pull"] }), startRegistry()]);
  // push the chart with real helm 4 (Helm 3.17 speaks plain HTTP to loopback registries): the public-like registry
  // as its writer, and the htpasswd one (credentials via a registry config file)
  const helmEnv = env();
  const regCfg = join(fx.root, "push-config-public.json");
  writeFileSync(regCfg, JSON.stringify(reg.dockerConfig("writer")));
  for (const f of ["app-1.1.0.tgz", "app-1.2.3.tgz", "app-1.3.0-rc.1.tgz"]) {
    // async: the token server runs in this process
    await execFileAsync(HELM4, ["push", join(fx.root, "dist", f), `oci://${reg.host}/charts`, "--ca-file", reg.caFile!], { env: { ...helmEnv, HELM_REGISTRY_CONFIG: regCfg } });
  }
  const cfg = join(fx.root, "push-config.json");
  writeFileSync(cfg, JSON.stringify(authReg.dockerConfig()));
  execFileSync(HELM4, ["push", fx.tgz, `oci://${authReg.host}/team/charts`, "--ca-file", authReg.caFile!], { env: { ...helmEnv, HELM_REGISTRY_CONFIG: cfg }, stdio: "pipe" });
}, 60_000);

afterAll(async () => {
  await Promise.all([repo?.stop(), reg?.stop(), authReg?.stop()]);
  fx?.cleanup();
});

describe("HTTP chart repository", () => {
  test("--repo-url + --chart-url ALIAS/CHART + --chart-version, basic auth via --password-stdin, -o json", async () => {
    const r = await run(["--repo-url", repo.url, "--chart-url", "myrepo/app", "--chart-version", "1.2.3", "-u", USER, "--password-stdin", "--helm", HELM3, "-o", "json"], { input: PASS + "\n" });
    expect(r.stderr).toContain("16 image(s) (14 required, 2 possible: found by the static scan only, mirrored when the source has them; see --why) in chart app 1.2.3: rendered with helm v3.17.3");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.images.map((i: any) => i.image)).toEqual(EXPECTED_RENDERED);
    const digest = "sha256:" + new Bun.CryptoHasher("sha256").update(readFileSync(fx.tgz)).digest("hex");
    expect(out.chart).toEqual({ name: "app", version: "1.2.3", appVersion: "2.4.0", source: { kind: "repo", ref: `${repo.url}/app:1.2.3`, url: `${repo.url}/charts/app-1.2.3.tgz`, digest } });
    expect(out.render).toMatchObject({ rendered: true, helm: HELM3, helmVersion: "v3.17.3" });
    expect(repo.requests.filter((q) => q.path === "/charts/app-1.2.3.tgz" && q.authorized).length).toBeGreaterThan(0);
  });

  test("latest stable by default, constraints pick older versions (tag from that version's appVersion)", async () => {
    const latest = await run(["--repo-url", repo.url, "app", "-u", USER, "--password-stdin", "--no-render", "-o", "json"], { input: PASS });
    expect(latest.code).toBe(0);
    expect(JSON.parse(latest.stdout).chart.version).toBe("1.2.3");
    const old = await run(["--repo-url", repo.url, "--chart-url", "x/app", "--chart-version", "~1.1", "-u", USER, "--password-stdin", "--no-render", "-o", "json"], { input: PASS });
    const out = JSON.parse(old.stdout);
    expect(out.chart.version).toBe("1.1.0");
    expect(out.images.map((i: any) => i.image)).toContain("registry.example.com/acme/app:2.3.0");
    const devel = await run(["--repo-url", repo.url, "app", "--devel", "-u", USER, "--password-stdin", "--no-render", "-o", "json"], { input: PASS });
    expect(JSON.parse(devel.stdout).chart.version).toBe("1.3.0-rc.1");
  });

  test("wrong or missing credentials, unknown chart or version: one line, non-zero, no secret", async () => {
    const noAuth = await run(["--repo-url", repo.url, "--chart-url", "myrepo/app", "--no-render"]);
    expect(noAuth.code).toBe(1);
    expect(noAuth.stderr.trim().split("\n")).toEqual([`error: GET ${repo.url}/index.yaml: HTTP 401 (the chart source needs a credential: give -u/--password-stdin (or --src-username/--src-password-stdin), --cred-file or the repository's repositories.yaml entry (helm repo add --username))`]);
    const bad = await run(["--repo-url", repo.url, "--chart-url", "myrepo/app", "-u", USER, "-p", "wrong-password-x", "--no-render", "--debug"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr + bad.stdout).not.toContain("wrong-password-x");
    const missing = await run(["--repo-url", repo.url, "--chart-url", "myrepo/nope", "-u", USER, "--password-stdin", "--no-render"], { input: PASS });
    expect(missing.stderr.trim()).toBe(`error: chart "nope" not found in ${repo.url}/index.yaml (the repository has: app)`);
    const nover = await run(["--repo-url", repo.url, "--chart-url", "myrepo/app", "--chart-version", "9.9.9", "-u", USER, "--password-stdin", "--no-render"], { input: PASS });
    expect(nover.stderr.trim()).toBe(`error: chart "app" has no version matching "9.9.9" in ${repo.url}/index.yaml (available: 1.1.0, 1.2.3, 1.3.0-rc.1)`);
  });

  test("a digest that does not match the index is refused", async () => {
    const evil = await startChartRepo({ charts: [fx.tgz], badDigestFor: "app-1.2.3.tgz" });
    try {
      const r = await run(["--repo-url", evil.url, "--chart-url", "r/app", "--no-render"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error: .*app-1\.2\.3\.tgz: digest mismatch \(index says 0{64}, downloaded sha256:[0-9a-f]{64}\)/);
    } finally {
      await evil.stop();
    }
  });
});

describe("OCI registry", () => {
  test("oci:// chart pulled with the OCI core (latest stable tag), rendered with helm 4", async () => {
    const r = await run([`oci://${reg.host}/charts/app`, ...caArgs(reg), "--helm", HELM4, "-o", "yaml"]);
    expect(r.stderr).toContain("rendered with helm v4.1");
    expect(r.code).toBe(0);
    const out = parse(r.stdout);
    expect(out.images.map((i: any) => i.image)).toEqual(EXPECTED_RENDERED);
    expect(out.chart.source.kind).toBe("oci");
    expect(out.chart.source.ref).toBe(`oci://${reg.host}/charts/app:1.2.3`);
    expect(out.chart.source.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  test("--chart-version constraint picks among the tags; prerelease tag with --devel", async () => {
    const old = await run([`oci://${reg.host}/charts/app`, "--chart-version", "~1.1", ...caArgs(reg), "--no-render", "-o", "json"]);
    expect(old.code).toBe(0);
    const out = JSON.parse(old.stdout);
    expect([out.chart.version, out.chart.source.ref]).toEqual(["1.1.0", `oci://${reg.host}/charts/app:1.1.0`]);
    expect(out.images.map((i: any) => i.image)).toContain("registry.example.com/acme/app:2.3.0");
    const devel = await run([`oci://${reg.host}/charts/app`, "--devel", ...caArgs(reg), "--no-render", "-o", "json"]);
    expect(JSON.parse(devel.stdout).chart.version).toBe("1.3.0-rc.1");
    const none = await run([`oci://${reg.host}/charts/app`, "--chart-version", "^7", ...caArgs(reg), "--no-render"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(`error: oci://${reg.host}/charts/app: no tag matches version "^7" (tags: 1.1.0, 1.2.3, 1.3.0-rc.1)\n`);
  });

  test("registry credentials from --password-stdin; refused without them", async () => {
    const ok = await run([`oci://${authReg.host}/team/charts/app`, "--chart-version", "1.2.3", ...caArgs(authReg), "--helm", HELM3, "-u", authReg.username, "--password-stdin", "-o", "json"], { input: authReg.password });
    expect(ok.stderr).toContain("rendered with helm v3.17");
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).images.length).toBe(EXPECTED_RENDERED.length);
    const denied = await run([`oci://${authReg.host}/team/charts/app`, "--chart-version", "1.2.3", ...caArgs(authReg), "--no-render"]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr.trim().split("\n")).toHaveLength(1);
    expect(denied.stderr).toStartWith(`error: authentication to ${authReg.host} failed`);
  });

  test("oci:// works without helm (static sources only)", async () => {
    const r = await run([`oci://${reg.host}/charts/app`, "--chart-version", "1.2.3", ...caArgs(reg), "-o", "json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).images.map((i: any) => i.image)).toEqual(EXPECTED_STATIC);
    expect(r.stderr).toContain("NOT rendered (no helm binary found");
  });

  test("library: without registry options oci:// charts are pulled with helm (credentials via a private registry config)", async () => {
    // helm 4: helm 3.17 cannot reach a TLS registry on loopback
    const c = await loadChart({ chart: `oci://${authReg.host}/team/charts/app`, version: "1.2.3", caFile: authReg.caFile, helm: HELM4, username: authReg.username, password: authReg.password, env: env() });
    try {
      expect([c.name, c.version, c.source.kind, c.source.ref]).toEqual(["app", "1.2.3", "oci", `oci://${authReg.host}/team/charts/app:1.2.3`]);
      expect(c.source.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(readFileSync(join(c.dir, "Chart.yaml"), "utf8")).toContain("name: app");
    } finally {
      await c.cleanup();
    }
    await expect(loadChart({ chart: `oci://${reg.host}/charts/app`, caFile: reg.caFile, env: { PATH: "/usr/bin:/bin" } })).rejects.toThrow(
      `pulling oci://${reg.host}/charts/app needs helm: no helm binary found (use --helm PATH, $HELM_BIN or put helm on PATH)`,
    );
  });
});

describe("local chart, output and mapping", () => {
  test("table by default; no helm → static sources, and stderr says so", async () => {
    const r = await run([fx.tgz]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^IMAGE\s+KIND\s+SOURCES$/);
    // not rendered: nothing tells a guess from a rendered image, so every image is required (as before)
    expect(lines.slice(1).every((l) => l.split(/\s+/)[1] === "required")).toBe(true);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(EXPECTED_STATIC);
    expect(lines.find((l) => l.startsWith("docker.io/library/busybox:1.36"))).toMatch(/values init\.image$/);
    expect(r.stderr).toContain("warning: 15 image(s) in chart app 1.2.3: NOT rendered (no helm binary found");
    expect(r.stderr).toContain("static sources only");
  });

  test("--why explains one image; unknown image is an error", async () => {
    const r = await run([fx.dir, "--helm", HELM3, "--release-name", "rel", "--why", "quay.io/acme/db:15.4"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('quay.io/acme/db:15.4\n  required: rendered by helm template (or listed in helm.sh/images, or given with --image)\n  env              app/templates/operator.yaml  Deployment/rel-operator  spec.template.spec.containers[0].env[1].value  RELATED_IMAGE_DB  = "quay.io/acme/db:15.4"\n');
    const none = await run([fx.dir, "--no-render", "--why", "quay.io/acme/data:1.0"]);
    expect(none.code).toBe(1);
    expect(none.stderr).toEndWith("error: quay.io/acme/data:1.0: not among the 15 images of app 1.2.3 (the chart was not rendered; try with helm available)\n");
    const ex = await run([fx.dir, "--no-render", "--exclude-image", "quay.io/acme/*", "--why", "quay.io/acme/db:15.4"]);
    expect(ex.stderr).toEndWith("(it was excluded by --exclude-image quay.io/acme/*)\n");
  });

  test("--dest maps every image (PaletteAI layout), prints and writes the map; --registry-map overrides", async () => {
    const mapFile = join(fx.root, "map-out.yaml");
    const r = await run([fx.dir, "--helm", HELM3, "--dest", "zot.local:30003", "--map-out", mapFile, "-o", "json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const byImg = Object.fromEntries(out.images.map((i: any) => [i.image, i.destination]));
    expect(byImg["docker.io/library/busybox:1.36"]).toBe("zot.local:30003/images/library/busybox:1.36");
    expect(byImg["registry.example.com/acme/app:2.4.0"]).toBe("zot.local:30003/images/acme/app:2.4.0");
    expect(out.registryMap.length).toBe(new Set(EXPECTED_RENDERED.map((i) => i.replace(/[:@].*$/, "").replace(/:[^/]*$/, ""))).size);
    const written = parse(readFileSync(mapFile, "utf8"));
    expect(written["quay.io/acme/db"]).toBe("zot.local:30003/images/acme/db");
    expect(Object.keys(written).length).toBe(out.registryMap.length);

    const custom = join(fx.root, "custom-map.txt");
    writeFileSync(custom, "docker.io/bitnami=harbor.corp/bitnami-mirror\nquay.io/acme harbor.corp/acme\n");
    const m = await run([fx.dir, "--no-render", "--dest", "harbor.corp/proj", "--dest-mode", "keep-host", "--registry-map", custom]);
    expect(m.code).toBe(0);
    const rows = m.stdout.trimEnd().split("\n");
    expect(rows[0]).toMatch(/^IMAGE\s+KIND\s+DESTINATION\s+SOURCES$/);
    const dest = Object.fromEntries(rows.slice(1).map((l) => l.split(/\s+/)).map(([image, , destination]) => [image, destination]));
    expect(dest["docker.io/bitnami/redis:7.2.5"]).toBe("harbor.corp/bitnami-mirror/redis:7.2.5");
    expect(dest["quay.io/acme/worker:1.10"]).toBe("harbor.corp/acme/worker:1.10");
    expect(dest["ghcr.io/acme/extra-tool:1.0"]).toBe("harbor.corp/proj/images/ghcr.io/acme/extra-tool:1.0");

    // the written map feeds back in and yields the same destinations
    const again = await run([fx.dir, "--helm", HELM3, "--registry-map", mapFile, "-o", "json"]);
    expect(JSON.parse(again.stdout).images.map((i: any) => i.destination)).toEqual(out.images.map((i: any) => i.destination));
  });

  test("flag mistakes: one line, exit 2", async () => {
    const a = await run([fx.dir, "--dest", "zot.local", "--dest-mode", "sideways"]);
    expect([a.code, a.stderr]).toEqual([2, "error: --dest-mode sideways: must be one of strip-host, keep-host, flat\n"]);
    const b = await run([fx.dir, "-o", "table"]);
    expect([b.code, b.stderr]).toEqual([2, 'error: unsupported output format "table" for "kubectl mirror images": use json, yaml, name, wide, jsonpath=TEMPLATE\n']);
    const c = await run([fx.dir, "--dest", "zot.local", "--dest-mode", "flat", "--no-render", "--image", "ghcr.io/other/worker:1"]);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/would both be mirrored to zot\.local\/images\/worker \(use --dest-mode strip-host or keep-host/);
    const d = await run([]);
    expect([d.code, d.stderr.trim()]).toEqual([1, "error: no chart given (pass a chart folder, .tgz, oci:// reference, or --repo-url with --chart-url)"]);
  });
});
