// Issue 11.8: `kubectl mirror copy-ca` follows seed 004 ("Copy the Zot CA to the Workload Namespace"): on the
// spoke, wait for `zot-ca` OR `oci-tls-hub` in mural-system, and always create `zot-ca` in the workload
// namespace (creating the namespace like the seed's `kubectl create namespace`); `--wait 7s` waits 7 s.
// Against the fake API server, checked with the real kubectl the seed's validation step uses.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakeApiServer, type FakeApiServer } from "../support/kube-apiserver.ts";
import { KUBECTL, runCli } from "../support/cli.ts";
import { KubeClient } from "../../shared/kube/index.ts";
import { run } from "../support/images.ts";
import { copyCa, parseCaSource } from "../../plugins/kubectl-mirror/lib/cluster/copy-ca.ts";

let spoke: FakeApiServer;
let kubeconfig: string;
const b64 = (s: string) => Buffer.from(s).toString("base64");
const HUB_CA = b64("-----BEGIN CERTIFICATE-----\nHUB\n-----END CERTIFICATE-----\n");
const ZOT_CA = b64("-----BEGIN CERTIFICATE-----\nZOT\n-----END CERTIFICATE-----\n");

beforeAll(async () => {
  spoke = await startFakeApiServer({ tls: true, namespaces: ["mural-system", "other-system", "empty-system"] });
  kubeconfig = spoke.kubeconfig("admin");
});
afterAll(async () => {
  await spoke?.stop();
});

const mirror = (args: string[]) => runCli("kubectl-mirror", ["copy-ca", ...args, "--kubeconfig", kubeconfig], { env: { NO_COLOR: "1" } });
// async: the fake API server runs in this process
async function kubectl(args: string[]): Promise<string> {
  const r = await run(KUBECTL, [...args, "--kubeconfig", kubeconfig]);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.toString("utf8");
}

describe("copy-ca as in seed 004", () => {
  test("no source given: waits for oci-tls-hub in mural-system, creates the namespace and zot-ca in it (ca.crt only)", async () => {
    const pending = mirror(["-n", "clearml", "--create-namespace", "--wait", "20s", "-o", "json"]);
    await Bun.sleep(1500);
    spoke.put({ apiVersion: "v1", kind: "Secret", metadata: { name: "oci-tls-hub", namespace: "mural-system" }, type: "kubernetes.io/tls", data: { "ca.crt": HUB_CA, "tls.crt": HUB_CA, "tls.key": b64("PRIVATE KEY") } });
    const r = await pending;
    expect(r.stderr).toContain("waiting up to 20s for secret mural-system/zot-ca or mural-system/oci-tls-hub with ca.crt");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ source: "mural-system/oci-tls-hub", target: "clearml/zot-ca", keys: ["ca.crt"], action: "created", namespaceCreated: true });
    // the seed's validation, with the real kubectl
    expect(await kubectl(["get", "secret", "zot-ca", "--namespace", "clearml"])).toMatch(/^NAME\s+TYPE\s+DATA\s+AGE\nzot-ca\s+Opaque\s+1\s+\S+\n$/);
    const s = JSON.parse(await kubectl(["get", "secret", "zot-ca", "--namespace", "clearml", "-o", "json"]));
    expect(s.data).toEqual({ "ca.crt": HUB_CA });
    // idempotent
    const again = await mirror(["-n", "clearml", "-o", "json"]);
    expect(JSON.parse(again.stdout).action).toBe("unchanged");
  }, 30_000);

  test("zot-ca wins over oci-tls-hub when both exist (the seed checks zot-ca first); the target is still zot-ca", async () => {
    spoke.put({ apiVersion: "v1", kind: "Secret", metadata: { name: "zot-ca", namespace: "mural-system" }, data: { "ca.crt": ZOT_CA } });
    // (kubectl create namespace sends protobuf, which the fake does not decode)
    spoke.put({ apiVersion: "v1", kind: "Namespace", metadata: { name: "apps" } });
    const r = await mirror(["-n", "apps"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/fake:mural-system\/zot-ca\s+fake:apps\/zot-ca\s+ca\.crt\s+created\n/);
    expect(JSON.parse(await kubectl(["get", "secret", "zot-ca", "-n", "apps", "-o", "json"])).data).toEqual({ "ca.crt": ZOT_CA });
    // an explicit NAMESPACE alone means its zot-ca or oci-tls-hub; --to-name overrides the target name
    spoke.put({ apiVersion: "v1", kind: "Secret", metadata: { name: "oci-tls-hub", namespace: "other-system" }, type: "kubernetes.io/tls", data: { "ca.crt": HUB_CA, "tls.key": b64("K") } });
    const o = await mirror(["other-system", "-n", "apps", "--to-name", "hub-ca", "-o", "json"]);
    expect(JSON.parse(o.stdout)).toMatchObject({ source: "other-system/oci-tls-hub", target: "apps/hub-ca" });
  }, 30_000);

  test("a missing workload namespace is an error naming --create-namespace; dry-run creates nothing", async () => {
    const r = await mirror(["-n", "nope"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("error: namespace nope does not exist in context fake (add --create-namespace, or create it first (kubectl create namespace …))");
    const dry = await mirror(["-n", "nope", "--create-namespace", "--dry-run", "-o", "json"]);
    expect(JSON.parse(dry.stdout)).toMatchObject({ action: "would-create", namespaceCreated: true });
    expect(spoke.get("v1", "Namespace", "nope")).toBeUndefined();
  }, 30_000);

  test("neither secret present: one clear error, with and without --wait", async () => {
    const r = await mirror(["empty-system", "-n", "apps"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("error: neither secret empty-system/zot-ca nor empty-system/oci-tls-hub exists in context fake (add --wait 5m to wait for it)");
    const w = await mirror(["empty-system", "-n", "apps", "--wait", "1s"]);
    expect(w.code).toBe(1);
    expect(w.stderr).toContain("error: neither secret empty-system/zot-ca nor empty-system/oci-tls-hub appeared within 1s");
  }, 30_000);

  test("--wait 7s waits 7 s, not 6 (single source too)", async () => {
    const kube = KubeClient.fromOptions({ kubeconfig });
    for (const source of ["empty-system", "empty-system/none"]) {
      const t0 = Date.now();
      const err = await copyCa({ from: kube, to: kube, source, namespace: "apps", waitMs: 7000, intervalMs: 1000 }).catch((e) => e);
      const took = Date.now() - t0;
      expect(String(err)).toMatch(/within 7s/);
      expect(took).toBeGreaterThanOrEqual(7000);
      expect(took).toBeLessThan(8500);
    }
  }, 30_000);

  test("KubeClient.waitFor waits its whole timeout too (the last poll is at the deadline)", async () => {
    const kube = KubeClient.fromOptions({ kubeconfig });
    const t0 = Date.now();
    const err = await kube.waitFor("v1", "Secret", "never", () => true, { namespace: "empty-system", timeoutMs: 3000, intervalMs: 1000 }).catch((e) => e);
    expect(String(err)).toContain("timed out after 3s");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3000);
  }, 30_000);

  test("source parsing", () => {
    expect(parseCaSource(undefined)).toEqual({ namespace: "mural-system", names: ["zot-ca", "oci-tls-hub"] });
    expect(parseCaSource("zot-system/zot-ca")).toEqual({ namespace: "zot-system", names: ["zot-ca"] });
    expect(parseCaSource("mural-system/a,b")).toEqual({ namespace: "mural-system", names: ["a", "b"] });
    expect(() => parseCaSource("a/b/c")).toThrow(/expected NAMESPACE, NAMESPACE\/NAME or NAMESPACE\/NAME1,NAME2/);
  });
});
