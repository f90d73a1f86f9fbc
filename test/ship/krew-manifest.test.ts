// krew manifest rules (scripts/krew.ts validateManifest) on the real templates and on broken manifests:
// each krew rule has a manifest that breaks exactly it, so a validator that stops checking fails here.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, stringify } from "yaml";
import { PLUGINS, projectVersion, TARGETS, targetInfo } from "../../scripts/build.ts";
import { archiveName } from "../../scripts/package.ts";
import { krewTemplates, matchPlatform, renderKrewManifests, renderTemplate, selectorMatches, SUPPORTED_PLATFORMS, validateManifest, type KrewManifest } from "../../scripts/krew.ts";
import { tempDir } from "./support.ts";

const sha = (c: string) => c.repeat(64);
let dir: string;
let valid: KrewManifest;

function renderFake(template: string): string {
  const artifacts: Record<string, { uri: string; sha256: string }> = {};
  TARGETS.forEach((t, i) => (artifacts[t] = { uri: `https://example.com/dl/v1.2.3/x-${t}.tar.gz`, sha256: sha("0123456789"[i]!) }));
  return renderTemplate(template, { version: "v1.2.3", homepage: "https://example.com/kube-airgap", artifacts });
}

beforeAll(() => {
  dir = tempDir("ka-krew-manifest-");
  valid = parseYaml(renderFake(readFileSync(krewTemplates().get("violet")!, "utf8")));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("templates", () => {
  test("one template per kubectl plugin, each renders to a valid manifest for all five targets", () => {
    const names = [...krewTemplates().keys()];
    expect(names.sort()).toEqual(Object.values(PLUGINS).filter((p) => p.kind === "kubectl").map((p) => p.krewName!).sort());
    for (const [name, file] of krewTemplates()) {
      const text = renderFake(readFileSync(file, "utf8"));
      expect(validateManifest(text, `${name}.yaml`)).toEqual([]);
      const m = parseYaml(text) as KrewManifest;
      expect(m.metadata?.name).toBe(name);
      expect(m.spec!.shortDescription!.length).toBeLessThanOrEqual(50);
      // every release target is offered, with the right binary name
      for (const t of TARGETS) {
        const { os, arch, exe } = targetInfo(t);
        const p = matchPlatform(m, os, arch);
        expect(p?.uri).toBe(`https://example.com/dl/v1.2.3/x-${t}.tar.gz`);
        expect(p?.bin).toBe(`kubectl-${name}${exe}`);
        expect(p?.files?.some((f) => f.from === "LICENSE")).toBe(true);
      }
      expect(matchPlatform(m, "linux", "ppc64le")).toBeUndefined();
    }
  });

  test("a placeholder without an archive, an unknown placeholder or target fails to render", () => {
    const tmpl = readFileSync(krewTemplates().get("mirror")!, "utf8");
    expect(() => renderTemplate(tmpl, { version: "v1.2.3", homepage: "https://x", artifacts: {} })).toThrow(/no archive for linux-x64/);
    expect(() => renderTemplate("a: {{nope}}", { version: "v1", homepage: "h", artifacts: {} })).toThrow(/unknown placeholder \{\{nope\}\}/);
    expect(() => renderTemplate("a: {{uri solaris-x64}}", { version: "v1", homepage: "h", artifacts: {} })).toThrow(/unknown target "solaris-x64"/);
  });

  test("renderKrewManifests reads the .sha256 files of a release dir, writes validated manifests", () => {
    const rel = join(dir, "release");
    mkdirSync(rel, { recursive: true });
    const version = projectVersion();
    const shas: Record<string, string> = {};
    for (const t of ["linux-x64", "darwin-arm64"] as const) {
      const a = archiveName("kubectl-scar", version, t);
      shas[t] = (t === "linux-x64" ? "ab" : "cd").repeat(32);
      writeFileSync(join(rel, `${a}.sha256`), `${shas[t]}  ${a}\n`);
    }
    const out = join(dir, "krew");
    // a partial release without allowMissing is an error naming the missing target
    expect(() => renderKrewManifests({ releaseDir: rel, outDir: out, names: ["scar"], baseUrl: "https://dl.example/v" })).toThrow(/no archive for linux-arm64/);
    const [file] = renderKrewManifests({ releaseDir: rel, outDir: out, names: ["scar"], baseUrl: "https://dl.example/v/", allowMissing: true });
    const text = readFileSync(file!, "utf8");
    expect(validateManifest(text, file!)).toEqual([]);
    const m = parseYaml(text) as KrewManifest;
    expect(m.spec?.version).toBe(`v${version}`);
    expect(m.spec?.platforms?.length).toBe(2);
    expect(matchPlatform(m, "linux", "amd64")).toMatchObject({ uri: `https://dl.example/v/${archiveName("kubectl-scar", version, "linux-x64")}`, sha256: shas["linux-x64"] });
    expect(matchPlatform(m, "darwin", "arm64")?.sha256).toBe(shas["darwin-arm64"]!);
    expect(matchPlatform(m, "windows", "amd64")).toBeUndefined();
    // an uppercase or malformed .sha256 file is refused
    const a = archiveName("kubectl-scar", version, "linux-x64");
    writeFileSync(join(rel, `${a}.sha256`), `${"AB".repeat(32)}  ${a}\n`);
    expect(() => renderKrewManifests({ releaseDir: rel, outDir: out, names: ["scar"], allowMissing: true })).toThrow(/expected "<lowercase sha256>/);
  });
});

describe("validation rules", () => {
  function problems(mutate: (m: any) => void, file = "violet.yaml"): string[] {
    const m = structuredClone(valid) as any;
    mutate(m);
    return validateManifest(stringify(m), file);
  }

  test("the unmodified manifest is valid", () => {
    expect(problems(() => {})).toEqual([]);
  });

  const cases: [string, (m: any) => void, RegExp, string?][] = [
    ["file extension .yml", () => {}, /extension must be \.yaml/, "violet.yml"],
    ["name differs from the file name", (m) => (m.metadata.name = "violets"), /must equal the file name/],
    ["name with a dot", (m) => (m.metadata.name = "vio.let"), /must match/, "vio.let.yaml"],
    ["reserved Windows name", (m) => (m.metadata.name = "con"), /reserved Windows device name/, "con.yaml"],
    ["apiVersion", (m) => (m.apiVersion = "krew.googlecontainertools.github.com/v1alpha1"), /apiVersion must be/],
    ["kind", (m) => (m.kind = "Plugins"), /kind must be Plugin/],
    ["version without v", (m) => (m.spec.version = "1.2.3"), /must start with "v"/],
    ["version not semver", (m) => (m.spec.version = "v1.2"), /not a semantic version/],
    ["version with leading zero", (m) => (m.spec.version = "v1.02.3"), /not a semantic version/],
    ["missing shortDescription", (m) => delete m.spec.shortDescription, /shortDescription is required/],
    ["multi-line shortDescription", (m) => (m.spec.shortDescription = "a\nb"), /single line/],
    ["shortDescription over 50", (m) => (m.spec.shortDescription = "x".repeat(51)), /51 characters/],
    ["missing description", (m) => delete m.spec.description, /description is required/],
    ["no platforms", (m) => (m.spec.platforms = []), /at least one platform/],
    ["uppercase sha256", (m) => (m.spec.platforms[0].sha256 = "AB".repeat(32)), /64 lowercase hex/],
    ["short sha256", (m) => (m.spec.platforms[0].sha256 = "ab"), /64 lowercase hex/],
    ["missing uri", (m) => delete m.spec.platforms[0].uri, /uri is required/],
    ["missing bin", (m) => delete m.spec.platforms[0].bin, /bin is required/],
    ["windows bin without .exe", (m) => (m.spec.platforms[4].bin = "kubectl-violet", m.spec.platforms[4].files[0].from = "kubectl-violet"), /must end in \.exe/],
    ["empty files", (m) => (m.spec.platforms[0].files = []), /files is present but empty/],
    ["files op without to", (m) => delete m.spec.platforms[0].files[0].to, /needs both from and to/],
    ["LICENSE filtered out", (m) => m.spec.platforms[0].files.pop(), /LICENSE/],
    ["bin not copied", (m) => (m.spec.platforms[0].bin = "other"), /not copied by any files entry/],
    ["missing selector", (m) => delete m.spec.platforms[0].selector, /selector is required/],
    ["empty selector", (m) => (m.spec.platforms[0].selector = {}), /selector is empty/],
    ["empty matchLabels", (m) => (m.spec.platforms[0].selector = { matchLabels: {} }), /present but empty/],
    ["selector key other than os/arch", (m) => (m.spec.platforms[0].selector.matchLabels.distro = "debian"), /"distro" is not allowed/],
    ["unsupported os/arch", (m) => (m.spec.platforms[0].selector.matchLabels = { os: "solaris", arch: "amd64" }), /matches no supported/],
    ["overlapping selectors", (m) => (m.spec.platforms[1].selector = { matchLabels: { os: "linux" } }), /linux\/amd64 is already matched by spec\.platforms\[0\]/],
    ["bad operator", (m) => (m.spec.platforms[0].selector = { matchExpressions: [{ key: "os", operator: "Like", values: ["linux"] }] }), /operator "Like" is invalid/],
  ];
  for (const [label, mutate, re, file] of cases) {
    test(label, () => {
      const p = problems(mutate, file);
      expect(p.join("\n")).toMatch(re);
    });
  }

  test("duplicate keys and non-YAML are refused", () => {
    expect(validateManifest("apiVersion: a\napiVersion: b\n", "x.yaml").join()).toMatch(/YAML/);
    expect(validateManifest("- just\n- a list\n", "x.yaml").length).toBeGreaterThan(0);
  });
});

describe("label selectors", () => {
  test("matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist)", () => {
    expect(selectorMatches({ matchLabels: { os: "linux" } }, { os: "linux", arch: "arm64" })).toBe(true);
    expect(selectorMatches({ matchLabels: { os: "linux", arch: "amd64" } }, { os: "linux", arch: "arm64" })).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: "os", operator: "In", values: ["darwin", "linux"] }] }, { os: "darwin", arch: "amd64" })).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: "os", operator: "NotIn", values: ["windows"] }] }, { os: "windows", arch: "amd64" })).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: "arch", operator: "Exists" }] }, { os: "linux", arch: "arm" })).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: "arch", operator: "DoesNotExist" }] }, { os: "linux", arch: "arm" })).toBe(false);
    expect(SUPPORTED_PLATFORMS.filter((p) => selectorMatches({ matchExpressions: [{ key: "os", operator: "In", values: ["darwin", "linux"] }] }, p)).length).toBe(8);
  });
});
