// Chart.yaml bytes as vela writes them. vela's MakeChartCompatible calls Helm's chartutil.SaveChartfile, which is
// sigs.k8s.io/yaml.Marshal (go-yaml v2). `helm package` writes the Chart.yaml of every package through the same
// yaml.Marshal(c.Metadata) (chartutil.Save), so real Helm 3.17 and 4.1 (Go binaries) are the oracle here: a
// chart whose Chart.yaml holds tricky metadata is packaged by helm, and the Chart.yaml inside helm's archive must
// equal ours byte for byte. What Helm cannot show (it replaces line breaks and tabs in strings when it loads a
// chart, Metadata.Validate's sanitizeString) is checked against output derived by hand from go-yaml v2's emitter rules.
import { afterAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chartYamlText, type ChartMetadata } from "../../shared/helm/chart.ts";
import { addonChartYaml } from "../../plugins/helm-addon-push/lib/addon.ts";
import { tempDir } from "./fixtures.ts";
import { HELM, run } from "./helpers.ts";

const root = tempDir("ka-chartyaml-");
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function helmWrites(helm: string, m: ChartMetadata): Promise<string> {
  const dir = join(root, `${helm.includes("helm4") ? "h4" : "h3"}-${Math.random().toString(36).slice(2)}`, String(m.name));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "Chart.yaml"), JSON.stringify(m)); // JSON is YAML: nothing of our writer in the input
  const out = join(dir, "..", "out");
  const r = await run(helm, ["package", dir, "-d", out], { env: { HELM_CONFIG_HOME: root, HELM_CACHE_HOME: root, HELM_DATA_HOME: root } });
  expect(r.code).toBe(0);
  return execFileSync("tar", ["-xzOf", join(out, `${m.name}-${m.version}.tgz`), `${m.name}/Chart.yaml`], { encoding: "utf8" });
}

const LONG = "Extended workload to do continuous and progressive delivery with a description long enough to be folded twice by the emitter at its eighty column best width, like a real addon's";

const CASES: ChartMetadata[] = [
  // the vela mapping of a catalog-like addon: annotations starting with an indicator ('>=' → single quotes), a long description folded
  { apiVersion: "v2", name: "fluxcd", version: "1.2.0", appVersion: "1.2.0", description: LONG, icon: "https://raw.githubusercontent.com/fluxcd/flux/master/docs/_files/weave-flux.png", home: "https://fluxcd.io", keywords: ["extended_workload", "gitops", "only_example"], type: "library", annotations: { "system.vela": ">=1.5.0-beta.3", "system.kubernetes": ">=1.19", "addon.name": "fluxcd" } },
  // strings that would read back as other types are double-quoted; those that cannot be plain are single-quoted
  { apiVersion: "v2", name: "quoting", version: "0.1.0", appVersion: "1.0", description: "a: b # not a comment", keywords: ["yes", "on", "~", "null", "1e3", "0x1F", "2001-12-14", "1:20", "*star", "&anchor", "!tag", "- dash", "it's", "x #y", "ünïcødé", "%pct", "@at", "`tick", "[x]", "{y}", "|pipe", ">gt", "?q", "-", "ok-dash", "true story"], annotations: { "1": "one", yes: "y", "a b": "c" } },
  // folding: single-quoted and plain long strings, a word longer than the line, several spaces in a row
  { apiVersion: "v2", name: "folding", version: "0.2.0", description: `'${"quoted words ".repeat(12)}end'`, home: `https://example.com/${"x".repeat(100)}`, keywords: [`${"word ".repeat(20)}end`, `many    spaces ${"between words ".repeat(8)}`], sources: ["https://a.example.com", "https://b.example.com"] },
  // maintainers (a list of maps in a mapping), deprecated, kubeVersion with an indicator (helm package refuses
  // dependencies missing from charts/, so those are not shown here)
  { apiVersion: "v2", name: "nested", version: "1.0.0-rc.1+build.5", kubeVersion: ">=1.22.0-0", deprecated: true, maintainers: [{ name: "Jane Doe", email: "jane@example.com", url: "https://jane.example.com" }, { name: "x" }] },
];

describe("Chart.yaml bytes = sigs.k8s.io/yaml (go-yaml v2)", () => {
  for (const m of CASES) {
    test(`${m.name}: equals what helm 3 and 4 write (yaml.Marshal of chart.Metadata)`, async () => {
      const ours = chartYamlText(m);
      for (const helm of [HELM.helm3, HELM.helm4]) expect(ours).toBe(await helmWrites(helm, m));
    });
  }

  test("the vela mapping of an addon, byte for byte", () => {
    // derived by hand from go-yaml v2: keys sorted; '>=' starts with an indicator → single quotes; the description is
    // folded at the first space after column 80, its continuation indented 2; the list is not indented under its key
    expect(addonChartYaml({ name: "fluxcd", version: "1.2.0", description: LONG, icon: "https://fluxcd.io/icon.png", url: "https://fluxcd.io", tags: ["gitops", "yes"], system: { vela: ">=1.5.0", kubernetes: ">=1.19" } })).toBe(
      [
        "annotations:",
        "  addon.name: fluxcd",
        "  system.kubernetes: '>=1.19'",
        "  system.vela: '>=1.5.0'",
        "apiVersion: v2",
        "appVersion: 1.2.0",
        "description: Extended workload to do continuous and progressive delivery with a description",
        "  long enough to be folded twice by the emitter at its eighty column best width, like",
        "  a real addon's",
        "home: https://fluxcd.io",
        "icon: https://fluxcd.io/icon.png",
        "keywords:",
        "- gitops",
        '- "yes"',
        "name: fluxcd",
        "type: library",
        "version: 1.2.0",
        "",
      ].join("\n"),
    );
  });

  test("what Helm sanitizes away but vela writes as is: line breaks (literal blocks) and tabs (double quotes)", () => {
    // encode.go stringv: a string with "\n" is LITERAL style; chomping from the trailing breaks (|- none, | one, |+ more);
    // emitterc.go analyze_scalar: a tab or a space before a break forbids plain and single quotes → double quotes with escapes
    expect(chartYamlText({ apiVersion: "v2", name: "a", version: "1.0.0", description: "line one\n\nline three" })).toBe("apiVersion: v2\ndescription: |-\n  line one\n\n  line three\nname: a\nversion: 1.0.0\n");
    expect(chartYamlText({ apiVersion: "v2", name: "a", version: "1.0.0", description: "ends with a break\n" })).toBe("apiVersion: v2\ndescription: |\n  ends with a break\nname: a\nversion: 1.0.0\n");
    expect(chartYamlText({ apiVersion: "v2", name: "a", version: "1.0.0", description: "a\tb", home: "trailing space \nnext" })).toBe('apiVersion: v2\ndescription: "a\\tb"\nhome: "trailing space \\nnext"\nname: a\nversion: 1.0.0\n');
    expect(chartYamlText({ apiVersion: "v2", name: "a", version: "1.0.0", description: " leading space" })).toBe("apiVersion: v2\ndescription: ' leading space'\nname: a\nversion: 1.0.0\n");
  });
});
