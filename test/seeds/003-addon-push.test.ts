// Seed 003 (/work/shared/seeds/003_35c907f42413e46e.txt, KubeVela "构建你的 Registry"), run literally with
// `vela addon push|package` → `helm addon-push [package]` and `vela addon registry add/list` → `helm repo add/list`,
// against a ChartMuseum-compatible server with basic auth over TLS (private CA). Every command runs in a real
// shell with `helm` (3.17, the plugin installed from this checkout) first on PATH, in the folders the document
// uses; then the document's own checks (`vela addon list` → `helm repo update` + `helm search repo localcm`)
// and a `helm pull` of each pushed chart with Helm 3.17 and 4.1.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { startChartMuseum, type ChartMuseumServer } from "../support/chartmuseum.ts";
import { startChartRepo, type ChartRepo } from "../support/chart-repo.ts";
import { createCA, type TestCA } from "../support/pki.ts";
import { HELM3, HELM4, ROOT } from "../support/cli.ts";
import { tempDir, writeTree } from "../addon-push/fixtures.ts";

const USER = "cm-admin";
const PASS = "Seed003-cm-Pass!";
let root: string;
let ca: TestCA;
let cm: ChartMuseumServer;
let dexidp: ChartRepo;
let env: Record<string, string>;

/** Run one shell snippet from the document, like a user at a prompt (bash, `helm` on PATH). */
function sh(script: string, cwd: string, extraEnv: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", script], { cwd, env: { ...env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** An addon laid out like `vela addon init NAME` (the document's tree), with the given metadata. */
function velaAddonInit(parent: string, name: string, version = "1.0.0", description = "An addon for KubeVela.", extra: Record<string, string> = {}): string {
  const dir = join(parent, name);
  writeTree(dir, {
    "metadata.yaml": `name: ${name}\nversion: ${version}\ndescription: ${description}\nicon: ""\nurl: ""\ntags: []\ndeployTo:\n  runtimeCluster: false\ndependencies: []\ninvisible: false\n`,
    "readme.md": `# ${name}\n\nThis is an addon template. Check how to build your own addon: https://kubevela.net/docs/platform-engineers/addon/intro\n`,
    "template.yaml": `apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: ${name}\n  namespace: vela-system\nspec:\n  components: []\n`,
    "resources/.gitkeep": "",
    "definitions/.gitkeep": "",
    "schemas/.gitkeep": "",
    ...extra,
  });
  return dir;
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

beforeAll(async () => {
  root = tempDir("ka-seed003-");
  mkdirSync(join(root, "pki"));
  ca = createCA(join(root, "pki"));
  const server = ca.server("chartmuseum");
  cm = await startChartMuseum({ basicAuth: { username: USER, password: PASS }, tls: { cert: server.cert, key: server.key } });
  // `helm` on PATH is Helm 3.17; the plugin is installed from this checkout (its launcher runs the sources)
  const bin = join(root, "bin");
  mkdirSync(bin);
  symlinkSync(HELM3, join(bin, "helm"));
  const home = join(root, "home");
  mkdirSync(home);
  env = {
    PATH: `${bin}:/usr/bin:/bin`,
    HOME: home,
    NO_COLOR: "1",
    HELM_CONFIG_HOME: join(home, ".config/helm"),
    HELM_CACHE_HOME: join(home, ".cache/helm"),
    HELM_DATA_HOME: join(home, ".local/share/helm"),
  };
  const inst = await sh(`helm plugin install ${join(ROOT, "plugins/helm-addon-push")}`, root);
  expect(inst.code).toBe(0);
  // the document's upstream chart repo (https://charts.dexidp.io) stands in as a local repo holding dex 0.6.5
  mkdirSync(join(root, "upstream"));
  execFileSync(HELM3, ["create", join(root, "upstream", "dex")], { env, stdio: "pipe" });
  execFileSync(HELM3, ["package", join(root, "upstream", "dex"), "--version", "0.6.5", "-d", join(root, "upstream")], { env, stdio: "pipe" });
  dexidp = await startChartRepo({ charts: [join(root, "upstream", "dex-0.6.5.tgz")] });
}, 60_000);

afterAll(async () => {
  await Promise.all([cm?.stop(), dexidp?.stop()]);
  rmSync(root, { recursive: true, force: true });
});

describe("seed 003: build and push to your own ChartMuseum registry", () => {
  let work: string;
  let url: string;

  test("vela addon registry add localcm --type helm … (--username/--password) → helm repo add localcm", async () => {
    work = join(root, "work");
    mkdirSync(work);
    url = cm.url;
    const add = await sh(`helm repo add localcm ${url} --ca-file ${ca.cert} --username ${USER} --password '${PASS}'`, work);
    expect(add.stderr).toBe("");
    expect(add.stdout).toContain(`"localcm" has been added to your repositories`);
    // vela addon registry list → helm repo list
    const list = await sh("helm repo list", work);
    expect(list.stdout).toMatch(new RegExp(`^localcm\\s+${url.replace(/[.]/g, "\\.")}\\s*$`, "m"));
  });

  test("vela addon init sample-addon; vela addon package sample-addon → sample-addon-1.0.0.tgz", async () => {
    velaAddonInit(work, "sample-addon");
    const r = await sh("helm addon-push package sample-addon", work);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Successfully packaged sample-addon to: ${join(work, "sample-addon-1.0.0.tgz")}\n`);
    expect(existsSync(join(work, "sample-addon-1.0.0.tgz"))).toBe(true);
  });

  test("vela addon push sample-addon localcm (packaged on the fly)", async () => {
    const r = await sh("helm addon-push sample-addon localcm", work);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("Pushing sample-addon-1.0.0.tgz to localcm... Done.\n");
    const stored = cm.get("sample-addon", "1.0.0")!;
    expect(stored.metadata).toMatchObject({ name: "sample-addon", version: "1.0.0", description: "An addon for KubeVela.", type: "library" });
    // basic auth over TLS on every request
    expect(cm.requests.filter((q) => q.method === "POST").every((q) => q.authorization?.startsWith("Basic "))).toBe(true);
  });

  test("vela addon push sample-addon-1.0.0.tgz <URL> -f: by URL, -f needed because the version exists", async () => {
    // a URL needs no `repo add`: the credentials and the CA come from helm's HELM_REPO_* variables
    const creds = { HELM_REPO_USERNAME: USER, HELM_REPO_PASSWORD: PASS, HELM_REPO_CA_FILE: ca.cert };
    const without = await sh(`helm addon-push sample-addon-1.0.0.tgz ${url}`, work, creds);
    expect(without.code).toBe(1);
    expect(without.stderr).toContain("already exists");
    expect(without.stderr).not.toContain(PASS);
    const r = await sh(`helm addon-push sample-addon-1.0.0.tgz ${url} -f`, work, creds);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`Pushing sample-addon-1.0.0.tgz to ${url}... Done.\n`);
    expect(cm.get("sample-addon", "1.0.0")!.digest).toBe(sha256(readFileSync(join(work, "sample-addon-1.0.0.tgz"))));
  });

  const CATALOG: [string, string][] = [["cert-manager", "1.7.1"], ["chartmuseum", "4.0.0"], ["cloudshell", "0.2.0"], ["fluxcd", "2.3.0"], ["velaux", "1.9.4"]];

  test("offline catalog: cat resources/parameter.cue | grep image; vela addon push chartmuseum localcm; then the for loop", async () => {
    const addons = join(root, "catalog", "addons");
    for (const [name, version] of CATALOG) {
      velaAddonInit(addons, name, version, `${name} addon`, name === "chartmuseum" ? { "resources/parameter.cue": `parameter: {\n\t// +usage=ChartMuseum image\n\timage: *"ghcr.io/helm/chartmuseum:v0.15.0" | string\n}\n` } : {});
    }
    const cat = await sh(`cat resources/parameter.cue | grep "image"`, join(addons, "chartmuseum"));
    expect(cat.stdout).toContain(`image: *"ghcr.io/helm/chartmuseum:v0.15.0" | string`);

    const one = await sh("helm addon-push chartmuseum localcm", addons);
    expect(one.stderr).toBe("");
    expect(one.stdout).toBe("Pushing chartmuseum-4.0.0.tgz to localcm... Done.\n");

    // the document's loop, verbatim but for the tool name (chartmuseum is pushed again: -f)
    const loop = await sh("for i in *; do \\\n    helm addon-push $i localcm -f; \\\ndone;", addons);
    expect(loop.stderr).toBe("");
    expect(loop.code).toBe(0);
    expect(loop.stdout).toBe(CATALOG.map(([n, v]) => `Pushing ${n}-${v}.tgz to localcm... Done.\n`).join(""));
    for (const [n, v] of CATALOG) expect(cm.get(n, v)?.metadata.description).toBe(`${n} addon`);
  }, 60_000);

  test("sync a Helm chart: helm repo add dexidp …; helm pull dexidp/dex --version 0.6.5; vela addon push dex-0.6.5.tgz localcm", async () => {
    expect((await sh(`helm repo add dexidp ${dexidp.url}`, work)).code).toBe(0);
    const pull = await sh("helm pull dexidp/dex --version 0.6.5", work);
    expect(pull.code).toBe(0);
    expect(existsSync(join(work, "dex-0.6.5.tgz"))).toBe(true);
    const r = await sh("helm addon-push dex-0.6.5.tgz localcm", work);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("Pushing dex-0.6.5.tgz to localcm... Done.\n");
    // an unchanged .tgz is uploaded byte for byte
    expect(cm.get("dex", "0.6.5")!.digest).toBe(sha256(readFileSync(join(work, "dex-0.6.5.tgz"))));
  });

  test("validation: helm repo update; helm search repo localcm; helm pull of each (Helm 3.17 and 4.1)", async () => {
    const pushed: [string, string][] = [["sample-addon", "1.0.0"], ...CATALOG, ["dex", "0.6.5"]];
    expect((await sh("helm repo update", work)).code).toBe(0);
    const search = await sh("helm search repo localcm", work);
    expect(search.code).toBe(0);
    const rows = search.stdout.trim().split("\n").slice(1).map((l) => l.split(/\t|\s{2,}/).map((c) => c.trim()));
    expect(rows.map((r) => `${r[0]} ${r[1]}`).sort()).toEqual(pushed.map(([n, v]) => `localcm/${n} ${v}`).sort());
    expect(search.stdout).toMatch(/localcm\/sample-addon\s+1\.0\.0\s+1\.0\.0\s+An addon for KubeVela\./);

    // Helm 4.1 in its own home, same server
    const h4home = join(root, "home4");
    mkdirSync(h4home);
    const h4 = { HOME: h4home, HELM_CONFIG_HOME: join(h4home, "cfg"), HELM_CACHE_HOME: join(h4home, "cache"), HELM_DATA_HOME: join(h4home, "data") };
    expect((await sh(`${HELM4} repo add localcm ${url} --ca-file ${ca.cert} --username ${USER} --password '${PASS}'`, work, h4)).code).toBe(0);
    for (const [label, helm, extra] of [["helm3", "helm", {}], ["helm4", HELM4, h4]] as const) {
      const dest = join(root, `pulled-${label}`);
      mkdirSync(dest);
      for (const [n, v] of pushed) {
        const p = await sh(`${helm} pull localcm/${n} --version ${v} -d ${dest}`, work, extra);
        expect({ chart: n, helm: label, code: p.code, err: p.stderr }).toEqual({ chart: n, helm: label, code: 0, err: "" });
        const bytes = readFileSync(join(dest, `${n}-${v}.tgz`));
        expect(sha256(bytes)).toBe(cm.get(n, v)!.digest);
      }
    }
    // what vela reads back from the index: the addon entries keep their description and library type
    const index = parseYaml(readFileSync(join(env.HELM_CACHE_HOME!, "repository", "localcm-index.yaml"), "utf8"));
    expect(index.entries["sample-addon"][0]).toMatchObject({ version: "1.0.0", type: "library", description: "An addon for KubeVela." });
  }, 90_000);
});
