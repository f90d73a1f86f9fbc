// The whole KubeVela catalog (../shared/corpus/vela-catalog-d439627.tar.gz: kubevela/catalog addons/ and
// experimental/addons/, 90 addons) pushed with the real CLI, in one run per target, into
//   - the ChartMuseum stand-in (strict: Helm's LoadArchive + Metadata.Validate on every upload), with a context path,
//     one level of multitenancy and --bearer-auth (a JWT with push on the tenant), and
//   - the real registry (distribution 2.8, TLS + htpasswd) as oci://.
// The set that pushes must be the set `vela addon push` can push. vela's verdict per addon is derived from vela's own
// rules (kubevela pkg/addon/utils.go IsAddonDir + MakeChartCompatible, then Helm's loader.LoadDir/Metadata.Validate),
// evaluated here by PyYAML (a libyaml-family reader, like go-yaml: independent of the code under test), and
// must equal the list below, written out with the reason for each exclusion.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { parseGoYaml } from "../../shared/helm/goyaml.ts";
import { chartMuseumBearerToken, startChartMuseum, type ChartMuseumServer } from "../support/chartmuseum.ts";
import { velaCatalog } from "../support/corpus.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { cli, helmEnv } from "./helpers.ts";

setDefaultTimeout(120_000);

/** What vela refuses, and why (kubevela pkg/addon/utils.go and Helm's chart validation, read in their source). */
const VELA_REFUSES: Record<string, { why: string; ours: RegExp }> = {
  // IsAddonDir: `no template.yaml or template.cue exists in directory` (these addons ship resources/ or definitions only)
  "addons/vegeta": { why: "no template.yaml or template.cue", ours: /no template\.yaml or template\.cue exists/ },
  "addons/o11y-definitions": { why: "no template.yaml or template.cue", ours: /no template\.yaml or template\.cue exists/ },
  "experimental/addons/envoy-gateway": { why: "no template.yaml or template.cue", ours: /no template\.yaml or template\.cue exists/ },
  "experimental/addons/vector-config": { why: "no template.yaml or template.cue", ours: /no template\.yaml or template\.cue exists/ },
  "experimental/addons/canary-rollout-istio": { why: "no template.yaml or template.cue", ours: /no template\.yaml or template\.cue exists/ },
  // MakeChartCompatible writes Chart.yaml version v1beta2-1.3.8-3.1.1; Helm's loader then refuses it
  // (Metadata.Validate: Masterminds semver.NewVersion fails → `validation: chart.metadata.version "…" is invalid`)
  "experimental/addons/spark-kubernetes-operator": { why: "version v1beta2-1.3.8-3.1.1 is not semver", ours: /version "v1beta2-1\.3\.8-3\.1\.1" in metadata\.yaml is not valid semver/ },
};

/**
 * vela's verdict for every addon dir, from vela's rules, with PyYAML: metadata.yaml parses with a name and a version;
 * template.cue (preferred) contains "output", else template.yaml parses to a mapping (it is unmarshalled into an
 * Application: apiVersion/kind unchecked); the version passes Masterminds semver (Helm's Metadata.Validate).
 */
const VELA_RULES_PY = String.raw`
import json, os, re, sys, yaml
root = sys.argv[1]
SEMVER = re.compile(r'^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$')
out = {}
for base in ("addons", "experimental/addons"):
    for name in sorted(os.listdir(os.path.join(root, base))):
        d = os.path.join(root, base, name)
        if not os.path.isdir(d):
            continue
        rel = base + "/" + name
        def verdict():
            try:
                meta = yaml.safe_load(open(os.path.join(d, "metadata.yaml"))) or {}
            except FileNotFoundError:
                return "no metadata.yaml"
            if not meta.get("name"): return "addon name is empty"
            if not meta.get("version"): return "addon version is empty"
            cue, yml = os.path.join(d, "template.cue"), os.path.join(d, "template.yaml")
            if os.path.exists(cue):
                if "output" not in open(cue).read(): return "no output field in template.cue"
            elif os.path.exists(yml):
                t = yaml.safe_load(open(yml))
                if t is None: return "template missing"
                if not isinstance(t, dict): return "template.yaml is not a map"
            else:
                return "no template.yaml or template.cue"
            if not SEMVER.match(str(meta["version"])): return "version %s is not semver" % meta["version"]
            return "ok"
        out[rel] = verdict()
print(json.dumps(out))
`;

let root: string;
let cm: ChartMuseumServer;
let reg: TestRegistry;
let token: string;
let addonDirs: string[];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "ka-catalog-"));
  execFileSync("tar", ["-xzf", velaCatalog(), "-C", root]);
  addonDirs = ["addons", "experimental/addons"].flatMap((b) =>
    readdirSync(join(root, b))
      .filter((n) => statSync(join(root, b, n)).isDirectory())
      .map((n) => `${b}/${n}`),
  );
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  [cm, reg] = await Promise.all([startChartMuseum({ contextPath: "/helm/v1", depth: 1, bearerAuth: { publicKeyPem, realm: "https://auth.example.com/oauth2/token", service: "chartmuseum" } }), startRegistry()]);
  token = chartMuseumBearerToken(privateKey.export({ type: "pkcs8", format: "pem" }).toString(), [{ name: "vela", actions: ["pull", "push"] }]);
});

afterAll(async () => {
  await Promise.all([cm?.stop(), reg?.stop()]);
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("the KubeVela catalog (90 addons)", () => {
  test("vela's verdicts, from vela's rules (PyYAML), are the exclusions listed here", () => {
    expect(addonDirs).toHaveLength(90);
    const verdicts = JSON.parse(execFileSync("python3", ["-c", VELA_RULES_PY, root], { encoding: "utf8" })) as Record<string, string>;
    expect(Object.keys(verdicts).sort()).toEqual([...addonDirs].sort());
    const refused = Object.fromEntries(Object.entries(verdicts).filter(([, v]) => v !== "ok"));
    expect(refused).toEqual(Object.fromEntries(Object.entries(VELA_REFUSES).map(([k, v]) => [k, v.why])));
  });

  test("ocm-gateway-manager-addon's template.yaml (quoted strings continued at the key's indentation) reads as go-yaml/libyaml read it", () => {
    const file = join(root, "addons/ocm-gateway-manager-addon/template.yaml");
    const ours = parseGoYaml(readFileSync(file, "utf8"), "template.yaml").toJS();
    const py = JSON.parse(execFileSync("python3", ["-c", "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1])), default=str))", file], { encoding: "utf8", maxBuffer: 1 << 26 }));
    expect(ours).toEqual(py);
    // the strict reading refuses it (this is what made the addon fail before)
    expect(() => parseYaml(readFileSync(file, "utf8"))).toThrow();
  });

  test("into the strict ChartMuseum (context path, tenant, bearer token) and the OCI registry: exactly vela's set pushes", async () => {
    const env = helmEnv(join(root, "helm"));
    const sources = addonDirs.map((d) => join(root, d));
    const [toCm, toOci] = await Promise.all([
      cli([...sources, `${cm.url}/vela`, "--access-token", token, "--concurrency", "16", "-o", "json"], { env, timeoutMs: 110_000 }),
      cli([...sources, `oci://${reg.host}/addons`, "--ca-file", reg.caFile!, "-u", reg.username, "--password-stdin", "--concurrency", "16", "-o", "json"], { env, stdin: reg.password, timeoutMs: 110_000 }),
    ]);
    const expectedOk = addonDirs.filter((d) => !(d in VELA_REFUSES)).sort();
    for (const [name, r] of [["chartmuseum", toCm], ["oci", toOci]] as const) {
      const results = (JSON.parse(r.stdout) as { items: { source: string; status: string; chart?: string; version?: string; error?: string }[] }).items;
      expect(results).toHaveLength(90);
      const rel = (s: string) => s.slice(root.length + 1);
      const pushed = results.filter((x) => x.status === "pushed").map((x) => rel(x.source)).sort();
      if (JSON.stringify(pushed) !== JSON.stringify(expectedOk)) console.error(name, results.filter((x) => x.status !== "pushed"));
      expect(pushed).toEqual(expectedOk);
      for (const x of results.filter((x) => x.status !== "pushed")) {
        expect(x.status).toBe("failed");
        expect(x.error).toMatch(VELA_REFUSES[rel(x.source)]!.ours);
      }
      expect(r.code).toBe(1); // 6 of 90 failed
      expect(r.stderr).toContain(`6 of 90 pushes to`);
    }
    // ChartMuseum stored each pushed addon under the tenant, as its own loader read it (name and version of metadata.yaml)
    const stored = cm.charts("vela").map((c) => `${c.name}@${c.version}`).sort();
    const want = expectedOk.map((d) => {
      const m = parseGoYaml(readFileSync(join(root, d, "metadata.yaml"), "utf8"), "metadata.yaml").toJS();
      return `${m.name}@${m.version}`;
    });
    expect(stored).toEqual(want.sort());
    expect(cm.charts("")).toHaveLength(0);
    // every upload carried the bearer token; none reached the API without it
    expect(cm.requests.filter((q) => q.method === "POST").every((q) => q.authorization === `Bearer ${token}` && q.path === "/helm/v1/api/vela/charts" && q.status === 201)).toBe(true);
    // the registry holds one repository per pushed addon
    const cat = await fetch(`${reg.url}/v2/_catalog?n=1000`, { headers: { authorization: `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString("base64")}` }, tls: { ca: readFileSync(reg.caFile!, "utf8") } } as RequestInit);
    const repos = ((await cat.json()) as { repositories: string[] }).repositories.filter((x) => x.startsWith("addons/"));
    expect(repos.sort()).toEqual(want.map((w) => `addons/${w.split("@")[0]}`).sort());
  });
});
