// Packaging: vela's metadata.yaml → Chart.yaml mapping, addon validation, helm-package archive layout,
// .helmignore, the streaming tar writer/reader, .tgz inputs, and the `package` command.
import { afterAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseTarGzip } from "nanotar";
import { parse as parseYaml } from "yaml";
import { HelmIgnore } from "../../shared/helm/ignore.ts";
import { collect, gunzipFile, readTar, tarGzipStream, writeStreamToFile } from "../../shared/helm/tar.ts";
import { contextPathFromIndex } from "../../shared/helm/config.ts";
import { readChartArchive } from "../../shared/helm/chart.ts";
import { prepareChart } from "../../plugins/helm-addon-push/lib/package.ts";
import { APP_TEMPLATE, makeAddon, makeChart, tempDir, writeTree } from "./fixtures.ts";
import { cli, HELM, run } from "./helpers.ts";

const dirs: string[] = [];
function tmp(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function entries(tgz: string) {
  return parseTarGzip(readFileSync(tgz));
}

describe("vela metadata.yaml → Chart.yaml", () => {
  test("maps every field like vela (v2, appVersion=version, home=url, keywords=tags, library, annotations)", async () => {
    const d = tmp();
    const addon = makeAddon(d);
    const meta = parseYaml(readFileSync(join(addon, "metadata.yaml"), "utf8"));
    const p = await prepareChart(addon, join(d, "out"));
    const items = await entries(p.file);
    expect(items[0]!.name).toBe("fluxcd/Chart.yaml");
    const text = new TextDecoder().decode(items[0]!.data);
    const chart = parseYaml(text);
    expect(chart).toEqual({
      apiVersion: "v2",
      name: meta.name,
      version: meta.version,
      appVersion: meta.version,
      description: meta.description,
      icon: meta.icon,
      home: meta.url,
      keywords: meta.tags,
      type: "library",
      annotations: { "system.vela": meta.system.vela, "system.kubernetes": meta.system.kubernetes, "addon.name": meta.name },
    });
    // sigs.k8s.io/yaml order (alphabetical top-level keys), no unmapped fields
    const keys = text.split("\n").filter((l) => /^[a-zA-Z]/.test(l)).map((l) => l.split(":")[0]);
    expect(keys).toEqual([...keys].sort());
    expect(text).not.toContain("dependencies");
    expect(text).not.toContain("deployTo");
  });

  test("only addon.name when system requirements are absent; exact version text kept", async () => {
    const d = tmp();
    const addon = makeAddon(d, "tiny", { metadata: "name: tiny\nversion: 1.10\n" });
    const p = await prepareChart(addon, join(d, "out"));
    const chart = parseYaml(new TextDecoder().decode((await entries(p.file))[0]!.data));
    expect(chart.version).toBe("1.10");
    expect(chart.appVersion).toBe("1.10");
    expect(chart.annotations).toEqual({ "addon.name": "tiny" });
    expect(chart.description).toBeUndefined();
    expect(p.file.endsWith("tiny-1.10.tgz")).toBe(true);
  });

  test("never writes Chart.yaml into the addon dir", async () => {
    const d = tmp();
    const addon = makeAddon(d);
    const before = readdirSync(addon).sort();
    await prepareChart(addon, join(d, "out"));
    expect(readdirSync(addon).sort()).toEqual(before);
    expect(existsSync(join(addon, "Chart.yaml"))).toBe(false);
  });

  test("--keep-chartmeta uses the dir's Chart.yaml; --version/--app-version override", async () => {
    const d = tmp();
    const addon = makeAddon(d, "kept", { extra: { "Chart.yaml": "apiVersion: v2\nname: kept\nversion: 9.9.9\ndescription: own\n" } });
    const kept = await prepareChart(addon, join(d, "a"), { keepChartmeta: true });
    expect(kept.metadata.version).toBe("9.9.9");
    expect(kept.metadata.description).toBe("own");
    const gen = await prepareChart(addon, join(d, "b"));
    expect(gen.metadata.version).toBe("1.2.0");
    expect(gen.metadata.type).toBe("library");
    const over = await prepareChart(addon, join(d, "c"), { version: "1.3.0-rc.1", appVersion: "7" });
    const chart = parseYaml(new TextDecoder().decode((await entries(over.file))[0]!.data));
    expect([chart.version, chart.appVersion]).toEqual(["1.3.0-rc.1", "7"]);
  });
});

describe("addon validation", () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ["no metadata.yaml or Chart.yaml", { "README.md": "x", "template.cue": "output: {}" }, /is not an addon dir or a chart dir: no metadata\.yaml/],
    ["no template", { "metadata.yaml": "name: a\nversion: 1.0.0\n", "resources/x.cue": "x: 1" }, /is not an addon dir: no template\.yaml or template\.cue exists/],
    ["bad semver", { "metadata.yaml": "name: a\nversion: one\n", "template.cue": "output: {}" }, /version "one" in metadata\.yaml is not valid semver/],
    ["empty name", { "metadata.yaml": "version: 1.0.0\n", "template.cue": "output: {}" }, /addon name is empty/],
    ["empty version", { "metadata.yaml": "name: a\n", "template.cue": "output: {}" }, /addon version is empty/],
    ["template.cue without output", { "metadata.yaml": "name: a\nversion: 1.0.0\n", "template.cue": "x: {}" }, /no output field in template\.cue/],
    // vela unmarshals template.yaml into a v1beta1.Application: a list (or a scalar) does not fit; apiVersion/kind are not checked
    ["template.yaml not a map", { "metadata.yaml": "name: a\nversion: 1.0.0\n", "template.yaml": "- kind: Application\n" }, /template\.yaml: cannot unmarshal array into a KubeVela Application/],
    ["template.yaml empty", { "metadata.yaml": "name: a\nversion: 1.0.0\n", "template.yaml": "# nothing\n" }, /template \(template\.yaml\) missing/],
    ["template.yaml not YAML", { "metadata.yaml": "name: a\nversion: 1.0.0\n", "template.yaml": "apiVersion: v1\nspec:\n  components: [a\n  b: c: d\n" }, /is not an addon dir: template\.yaml: YAML error at 4:\d+: /],
    ["metadata.yaml not YAML", { "metadata.yaml": "name: [a\n", "template.cue": "output: {}" }, /metadata\.yaml: YAML error at 2:1: /],
  ];
  for (const [name, files, re] of cases) {
    test(name, async () => {
      const d = tmp();
      const dir = writeTree(join(d, "x"), files);
      await expect(prepareChart(dir, join(d, "out"))).rejects.toThrow(re);
    });
  }
  test("template.yaml of another kind is accepted, as vela accepts it (it only unmarshals it into an Application)", async () => {
    const d = tmp();
    const dir = writeTree(join(d, "z"), { "metadata.yaml": "name: z\nversion: 0.1.0\n", "template.yaml": "kind: ConfigMap\n" });
    expect((await prepareChart(dir, join(d, "out"))).metadata.name).toBe("z");
  });
  test("template.yaml Application is accepted", async () => {
    const d = tmp();
    const dir = writeTree(join(d, "y"), { "metadata.yaml": "name: y\nversion: 0.1.0\n", "template.yaml": APP_TEMPLATE });
    expect((await prepareChart(dir, join(d, "out"))).metadata.name).toBe("y");
  });
});

describe("archive layout like helm package", () => {
  test("<name>/ prefix, files only, 0644, Chart.yaml first, .helmignore honoured", async () => {
    const d = tmp();
    const addon = makeAddon(d, "fluxcd", { extra: { ".helmignore": "# comment\n*.bak\nviews/\n!keep.bak\n", "x.bak": "b", "keep.bak": "k", "resources/deep/a.yaml": "a: 1" } });
    const p = await prepareChart(addon, join(d, "out"));
    const items = await entries(p.file);
    const names = items.map((i) => i.name);
    expect(names[0]).toBe("fluxcd/Chart.yaml");
    expect(names.every((n) => n.startsWith("fluxcd/"))).toBe(true);
    expect(items.every((i) => i.type === "file")).toBe(true);
    expect(items.every((i) => i.attrs?.mode === "0000644")).toBe(true);
    expect(names.sort()).toEqual(
      ["Chart.yaml", ".helmignore", "README.md", "definitions/helm.cue", "keep.bak", "metadata.yaml", "parameter.cue", "resources/deep/a.yaml", "resources/flux.cue", "template.cue"]
        .map((n) => `fluxcd/${n}`)
        .sort(),
    );
    // file contents are carried byte for byte
    const readme = items.find((i) => i.name === "fluxcd/README.md")!;
    expect(new TextDecoder().decode(readme.data)).toBe(readFileSync(join(addon, "README.md"), "utf8"));
  });

  test("the same files as real `helm package`: .git/, .DS_Store, files/payload.tgz and a stray .tgz are kept unless .helmignore says otherwise; each is named in a warning", async () => {
    const d = tmp();
    const payload = execFileSync("gzip", ["-c"], { input: "payload read with .Files.Get\n" });
    const files: Record<string, string | Uint8Array> = {
      ".git/HEAD": "ref: refs/heads/main\n",
      ".git/objects/ab/cdef": "x",
      ".DS_Store": "mac",
      "files/payload.tgz": payload,
      "web-0.2.0.tgz": "a package left here",
      "docs/notes.bak": "ignored by .helmignore",
      "docs/keep.md": "kept",
      "templates/.hidden": "helm's built-in rule",
      ".helmignore": "*.bak\n/secret/\n",
      "secret/key.txt": "ignored dir",
      "docs/bom.txt": "\ufeffa UTF-8 BOM, which Helm's loader drops\n",
    };
    const chart = makeChart(d, "web", "0.3.1");
    writeTree(chart, files);
    const p = await prepareChart(chart, join(d, "out"));
    const ours = (await entries(p.file)).map((i) => i.name).sort();
    const helmOut = join(d, "helm-out");
    const h = await run(HELM.helm3, ["package", chart, "-d", helmOut], { env: { HELM_CONFIG_HOME: d, HELM_CACHE_HOME: d, HELM_DATA_HOME: d } });
    expect(h.code).toBe(0);
    const theirs = execFileSync("tar", ["-tzf", join(helmOut, "web-0.3.1.tgz")], { encoding: "utf8" }).trim().split("\n").sort();
    expect(ours).toEqual(theirs);
    for (const f of ["web/.git/HEAD", "web/.DS_Store", "web/files/payload.tgz", "web/web-0.2.0.tgz"]) expect(ours).toContain(f);
    // file contents as helm packages them (a leading BOM dropped)
    const helmBom = execFileSync("tar", ["-xzOf", join(helmOut, "web-0.3.1.tgz"), "web/docs/bom.txt"]);
    expect(Buffer.from((await entries(p.file)).find((i) => i.name === "web/docs/bom.txt")!.data!).equals(helmBom)).toBe(true);
    expect(helmBom.toString()).toBe("a UTF-8 BOM, which Helm's loader drops\n");
    const payloadEntry = (await entries(p.file)).find((i) => i.name === "web/files/payload.tgz")!;
    expect(Buffer.compare(Buffer.from(payloadEntry.data!), payload)).toBe(0);
    expect(p.warnings).toEqual([
      `${chart}: packaging .git/ (2 files), as helm package does without a .helmignore rule; add ".git/" to .helmignore to leave it out`,
      `${chart}: packaging .DS_Store, as helm package does; add ".DS_Store" to .helmignore to leave it out`,
      `${chart}: packaging files/payload.tgz (an archive outside charts/), as helm package does; if it is a leftover package, add it to .helmignore`,
      `${chart}: packaging web-0.2.0.tgz (an archive outside charts/), as helm package does; if it is a leftover package, add it to .helmignore`,
    ]);
    // `package .` into the directory itself: its own work dir is never packaged
    const r = await cli(["package", "."], { cwd: chart });
    expect(r.code).toBe(0);
    const self = (await entries(join(chart, "web-0.3.1.tgz"))).map((i) => i.name);
    expect(self.filter((n) => n.includes(".addon-push-"))).toEqual([]);
    expect(r.stderr).toContain("warning: .: packaging .git/ (2 files)");
  });

  test("chart dir: templates/.hidden skipped, charts/*.tgz subcharts kept, real helm reads it", async () => {
    const d = tmp();
    const chart = makeChart(d, "web", "0.3.1", { "charts/sub-1.0.0.tgz": "subchart-bytes" });
    const p = await prepareChart(chart, join(d, "out"));
    const names = (await entries(p.file)).map((i) => i.name);
    expect(names).toContain("web/charts/sub-1.0.0.tgz");
    expect(names).not.toContain("web/templates/.hidden");
    expect(names.indexOf("web/values.yaml")).toBe(1);
    expect(names[names.length - 1]).toBe("web/charts/sub-1.0.0.tgz");
    // the dir's own Chart.yaml (with its comment) is kept byte for byte
    const cy = (await entries(p.file)).find((i) => i.name === "web/Chart.yaml")!;
    expect(new TextDecoder().decode(cy.data)).toBe(readFileSync(join(chart, "Chart.yaml"), "utf8"));
  });

  test("real helm 3 and 4 read the addon archive (show chart matches the mapping)", async () => {
    const d = tmp();
    const p = await prepareChart(makeAddon(d), join(d, "out"));
    for (const helm of [HELM.helm3, HELM.helm4]) {
      const r = await run(helm, ["show", "chart", p.file], { env: { HELM_CONFIG_HOME: d, HELM_CACHE_HOME: d, HELM_DATA_HOME: d } });
      expect(r.stderr).toBe("");
      const shown = parseYaml(r.stdout);
      expect(shown.name).toBe("fluxcd");
      expect(shown.type).toBe("library");
      expect(shown.annotations["system.vela"]).toBe(">=1.5.0-beta.3");
    }
  });

  test("long and non-ASCII paths survive (GNU tar and our reader agree)", async () => {
    const d = tmp();
    const long = `resources/${"a".repeat(60)}/${"b".repeat(60)}/${"c".repeat(90)}.yaml`;
    const longer = `resources/${"d".repeat(120)}.yaml`; // no split point fits: PAX path
    const uni = "resources/ünïcødé-ファイル.yaml";
    const addon = makeAddon(d, "paths", { extra: { [long]: "long", [longer]: "longer", [uni]: "uni" } });
    const p = await prepareChart(addon, join(d, "out"));
    const listed = execFileSync("tar", ["-tzf", p.file], { encoding: "utf8" }).trim().split("\n");
    for (const n of [long, longer, uni]) expect(listed).toContain(`paths/${n}`);
    const seen = new Map<string, string>();
    await readTar(gunzipFile(p.file), async (h, data) => {
      seen.set(h.name, new TextDecoder().decode(await collect(data)));
    });
    expect(seen.get(`paths/${long}`)).toBe("long");
    expect(seen.get(`paths/${longer}`)).toBe("longer");
    expect(seen.get(`paths/${uni}`)).toBe("uni");
  });

  test("large files stream through unchanged", async () => {
    const d = tmp();
    const big = randomBytes(6 * 1024 * 1024 + 123);
    const addon = makeAddon(d, "big", { extra: { "resources/blob.bin": big } });
    const p = await prepareChart(addon, join(d, "out"));
    let digest = "";
    await readTar(gunzipFile(p.file), async (h, data) => {
      if (!h.name.endsWith("blob.bin")) return;
      const hash = createHash("sha256");
      for await (const c of data) hash.update(c);
      digest = hash.digest("hex");
    });
    expect(digest).toBe(createHash("sha256").update(big).digest("hex"));
  });
});

describe(".tgz inputs", () => {
  test("used as is without overrides; repacked with --version (other files unchanged)", async () => {
    const d = tmp();
    const first = await prepareChart(makeChart(d), join(d, "out"));
    const same = await prepareChart(first.file, join(d, "again"));
    expect(same.generated).toBe(false);
    expect(same.file).toBe(first.file);
    const bumped = await prepareChart(first.file, join(d, "bumped"), { version: "0.4.0+build.7" });
    expect(bumped.generated).toBe(true);
    expect(bumped.file.endsWith("web-0.4.0+build.7.tgz")).toBe(true);
    const a = await entries(first.file);
    const b = await entries(bumped.file);
    expect(b.map((i) => i.name)).toEqual(a.map((i) => i.name));
    expect(parseYaml(new TextDecoder().decode(b[0]!.data)).version).toBe("0.4.0+build.7");
    for (let i = 1; i < a.length; i++) expect(Buffer.from(b[i]!.data!).equals(Buffer.from(a[i]!.data!))).toBe(true);
  });

  test("an old addon archive without Chart.yaml gets one generated from metadata.yaml", async () => {
    const d = tmp();
    const src = join(d, "legacy-addon.tgz");
    const meta = new TextEncoder().encode("name: legacy\nversion: 0.2.0\ntags: [a]\n");
    const tpl = new TextEncoder().encode("output: {}\n");
    await writeStreamToFile(tarGzipStream([{ name: "legacy/metadata.yaml", size: meta.length, data: meta }, { name: "legacy/template.cue", size: tpl.length, data: tpl }]), src);
    const p = await prepareChart(src, join(d, "out"));
    const info = await readChartArchive(p.file);
    expect(info.metadata).toMatchObject({ name: "legacy", version: "0.2.0", appVersion: "0.2.0", type: "library", keywords: ["a"] });
    expect((await entries(p.file)).map((i) => i.name).sort()).toEqual(["legacy/Chart.yaml", "legacy/metadata.yaml", "legacy/template.cue"]);
  });

  test("not a chart / not gzip → clear errors", async () => {
    const d = tmp();
    const noChart = join(d, "x.tgz");
    const f = new TextEncoder().encode("hi");
    await writeStreamToFile(tarGzipStream([{ name: "x/readme.txt", size: f.length, data: f }]), noChart);
    await expect(prepareChart(noChart, join(d, "o"))).rejects.toThrow(/Chart\.yaml file is missing/);
    const junk = join(d, "junk.tgz");
    writeFileSync(junk, "definitely not gzip");
    await expect(prepareChart(junk, join(d, "o"))).rejects.toThrow(/not a gzipped tar archive/);
    await expect(prepareChart(join(d, "missing.tgz"), join(d, "o"))).rejects.toThrow(/no such file or directory/);
  });
});

describe(".helmignore rules", () => {
  const ig = HelmIgnore.parse("*.swp\n/top.txt\ndocs/*.md\nbuild/\n!important.swp\n[ab]?.tmp\n");
  const cases: [string, boolean, boolean][] = [
    ["a.swp", false, true],
    ["sub/a.swp", false, true],
    ["important.swp", false, false],
    ["top.txt", false, true],
    ["sub/top.txt", false, false],
    ["docs/x.md", false, true],
    ["docs/deep/x.md", false, false],
    ["build", true, true],
    ["build", false, false],
    ["a1.tmp", false, true],
    ["c1.tmp", false, false],
  ];
  for (const [path, isDir, want] of cases) test(`${path}${isDir ? "/" : ""} → ${want ? "ignored" : "kept"}`, () => expect(ig.ignores(path, isDir)).toBe(want));
  test("** is rejected like Helm", () => expect(() => HelmIgnore.parse("a/**/b")).toThrow(/double-star/));
});

test("contextPathFromIndex reads serverInfo without parsing entries", () => {
  expect(contextPathFromIndex("apiVersion: v1\nentries:\n  a: []\nserverInfo:\n  contextPath: /helm/v1\n")).toBe("/helm/v1");
  expect(contextPathFromIndex('serverInfo: {contextPath: "/x"}\n')).toBe("/x");
  expect(contextPathFromIndex("apiVersion: v1\nentries: {}\n")).toBeUndefined();
});

describe("package command", () => {
  test("writes only <name>-<version>.tgz into -d OUTDIR", async () => {
    const d = tmp();
    const addon = makeAddon(d);
    const out = join(d, "dist");
    execFileSync("mkdir", ["-p", out]);
    const r = await cli(["package", addon, "-d", out]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(readdirSync(out)).toEqual(["fluxcd-1.2.0.tgz"]);
    expect(r.stdout).toContain(`Successfully packaged ${addon} to: ${join(out, "fluxcd-1.2.0.tgz")}`);
    const items = await entries(join(out, "fluxcd-1.2.0.tgz"));
    expect(items[0]!.name).toBe("fluxcd/Chart.yaml");
  });

  test("defaults to the current directory; -o json lists results; --dry-run writes nothing", async () => {
    const d = tmp();
    const addon = makeAddon(d, "one");
    const chart = makeChart(d, "two", "2.0.0");
    const cwd = join(d, "cwd");
    execFileSync("mkdir", ["-p", cwd]);
    const dry = await cli(["package", addon, chart, "--dry-run", "-o", "json"], { cwd });
    expect(dry.code).toBe(0);
    expect(readdirSync(cwd)).toEqual([]);
    const r = await cli(["package", addon, chart, "-o", "json"], { cwd });
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout).items;
    expect(res.map((x: any) => [x.chart, x.version])).toEqual([["one", "1.2.0"], ["two", "2.0.0"]]);
    expect(readdirSync(cwd).sort()).toEqual(["one-1.2.0.tgz", "two-2.0.0.tgz"]);
  });

  test("bad input → one error line, non-zero exit", async () => {
    const d = tmp();
    const notAddon = writeTree(join(d, "plain"), { "notes.txt": "x" });
    for (const args of [["package", notAddon], ["package", join(d, "missing")], ["package"], ["package", notAddon, "--bogus"]]) {
      const r = await cli(args, { cwd: d });
      expect(r.code).not.toBe(0);
      const lines = r.stderr.trim().split("\n");
      expect(lines.length).toBe(1);
      expect(lines[0]).toMatch(/^error: /);
    }
    expect(readdirSync(d).filter((f) => f.endsWith(".tgz"))).toEqual([]);
  });
});

describe("Ctrl-C", () => {
  test("package interrupted while packing: exit 130, no .addon-push-* work dir left in the output directory", async () => {
    const { spawn } = await import("node:child_process");
    const { BUN, MAIN } = await import("./helpers.ts");
    const parent = tmp();
    // a large incompressible file makes packing take a few seconds
    const addon = makeAddon(parent, "bigaddon", { version: "1.0.0", extra: { "resources/blob.bin": randomBytes(160 << 20) } });
    const out = join(parent, "out");
    execFileSync("mkdir", ["-p", out]);
    const child = spawn(BUN, [MAIN, "package", addon, "-d", out], { env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    for (let i = 0; i < 400 && !readdirSync(out).some((f) => f.startsWith(".addon-push-")); i++) await new Promise((r) => setTimeout(r, 25));
    expect(readdirSync(out).some((f) => f.startsWith(".addon-push-"))).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(stderr).toContain("temporary files removed");
    expect(readdirSync(out)).toEqual([]);
  }, 60_000);
});
