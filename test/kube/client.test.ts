// KubeClient against the fake kube-apiserver over HTTPS: every credential kind on the wire, object operations,
// errors, conflicts, patches, server-side apply, waits and logs.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { KubeClient, type KubeObject } from "../../shared/kube/client.ts";
import type { ResolvedKubeConfig } from "../../shared/kube/config.ts";
import { KubeApiError, KubeConnectionError, KubeTimeoutError } from "../../shared/kube/errors.ts";
import { clearExecCredentialCache } from "../../shared/kube/exec-credential.ts";
import { startFakeApiServer, type FakeApiServer } from "../support/kube-apiserver.ts";

// generous: the suite shares 2 cores with other test files (openssl key generation, subprocesses)
setDefaultTimeout(60_000);

let api: FakeApiServer;
let dir: string;
let admin: KubeClient;

const ART = "app.alauda.io/v1alpha1";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ka-kubeclient-"));
  api = await startFakeApiServer({
    tls: true,
    namespaces: ["team"],
    crds: [
      { group: "app.alauda.io", version: "v1alpha1", kind: "Artifact", plural: "artifacts", namespaced: true, status: true },
      { group: "cluster.alauda.io", version: "v1alpha1", kind: "ModulePlugin", plural: "moduleplugins", namespaced: false },
    ],
    users: {
      admin: { allow: "*", impersonate: true },
      viewer: { token: "viewer-token-123", allow: [{ verbs: ["get", "list"], resources: ["configmaps", "pods", "pods/log"], namespaces: ["team"] }] },
      alice: { cert: true, groups: ["devs"], allow: "*" },
      bob: { password: "bob-password", allow: "*" },
      execuser: { token: "exec-token-good", allow: "*" },
    },
  });
  admin = KubeClient.fromOptions({ kubeconfig: api.kubeconfig("admin", { namespace: "team" }) });
})

afterAll(async () => {
  await api?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function kubeconfigFor(user: Record<string, unknown>, name = "u"): string {
  const f = join(dir, `kc-${name}-${Math.random().toString(36).slice(2, 7)}.yaml`);
  writeFileSync(f, stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster: { server: api.url, "certificate-authority": api.caFile } }],
    users: [{ name, user }],
    contexts: [{ name: "x", context: { cluster: "c", user: name } }],
    "current-context": "x",
  }));
  return f;
}

describe("credentials on the wire", () => {
  test("bearer token, token file (re-read), client certificate, basic auth, auth-provider id-token", async () => {
    const who = async (user: Record<string, unknown>) => (await KubeClient.fromOptions({ kubeconfig: kubeconfigFor(user) }).selfSubjectReview()).username;
    expect(await who({ token: "viewer-token-123" })).toBe("viewer");
    const tf = join(dir, "token");
    writeFileSync(tf, "admin-token\n");
    expect(await who({ tokenFile: tf })).toBe("admin");
    const c = api.clientCert("alice");
    expect(await who({ "client-certificate": c.cert, "client-key": c.key })).toBe("alice");
    expect(await who({ "client-certificate-data": Buffer.from(c.certPem).toString("base64"), "client-key-data": Buffer.from(c.keyPem).toString("base64") })).toBe("alice");
    expect(await who({ username: "bob", password: "bob-password" })).toBe("bob");
    expect(await who({ "auth-provider": { name: "oidc", config: { "id-token": "viewer-token-123" } } })).toBe("viewer");
    await expect(who({ token: "wrong-token" })).rejects.toThrow(/unauthorized: the server rejected the credentials/);
    await expect(who({})).rejects.toMatchObject({ status: 401 });
  });

  test("exec plugin: token cached until expiry, KUBERNETES_EXEC_INFO set, re-run after 401", async () => {
    clearExecCredentialCache();
    const count = join(dir, "exec-count");
    const info = join(dir, "exec-info");
    writeFileSync(count, "");
    const script = join(dir, "cred.sh");
    // first run hands out a stale token, later runs the good one; expiry from $EXP
    writeFileSync(script, `#!/bin/sh
echo x >> "${count}"
printf '%s' "$KUBERNETES_EXEC_INFO" > "${info}"
n=$(wc -l < "${count}")
tok=exec-token-good
[ "$n" -eq 1 ] && [ "$STALE_FIRST" = 1 ] && tok=stale
echo "{\\"apiVersion\\":\\"client.authentication.k8s.io/v1\\",\\"kind\\":\\"ExecCredential\\",\\"status\\":{\\"token\\":\\"$tok\\",\\"expirationTimestamp\\":\\"$EXP\\"}}"
`);
    chmodSync(script, 0o755);
    const runs = () => readFileSync(count, "utf8").split("\n").filter(Boolean).length;
    const future = new Date(Date.now() + 3600_000).toISOString();
    const kc = kubeconfigFor({ exec: { command: script, apiVersion: "client.authentication.k8s.io/v1", interactiveMode: "IfAvailable", env: [{ name: "EXP", value: future }], provideClusterInfo: true } }, "execuser");
    const kube = KubeClient.fromOptions({ kubeconfig: kc });
    expect((await kube.selfSubjectReview()).username).toBe("execuser");
    await kube.list("v1", "ConfigMap");
    await KubeClient.fromOptions({ kubeconfig: kc }).get("v1", "Namespace", "team");
    expect(runs()).toBe(1); // cached across requests and clients until expiry
    const execInfo = JSON.parse(readFileSync(info, "utf8"));
    expect(execInfo).toMatchObject({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", spec: { interactive: false, cluster: { server: api.url } } });
    expect(execInfo.spec.cluster["certificate-authority-data"]).toBeTruthy();

    // expired credentials are not reused
    clearExecCredentialCache();
    writeFileSync(count, "");
    const past = kubeconfigFor({ exec: { command: script, apiVersion: "client.authentication.k8s.io/v1", interactiveMode: "Never", env: [{ name: "EXP", value: "2001-01-01T00:00:00Z" }] } }, "execuser");
    const k2 = KubeClient.fromOptions({ kubeconfig: past });
    const reqs = api.requests.length;
    await k2.get("v1", "Namespace", "team");
    await k2.get("v1", "Namespace", "team");
    expect(api.requests.length - reqs).toBe(3); // discovery + 2 gets
    expect(runs()).toBe(3); // one plugin run per request

    // a 401 drops the cached credential and runs the plugin again once
    clearExecCredentialCache();
    writeFileSync(count, "");
    const stale = kubeconfigFor({ exec: { command: script, apiVersion: "client.authentication.k8s.io/v1", interactiveMode: "Never", env: [{ name: "EXP", value: future }, { name: "STALE_FIRST", value: "1" }] } }, "execuser");
    expect((await KubeClient.fromOptions({ kubeconfig: stale }).selfSubjectReview()).username).toBe("execuser");
    expect(runs()).toBe(2);

    // a missing plugin names itself and the install hint
    const missing = kubeconfigFor({ exec: { command: "/nonexistent/kubelogin", apiVersion: "client.authentication.k8s.io/v1beta1", installHint: "install kubelogin from krew" } });
    await expect(KubeClient.fromOptions({ kubeconfig: missing }).version()).rejects.toThrow("exec plugin /nonexistent/kubelogin not found (install kubelogin from krew)");
  });

  test("exec plugin returning a client certificate", async () => {
    clearExecCredentialCache();
    const c = api.clientCert("alice");
    const script = join(dir, "cert.sh");
    writeFileSync(script, `#!/bin/sh\ncat <<'EOF'\n${JSON.stringify({ apiVersion: "client.authentication.k8s.io/v1beta1", kind: "ExecCredential", status: { clientCertificateData: c.certPem, clientKeyData: c.keyPem } })}\nEOF\n`);
    chmodSync(script, 0o755);
    const kube = KubeClient.fromOptions({ kubeconfig: kubeconfigFor({ exec: { command: script, apiVersion: "client.authentication.k8s.io/v1beta1" } }) });
    expect(await kube.selfSubjectReview()).toMatchObject({ username: "alice", groups: ["devs", "system:authenticated"] });
  });

  test("impersonation headers (--as, --as-group)", async () => {
    const kube = KubeClient.fromOptions({ kubeconfig: api.kubeconfig("admin"), as: "viewer", asGroups: ["g1", "g2"] });
    expect(await kube.selfSubjectReview()).toEqual({ username: "viewer", groups: ["g1", "g2", "system:authenticated"] });
    const last = api.requests.at(-1)!;
    expect(last.user).toBe("viewer");
    // impersonated viewer has viewer's permissions
    await expect(kube.list("v1", "Secret", { namespace: "team" })).rejects.toMatchObject({ status: 403 });
  });

  test("request timeout and unreachable server", async () => {
    const hang = http.createServer(() => {});
    await new Promise<void>((r) => hang.listen(0, "127.0.0.1", () => r()));
    const port = (hang.address() as any).port;
    const cfg: ResolvedKubeConfig = { source: "kubeconfig", files: [], server: `http://127.0.0.1:${port}`, namespace: "default", namespaceExplicit: false, tls: {}, auth: { kind: "none" }, impersonate: { groups: [] }, requestTimeoutMs: 300 };
    const t0 = Date.now();
    await expect(new KubeClient(cfg).version()).rejects.toThrow(`request to http://127.0.0.1:${port} timed out after 0.3s`);
    expect(Date.now() - t0).toBeLessThan(3000);
    hang.closeAllConnections?.();
    hang.close();
    const err = await new KubeClient({ ...cfg, server: `http://127.0.0.1:${port}` }).version().catch((e) => e);
    expect(err).toBeInstanceOf(KubeConnectionError);
  });
});

describe("platform routing on the wire", () => {
  test("a kubeconfig on <platform>/kubernetes/global reaches other clusters with forCluster()", async () => {
    const kc = kubeconfigFor({ token: "admin-token" });
    writeFileSync(kc, readFileSync(kc, "utf8").replace(`server: ${api.url}`, `server: ${api.url}/kubernetes/global/`));
    const global = KubeClient.fromOptions({ kubeconfig: kc, namespace: "team" });
    const before = api.requests.length;
    await global.list("v1", "ConfigMap");
    const dev = global.forCluster("dev");
    await dev.create({ apiVersion: ART, kind: "Artifact", metadata: { name: "routed" }, spec: {} });
    const reqs = api.requests.slice(before);
    expect(reqs.map((r) => `${r.cluster} ${r.method} ${r.path}`)).toEqual([
      "global GET /kubernetes/global/api/v1",
      "global GET /kubernetes/global/api/v1/namespaces/team/configmaps",
      "dev GET /kubernetes/dev/apis/app.alauda.io/v1alpha1",
      "dev POST /kubernetes/dev/apis/app.alauda.io/v1alpha1/namespaces/team/artifacts",
    ]);
    expect(() => admin.forCluster("dev")).toThrow(/is not a platform address/);
  });
});

describe("object operations", () => {
  const cm = (name: string, data: Record<string, string>, labels: Record<string, string> = {}): KubeObject => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, labels }, data });

  test("create/get/list with selectors and paging, namespace defaulting, generateName, AlreadyExists", async () => {
    const created = await admin.create(cm("one", { a: "1" }, { app: "violet", tier: "x" }));
    expect(created.metadata).toMatchObject({ name: "one", namespace: "team" }); // client namespace from the context
    expect(created.metadata.resourceVersion).toBeTruthy();
    await admin.create(cm("two", { a: "2" }, { app: "violet", tier: "y" }));
    await admin.create(cm("three", { a: "3" }, { app: "other" }));
    const gen = await admin.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { generateName: "gen-" }, data: {} });
    expect(gen.metadata.name).toMatch(/^gen-[a-z0-9]{5}$/);
    expect(api.get("v1", "ConfigMap", gen.metadata.name!, "team")).toBeTruthy();

    expect((await admin.get("v1", "ConfigMap", "one")).data).toEqual({ a: "1" });
    expect(await admin.tryGet("v1", "ConfigMap", "nope")).toBeUndefined();
    const names = async (o: Parameters<KubeClient["list"]>[2]) => (await admin.list("v1", "ConfigMap", o)).map((x) => x.metadata.name).sort();
    expect(await names({ labelSelector: { app: "violet" } })).toEqual(["one", "two"]);
    expect(await names({ labelSelector: "app=violet,tier!=x" })).toEqual(["two"]);
    expect(await names({ labelSelector: "tier in (x,y)" })).toEqual(["one", "two"]);
    expect(await names({ labelSelector: "!tier,app" })).toEqual(["three"]);
    expect(await names({ fieldSelector: "metadata.name=three" })).toEqual(["three"]);
    expect(await names({ namespace: "default" })).toEqual([]);
    // paging: limit 1 follows continue tokens
    const before = api.requests.length;
    expect(await names({ limit: 1 })).toEqual(["gen", "one", "three", "two"].map((n) => (n === "gen" ? gen.metadata.name! : n)).sort());
    expect(api.requests.slice(before).filter((r) => r.path === "/api/v1/namespaces/team/configmaps").length).toBe(4);
    const items = await admin.list("v1", "ConfigMap", { labelSelector: { app: "other" } });
    expect(items[0]).toMatchObject({ apiVersion: "v1", kind: "ConfigMap" });

    const dup = await admin.create(cm("one", {})).catch((e) => e);
    expect(dup).toBeInstanceOf(KubeApiError);
    expect(dup.isAlreadyExists).toBe(true);
    expect(dup.message).toBe(`already exists: configmaps "one" in namespace "team": configmaps "one" already exists`);
    // all namespaces
    expect((await admin.list("v1", "Namespace")).map((n) => n.metadata.name)).toContain("team");
    expect((await admin.list("v1", "ConfigMap", { allNamespaces: true })).length).toBe(4);
  });

  test("errors: 403 names verb, resource and namespace; 404; unknown kind", async () => {
    const viewer = KubeClient.fromOptions({ kubeconfig: api.kubeconfig("viewer", { namespace: "team" }) });
    expect((await viewer.list("v1", "ConfigMap")).length).toBeGreaterThan(0);
    const e = await viewer.create(cm("x", {})).catch((x) => x);
    expect(e).toBeInstanceOf(KubeApiError);
    expect(e.status).toBe(403);
    expect(e.message).toStartWith(`forbidden: not allowed to create configmaps "x" in namespace "team": configmaps is forbidden: User "viewer" cannot create resource "configmaps" in API group "" in the namespace "team"`);
    expect(e.hint).toContain("cluster admin");
    const art = await viewer.list(ART, "Artifact").catch((x) => x);
    expect(art.message).toStartWith(`forbidden: not allowed to list artifacts.app.alauda.io in namespace "team"`);
    const nf = await admin.get("v1", "Secret", "missing").catch((x) => x);
    expect(nf.message).toBe(`not found: secrets "missing" in namespace "team": secrets "missing" not found`);
    expect(nf.isNotFound).toBe(true);
    await expect(admin.get("v1", "Widget", "x")).rejects.toThrow(/no kind Widget in v1 \(is the CRD installed\?\)/);
    await expect(admin.list("nothing.example.com/v1", "Thing")).rejects.toThrow(/does not serve nothing\.example\.com\/v1/);
    await expect(admin.create(cm("y", {}), { namespace: "no-such-ns" })).rejects.toThrow(/namespaces "no-such-ns" not found/);
  });

  test("update with stale resourceVersion → 409; modify() retries with a fresh one", async () => {
    const cur = await admin.get("v1", "ConfigMap", "one");
    const updated = await admin.update({ ...cur, data: { a: "10" } });
    expect(updated.metadata.resourceVersion).not.toBe(cur.metadata.resourceVersion);
    const stale = await admin.update({ ...cur, data: { a: "stale" } }).catch((e) => e);
    expect(stale.status).toBe(409);
    expect(stale.isConflict).toBe(true);
    expect(stale.message).toStartWith(`conflict: configmaps "one" in namespace "team" was modified concurrently (update)`);

    let calls = 0;
    const res = await admin.modify("v1", "ConfigMap", "one", (o) => {
      calls++;
      if (calls === 1) {
        // someone else writes between our GET and PUT
        const live = api.get("v1", "ConfigMap", "one", "team")!;
        api.put({ ...live, data: { ...live.data, other: "writer" } });
      }
      o.data = { ...o.data, mine: String(calls) };
      return o;
    });
    expect(calls).toBe(2);
    expect(res.data).toEqual({ a: "10", other: "writer", mine: "2" });
  });

  test("merge, JSON and strategic patches; strategic on a CRD is 415; dry run changes nothing", async () => {
    expect((await admin.patch("v1", "ConfigMap", "two", { data: { b: "x", a: null } })).data).toEqual({ b: "x" });
    const j = await admin.patch("v1", "ConfigMap", "two", [{ op: "add", path: "/data/c", value: "y" }, { op: "test", path: "/data/b", value: "x" }, { op: "remove", path: "/data/b" }], { type: "json" });
    expect(j.data).toEqual({ c: "y" });
    await expect(admin.patch("v1", "ConfigMap", "two", [{ op: "test", path: "/data/c", value: "nope" }], { type: "json" })).rejects.toMatchObject({ status: 422 });
    const pod = api.addPod("team", "sm", "x\n", { phase: "Running" });
    expect(pod.metadata.name).toBe("sm");
    const p = await admin.patch("v1", "Pod", "sm", { spec: { containers: [{ name: "main", image: "busybox:2" }, { name: "side", image: "pause" }] } }, { type: "strategic" });
    expect(p.spec.containers).toEqual([{ name: "main", image: "busybox:2" }, { name: "side", image: "pause" }]);
    await admin.create({ apiVersion: ART, kind: "Artifact", metadata: { name: "a1" }, spec: { type: "bundle" } });
    await expect(admin.patch(ART, "Artifact", "a1", { spec: { x: 1 } }, { type: "strategic" })).rejects.toMatchObject({ status: 415 });
    const dry = await admin.patch("v1", "ConfigMap", "two", { data: { dry: "run" } }, { dryRun: true });
    expect(dry.data.dry).toBe("run");
    expect(api.get("v1", "ConfigMap", "two", "team")!.data).toEqual({ c: "y" });
    const dryCreate = await admin.create(cm("dry", {}), { dryRun: true });
    expect(dryCreate.metadata.name).toBe("dry");
    expect(api.get("v1", "ConfigMap", "dry", "team")).toBeUndefined();
  });

  test("server-side apply: create, update, ownership conflict, force; status subresource", async () => {
    const a: KubeObject = { apiVersion: ART, kind: "Artifact", metadata: { name: "ssa", labels: { l: "1" } }, spec: { type: "bundle", registry: "r1" } };
    const created = await admin.apply(a, { fieldManager: "violet" });
    expect(created.spec).toEqual({ type: "bundle", registry: "r1" });
    expect(api.requests.at(-1)).toMatchObject({ method: "PATCH", contentType: "application/apply-patch+yaml", query: { fieldManager: "violet" } });
    // another manager changes a field violet owns → violet's next apply conflicts unless forced
    await KubeClient.fromOptions({ kubeconfig: api.kubeconfig("admin") }, { fieldManager: "someone-else" }).patch(ART, "Artifact", "ssa", { spec: { registry: "r2" } }, { namespace: "team" });
    const c = await admin.apply({ ...a, spec: { type: "bundle", registry: "r3" } }, { fieldManager: "violet" }).catch((e) => e);
    expect(c.status).toBe(409);
    expect(c.message).toContain(`conflict with "someone-else": spec.registry`);
    const forced = await admin.apply({ ...a, spec: { type: "bundle", registry: "r3" } }, { fieldManager: "violet", force: true });
    expect(forced.spec.registry).toBe("r3");
    // fields dropped from the applied config are removed
    const dropped = await admin.apply({ ...a, spec: { type: "bundle" } }, { fieldManager: "violet", force: true });
    expect(dropped.spec).toEqual({ type: "bundle" });
    expect(dropped.metadata.managedFields?.some((m: any) => m.manager === "violet" && m.operation === "Apply")).toBe(true);
    // status only through the subresource
    await admin.patch(ART, "Artifact", "ssa", { status: { phase: "Ignored" } });
    expect(api.get(ART, "Artifact", "ssa", "team")!.status).toBeUndefined();
    await admin.patch(ART, "Artifact", "ssa", { status: { phase: "Present" } }, { subresource: "status" });
    expect(api.get(ART, "Artifact", "ssa", "team")!.status).toEqual({ phase: "Present" });
  });

  test("cluster-scoped kinds ignore the namespace; CRDs created through the API are discovered", async () => {
    const mp = await admin.create({ apiVersion: "cluster.alauda.io/v1alpha1", kind: "ModulePlugin", metadata: { name: "logging" }, spec: {} });
    expect(mp.metadata.namespace).toBeUndefined();
    expect(api.requests.at(-1)!.path).toBe("/apis/cluster.alauda.io/v1alpha1/moduleplugins");
    await expect(admin.list("example.com/v1", "Widget")).rejects.toThrow(/does not serve/);
    await admin.create({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "widgets.example.com" },
      spec: { group: "example.com", scope: "Namespaced", names: { kind: "Widget", plural: "widgets", singular: "widget" }, versions: [{ name: "v1", served: true, storage: true }] },
    });
    await admin.create({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" }, spec: {} });
    expect((await admin.list("example.com/v1", "widget")).map((w) => w.metadata.name)).toEqual(["w"]);
  });

  test("delete, ignoreNotFound, finalizers and waitFor", async () => {
    expect(await admin.delete("v1", "ConfigMap", "three")).toBe(true);
    expect(await admin.delete("v1", "ConfigMap", "three", { ignoreNotFound: true })).toBe(false);
    await expect(admin.delete("v1", "ConfigMap", "three")).rejects.toMatchObject({ status: 404 });

    await admin.create({ ...cm("fin", {}), metadata: { name: "fin", finalizers: ["example.com/hold"] } });
    await admin.delete("v1", "ConfigMap", "fin");
    const held = await admin.get("v1", "ConfigMap", "fin");
    expect(held.metadata.deletionTimestamp).toBeTruthy();
    setTimeout(() => admin.patch("v1", "ConfigMap", "fin", { metadata: { finalizers: null } }), 300);
    expect(await admin.waitFor("v1", "ConfigMap", "fin", "deleted", { timeoutMs: 5000, intervalMs: 100 })).toBeUndefined();

    await admin.create({ apiVersion: ART, kind: "Artifact", metadata: { name: "w1" }, spec: {} });
    setTimeout(() => admin.patch(ART, "Artifact", "w1", { status: { conditions: [{ type: "Ready", status: "True" }] } }, { subresource: "status" }), 300);
    const ready = await admin.waitFor(ART, "Artifact", "w1", { condition: "Ready" }, { timeoutMs: 5000, intervalMs: 100 });
    expect(ready!.status.conditions[0].status).toBe("True");
    const t = await admin.waitFor(ART, "Artifact", "w1", (o) => o.status?.phase === "Done", { timeoutMs: 400, intervalMs: 100 }).catch((e) => e);
    expect(t).toBeInstanceOf(KubeTimeoutError);
    expect(t.message).toBe(`timed out after 0s waiting for Artifact "w1" in namespace "team" to reach the expected state; conditions: Ready=True`);
  });

  test("pod logs: text, tail, container choice, follow until the pod ends", async () => {
    api.addPod("team", "specman-1", "line1\nline2\nline3\n");
    expect(await admin.logsText("specman-1")).toBe("line1\nline2\nline3\n");
    expect(await admin.logsText("specman-1", { tailLines: 1 })).toBe("line3\n");
    api.addPod("team", "multi", { a: "from a\n", b: "from b\n" });
    expect(await admin.logsText("multi", { container: "b" })).toBe("from b\n");
    await expect(admin.logsText("multi")).rejects.toThrow(/a container name must be specified for pod multi, choose one of: \[a b\]/);
    await expect(admin.logsText("nope")).rejects.toThrow(`not found: pods "nope" in namespace "team"`);

    api.addPod("team", "running", "start\n", { phase: "Running" });
    const stream = await admin.logs("running", { follow: true });
    setTimeout(() => api.appendLog("team", "running", "more\n"), 100);
    setTimeout(() => api.setPodPhase("team", "running", "Succeeded"), 250);
    expect(await new Response(stream).text()).toBe("start\nmore\n");
    const viewer = KubeClient.fromOptions({ kubeconfig: api.kubeconfig("viewer", { namespace: "team" }) });
    expect(await viewer.logsText("specman-1")).toContain("line1");
  });
});
