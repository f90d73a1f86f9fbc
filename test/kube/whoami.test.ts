// `kubectl violet whoami` end to end (the plugin entry run as a subprocess under bun): every namespace flag form
// reaches shared/kube, KUBECONFIG merging, -o json|yaml, the server's view of the user, platform routing,
// one-line errors, and no secret in any output.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { startFakeApiServer, type FakeApiServer } from "../support/kube-apiserver.ts";

// generous: the suite shares 2 cores with other test files (openssl key generation, subprocesses)
setDefaultTimeout(60_000);

const root = join(import.meta.dir, "../..");
const bun = join(root, "node_modules/.bin/bun");
const main = join(root, "plugins/kubectl-violet/main.ts");

let api: FakeApiServer;
let dir: string;
let kc: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ka-whoami-"));
  api = await startFakeApiServer({ tls: true, namespaces: ["cpaas-system"], users: { admin: { allow: "*" }, "platform-user": { token: "platform-token-secret", allow: "*" } } });
  kc = api.kubeconfig("admin", { namespace: "cpaas-system", context: "acp" });
})
afterAll(async () => {
  await api?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function violet(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bun, [main, ...args], { cwd: root, env: { PATH: process.env.PATH ?? "", HOME: dir, NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe("kubectl violet whoami", () => {
  test("prints the resolved context, server, user, namespace and the server's identity (-o json)", async () => {
    const r = await violet(["whoami", "--kubeconfig", kc, "-o", "json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      context: "acp",
      cluster: "fake-cluster",
      server: api.url,
      user: "admin",
      namespace: "cpaas-system",
      auth: "token",
      source: "kubeconfig",
      kubeconfig: [kc],
      serverUser: "admin",
      serverGroups: ["system:authenticated"],
    });
    const y = await violet(["whoami", "--kubeconfig", kc, "-o", "yaml", "--offline"]);
    expect(parse(y.stdout)).toMatchObject({ context: "acp", namespace: "cpaas-system" });
    expect(parse(y.stdout).serverUser).toBeUndefined();
    const t = await violet(["whoami", "--kubeconfig", kc, "--offline"]);
    expect(t.stdout).toMatch(/^FIELD\s+VALUE\ncontext\s+acp\n/);
  }, 30_000);

  test.each([
    [["-n", "team-x"]],
    [["-n=team-x"]],
    [["-nteam-x"]],
    [["--namespace=team-x"]],
    [["--namespace", "team-x"]],
  ])("namespace flag form %p reaches the kube options", async (flag) => {
    const r = await violet(["whoami", ...flag, "--kubeconfig", kc, "--offline", "-o", "json"]);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout).namespace).toBe("team-x");
    // flags before the command name work too (kubectl passes everything after the plugin name)
    const before = await violet([...flag, "whoami", "--kubeconfig", kc, "--offline", "-o", "json"]);
    expect(JSON.parse(before.stdout).namespace).toBe("team-x");
  }, 30_000);

  test("KUBECONFIG with several files is merged the kubectl way; --context and --as-group", async () => {
    const extra = join(dir, "extra.yaml");
    writeFileSync(extra, `apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster: {server: "https://other.example:6443"}\nusers:\n- name: admin\n  user: {token: shadowed}\ncontexts:\n- name: other\n  context: {cluster: other, user: admin}\ncurrent-context: other\n`);
    const env = { KUBECONFIG: `${join(dir, "missing.yaml")}:${kc}:${extra}` };
    const r = await violet(["whoami", "--offline", "-o", "json"], env);
    expect(JSON.parse(r.stdout)).toMatchObject({ context: "acp", server: api.url, kubeconfig: [kc, extra] });
    const o = await violet(["whoami", "--offline", "-o", "json", "--context", "other", "--as", "x", "--as-group", "g1", "--as-group", "g2"], env);
    expect(JSON.parse(o.stdout)).toMatchObject({ context: "other", server: "https://other.example:6443", namespace: "default", impersonate: { user: "x", groups: ["g1", "g2"] } });
  }, 30_000);

  test("platform routing with --platform-address/--platform-token; the token never appears", async () => {
    const before = api.requests.length;
    const r = await violet(["whoami", "--platform-address", api.url, "--platform-token", "platform-token-secret", "--certificate-authority", api.caFile!, "-o", "json", "--debug"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ server: `${api.url}/kubernetes/global`, cluster: "global", source: "platform", auth: "platform-token", serverUser: "platform-user" });
    expect(api.requests.slice(before).map((q) => q.cluster)).toEqual(["global"]);
    expect(r.stdout + r.stderr).not.toContain("platform-token-secret");
    // --debug traces every HTTP request (shared/runtime/trace.ts)
    expect(r.stderr).toMatch(/debug: http: POST https:\/\/127\.0\.0\.1:\d+\/kubernetes\/global\/apis\/authentication\.k8s\.io\/v1\/selfsubjectreviews → 201 \(\d+ ms\)/);
  }, 30_000);

  test("bad input: one-line errors and non-zero exits", async () => {
    const ctx = await violet(["whoami", "--kubeconfig", kc, "--context", "nope"]);
    expect(ctx.code).toBe(1);
    expect(ctx.stdout).toBe("");
    expect(ctx.stderr).toBe(`error: context "nope" not found in kubeconfig ${kc} (known contexts: acp)\n`);
    const missing = await violet(["whoami", "--kubeconfig", join(dir, "nope.yaml")]);
    expect(missing.stderr).toBe(`error: kubeconfig ${join(dir, "nope.yaml")} (from --kubeconfig) does not exist\n`);
    const unknown = await violet(["whoami", "--bogus"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toStartWith(`error: unknown flag --bogus for "kubectl violet whoami"`);
    const timeout = await violet(["whoami", "--kubeconfig", kc, "--request-timeout", "soon"]);
    expect(timeout.code).toBe(2);
    expect(timeout.stderr).toStartWith(`error: invalid --request-timeout "soon"`);
    const wrong = api.kubeconfig("admin");
    writeFileSync(wrong, (await Bun.file(wrong).text()).replace("admin-token", "not-a-valid-token"));
    const denied = await violet(["whoami", "--kubeconfig", wrong]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toStartWith("error: unauthorized: the server rejected the credentials");
    expect(denied.stderr).not.toContain("not-a-valid-token");
  }, 30_000);
});
