// Real kubectl (1.31 from the Helm 3 layer, 1.33 from the Helm 4 layer) against the fake kube-apiserver with a
// generated kubeconfig: get, get -o yaml, apply -f (client- and server-side), delete, logs, selectors, RBAC.
// This keeps the fake honest: if it drifts from kube-apiserver behaviour kubectl notices.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { startFakeApiServer, type FakeApiServer } from "../support/kube-apiserver.ts";

// generous: the suite shares 2 cores with other test files (openssl key generation, subprocesses)
setDefaultTimeout(60_000);

const root = join(import.meta.dir, "../..");
const kubectls: [string, string][] = [
  ["kubectl 1.31", join(root, ".tools/helm3/kubectl")],
  ["kubectl 1.33", join(root, ".tools/helm4/kubectl")],
];

let api: FakeApiServer;
let dir: string;

beforeAll(async () => {
  for (const [, bin] of kubectls) if (!existsSync(bin)) throw new Error(`${bin} is missing: run bash scripts/setup.sh`);
  dir = mkdtempSync(join(tmpdir(), "ka-kubectl-"));
  api = await startFakeApiServer({
    tls: true,
    namespaces: ["v131", "v133"],
    crds: [
      {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: "artifacts.app.alauda.io" },
        spec: { group: "app.alauda.io", scope: "Namespaced", names: { kind: "Artifact", plural: "artifacts", singular: "artifact", listKind: "ArtifactList" }, versions: [{ name: "v1alpha1", served: true, storage: true, subresources: { status: {} } }] },
      },
    ],
    users: {
      admin: { allow: "*" },
      viewer: { allow: [{ verbs: ["get", "list"], resources: ["pods", "pods/log", "configmaps"] }] },
    },
  });
})

afterAll(async () => {
  await api?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Run kubectl asynchronously (the fake server lives in this process and must keep serving). */
function kubectl(bin: string, args: string[], kubeconfig: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ["--kubeconfig", kubeconfig, ...args], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, KUBECACHEDIR: join(dir, "cache") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe.each(kubectls)("%s against the fake apiserver", (label, bin) => {
  const ns = label.endsWith("1.31") ? "v131" : "v133";
  let admin: string;
  let viewer: string;
  beforeAll(() => {
    admin = api.kubeconfig("admin", { namespace: ns });
    viewer = api.kubeconfig("viewer", { namespace: ns });
  });

  test("apply -f (create, then configure), get, get -o yaml, selectors", async () => {
    const manifest = join(dir, `${ns}-app.yaml`);
    const write = (value: string) =>
      writeFileSync(manifest, `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {app: violet}
data:
  key: "${value}"
---
apiVersion: app.alauda.io/v1alpha1
kind: Artifact
metadata:
  name: demo-operator
  labels: {app: violet}
spec:
  type: bundle
  registry: registry.local/${value}
`);
    write("one");
    let r = await kubectl(bin, ["apply", "-f", manifest], admin);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("configmap/settings created\nartifact.app.alauda.io/demo-operator created\n");
    expect(api.get("v1", "ConfigMap", "settings", ns)!.data).toEqual({ key: "one" });
    expect(api.get("app.alauda.io/v1alpha1", "Artifact", "demo-operator", ns)!.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]).toContain("registry.local/one");

    write("two");
    r = await kubectl(bin, ["apply", "-f", manifest], admin);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("configmap/settings configured\nartifact.app.alauda.io/demo-operator configured\n");
    expect(api.get("app.alauda.io/v1alpha1", "Artifact", "demo-operator", ns)!.spec.registry).toBe("registry.local/two");
    r = await kubectl(bin, ["apply", "-f", manifest], admin);
    expect(r.stdout).toBe("configmap/settings unchanged\nartifact.app.alauda.io/demo-operator unchanged\n");

    r = await kubectl(bin, ["get", "artifacts"], admin);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^NAME\s+AGE\ndemo-operator\s+\d+s\n$/);
    r = await kubectl(bin, ["get", "artifact", "demo-operator", "-o", "yaml"], admin);
    const obj = parse(r.stdout);
    expect(obj).toMatchObject({ apiVersion: "app.alauda.io/v1alpha1", kind: "Artifact", metadata: { name: "demo-operator", namespace: ns }, spec: { registry: "registry.local/two" } });
    expect(obj.metadata.resourceVersion).toBe(api.get("app.alauda.io/v1alpha1", "Artifact", "demo-operator", ns)!.metadata.resourceVersion);
    r = await kubectl(bin, ["get", "configmaps", "-l", "app=violet", "-o", "name"], admin);
    expect(r.stdout).toBe("configmap/settings\n");
    r = await kubectl(bin, ["get", "configmaps", "-l", "app=other", "-o", "name"], admin);
    expect(r.stdout).toBe("");
    r = await kubectl(bin, ["get", "cm", "--field-selector", "metadata.name=settings", "-o", "jsonpath={.items[*].data.key}"], admin);
    expect(r.stdout).toBe("two");
  }, 30_000);

  test("apply --server-side, then delete -f", async () => {
    const manifest = join(dir, `${ns}-ssa.yaml`);
    writeFileSync(manifest, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  k: v\n");
    let r = await kubectl(bin, ["apply", "--server-side", "-f", manifest], admin);
    expect(r.stdout).toBe("configmap/ssa serverside-applied\n");
    expect(api.get("v1", "ConfigMap", "ssa", ns)!.metadata.managedFields[0]).toMatchObject({ manager: "kubectl", operation: "Apply" });
    r = await kubectl(bin, ["delete", "-f", manifest], admin);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^configmap "ssa" deleted( from v13\d namespace)?\n$/);
    expect(api.get("v1", "ConfigMap", "ssa", ns)).toBeUndefined();
    r = await kubectl(bin, ["delete", "configmap", "ssa"], admin);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Error from server (NotFound): configmaps "ssa" not found`);
  }, 30_000);

  test("get pods and logs (-c, --tail, -f)", async () => {
    api.addPod(ns, "specman", "downloading\npushed 3 images\n");
    api.addPod(ns, "two", { init: "i\n", main: "m1\nm2\n" });
    let r = await kubectl(bin, ["get", "pods"], admin);
    expect(r.stdout).toMatch(/^NAME\s+STATUS\s+AGE\nspecman\s+Succeeded\s+\d+s\ntwo\s+Succeeded\s+\d+s\n$/);
    r = await kubectl(bin, ["logs", "specman"], viewer);
    expect(r.stdout).toBe("downloading\npushed 3 images\n");
    r = await kubectl(bin, ["logs", "two", "-c", "main", "--tail", "1"], admin);
    expect(r.stdout).toBe("m2\n");
    api.addPod(ns, "live", "a\n", { phase: "Running" });
    const follow = kubectl(bin, ["logs", "-f", "live"], admin);
    setTimeout(() => api.appendLog(ns, "live", "b\n"), 500);
    setTimeout(() => api.setPodPhase(ns, "live", "Succeeded"), 900);
    r = await follow;
    expect(r.stdout).toBe("a\nb\n");
  }, 30_000);

  test("wait --for=condition (list + watch) and wait --for=delete", async () => {
    api.addPod(ns, "starting", "", { phase: "Pending" });
    const waiting = kubectl(bin, ["wait", "--for=condition=Ready", "pod/starting", "--timeout=20s"], admin);
    setTimeout(() => api.setPodPhase(ns, "starting", "Running"), 700);
    let r = await waiting;
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("pod/starting condition met\n");
    const gone = kubectl(bin, ["wait", "--for=delete", "pod/starting", "--timeout=20s"], admin);
    setTimeout(() => api.remove("v1", "Pod", "starting", ns), 700);
    r = await gone;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/pod\/starting condition met|deleted/);
    r = await kubectl(bin, ["wait", "--for=condition=Ready", "pod/specman", "--timeout=1s"], admin);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("timed out waiting for the condition");
  }, 30_000);

  test("RBAC: a viewer is forbidden to create and to read secrets", async () => {
    let r = await kubectl(bin, ["get", "secrets"], viewer);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Error from server (Forbidden): secrets is forbidden: User "viewer" cannot list resource "secrets" in API group "" in the namespace "${ns}"`);
    r = await kubectl(bin, ["create", "configmap", "nope", "--from-literal=a=b"], viewer);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot create resource "configmaps"`);
    expect(api.get("v1", "ConfigMap", "nope", ns)).toBeUndefined();
    r = await kubectl(bin, ["auth", "can-i", "list", "pods"], viewer);
    expect(r.stdout.trim()).toBe("yes");
    r = await kubectl(bin, ["auth", "can-i", "delete", "pods"], viewer);
    expect(r.stdout.trim()).toBe("no");
  }, 30_000);
});
