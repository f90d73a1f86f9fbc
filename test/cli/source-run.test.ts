// Running from source must not honour a `.env` or a `bunfig.toml` preload in the user's current folder (issue 15
// point 6; compiled binaries: test/ship/dotenv.test.ts). Two ways users run the sources: the kubectl wrapper as
// docs/install.md writes it (taken from the document) and the Helm plugin's launcher (helm-addon-push.sh), from a
// folder whose .env points KUBECONFIG / HELM_BIN somewhere wrong and whose bunfig.toml preloads a script.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { HELM3, ROOT } from "../support/cli.ts";

let dir: string;
let cwd: string;
let home: string;
const marker = () => join(dir, "PRELOADED");

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "ka-source-run-"));
  cwd = join(dir, "project");
  home = join(dir, "home");
  mkdirSync(cwd);
  mkdirSync(join(home, ".kube"), { recursive: true });
  writeFileSync(
    join(home, ".kube", "config"),
    "apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster: {server: 'https://127.0.0.1:6443'}\nusers:\n- name: me\n  user: {token: t0k}\ncontexts:\n- name: lab\n  context: {cluster: lab, user: me, namespace: team-a}\ncurrent-context: lab\n",
  );
  writeFileSync(join(cwd, ".env"), "KUBECONFIG=/nonexistent/kubeconfig\nHELM_BIN=/nonexistent/helm\n");
  writeFileSync(join(cwd, "bunfig.toml"), 'preload = ["./preload.ts"]\n');
  writeFileSync(join(cwd, "preload.ts"), `require("node:fs").writeFileSync(${JSON.stringify(marker())}, "ran");\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = () => ({ PATH: `${dirname(HELM3)}:/usr/bin:/bin`, HOME: home, NO_COLOR: "1" });

describe("from source, in a folder with .env and bunfig.toml", () => {
  test("the documented kubectl wrapper (docs/install.md) ignores both", () => {
    const doc = readFileSync(join(ROOT, "docs/install.md"), "utf8");
    const m = /cat > ~\/bin\/kubectl-violet <<'EOF'\n([\s\S]*?)\nEOF/.exec(doc);
    expect(m).not.toBeNull();
    const wrapper = join(dir, "kubectl-violet");
    writeFileSync(wrapper, m![1]!.replaceAll("/path/to/kube-airgap", ROOT) + "\n");
    chmodSync(wrapper, 0o755);
    const r = spawnSync(wrapper, ["whoami", "--offline", "-o", "json"], { cwd, env: env(), encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ context: "lab", namespace: "team-a" });
    expect(existsSync(marker())).toBe(false);
  });

  test("the Helm plugin launcher ignores both", () => {
    const r = spawnSync(join(ROOT, "plugins/helm-addon-push/helm-addon-push.sh"), ["--check-helm-version"], { cwd, env: env(), encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("3\n"); // helm on PATH, not the .env's HELM_BIN
    expect(existsSync(marker())).toBe(false);
  });

  test("control: plain `bun main.ts` there does load them (the traps are real)", () => {
    const r = spawnSync(join(ROOT, "node_modules/.bin/bun"), [join(ROOT, "plugins/helm-addon-push/main.ts"), "--check-helm-version"], { cwd, env: env(), encoding: "utf8" });
    expect(r.stderr).toContain("/nonexistent/helm");
    expect(existsSync(marker())).toBe(true);
    rmSync(marker());
  });
});
