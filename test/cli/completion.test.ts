// Shell completion (issue 15 point 3): `__complete` on cobra's protocol, `completion bash|zsh|fish|powershell`,
// kubectl's kubectl_complete-<plugin> helper run by the REAL kubectl (1.33), and Helm's plugin.complete run by the
// REAL Helm 3.17 and 4.1 (plugin installed from this checkout). Contexts come from the kubeconfig, namespaces
// from a fake API server. (test/ship/krew-install.test.ts does the same against the krew-installed binaries.)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
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
  symlinkSync(KUBECTL, join(bin, "kubectl"));
  // stored registry credentials (login/logout complete these hosts)
  mkdirSync(join(dir, ".docker"));
  writeFileSync(join(dir, ".docker", "config.json"), JSON.stringify({ auths: { "zot.local:30003": { auth: "eDp5" }, "https://index.docker.io/v1/": { auth: "eDp5" } }, credHelpers: { "harbor.example.com": "pass" } }));
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
    expect((await kubectl(["violet", "gc", "--dry-run="])).out).toEqual(["none", "client", "server"]);
    expect((await kubectl(["mirror", "images", "x", "-o", ""])).out).toEqual(["json", "yaml", "name", "wide", "jsonpath="]);
    expect((await kubectl(["scar", "status", "--output=y"])).out).toEqual(["yaml"]);
    expect((await kubectl(["violet", "completion", ""])).out).toEqual(["bash", "zsh", "fish", "powershell"]);
  });

  test("contexts from the kubeconfig, namespaces from the API server", async () => {
    expect(await kubectl(["violet", "whoami", "--context", ""])).toEqual({ out: ["fake", "prod-eu"], directive: ":4" });
    expect((await kubectl(["violet", "whoami", "--context=pr"])).out).toEqual(["prod-eu"]);
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

/** Words as bash splits a command line (spaces, then COMP_WORDBREAKS' "=" and ":" as words of their own). */
function bashWords(line: string): string[] {
  const words = line.split(" ").flatMap((w) => w.split(/([=:])/).filter((x, i, a) => x !== "" || (i === a.length - 1 && a.length === 1)));
  return line.endsWith(" ") ? [...words.filter((w) => w !== ""), ""] : words;
}

/**
 * COMPREPLY of a REAL bash running a cobra completion script (kubectl's or helm's, with the bash-completion package
 * it expects), for `line` with the cursor at its end — what the user sees inserted after the word being completed.
 */
function bashComplete(script: string, start: string, line: string, extraEnv: Record<string, string> = {}): string[] {
  const words = bashWords(line);
  const q = (w: string) => `'${w.replace(/'/g, "'\\''")}'`;
  const prog = [
    "source /usr/share/bash-completion/bash_completion",
    `source ${script}`,
    `COMP_LINE=${q(line)}; COMP_POINT=\${#COMP_LINE}`,
    `COMP_WORDS=(${words.map(q).join(" ")}); COMP_CWORD=${words.length - 1}`,
    `${start} ${words[0]}`,
    `printf '%s\\n' "\${COMPREPLY[@]}"`,
  ].join("\n");
  const r = spawnSync("bash", ["-c", prog], { env: { ...env(), ...extraEnv }, cwd: join(dir, "pkgs"), encoding: "utf8" });
  return r.stdout.split("\n").filter((l) => l !== "");
}

describe("in a real bash with kubectl's completion script (issue 24.3)", () => {
  let script: string;
  beforeAll(() => {
    script = join(dir, "kubectl.bash");
    writeFileSync(script, spawnSync(KUBECTL, ["completion", "bash"], { encoding: "utf8" }).stdout);
  });
  const complete = (line: string) => bashComplete(script, "__start_kubectl", line);

  test("--output=<TAB> offers the values after the = (not --output=--output=json)", () => {
    expect(complete("kubectl mirror images ./c --output=")).toEqual(["json", "yaml", "name", "wide", "jsonpath="]);
    expect(complete("kubectl mirror images ./c --output=ya")).toEqual(["yaml"]);
    expect(complete("kubectl violet gc --dry-run=cl")).toEqual(["client"]);
    expect(complete("kubectl mirror images ./c -o ")).toEqual(["json", "yaml", "name", "wide", "jsonpath="]);
  });

  test("--platform values are offered", () => {
    expect(complete("kubectl mirror copy a b --platform linux/arm")).toEqual(["linux/arm64", "linux/arm/v7", "linux/arm/v6"]);
    expect(complete("kubectl mirror export ./c --platform=linux/s")).toEqual(["linux/s390x"]);
  });

  test("login/logout <TAB> offer the registries of docker config.json, not files", async () => {
    expect(complete("kubectl mirror login ")).toEqual(["docker.io", "harbor.example.com", "zot.local:30003"]);
    expect(complete("kubectl mirror logout zo")).toEqual(["zot.local:30003"]);
    expect((await kubectl(["mirror", "login", ""])).directive).toBe(":4");
  });

  test("push and export-pack complete files (directive 0); a command without arguments does not (4)", async () => {
    expect(await kubectl(["mirror", "push", ""])).toEqual({ out: [], directive: ":0" });
    expect(await kubectl(["mirror", "push", "a.tar", ""])).toEqual({ out: [], directive: ":0" });
    expect(await kubectl(["mirror", "export-pack", ""])).toEqual({ out: [], directive: ":0" });
    expect(await kubectl(["violet", "whoami", ""])).toEqual({ out: [], directive: ":4" });
    // and in bash the shell's file completion takes over: the package in the working directory
    expect(complete("kubectl mirror push topo")).toEqual([]);
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
    // as bash splits it (COMP_WORDBREAKS has "="): the script joins "--dry-run" "=" "s" and completes the value
    expect(run("kubectl-violet gc --dry-run = s")).toEqual(["server"]);
    expect(run("kubectl-violet gc --dry-run =")).toEqual(["none", "client", "server"]);
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
      // in a real bash with helm's own completion script: --output=<TAB> gives the values after the =
      const script = join(home, "helm.bash");
      writeFileSync(script, spawnSync(helm, ["completion", "bash"], { env: henv, encoding: "utf8" }).stdout);
      mkdirSync(join(home, "bin"), { recursive: true });
      if (!existsSync(join(home, "bin", "helm"))) symlinkSync(helm, join(home, "bin", "helm"));
      const hb = (line: string) => bashComplete(script, "__start_helm", line, { ...henv, PATH: `${join(home, "bin")}:${env().PATH}` });
      expect(hb("helm addon-push ./x --output=")).toEqual(["json", "yaml"]);
      expect(hb("helm addon-push ./x --output=j")).toEqual(["json"]);
    });
  }
});
