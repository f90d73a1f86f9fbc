// violet against a (fake) Alauda platform: the Dex username/password login, flag checks made before anything
// changes (IPv6, --platform-token without an address, empty/unknown --clusters, a 401 before any image is copied),
// the default cluster (global, even from a /kubernetes/<cluster> context) and the default registry (ProductBase +
// Secret cpaas-system/registry-admin).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startAcpPlatform, type AcpPlatform } from "../support/acp-platform.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { validReport } from "../support/schema.ts";
import { ok, startWorld, violet, type World } from "./world.ts";

let w: World;
let p: AcpPlatform;
let reg: TestRegistry; // the platform's registry: TLS + htpasswd
let pkg = "";
const APP = "app.alauda.io/v1alpha1";
const PASSWORD = "S3cret-Adm1n!";
const noKube = { KUBECONFIG: "/nonexistent" };

function tags(host: string, repo: string, user: string, pass: string): string[] {
  try {
    return JSON.parse(execFileSync("skopeo", ["list-tags", "--cert-dir", reg.certDir!, "--creds", `${user}:${pass}`, `docker://${host}/${repo}`], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })).Tags;
  } catch {
    return [];
  }
}

beforeAll(async () => {
  [w, p, reg] = await Promise.all([
    startWorld(),
    startAcpPlatform({ clusters: ["global", "region1"], users: { admin: { password: PASSWORD }, alice: { password: "ldap-pw", idp: "ldap" } } }),
    startRegistry({ auth: "htpasswd", tls: true }),
  ]);
  ok(await violet(["create", join(w.dir, "foo"), "--artifact", w.bundle.ref, ...w.regArgs()]));
  pkg = ok(await violet(["package", join(w.dir, "foo"), ...w.regArgs()], { cwd: w.dir })).stdout.trim();
  const g = p.cluster("global");
  g.put({ apiVersion: "product.alauda.io/v1alpha2", kind: "ProductBase", metadata: { name: "base" }, spec: { platformURL: p.url, registry: { address: reg.host } } });
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  g.put({ apiVersion: "v1", kind: "Secret", metadata: { name: "registry-admin", namespace: "cpaas-system" }, type: "Opaque", data: { username: b64(reg.username), password: b64(reg.password) } });
}, 120_000);

afterAll(async () => {
  await Promise.all([w?.stop(), p?.stop(), reg?.stop()]);
});

const login = ["--platform-address", "", "--platform-username", "admin", "--platform-password-stdin"];
const withAddr = (a: string[]) => a.map((x) => (x === "" ? p.url : x));

describe("username/password login (Dex flow)", () => {
  test("password on stdin: the five steps in order, then the platform accepts the token", async () => {
    p.dex.steps.length = 0;
    const r = ok(await violet(["whoami", ...withAddr(login), "-o", "json"], { env: noKube, stdin: `${PASSWORD}\n` }));
    expect(validReport(r.stdout, "WhoAmI").server).toBe(`${p.url}/kubernetes/global`);
    expect(p.dex.steps.map((s) => `${s.step}:${s.status}`)).toEqual(["1:200", "2:200", "3:200", "4:200", "5:200"]);
    expect(p.dex.steps[3]).toMatchObject({ idp: "local", account: "admin" });
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    expect(p.requests.some((q) => q.path.startsWith("/kubernetes/global") && q.user === "admin" && q.status >= 200 && q.status < 300)).toBe(true);
  });

  test("the login works under deno too (node:crypto RSA, cookies through the node:https path)", async () => {
    const r = ok(await violet(["whoami", ...withAddr(login), "-o", "json"], { env: noKube, stdin: `${PASSWORD}\n`, runtime: "deno" }));
    expect(JSON.parse(r.stdout).auth).toBe("platform-token");
  });

  test("password from $VIOLET_PLATFORM_PASSWORD; --platform-password works too (with a warning)", async () => {
    ok(await violet(["whoami", "--platform-address", p.url, "--platform-username", "admin"], { env: { ...noKube, VIOLET_PLATFORM_PASSWORD: PASSWORD } }));
    const r = ok(await violet(["whoami", "--platform-address", p.url, "--platform-username", "admin", "--platform-password", PASSWORD], { env: noKube }));
    expect(r.stderr).toContain("prefer --platform-password-stdin");
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });

  test("a wrong password is refused at step 4 with one line that names the user, not the password", async () => {
    const r = await violet(["whoami", ...withAddr(login)], { env: noKube, stdin: "wrong-pw\n" });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("user admin was refused (Invalid username or password)");
    expect(r.stderr).not.toContain("wrong-pw");
  });

  test("an LDAP user cannot log in with a password: the hint says --platform-token", async () => {
    const r = await violet(["whoami", "--platform-address", p.url, "--platform-username", "alice", "--platform-password-stdin"], { env: noKube, stdin: "ldap-pw\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("LDAP/OIDC need --platform-token");
    expect(p.dex.steps.at(-1)).toMatchObject({ step: 4, status: 401, idp: "local", account: "alice" });
  });

  test("an expired pubkey timestamp: one retry with a fresh one; always expired → a clear error", async () => {
    p.dex.steps.length = 0;
    p.dex.expireNext = 1;
    ok(await violet(["whoami", ...withAddr(login)], { env: noKube, stdin: `${PASSWORD}\n` }));
    expect(p.dex.steps.map((s) => `${s.step}:${s.status}`)).toEqual(["1:200", "2:200", "3:200", "4:401", "3:200", "4:200", "5:200"]);
    p.dex.pubkeyTtlMs = -1;
    try {
      const r = await violet(["whoami", ...withAddr(login)], { env: noKube, stdin: `${PASSWORD}\n` });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("timestamp expired");
    } finally {
      p.dex.pubkeyTtlMs = 60_000;
    }
  });

  test("--client-id is sent; an unknown one is named in the error", async () => {
    const r = await violet(["whoami", ...withAddr(login), "--client-id", "my-client"], { env: noKube, stdin: `${PASSWORD}\n` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('does not know OAuth client "my-client"');
  });

  test("over HTTPS with a private CA: --certificate-authority is used for the login too", async () => {
    const tp = await startAcpPlatform({ tls: true, users: { admin: { password: PASSWORD } } });
    try {
      const bad = await violet(["whoami", "--platform-address", tp.url, "--platform-username", "admin", "--platform-password-stdin"], { env: noKube, stdin: `${PASSWORD}\n` });
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain("platform login at");
      const r = ok(await violet(["whoami", "--platform-address", tp.url, "--platform-username", "admin", "--platform-password-stdin", "--certificate-authority", tp.caFile!, "-o", "json"], { env: noKube, stdin: `${PASSWORD}\n` }));
      expect(JSON.parse(r.stdout).serverUser).toBe("admin");
      const gc = await violet(["gc", "--platform-address", tp.url, "--platform-token", "stale", "--certificate-authority", tp.caFile!], { env: noKube });
      expect(gc.code).toBe(1);
      expect(gc.stderr).toContain("refused the credentials (401 Unauthorized): --platform-token");
    } finally {
      await tp.stop();
    }
  });

  test("--platform-token without --platform-address is an error, not ignored", async () => {
    const r = await violet(["list", "--platform-token", p.apiToken], { env: { KUBECONFIG: p.kubeconfig("global") } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--platform-token needs --platform-address");
  });
});

describe("refused before anything changes", () => {
  test("IPv6 literals in --dest-repo and --platform-address, dry run included", async () => {
    const a = await violet(["push", pkg, "--dest-repo", "[fd00::10]:11443", "--no-auth", "--dry-run"], { env: noKube });
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("--dest-repo [fd00::10]:11443: IPv6 addresses are not supported");
    const b = await violet(["push", pkg, "--skip-push", "--platform-address", "https://[fd00::1]", "--platform-token", "t", "--dry-run"], { env: noKube });
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("IPv6 addresses are not supported");
  });

  test("--clusters ',' is an error; unknown clusters are named for list, gc and push", async () => {
    const env = { KUBECONFIG: p.kubeconfig("global") };
    const e = await violet(["list", "--clusters", ","], { env });
    expect(e.code).toBe(2);
    expect(e.stderr).toContain("names no cluster");
    for (const cmd of [["list"], ["gc", "--dry-run"], ["push", pkg, "--skip-push"]]) {
      const before = p.cluster("global").requests.filter((q) => q.method !== "GET").length;
      const r = await violet([...cmd, "--clusters", "global,region9"], { env, cwd: w.dir });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("unknown cluster region9 (clusters on this platform: global, region1)");
      expect(p.cluster("global").requests.filter((q) => q.method !== "GET").length).toBe(before);
    }
  });

  test("a 401 from the platform stops the push before any image is copied; the hint names the credential", async () => {
    const r = await violet(["push", pkg, "--dest-repo", reg.host, "--username", reg.username, "--password-stdin", "--ca-file", reg.caFile!, "--platform-address", p.url, "--platform-token", "expired-token"], { env: noKube, stdin: reg.password });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("refused the credentials (401 Unauthorized): --platform-token");
    expect(r.stderr).not.toContain("expired-token");
    expect(tags(reg.host, "acp/foo-operator", reg.username, reg.password)).toEqual([]);
    const k = await violet(["push", pkg, "--skip-push"], { env: { KUBECONFIG: p.kubeconfig("global", { token: "stale" }) } });
    expect(k.stderr).toContain("401 Unauthorized): kubeconfig user admin (context acp-global)");
  });
});

describe("defaults like violet", () => {
  test("list covers chart applications on every cluster by default; -o json --output-file writes JSON", async () => {
    const app = (name: string, version: string) => ({ apiVersion: "app.k8s.io/v1beta1", kind: "Application", metadata: { name, namespace: "cpaas-system", annotations: { "app.cpaas.io/chart.source": `public-charts/${name}`, "app.cpaas.io/chart.version": version } } });
    p.cluster("global").put(app("web", "2.0.0"));
    p.cluster("region1").put(app("redis", "7.2.0"));
    const file = join(w.dir, "apps.json");
    const r = ok(await violet(["list", "-o", "json", "--output-file", file], { env: { KUBECONFIG: p.kubeconfig("global") }, cwd: w.dir }));
    const want = { applications: { redis: { displayName: "redis", type: "Chart", installed: [{ clusterName: "region1", version: "7.2.0" }] }, web: { displayName: "web", type: "Chart", installed: [{ clusterName: "global", version: "2.0.0" }] } } };
    // stdout: the versioned report; the file: violet's document as before (what Alauda Cloud reads)
    expect(validReport(r.stdout, "InstalledApplications")).toEqual({ apiVersion: "kube-airgap.io/v1alpha1", kind: "InstalledApplications", ...want });
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(want);
  });

  test("without --clusters the operator goes to global, even from a /kubernetes/region1 context", async () => {
    const r = ok(await violet(["push", pkg, "--skip-push"], { env: { KUBECONFIG: p.kubeconfig("region1") } }));
    expect(r.stdout).toContain("artifact cpaas-system/foo-operator created on global");
    expect(p.cluster("global").get(APP, "Artifact", "foo-operator", "cpaas-system")).toBeDefined();
    expect(p.cluster("region1").get(APP, "Artifact", "foo-operator", "cpaas-system")).toBeUndefined();
    // --skip-push without --dest-repo: the platform registry, never the package's source registry
    expect(p.cluster("global").get(APP, "Artifact", "foo-operator", "cpaas-system")!.spec.registry).toBe(reg.host);
  }, 60_000);

  test("without --dest-repo the images go to the platform registry with the registry-admin credentials", async () => {
    const r = ok(await violet(["push", pkg, "--ca-file", reg.caFile!, "--clusters", "region1", "--platform-address", p.url, "--platform-username", "admin", "--platform-password-stdin"], { env: noKube, stdin: `${PASSWORD}\n` }));
    expect(r.stderr).toContain(`using the platform registry ${reg.host}`);
    expect(tags(reg.host, "acp/foo-operator", reg.username, reg.password)).toEqual(["v1.2.0"]);
    expect(tags(reg.host, "acp/foo-operator-bundle", reg.username, reg.password)).toEqual(["v1.2.0"]);
    expect(p.cluster("region1").get(APP, "Artifact", "foo-operator", "cpaas-system")!.spec.registry).toBe(reg.host);
    expect(r.stdout + r.stderr).not.toContain(reg.password);
  }, 60_000);

  test("registry-admin as a .dockerconfigjson: only the entry stored for the platform registry's host is used", async () => {
    const g = p.cluster("global");
    const saved = g.get("v1", "Secret", "registry-admin", "cpaas-system")!;
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const dcj = (key: string) => ({ apiVersion: "v1", kind: "Secret", metadata: { name: "registry-admin", namespace: "cpaas-system" }, type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": b64(JSON.stringify({ auths: { [key]: { auth: b64(`${reg.username}:${reg.password}`) } } })) } });
    const push = () => violet(["push", pkg, "--ca-file", reg.caFile!, "--clusters", "region1", "--force", "--platform-address", p.url, "--platform-username", "admin", "--platform-password-stdin"], { env: noKube, stdin: `${PASSWORD}\n` });
    try {
      // an entry stored for another host is never sent to the platform registry
      g.put(dcj("other-registry.example:5000"));
      const r = await push();
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`has no username/password for ${reg.host}`);
      expect(r.stdout + r.stderr).not.toContain(reg.password);
      // docker writes keys with a scheme and a trailing slash too: that entry is the platform registry's
      g.put(dcj(`https://${reg.host}/`));
      ok(await push());
    } finally {
      g.put(saved);
    }
  }, 60_000);

  test("no ProductBase: a clear error naming what was looked up, nothing written", async () => {
    const g = p.cluster("global");
    const pb = g.get("product.alauda.io/v1alpha2", "ProductBase", "base")!;
    g.remove("product.alauda.io/v1alpha2", "ProductBase", "base");
    try {
      const before = g.requests.filter((q) => q.method !== "GET").length;
      const r = await violet(["push", pkg, "--skip-push", "--clusters", "global", "--force"], { env: { KUBECONFIG: p.kubeconfig("global") } });
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain("ProductBase base not found on the global cluster (tried product.alauda.io/v1alpha2, product.alauda.io/v1alpha1; the cluster serves product.alauda.io/v1alpha2) (pass --dest-repo");
      expect(g.requests.filter((q) => q.method !== "GET").length).toBe(before);
    } finally {
      g.put(pb);
    }
  });
});
