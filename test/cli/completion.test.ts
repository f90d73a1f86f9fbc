// Shell completion (issue 15 point 3): `__complete` on cobra's protocol, `completion bash|zsh|fish|powershell`,
// kubectl's kubectl_complete-<plugin> helper run by the REAL kubectl (1.33), and Helm's plugin.complete run by the
// REAL Helm 3.17 and 4.1 (plugin installed from this checkout). Contexts come from the kubeconfig, namespaces
// from a fake API server. (test/ship/krew-install.test.ts does the same against the krew-installed binaries.)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { kubectlCompleteName, kubectlCompleteScript } from "../../scripts/package.ts";
import { BUN, HELM3, HELM4, KUBECTL, ROOT, runCli } from "../support/cli.ts";
import { startFakeApiServer, type FakeApiServer } from "../support/kube-apiserver.ts";

let dir: string;
let bin: string;
let api: FakeApiServer;
let kubeconfig: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ka-complete-"));
  bin = join(dir, "bin");
  mkdirSync(bin);
  // the plugins from source as kubectl would find them on PATH, with the completion helpers the archives ship
  for (const [plugin, name] of [["kubectl-violet", "violet"], ["kubectl-mirror", "mirror"], ["kubectl-scar", "scar"]] as const) {
    writeFileSync(join(bin, plugin), `#!/bin/sh\nexec ${BUN} ${join(ROOT, "plugins", plugin, "main.ts")} "$@"\n`);
    writeFileSync(join(bin, kubectlCompleteName(plugin)), kubectlCompleteScript(plugin));
    for (const f of [plugin, `kubectl_complete-${name}`]) chmodSync(join(bin, f), 0o755);
  }
  api = await startFakeApiServer({ namespaces: ["apps", "cpaas-system", "zot-system"] });
  // the fake's kubeconfig plus a second context
  const kc = parse(readFileSync(api.kubeconfig("admin"), "utf8"));
  kc.contexts.push({ name: "prod-eu", context: { ...kc.contexts[0].context } });
  kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, stringify(kc));
  mkdirSync(join(dir, "pkgs"));
  writeFileSync(join(dir, "pkgs", "topolvm.v2.3.0.tgz"), "x");
});
afterAll(async () => {
  await api?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const env = () => ({ PATH: `${bin}:/usr/bin:/bin`, HOME: dir, KUBECONFIG: kubeconfig, NO_COLOR: "1" });

// asynchronous: the fake API server answers from this process while kubectl runs
async function kubectl(args: string[]): Promise<{ out: string[]; directive: string }> {
  const p = Bun.spawn([KUBECTL, "__complete", ...args], { env: env(), cwd: join(dir, "pkgs"), stdout: "pipe", stderr: "pipe" });
  const lines = (await new Response(p.stdout).text()).trim().split("\n");
  await p.exited;
  return { out: lines.slice(0, -1).map((l) => l.split("\t")[0]!), directive: lines[lines.length - 1]! };
}

describe("kubectl __complete through kubectl_complete-<plugin>", () => {
  test("subcommands, flags and flag values", async () => {
    expect(await kubectl(["violet", "pu"])).toEqual({ out: ["push"], directive: ":4" });
    expect((await kubectl(["violet", ""])).out).toEqual(expect.arrayContaining(["create", "package", "push", "gc", "completion"]));
    expect((await kubectl(["violet", "push", "x", "--dry"])).out).toEqual(["--dry-run"]);
    expect((await kubectl(["violet", "gc", "--dry-run="])).out).toEqual(["--dry-run=none", "--dry-run=client", "--dry-run=server"]);
    expect((await kubectl(["mirror", "images", "x", "-o", ""])).out).toEqual(["json", "yaml", "name", "wide", "jsonpath="]);
    expect((await kubectl(["scar", "status", "--output=y"])).out).toEqual(["--output=yaml"]);
    expect((await kubectl(["violet", "completion", ""])).out).toEqual(["bash", "zsh", "fish", "powershell"]);
  });

  test("contexts from the kubeconfig, namespaces from the API server", async () => {
    expect(await kubectl(["violet", "whoami", "--context", ""])).toEqual({ out: ["fake", "prod-eu"], directive: ":4" });
    expect((await kubectl(["violet", "whoami", "--context=pr"])).out).toEqual(["--context=prod-eu"]);
    expect((await kubectl(["mirror", "copy-ca", "zot-system/zot-ca", "-n", ""])).out).toEqual(["apps", "cpaas-system", "default", "kube-public", "kube-system", "zot-system"]);
    expect((await kubectl(["mirror", "copy-ca", "x", "--namespace", "z"])).out).toEqual(["zot-system"]);
  });

  test("local files where a command takes paths (directive 0: the shell completes files)", async () => {
    expect((await kubectl(["violet", "show", ""])).directive).toBe(":0");
    expect((await kubectl(["violet", "push", "x", "--keyring", ""])).directive).toBe(":0");
    // and not where a value is no path
    expect(await kubectl(["violet", "gc", "--clusters", ""])).toEqual({ out: [], directive: ":4" });
  });
});

describe("completion SHELL scripts", () => {
  test("bash: the script completes through __complete in a real bash", () => {
    const script = spawnSync(BUN, [join(ROOT, "plugins/kubectl-violet/main.ts"), "completion", "bash"], { encoding: "utf8" }).stdout;
    writeFileSync(join(dir, "violet.bash"), script);
    const run = (words: string) => {
      const r = spawnSync("bash", ["-c", `source ${join(dir, "violet.bash")}; COMP_WORDS=(${words}); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); __kubectl_violet_complete; printf '%s\\n' "\${COMPREPLY[@]}"`], { env: env(), encoding: "utf8" });
      return r.stdout.trim().split("\n");
    };
    expect(run("kubectl-violet pu")).toEqual(["push"]);
    expect(run("kubectl-violet gc --dry-run=s")).toEqual(["--dry-run=server"]);
  });

  test.each(["bash", "zsh", "fish", "powershell"])("%s script is printed for each plugin", async (shell) => {
    for (const plugin of ["kubectl-violet", "kubectl-mirror", "kubectl-scar", "helm-addon-push"]) {
      const r = await runCli(plugin, ["completion", shell]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`${plugin} __complete`.replace(`${plugin} __complete`, "__complete"));
      expect(r.stdout).toContain(plugin);
      if (shell === "bash") expect(spawnSync("bash", ["-n"], { input: r.stdout }).status).toBe(0);
    }
  });

  test("an unknown shell is a usage error", async () => {
    const r = await runCli("kubectl-mirror", ["completion", "tcsh"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown shell "tcsh"');
  });
});

describe("Helm plugin completion (plugin.complete)", () => {
  for (const [label, helm] of [["Helm 3.17", HELM3], ["Helm 4.1", HELM4]] as const) {
    test(`${label}: helm __complete addon-push …`, () => {
      const home = join(dir, `helm-${label.replace(/\W/g, "")}`);
      const henv = { ...env(), HELM_CONFIG_HOME: join(home, "c"), HELM_CACHE_HOME: join(home, "ca"), HELM_DATA_HOME: join(home, "d") };
      const inst = spawnSync(helm, ["plugin", "install", join(ROOT, "plugins/helm-addon-push")], { env: henv, encoding: "utf8" });
      expect(inst.status).toBe(0);
      const c = (args: string[]) => spawnSync(helm, ["__complete", "addon-push", ...args], { env: henv, encoding: "utf8" }).stdout.trim().split("\n");
      expect(c(["./x", "--sk"])).toEqual(["--skip-existing\tTreat a version that already exists as success (no overwrite)", ":4"]);
      expect(c(["pack"])[0]).toMatch(/^package\t/);
      // SOURCE… REPO: files (directive 0) before anything is typed and while no repository is known
      expect(c([""])).toEqual([":0"]);
      expect(c(["./x", ""])).toEqual([":0"]);
      // after a source, the repositories of repositories.yaml (not for what looks like a path)
      const add = spawnSync(helm, ["repo", "add", "localcm", "http://127.0.0.1:1", "--force-update"], { env: henv, encoding: "utf8" });
      const repos = join(henv.HELM_CONFIG_HOME, "repositories.yaml");
      if (add.status !== 0) writeFileSync(repos, "apiVersion: v1\nrepositories:\n- name: localcm\n  url: http://127.0.0.1:1\n");
      expect(c(["./x", "loc"])).toEqual(["localcm", ":4"]);
      expect(c(["./x", ""])).toEqual(["localcm", ":4"]);
      expect(c(["./x", "./ad"])).toEqual([":0"]);
      expect(c(["package", "./x", ""])).toEqual([":0"]); // package takes no repository
      expect(c(["package", "./x", "--dependency-u"])[0]).toMatch(/^--dependency-update\t/);
    });
  }
});
