// The in-cluster pieces without a cluster: manifests (Indexed Job, ConfigMap, Secret), the backoffLimitPerIndex
// fallback for servers before 1.29, the pod's docker config (only the plan's hosts), big plans gzipped and read back.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jobManifests, podDockerConfig, supportsBackoffLimitPerIndex } from "../../plugins/kubectl-mirror/lib/cluster/in-cluster.ts";
import { PLAN_API, readPlanFile, type ShardPlanFile } from "../../plugins/kubectl-mirror/lib/cluster/shard-job.ts";
import type { KubeClient } from "../../shared/kube/index.ts";

function plan(items: number): ShardPlanFile {
  return {
    apiVersion: PLAN_API,
    kind: "MirrorShardPlan",
    shards: 3,
    waitSeconds: 60,
    concurrency: 8,
    platforms: [],
    extras: true,
    registry: { plainHttp: false, insecure: false, ca: true },
    items: Array.from({ length: items }, (_, i) => ({ id: i, shard: i % 3, kind: "image" as const, source: `docker.io/library/app${i}:1.0`, pull: `docker.io/library/app${i}:1.0`, destination: `reg.local/images/library/app${i}:1.0`, tags: ["1.0"], bytes: 1000 + i })),
    owners: {},
  };
}
const kube = (minor: string) => ({ version: async () => ({ major: "1", minor }) }) as unknown as KubeClient;

describe("manifests", () => {
  test("an Indexed Job (suspended, per-index backoff), the plan ConfigMap and a Secret mounted as files", () => {
    const [job, cm, secret] = jobManifests({ name: "kubectl-mirror-0123456789", namespace: "mirror", image: "reg.local/kube-airgap/mirror-runner@sha256:abc", plan: plan(5), perIndex: true, secretData: { "config.json": '{"auths":{"reg.local":{"auth":"dTpzM2NyM3Q="}}}', "ca.crt": "PEM" }, secretKeys: ["config.json", "ca.crt"] }) as any[];
    expect(job.spec).toMatchObject({ completionMode: "Indexed", completions: 3, parallelism: 3, backoffLimitPerIndex: 2, maxFailedIndexes: 3, suspend: true });
    const pod = job.spec.template.spec;
    expect(pod.restartPolicy).toBe("Never");
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.containers[0].command).toEqual(["/usr/local/bin/kubectl-mirror", "run-shard", "--plan", "/etc/kube-airgap/plan", "--auth", "/etc/kube-airgap/auth"]);
    expect(pod.volumes).toEqual(expect.arrayContaining([{ name: "plan", configMap: { name: "kubectl-mirror-0123456789-plan", defaultMode: 0o440 } }, { name: "auth", secret: { secretName: "kubectl-mirror-0123456789-auth", defaultMode: 0o440 } }]));
    // the kubelet writes the files as root: readable by the pod's user only through fsGroup (its group)
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532 });
    // nothing secret in the Job: only references to the Secret
    expect(JSON.stringify(job)).not.toContain("dTpzM2NyM3Q=");
    expect(JSON.stringify(job)).not.toContain("s3cr3t");
    expect(JSON.parse(cm.data["plan.json"]).items).toHaveLength(5);
    expect(Buffer.from(secret.data["config.json"], "base64").toString()).toContain("reg.local");
  });

  test("dry run: the Secret carries placeholders, never credentials", () => {
    const [, , secret] = jobManifests({ name: "j", namespace: "m", image: "i", plan: plan(1), perIndex: true, secretKeys: ["config.json"] }) as any[];
    expect(secret.data).toBeUndefined();
    expect(secret.stringData["config.json"]).toMatch(/not printed/);
  });

  test("servers before 1.29 get backoffLimit instead of backoffLimitPerIndex", async () => {
    expect(await supportsBackoffLimitPerIndex(kube("28"))).toBe(false);
    expect(await supportsBackoffLimitPerIndex(kube("29"))).toBe(true);
    expect(await supportsBackoffLimitPerIndex(kube("33+"))).toBe(true);
    const [job] = jobManifests({ name: "j", namespace: "m", image: "i", plan: plan(4), perIndex: false, secretKeys: [] }) as any[];
    expect(job.spec.backoffLimitPerIndex).toBeUndefined();
    expect(job.spec.maxFailedIndexes).toBeUndefined();
    expect(job.spec.backoffLimit).toBe(6);
  });

  test("a big plan goes into binaryData gzipped, and the pod reads it back", () => {
    const big = plan(6000);
    const [, cm] = jobManifests({ name: "j", namespace: "m", image: "i", plan: big, perIndex: true, secretKeys: [] }) as any[];
    expect(cm.data).toBeUndefined();
    const gz = Buffer.from(cm.binaryData["plan.json.gz"], "base64");
    expect(gz.length).toBeLessThan(900 << 10);
    const dir = mkdtempSync(join(tmpdir(), "ka-plan-"));
    writeFileSync(join(dir, "plan.json.gz"), gz);
    expect(readPlanFile(dir).items).toHaveLength(6000);
  });
});

test("the pod's docker config holds the credentials of the plan's hosts only", async () => {
  const creds: Record<string, { username: string; password: string }> = { "src.local": { username: "a", password: "pa" }, "reg.local": { username: "b", password: "pb" }, "other.local": { username: "c", password: "pc" } };
  const r = await podDockerConfig(["reg.local", "src.local", "reg.local", "nocreds.local"], { credentials: async (h) => creds[h] });
  const cfg = JSON.parse(r.json);
  expect(Object.keys(cfg.auths).sort()).toEqual(["reg.local", "src.local"]);
  expect(Buffer.from(cfg.auths["reg.local"].auth, "base64").toString()).toBe("b:pb");
  expect(r.json).not.toContain("pc");
});
