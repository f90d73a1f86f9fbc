// kubectl mirror copy|sync --in-cluster end to end: the client (from source) plans, builds the runner image into
// the destination registry, creates the Indexed Job + ConfigMap + Secret in the fake apiserver; a test kubelet
// (test/support/kubelet.ts) runs every pod as the COMPILED binary with JOB_COMPLETION_INDEX and the mounted
// ConfigMap/Secret as files, and updates the Job status. Source and destination: TLS + htpasswd registries.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { parseAllDocuments } from "yaml";
import { buildPlugin, hostTarget } from "../../scripts/build.ts";
import { pushArtifact } from "../../shared/oci/artifact.ts";
import { createClient } from "../../shared/oci/client.ts";
import { parseRegistryReference } from "../../shared/oci/reference.ts";
import { RegistryRepository } from "../../shared/oci/registry.ts";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";
import { fileDigest } from "../../shared/oci/digest.ts";
import { runnerTag } from "../../plugins/kubectl-mirror/lib/cluster/runner-image.ts";
import { BUN, KUBECTL, ROOT, runCli, type CliResult } from "../support/cli.ts";
import { spawn } from "node:child_process";
import { startFakeApiServer, type FakeApiServer } from "../support/kube-apiserver.ts";
import { kubeletIsolation, startFakeKubelet, type Fault, type FakeKubelet } from "../support/kubelet.ts";
import { createCA, type TestCA } from "../support/pki.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { run } from "../support/images.ts";

/** real kubectl, asynchronously (the fake apiserver lives in this process) */
async function kubectl(args: string[], input: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const r = await run(KUBECTL, args, { input, env: { ...process.env, HOME: tmp }, timeoutMs: 60_000 });
  return { status: r.code, stdout: r.stdout.toString("utf8"), stderr: r.stderr };
}

const N = 40;
let tmp: string;
let ca: TestCA;
let src: TestRegistry;
let dst: TestRegistry;
let api: FakeApiServer;
let binary: string;
let env: Record<string, string>;
let kubeconfig: string;
const digests = new Map<number, string>();
/** every blob digest of the 40 images (config, shared base, own layer) */
const blobs = new Set<string>();

function pairsFile(prefix: string): string {
  const f = join(tmp, `pairs-${prefix}.txt`);
  writeFileSync(f, Array.from({ length: N }, (_, i) => `${src.host}/apps/app${i}:v1 ${dst.host}/${prefix}/app${i}:v1`).join("\n") + "\n");
  return f;
}

function mirror(args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
  return runCli("kubectl-mirror", args, { env: { ...env, ...extraEnv }, timeoutMs: 240_000 });
}

function clusterArgs(prefix: string, extra: string[] = [], kc = kubeconfig): string[] {
  return ["copy", "--from-file", pairsFile(prefix), "--in-cluster", "--shards", "4", "-n", "mirror", "--kubeconfig", kc, "--runner-base", `${dst.host}/base/cc:latest`, "--runner-binary", binary, "--ca-file", ca.cert, "-o", "json", ...extra];
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "ka-incluster-"));
  ca = createCA(mkdtempSync(join(tmp, "ca-")));
  [src, dst, api] = await Promise.all([
    startRegistry({ auth: "htpasswd", tls: ca }),
    startRegistry({ auth: "htpasswd", tls: ca, logLevel: "info" }),
    startFakeApiServer({ tls: true, namespaces: ["mirror"] }),
  ]);
  binary = (await buildPlugin({ plugin: "kubectl-mirror", target: hostTarget(), outDir: join(tmp, "bin") })).file;
  const home = join(tmp, "home");
  mkdirSync(join(home, ".docker"), { recursive: true });
  writeFileSync(join(home, ".docker", "config.json"), JSON.stringify({ auths: { ...src.dockerConfig().auths, ...dst.dockerConfig().auths } }));
  env = { HOME: home, DOCKER_CONFIG: join(home, ".docker"), NO_COLOR: "1", KUBE_AIRGAP_NO_CACHE: "1" };
  kubeconfig = api.kubeconfig("admin", { namespace: "mirror" });
  // 40 images: one shared 256 KiB base layer + an own layer of 4-60 KiB + config
  const opts = { caFiles: [{ file: ca.cert }], credentials: staticCredentials({ username: src.username, password: src.password }) };
  const client = createClient(opts);
  const base = randomBytes(256 << 10);
  for (let i = 0; i < N; i++) {
    const own = randomBytes((4 + ((i * 7) % 57)) << 10);
    const r = await pushArtifact(`${src.host}/apps/app${i}:v1`, { config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, i })) }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", bytes: base }, { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", bytes: own }] }, { client });
    digests.set(i, r.digest);
    blobs.add(r.manifest.config.digest);
    for (const l of r.manifest.layers) blobs.add(l.digest);
  }
  client.transport.close();
  // the runner base image the user already has in the destination registry
  const dclient = createClient({ caFiles: [{ file: ca.cert }], credentials: staticCredentials({ username: dst.username, password: dst.password }) });
  await pushArtifact(`${dst.host}/base/cc:latest`, { config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", config: { User: "65532" }, rootfs: { type: "layers", diff_ids: [] } })) }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", bytes: randomBytes(1024) }] }, { client: dclient });
  dclient.transport.close();
}, 240_000);

afterAll(async () => {
  await Promise.all([src?.stop(), dst?.stop(), api?.stop()]);
  rmSync(tmp, { recursive: true, force: true });
});

async function withKubelet<T>(fault: ((i: number, a: number) => Fault) | undefined, fn: (k: FakeKubelet) => Promise<T>): Promise<T> {
  const k = startFakeKubelet(api, { binary, fault, env: { NO_COLOR: "1" } });
  try {
    return await fn(k);
  } finally {
    await k.stop();
  }
}

/** PUTs that completed a blob upload, per digest, since `from` (registry log lines, info level). */
function blobUploads(prefix: string, fromLine: number): Map<string, number> {
  const lines = dst.logs().split("\n").slice(fromLine);
  const out = new Map<string, number>();
  for (const l of lines) {
    if (!/response completed/.test(l) || !/http\.request\.method=PUT/.test(l)) continue;
    const m = new RegExp(`uri="?/v2/${prefix}/[^ ]*/blobs/uploads/[^ ]*digest=(sha256(?::|%3A)[0-9a-f]{64})`).exec(l);
    if (m) {
      const d = m[1]!.replace("%3A", ":");
      out.set(d, (out.get(d) ?? 0) + 1);
    }
  }
  return out;
}

async function tagDigest(ref: string): Promise<string | undefined> {
  const c = createClient({ caFiles: [{ file: ca.cert }], credentials: staticCredentials({ username: dst.username, password: dst.password }) });
  try {
    const r = parseRegistryReference(ref);
    return await RegistryRepository.fromReference(c, r).resolve(r.tag!).then((d) => d.digest, () => undefined);
  } finally {
    c.transport.close();
  }
}

async function runnerImage(): Promise<{ layers: number; binaryLabel?: string; lastLayerSize: number }> {
  const c = createClient({ caFiles: [{ file: ca.cert }], credentials: staticCredentials({ username: dst.username, password: dst.password }) });
  try {
    const repo = RegistryRepository.fromReference(c, parseRegistryReference(`${dst.host}/kube-airgap/mirror-runner:x`));
    const m = JSON.parse(Buffer.from(await repo.fetchManifest(await repo.resolve(runnerTag("amd64")))).toString());
    const chunks: Buffer[] = [];
    for await (const x of await repo.fetchBlob(m.config)) chunks.push(x as Buffer);
    const cfg = JSON.parse(Buffer.concat(chunks).toString());
    return { layers: m.layers.length, binaryLabel: cfg.config?.Labels?.["io.kube-airgap.runner.binary"], lastLayerSize: m.layers.at(-1).size };
  } finally {
    c.transport.close();
  }
}

describe("manifests", () => {
  test("real kubectl reads the generated Job, ConfigMap and Secret (client and server dry run); no credential in them", async () => {
    const r = await mirror(clusterArgs("dry", ["--dry-run", "-o", "yaml"]));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("kind: Job");
    expect(r.stdout).toContain("completionMode: Indexed");
    expect(r.stdout).toContain("backoffLimitPerIndex: 2");
    expect(r.stdout).toContain("kind: ConfigMap");
    expect(r.stdout).toContain("kind: Secret");
    expect(r.stdout + r.stderr).not.toContain(dst.password);
    expect(r.stdout + r.stderr).not.toContain(src.password);
    for (const mode of ["client", "server"]) {
      const k = await kubectl(["apply", `--dry-run=${mode}`, "-f", "-", "--kubeconfig", kubeconfig], r.stdout);
      expect(k.status, k.stderr).toBe(0);
      expect(k.stdout).toMatch(/job\.batch\/kubectl-mirror-[0-9a-f]{10} created \((server )?dry run\)/);
      expect(k.stdout).toMatch(/configmap\/kubectl-mirror-[0-9a-f]{10}-plan created/);
      expect(k.stdout).toMatch(/secret\/kubectl-mirror-[0-9a-f]{10}-auth created/);
    }
    // the server dry run reached the apiserver's Job validation and stored nothing
    expect(api.requests.some((q) => q.method === "POST" && q.path === "/apis/batch/v1/namespaces/mirror/jobs" && q.query.dryRun === "All" && q.status === 201)).toBe(true);
    expect(api.list("batch/v1", "Job", "mirror")).toHaveLength(0);
  }, 120_000);

  test("the test apiserver refuses an Indexed Job without completions, like kube-apiserver", async () => {
    const bad = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: bad, namespace: mirror}\nspec:\n  completionMode: Indexed\n  backoffLimitPerIndex: 1\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: x}]\n";
    const k = await kubectl(["apply", "--dry-run=server", "-f", "-", "--kubeconfig", kubeconfig], bad);
    expect(k.status).not.toBe(0);
    expect(k.stderr).toContain("spec.completions");
  });
});

describe("copy --in-cluster", () => {
  test("40 images, 4 shards, into a TLS + basic-auth registry: each blob uploaded once, merged report, Secret owned by the Job and gone with it; re-run is a no-op", async () => {
    const logStart = dst.logs().split("\n").length - 1;
    const r = await withKubelet(undefined, async (k) => {
      const res = await mirror(clusterArgs("run1"));
      return { res, runs: [...k.runs] };
    });
    expect(r.res.code, `${r.runs[0]?.output.slice(0, 1500)}\n${r.res.stderr}${r.res.stdout.slice(0, 1500)}`).toBe(0);
    const out = JSON.parse(r.res.stdout);
    expect(out.items).toHaveLength(N);
    expect(out.summary.failed).toBe(0);
    for (let i = 0; i < N; i++) {
      const it = out.items.find((x: any) => x.source === `${src.host}/apps/app${i}:v1`);
      expect(it.status).toBe("copied");
      expect(it.digest).toBe(digests.get(i));
      expect(await tagDigest(`${dst.host}/run1/app${i}:v1`)).toBe(digests.get(i));
    }
    // 4 shards, one pod each, the compiled binary with JOB_COMPLETION_INDEX
    expect(r.runs.map((x) => x.index).sort()).toEqual([0, 1, 2, 3]);
    expect(r.runs.every((x) => x.code === 0)).toBe(true);
    // as a kubelet runs them: uid/gid 65532 in group fsGroup, read-only root filesystem
    const iso = kubeletIsolation();
    if (iso.users) for (const x of r.runs) expect([x.uid, x.gid, x.groups]).toEqual([65532, 65532, [65532]]);
    if (iso.mountNamespace) expect(r.runs.every((x) => x.readOnlyRoot)).toBe(true);
    // each blob uploaded exactly once: by the merged report and by the registry's own log
    const copied = out.items.reduce((a: number, x: any) => a + x.blobsCopied, 0);
    expect(copied).toBe(blobs.size);
    const uploads = blobUploads("run1", logStart);
    for (const b of blobs) expect(uploads.get(b) ?? 0).toBe(1);
    expect(out.items.reduce((a: number, x: any) => a + (x.blobsMounted ?? 0), 0)).toBeGreaterThan(0); // the shared base, in the shards that do not own it
    // the plan split the items disjointly over the 4 shards
    const plan = JSON.parse(r.runs[0]!.files["/etc/kube-airgap/plan/plan.json"]!);
    expect(plan.items).toHaveLength(N);
    expect(new Set(plan.items.map((x: any) => x.shard))).toEqual(new Set([0, 1, 2, 3]));
    // what was created: Job (suspended first), then the ConfigMap and Secret owned by it; credentials only in the Secret
    const posts = api.requests.filter((q) => q.method === "POST" && !q.query.dryRun).map((q) => q.path);
    expect(posts).toEqual(expect.arrayContaining(["/apis/batch/v1/namespaces/mirror/jobs", "/api/v1/namespaces/mirror/configmaps", "/api/v1/namespaces/mirror/secrets"]));
    const auth = JSON.parse(r.runs[0]!.files["/etc/kube-airgap/auth/config.json"]!);
    expect(Object.keys(auth.auths).sort()).toEqual([src.host, dst.host].sort());
    for (const x of r.runs) expect(x.output).not.toContain(dst.password);
    expect(r.res.stdout + r.res.stderr).not.toContain(dst.password);
    // the Job was deleted after the merge, and garbage collection took the ConfigMap, Secret and pods with it
    expect(api.list("batch/v1", "Job", "mirror")).toHaveLength(0);
    expect(api.list("v1", "Secret", "mirror")).toHaveLength(0);
    expect(api.list("v1", "ConfigMap", "mirror")).toHaveLength(0);
    expect(api.list("v1", "Pod", "mirror")).toHaveLength(0);
    // the runner image: the base + one layer with the binary, in the destination registry
    expect(r.res.stderr).toMatch(/building the runner image .*kube-airgap\/mirror-runner/);
    const image = await runnerImage();
    expect(image.layers).toBe(2); // base layer + the binary
    expect(image.binaryLabel).toBe(await fileDigest(binary).then((d) => d.digest));
    expect(image.lastLayerSize).toBeGreaterThan(1 << 20);

    // re-run: everything is in place, no Job is created
    const jobsBefore = api.requests.filter((q) => q.method === "POST" && q.path.endsWith("/jobs") && !q.query.dryRun).length;
    const again = await mirror(clusterArgs("run1"));
    expect(again.code, again.stderr).toBe(0);
    const out2 = JSON.parse(again.stdout);
    expect(out2.items.every((x: any) => x.status === "up-to-date")).toBe(true);
    expect(api.requests.filter((q) => q.method === "POST" && q.path.endsWith("/jobs") && !q.query.dryRun).length).toBe(jobsBefore);
  }, 300_000);

  test("a shard whose pod fails once is retried and the run succeeds", async () => {
    const r = await withKubelet((i, a) => (i === 1 && a === 0 ? "crash" : undefined), async (k) => ({ res: await mirror(clusterArgs("run2")), runs: [...k.runs] }));
    expect(r.res.code, r.res.stderr).toBe(0);
    expect(r.runs.filter((x) => x.index === 1).map((x) => x.code)).toEqual([137, 0]);
    const out = JSON.parse(r.res.stdout);
    expect(out.items.filter((x: any) => x.status === "copied")).toHaveLength(N);
    // the runner image was reused, not rebuilt
    expect(r.res.stderr).not.toContain("building the runner image");
  }, 300_000);

  test("a shard whose pod is lost after its copies is retried; the report keeps what the first attempt copied", async () => {
    // the retry finds that shard's images "up-to-date": this run copied them, and says so
    const r = await withKubelet((i, a) => (i === 0 && a === 0 ? "lost-after" : undefined), async (k) => ({ res: await mirror(clusterArgs("run2b")), runs: [...k.runs] }));
    expect(r.res.code, r.res.stderr).toBe(0);
    expect(r.runs.filter((x) => x.index === 0).map((x) => x.code)).toEqual([137, 0]);
    const out = JSON.parse(r.res.stdout);
    expect(out.items.filter((x: any) => x.status === "copied")).toHaveLength(N);
  }, 300_000);

  test("a shard that keeps failing makes the command exit non-zero naming exactly that shard's items", async () => {
    const r = await withKubelet((i) => (i === 2 ? "bad-auth" : undefined), async (k) => ({ res: await mirror(clusterArgs("run3", ["--shard-wait", "3s"])), runs: [...k.runs] }));
    expect(r.res.code).not.toBe(0);
    expect(r.runs.filter((x) => x.index === 2)).toHaveLength(3); // first try + backoffLimitPerIndex 2
    const plan = JSON.parse(r.runs[0]!.files["/etc/kube-airgap/plan/plan.json"]!);
    const shard2 = plan.items.filter((x: any) => x.shard === 2).map((x: any) => x.source).sort();
    expect(shard2.length).toBeGreaterThan(0);
    const out = JSON.parse(r.res.stdout);
    const failed = out.items.filter((x: any) => x.status === "failed").map((x: any) => x.source).sort();
    expect(failed).toEqual(shard2);
    for (const f of out.items.filter((x: any) => x.status === "failed")) expect(f.error).toMatch(/authentication to .* failed: username or password rejected/);
    expect(r.res.stderr).toContain(`${shard2.length} of ${N} copies failed`);
    // the other shards did not wait forever for blobs shard 3 owned: they copied them after --shard-wait
    expect(out.items.filter((x: any) => x.status === "copied")).toHaveLength(N - shard2.length);
  }, 300_000);

  test("a second run of the same plan follows the running Job instead of creating another; both report every item", async () => {
    const jobsBefore = api.requests.filter((q) => q.method === "POST" && q.path.endsWith("/jobs") && !q.query.dryRun).length;
    const first = mirror(clusterArgs("run4"));
    await until(() => api.list("batch/v1", "Job", "mirror").some((j) => j.spec.suspend === false), 60_000);
    // the second client: spawned by hand to read its stderr as it comes
    const second = spawnCli(clusterArgs("run4"));
    await until(() => /following the Job/.test(second.stderr()), 60_000);
    const k = startFakeKubelet(api, { binary, env: { NO_COLOR: "1" } });
    try {
      const [a, b] = await Promise.all([first, second.done]);
      expect(a.code, a.stderr).toBe(0);
      expect(b.code, b.stderr).toBe(0);
      for (const r of [a, b]) {
        const out = JSON.parse(r.stdout);
        expect(out.items).toHaveLength(N);
        expect(out.summary.failed).toBe(0);
      }
      expect(k.runs.map((x) => x.index).sort()).toEqual([0, 1, 2, 3]); // one set of pods
    } finally {
      await k.stop();
    }
    expect(api.requests.filter((q) => q.method === "POST" && q.path.endsWith("/jobs") && !q.query.dryRun).length).toBe(jobsBefore + 1);
  }, 300_000);
});

describe("RBAC", () => {
  const SA = "system:serviceaccount:mirror:kubectl-mirror";
  /** "resource[/sub].group:verb" of every request the ServiceAccount made */
  function permissionsUsed(from: number): Set<string> {
    const out = new Set<string>();
    for (const q of api.requests.slice(from).filter((x) => x.user === SA)) {
      const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/(?:namespaces\/[^/]+\/)?([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(q.path);
      if (!m) continue; // discovery, /version
      const [, group = "", resource, name, sub] = m;
      const verb = q.method === "GET" ? (name ? "get" : "list") : ({ POST: "create", PUT: "update", PATCH: "patch", DELETE: name ? "delete" : "deletecollection" } as Record<string, string>)[q.method]!;
      out.add(`${resource}${sub ? `/${sub}` : ""}.${group}:${verb}`);
    }
    return out;
  }
  function granted(objs: any[]): Set<string> {
    const out = new Set<string>();
    for (const o of objs) for (const r of o.rules ?? []) for (const g of r.apiGroups) for (const res of r.resources) for (const v of r.verbs) out.add(`${res}.${g}:${v}`);
    return out;
  }

  test("--print-rbac applied with real kubectl: a ServiceAccount bound to exactly that runs the copy, and uses every permission it grants", async () => {
    const p = await mirror(["copy", "--print-rbac", "-n", "mirror"]);
    expect(p.code, p.stderr).toBe(0);
    const objs = parseAllDocuments(p.stdout).map((d) => d.toJSON());
    expect(objs.map((o) => o.kind)).toEqual(["ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"]);
    const applied = await kubectl(["apply", "-f", "-", "--kubeconfig", kubeconfig], p.stdout);
    expect(applied.status, applied.stderr).toBe(0);
    // a bound token through the TokenRequest API, as a CI system would get one
    const token = await kubectl(["create", "token", "kubectl-mirror", "-n", "mirror", "--kubeconfig", kubeconfig], "");
    expect(token.status, token.stderr).toBe(0);
    const saConfig = api.kubeconfig("admin", { namespace: "mirror", token: token.stdout.trim() });
    // the apiserver enforces RBAC for it
    const can = await kubectl(["auth", "can-i", "create", "secrets", "-n", "mirror", "--kubeconfig", saConfig], "");
    expect(can.stdout.trim()).toBe("yes");
    const cannot = await kubectl(["get", "secrets", "-n", "mirror", "--kubeconfig", saConfig], "");
    expect(cannot.stderr).toContain(`User "${SA}" cannot list resource "secrets"`);

    const from = api.requests.length;
    const r = await withKubelet(undefined, async () => mirror(clusterArgs("rbac", [], saConfig)));
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.items.filter((x: any) => x.status === "copied")).toHaveLength(N);
    const sa = api.requests.slice(from).filter((q) => q.user === SA);
    expect(sa.length).toBeGreaterThan(5);
    expect(sa.filter((q) => (q.status ?? 0) >= 400 && q.status !== 404).map((q) => `${q.method} ${q.path} ${q.status}`)).toEqual([]);
    // exactly: the run needed every permission granted, and no other
    expect([...permissionsUsed(from)].sort()).toEqual([...granted(objs)].sort());
  }, 300_000);

  test("without one of the printed rules the run stops with the API server's 403 and leaves no Job behind", async () => {
    const role = api.get("rbac.authorization.k8s.io/v1", "Role", "kubectl-mirror", "mirror")!;
    const full = structuredClone(role.rules);
    api.put({ ...role, rules: role.rules.map((r: any) => ({ ...r, resources: r.resources.filter((x: string) => x !== "secrets") })) });
    try {
      const r = await mirror(clusterArgs("rbac2", [], api.kubeconfig("admin", { namespace: "mirror", token: api.serviceAccountToken("mirror", "kubectl-mirror") })));
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`cannot create resource "secrets" in API group "" in the namespace "mirror"`);
      expect(api.list("batch/v1", "Job", "mirror")).toHaveLength(0);
    } finally {
      api.put({ ...api.get("rbac.authorization.k8s.io/v1", "Role", "kubectl-mirror", "mirror")!, rules: full });
    }
  }, 300_000);

  test("--dry-run lists the RBAC on stderr", async () => {
    const r = await mirror(clusterArgs("rbac3", ["--dry-run", "-o", "yaml"]));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("RBAC the run needs in namespace mirror");
    expect(r.stderr).toMatch(/jobs\.batch: create, get, patch, delete/);
    expect(r.stderr).toMatch(/pods\/log: get/);
  }, 120_000);
});

async function until(ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 100));
  }
}

function spawnCli(args: string[]): { stderr: () => string; done: Promise<CliResult> } {
  let out = "";
  let err = "";
  const c = spawn(BUN, [join(ROOT, "plugins/kubectl-mirror/main.ts"), ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  c.stdout.on("data", (d) => (out += d));
  c.stderr.on("data", (d) => (err += d));
  return { stderr: () => err, done: new Promise((resolve) => c.on("close", (code) => resolve({ code: code ?? -1, stdout: out, stderr: err }))) };
}
