// Kubeconfig loading and resolution: kubectl's merge rules, flag overrides, namespace defaulting, every
// credential kind as read from the file, in-cluster config, platform routing, and the kube flags parser.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { clearSecrets, redact } from "../../shared/runtime/redact.ts";
import { kubeconfigFiles, mergeKubeconfigs, resolveKubeConfig } from "../../shared/kube/config.ts";
import { KubeConfigError } from "../../shared/kube/errors.ts";
import { kubeOptionsFromArgs, parseDuration } from "../../shared/kube/flags.ts";
import { configForCluster, parsePlatformServer, platformServerFor } from "../../shared/kube/platform.ts";
import { KubeClient } from "../../shared/kube/client.ts";

// generous: the suite shares 2 cores with other test files (openssl key generation, subprocesses)
setDefaultTimeout(60_000);

let dir: string;
const home = () => join(dir, "home");

function write(name: string, doc: unknown): string {
  const f = join(dir, name);
  mkdirSync(join(f, ".."), { recursive: true });
  writeFileSync(f, typeof doc === "string" ? doc : stringify(doc));
  return f;
}

function cfg(opts: { clusters?: [string, object][]; users?: [string, object][]; contexts?: [string, object][]; current?: string }) {
  return {
    apiVersion: "v1",
    kind: "Config",
    clusters: (opts.clusters ?? []).map(([name, cluster]) => ({ name, cluster })),
    users: (opts.users ?? []).map(([name, user]) => ({ name, user })),
    contexts: (opts.contexts ?? []).map(([name, context]) => ({ name, context })),
    ...(opts.current !== undefined ? { "current-context": opts.current } : {}),
  };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "ka-kubeconfig-"));
  mkdirSync(home(), { recursive: true });
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  clearSecrets();
});

describe("KUBECONFIG merge (kubectl rules)", () => {
  test("first file wins for clusters/users/contexts and current-context; duplicates ignored whole; missing files skipped", () => {
    const a = write("merge/a.yaml", cfg({
      clusters: [["c1", { server: "https://a.example:6443" }]],
      users: [["u1", { token: "token-from-a" }]],
      contexts: [["ctx", { cluster: "c1", user: "u1", namespace: "ns-a" }]],
      current: "ctx",
    }));
    const b = write("merge/b.yaml", cfg({
      clusters: [["c1", { server: "https://b.example:6443", "insecure-skip-tls-verify": true }], ["c2", { server: "https://c2.example" }]],
      users: [["u1", { token: "token-from-b", username: "ignored" }], ["u2", { token: "u2-token" }]],
      contexts: [["ctx", { cluster: "c2", user: "u2" }], ["other", { cluster: "c2", user: "u2", namespace: "ns-b" }]],
      current: "other",
    }));
    const missing = join(dir, "merge/missing.yaml");
    const env = { KUBECONFIG: [missing, a, "", b, a].join(":") };
    const files = kubeconfigFiles({ env, home: home() });
    expect(files.files).toEqual([a, b]); // missing skipped, empty entry ignored, duplicate a de-duplicated
    const m = mergeKubeconfigs(files.files);
    expect(m.currentContext).toBe("ctx");
    expect(m.clusters.get("c1")).toMatchObject({ server: "https://a.example:6443", source: a });
    expect(m.clusters.get("c1")!["insecure-skip-tls-verify"]).toBeUndefined(); // not merged field-by-field
    expect(m.users.get("u1")).toMatchObject({ token: "token-from-a" });
    expect(m.users.get("u1")!.username).toBeUndefined();
    expect(m.clusters.get("c2")!.server).toBe("https://c2.example");
    expect(m.contexts.get("ctx")).toMatchObject({ cluster: "c1", user: "u1" });

    const r = resolveKubeConfig({ env, home: home() });
    expect(r).toMatchObject({ contextName: "ctx", clusterName: "c1", userName: "u1", server: "https://a.example:6443", namespace: "ns-a", auth: { kind: "token", token: "token-from-a" } });
    const o = resolveKubeConfig({ env, home: home(), context: "other" });
    expect(o).toMatchObject({ clusterName: "c2", userName: "u2", server: "https://c2.example", namespace: "ns-b" });
  });

  test("current-context comes from the first file that sets one", () => {
    const a = write("cc/a.yaml", cfg({ clusters: [["c", { server: "https://x" }]] }));
    const b = write("cc/b.yaml", cfg({ contexts: [["b", { cluster: "c" }]], current: "b" }));
    const c = write("cc/c.yaml", cfg({ contexts: [["c", { cluster: "c" }]], current: "c" }));
    expect(resolveKubeConfig({ env: { KUBECONFIG: `${a}:${b}:${c}` }, home: home() }).contextName).toBe("b");
  });

  test("--kubeconfig uses only that file and it must exist; KUBECONFIG is then ignored", () => {
    const a = write("explicit/a.yaml", cfg({ clusters: [["c", { server: "https://explicit" }]], contexts: [["x", { cluster: "c" }]], current: "x" }));
    const other = write("explicit/other.yaml", cfg({ clusters: [["c", { server: "https://other" }]], contexts: [["x", { cluster: "c" }]], current: "x" }));
    expect(resolveKubeConfig({ kubeconfig: a, env: { KUBECONFIG: other }, home: home() }).server).toBe("https://explicit");
    expect(() => resolveKubeConfig({ kubeconfig: join(dir, "nope.yaml"), env: {}, home: home() })).toThrow(/nope\.yaml \(from --kubeconfig\) does not exist/);
  });

  test("falls back to ~/.kube/config; all KUBECONFIG files missing is a clear error", () => {
    write("home/.kube/config", cfg({ clusters: [["c", { server: "https://home/" }]], contexts: [["h", { cluster: "c" }]], current: "h" }));
    const r = resolveKubeConfig({ env: {}, home: home() });
    expect(r.server).toBe("https://home"); // trailing slash trimmed
    expect(r.files).toEqual([join(home(), ".kube/config")]);
    expect(() => resolveKubeConfig({ env: { KUBECONFIG: join(dir, "x1:") + join(dir, "x2") }, home: home(), serviceAccountDir: join(dir, "no-sa") })).toThrow(/none of the kubeconfig files in KUBECONFIG exist/);
  });

  test("relative paths resolve against the file's directory", () => {
    write("rel/certs/ca.crt", "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n");
    write("rel/certs/tok", "file-token-123\n");
    const f = write("rel/sub/../config.yaml", cfg({
      clusters: [["c", { server: "https://rel", "certificate-authority": "certs/ca.crt" }]],
      users: [["u", { tokenFile: "certs/tok" }], ["e", { exec: { command: "./bin/cred", apiVersion: "client.authentication.k8s.io/v1beta1" } }], ["p", { exec: { command: "kubelogin" } }]],
      contexts: [["x", { cluster: "c", user: "u" }]],
      current: "x",
    }));
    const m = mergeKubeconfigs([f]);
    expect(m.clusters.get("c")!["certificate-authority"]).toBe(join(dir, "rel/certs/ca.crt"));
    expect(m.users.get("u")!.tokenFile).toBe(join(dir, "rel/certs/tok"));
    expect(m.users.get("e")!.exec!.command).toBe(join(dir, "rel/bin/cred"));
    expect(m.users.get("p")!.exec!.command).toBe("kubelogin"); // a bare command is looked up on PATH
    const r = resolveKubeConfig({ kubeconfig: f, env: {}, home: home() });
    expect(r.tls.ca).toContain("BEGIN CERTIFICATE");
    expect(r.auth).toMatchObject({ kind: "token-file", tokenFile: join(dir, "rel/certs/tok") });
    expect(redact("token is file-token-123")).toBe("token is ***");
  });

  test("errors name the context/cluster/user and the file", () => {
    const f = write("err/config", cfg({ clusters: [["c", {}], ["ok", { server: "https://ok" }]], users: [["both", { token: "abcd1234", username: "x", password: "y" }]], contexts: [["x", { cluster: "c" }], ["y", { cluster: "gone" }], ["z", { cluster: "ok", user: "both" }]], current: "x" }));
    const base = { kubeconfig: f, env: {}, home: home() };
    expect(() => resolveKubeConfig(base)).toThrow(`cluster "c" has no server (kubeconfig ${f})`);
    expect(() => resolveKubeConfig({ ...base, context: "nope" })).toThrow(`context "nope" not found in kubeconfig ${f}`);
    expect(() => resolveKubeConfig({ ...base, context: "y" })).toThrow(`cluster "gone" not found in kubeconfig ${f}`);
    expect(() => resolveKubeConfig({ ...base, context: "x", user: "ghost", cluster: "ok" })).toThrow(/user "ghost" not found/);
    const g = write("err/two-methods", cfg({ clusters: [["ok", { server: "https://ok" }]], users: [["both", { token: "abcd1234", username: "x", password: "y" }]], contexts: [["z", { cluster: "ok", user: "both" }]], current: "z" }));
    expect(() => resolveKubeConfig({ kubeconfig: g, env: {}, home: home() })).toThrow(/more than one authentication method for user "both": token, basicAuth/);
    const bad = write("err/bad.yaml", "clusters: [ {");
    expect(() => resolveKubeConfig({ kubeconfig: bad, env: {}, home: home() })).toThrow(KubeConfigError);
    const none = write("err/none.yaml", cfg({ clusters: [["c", { server: "https://x" }]] }));
    expect(() => resolveKubeConfig({ kubeconfig: none, env: {}, home: home() })).toThrow(/no current context/);
  });
});

describe("overrides and namespace defaulting", () => {
  let f: string;
  beforeAll(() => {
    f = write("ov/config", cfg({
      clusters: [["c1", { server: "https://one" }], ["c2", { server: "https://two", "tls-server-name": "api.internal", "proxy-url": "http://proxy:3128" }]],
      users: [["u1", { token: "u1-token-xyz" }], ["u2", { username: "bob", password: "bob-pass-123", as: "someone", "as-groups": ["g0"] }]],
      contexts: [["with-ns", { cluster: "c1", user: "u1", namespace: "team-a" }], ["no-ns", { cluster: "c2", user: "u2" }]],
      current: "with-ns",
    }));
  });
  test("namespace: -n, else the context's, else default", () => {
    const b = { kubeconfig: f, env: {}, home: home() };
    expect(resolveKubeConfig(b)).toMatchObject({ namespace: "team-a", namespaceExplicit: false });
    expect(resolveKubeConfig({ ...b, namespace: "flag-ns" })).toMatchObject({ namespace: "flag-ns", namespaceExplicit: true });
    expect(resolveKubeConfig({ ...b, context: "no-ns" }).namespace).toBe("default");
  });
  test("--context, --cluster and --user override the context's choices", () => {
    const r = resolveKubeConfig({ kubeconfig: f, env: {}, home: home(), cluster: "c2", user: "u2" });
    expect(r).toMatchObject({ contextName: "with-ns", clusterName: "c2", userName: "u2", server: "https://two", namespace: "team-a" });
    expect(r.tls.serverName).toBe("api.internal");
    expect(r.proxyUrl).toBe("http://proxy:3128");
    expect(r.auth).toMatchObject({ kind: "basic", username: "bob", password: "bob-pass-123" });
    expect(r.impersonate).toEqual({ user: "someone", groups: ["g0"], uid: undefined });
    const flags = resolveKubeConfig({ kubeconfig: f, env: {}, home: home(), context: "no-ns", as: "alice", asGroups: ["a", "b"], requestTimeoutMs: 1500, insecureSkipTlsVerify: true });
    expect(flags.impersonate).toEqual({ user: "alice", groups: ["a", "b"], uid: undefined });
    expect(flags.requestTimeoutMs).toBe(1500);
    expect(flags.tls.insecureSkipVerify).toBe(true);
  });
});

describe("credential kinds", () => {
  test("token, tokenFile, client cert (file and data), basic, exec, auth-provider", () => {
    const certPem = "-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----\n";
    const keyPem = "-----BEGIN PRIVATE KEY-----\nKEY-abcdef\n-----END PRIVATE KEY-----\n";
    write("cred/c.crt", certPem);
    write("cred/c.key", keyPem);
    write("cred/tok", "tok-from-file\n");
    const f = write("cred/config", cfg({
      clusters: [["c", { server: "https://c", "certificate-authority-data": Buffer.from("CA-PEM").toString("base64") }]],
      users: [
        ["token", { token: "plain-token-1" }],
        ["tokenfile", { tokenFile: "tok" }],
        ["certfile", { "client-certificate": "c.crt", "client-key": "c.key" }],
        ["certdata", { "client-certificate-data": Buffer.from(certPem).toString("base64"), "client-key-data": Buffer.from(keyPem).toString("base64") }],
        ["certandtoken", { "client-certificate": "c.crt", "client-key": "c.key", token: "tok-and-cert" }],
        ["halfcert", { "client-certificate": "c.crt" }],
        ["basic", { username: "ann", password: "ann-secret" }],
        ["exec", { exec: { command: "cred-helper", args: ["--x"], apiVersion: "client.authentication.k8s.io/v1", interactiveMode: "Never" } }],
        ["oidc", { "auth-provider": { name: "oidc", config: { "id-token": "id-token-value" } } }],
        ["gcp", { "auth-provider": { name: "gcp" } }],
      ],
      contexts: [["x", { cluster: "c" }]],
      current: "x",
    }));
    const r = (user: string) => resolveKubeConfig({ kubeconfig: f, env: {}, home: home(), user });
    expect(r("token").auth).toMatchObject({ kind: "token", token: "plain-token-1" });
    expect(r("token").tls.ca).toBe("CA-PEM");
    expect(r("tokenfile").auth).toMatchObject({ kind: "token-file", tokenFile: join(dir, "cred/tok") });
    expect(r("certfile").auth).toMatchObject({ kind: "client-certificate", clientCert: certPem, clientKey: keyPem });
    expect(r("certdata").auth).toMatchObject({ kind: "client-certificate", clientCert: certPem, clientKey: keyPem });
    expect(r("certandtoken").auth).toMatchObject({ kind: "token", token: "tok-and-cert", clientCert: certPem });
    expect(() => r("halfcert")).toThrow(/client certificate without a key/);
    expect(r("basic").auth).toMatchObject({ kind: "basic", username: "ann", password: "ann-secret" });
    expect(r("exec").auth).toMatchObject({ kind: "exec", exec: { command: "cred-helper", args: ["--x"] } });
    expect(r("oidc").auth).toMatchObject({ kind: "auth-provider", token: "id-token-value" });
    expect(() => r("gcp")).toThrow(/auth-provider "gcp", which is not supported/);
    // every secret read is masked from then on
    expect(redact("plain-token-1 ann-secret id-token-value tok-from-file KEY-abcdef")).not.toMatch(/plain-token-1|ann-secret|id-token-value|tok-from-file/);
  });

  test("in-cluster service account when there is no kubeconfig", () => {
    const sa = join(dir, "sa");
    write("sa/token", "sa-token-abc\n");
    write("sa/ca.crt", "SA-CA");
    write("sa/namespace", "pod-ns\n");
    const env = { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" };
    const r = resolveKubeConfig({ env, home: join(dir, "empty-home"), serviceAccountDir: sa });
    expect(r).toMatchObject({ source: "in-cluster", server: "https://10.0.0.1:443", namespace: "pod-ns", tls: { ca: "SA-CA" }, auth: { kind: "service-account", tokenFile: join(sa, "token") } });
    expect(resolveKubeConfig({ env: { ...env, KUBERNETES_SERVICE_HOST: "fd00::1" }, home: join(dir, "empty-home"), serviceAccountDir: sa, namespace: "x" })).toMatchObject({ server: "https://[fd00::1]:443", namespace: "x" });
    expect(() => resolveKubeConfig({ env: {}, home: join(dir, "empty-home"), serviceAccountDir: sa })).toThrow(/no kubeconfig/);
  });
});

describe("platform routing", () => {
  test("parse and derive <platform>/kubernetes/<cluster>", () => {
    expect(parsePlatformServer("https://acp.example.com/kubernetes/global/")).toEqual({ platform: "https://acp.example.com", cluster: "global" });
    expect(parsePlatformServer("https://acp.example.com:8443/prefix/kubernetes/business-1")).toEqual({ platform: "https://acp.example.com:8443/prefix", cluster: "business-1" });
    expect(parsePlatformServer("https://10.0.0.1:6443")).toBeUndefined();
    expect(platformServerFor("https://acp.example.com/kubernetes/global", "dev")).toBe("https://acp.example.com/kubernetes/dev");
    expect(() => platformServerFor("https://10.0.0.1:6443", "dev")).toThrow(/not a platform address/);
    expect(() => platformServerFor("https://acp.example.com/kubernetes/global", "a/b")).toThrow(/invalid cluster name/);
  });

  test("forCluster keeps credentials; --platform-address/--platform-token build the server", () => {
    const f = write("plat/config", cfg({ clusters: [["acp", { server: "https://acp.example.com/kubernetes/global" }]], users: [["u", { token: "platform-user-token" }]], contexts: [["acp", { cluster: "acp", user: "u", namespace: "cpaas-system" }]], current: "acp" }));
    const kube = KubeClient.fromOptions({ kubeconfig: f, env: {}, home: home() });
    const dev = kube.forCluster("dev");
    expect(dev.server).toBe("https://acp.example.com/kubernetes/dev");
    expect(dev.config.auth).toEqual(kube.config.auth);
    expect(dev.namespace).toBe("cpaas-system");
    expect(configForCluster(kube.config, "x").clusterName).toBe("x");

    const p = resolveKubeConfig({ platformAddress: "https://acp.example.com/", platformToken: "plat-token-1", env: {}, home: join(dir, "empty-home") });
    expect(p).toMatchObject({ source: "platform", server: "https://acp.example.com/kubernetes/global", clusterName: "global", auth: { kind: "platform-token", token: "plat-token-1" }, namespace: "default" });
    expect(resolveKubeConfig({ platformAddress: "https://acp.example.com", platformToken: "plat-token-1", platformCluster: "dev", namespace: "ns1", env: {}, home: home() }).server).toBe("https://acp.example.com/kubernetes/dev");
    expect(() => resolveKubeConfig({ platformAddress: "https://acp.example.com", env: {}, home: home() })).toThrow("--platform-address needs --platform-token");
    expect(() => resolveKubeConfig({ platformAddress: "acp.example.com", platformToken: "t", env: {}, home: home() })).toThrow(/is not an http\(s\) URL/);
    expect(redact("Bearer plat-token-1")).not.toContain("plat-token-1");
  });
});

describe("kube flags", () => {
  test("kubeOptionsFromArgs maps flags; --as-group repeats; durations parse like kubectl", () => {
    const raw = ["--as-group", "a", "--as-group=b", "-n", "ns1", "--request-timeout", "1m30s"];
    const o = kubeOptionsFromArgs({ namespace: "ns1", "as-group": "b", "request-timeout": "1m30s", "insecure-skip-tls-verify": true, context: "", kubeconfig: "/k" }, raw);
    expect(o).toMatchObject({ namespace: "ns1", asGroups: ["a", "b"], requestTimeoutMs: 90_000, insecureSkipTlsVerify: true, kubeconfig: "/k" });
    expect(o.context).toBeUndefined();
    expect(parseDuration("0")).toBe(0);
    expect(parseDuration("5")).toBe(5000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("2h")).toBe(7_200_000);
    expect(() => parseDuration("5 minutes")).toThrow(/invalid --request-timeout/);
    expect(() => kubeOptionsFromArgs({ namespace: "=foo" })).toThrow(/invalid namespace "=foo"/);
  });
});

describe("proxy from the environment (every runtime, every transport: shared/runtime/proxy.ts)", () => {
  test("HTTPS_PROXY/HTTP_PROXY with NO_PROXY, loopback never proxied", async () => {
    const { proxyForUrl } = await import("../../shared/runtime/proxy.ts");
    const proxyFromEnv = (u: URL, env: Record<string, string>) => proxyForUrl(u, env)?.origin;
    const env = { HTTPS_PROXY: "proxy.corp:3128", http_proxy: "http://p2:80", NO_PROXY: "internal.example,.svc, 10.0.0.5:6443" };
    expect(proxyFromEnv(new URL("https://api.example.com"), env)).toBe("http://proxy.corp:3128");
    expect(proxyFromEnv(new URL("http://api.example.com"), env)).toBe("http://p2");
    expect(proxyFromEnv(new URL("https://k8s.internal.example:6443"), env)).toBeUndefined();
    expect(proxyFromEnv(new URL("https://kubernetes.default.svc"), env)).toBeUndefined();
    expect(proxyFromEnv(new URL("https://10.0.0.5:6443"), env)).toBeUndefined();
    expect(proxyFromEnv(new URL("https://10.0.0.5:443"), env)).toBe("http://proxy.corp:3128");
    expect(proxyFromEnv(new URL("https://127.0.0.1:6443"), env)).toBeUndefined();
    expect(proxyFromEnv(new URL("https://api.example.com"), {})).toBeUndefined();
  });
});
