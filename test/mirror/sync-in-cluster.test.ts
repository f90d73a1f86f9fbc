// kubectl mirror sync --in-cluster: the fixture chart (HTTP chart repo, 16 images incl. a multi-arch index, a
// digest-pinned image and a cosign signature) with the images copied by the pods of an Indexed Job (test kubelet
// running the compiled binary) into a TLS + htpasswd registry; the chart is pushed by the client afterwards.
// Also sync --shard 1/2 + 2/2 side by side (one plan, split; the chart by shard 1, last).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { buildPlugin, hostTarget } from "../../scripts/build.ts";
import { pushArtifact } from "../../shared/oci/artifact.ts";
import { startFakeApiServer, type FakeApiServer } from "../support/kube-apiserver.ts";
import { startFakeKubelet } from "../support/kubelet.ts";
import { createCA } from "../support/pki.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { skopeoInspectRaw, skopeoListTags } from "../support/images.ts";
import { destOf, expectOk, mirror, setupSources, type Sources } from "./helpers.ts";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";

let s: Sources;
let dst: TestRegistry;
let api: FakeApiServer;
let binary: string;
let caFile: string;

beforeAll(async () => {
  const [sources] = await Promise.all([setupSources()]);
  s = sources;
  mkdirSync(join(s.tmp, "ca"), { recursive: true });
  const ca = createCA(join(s.tmp, "ca"));
  caFile = ca.cert;
  [dst, api] = await Promise.all([startRegistry({ auth: "htpasswd", tls: ca, logLevel: "info" }), startFakeApiServer({ tls: true, namespaces: ["mirror"] })]);
  binary = (await buildPlugin({ plugin: "kubectl-mirror", target: hostTarget(), outDir: join(s.tmp, "bin") })).file;
  mkdirSync(join(s.env.HOME!, ".docker"), { recursive: true });
  writeFileSync(join(s.env.HOME!, ".docker", "config.json"), JSON.stringify(dst.dockerConfig()));
  await pushArtifact(`${dst.host}/base/cc:latest`, { config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux" })) }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", bytes: randomBytes(512) }] }, { caFiles: [{ file: caFile }], credentials: staticCredentials({ username: dst.username, password: dst.password }) });
}, 180_000);

afterAll(async () => {
  await Promise.all([s?.stop(), dst?.stop(), api?.stop()]);
});

test("sync --in-cluster: images by 3 pods, then the chart; the usual sync report", async () => {
  const kubelet = startFakeKubelet(api, { binary });
  let r;
  try {
    r = await mirror(s, ["sync", "--repo-url", s.repo.url, "--chart-url", "fixture/app", "--chart-version", "1.2.3", "--dest", dst.host, ...s.srcArgs, "--ca-file", caFile, ...s.mirrorArgs, ...s.pinnedSet,
      "--in-cluster", "--shards", "3", "--job-namespace", "mirror", "--kubeconfig", api.kubeconfig("admin"), "--runner-base", `${dst.host}/base/cc:latest`, "--runner-binary", binary, "-o", "json"], { timeoutMs: 240_000 });
  } finally {
    await kubelet.stop();
  }
  expectOk(r, "sync --in-cluster");
  const report = JSON.parse(r.stdout);
  expect(report.summary.failed).toBe(0);
  expect(report.charts.map((c: any) => c.destination)).toEqual([`${dst.host}/charts/app/app:1.2.3`]);
  const images = report.items.filter((i: any) => i.kind === "image");
  expect(images.map((i: any) => i.source).sort()).toEqual(s.images);
  for (const i of images) {
    expect(i.destination).toBe(destOf(dst.host, i.source));
    expect(i.status).toBe("copied");
  }
  expect(report.items.find((i: any) => i.kind === "chart").status).toBe("copied");
  expect(kubelet.runs.map((x) => x.index).sort()).toEqual([0, 1, 2]);
  // multi-arch index and the cosign signature travelled through the pods
  const creds = `${dst.username}:${dst.password}`;
  const op = await skopeoInspectRaw(destOf(dst.host, "quay.io/acme/operator:0.9.0"), { ...dst.skopeo, creds });
  expect(op.json.manifests.length).toBe(2);
  expect(await skopeoListTags(`${dst.host}/images/acme/operator`, { ...dst.skopeo, creds })).toContain(s.sigTag);
  // the chart manifest was written after every image manifest (registry log order)
  const puts = dst.logs().split("\n").filter((l) => /response completed/.test(l) && /http\.request\.method=PUT/.test(l) && /\/manifests\//.test(l));
  const chartAt = puts.findIndex((l) => l.includes("/v2/charts/app/app/manifests/"));
  const lastImage = puts.map((l, i) => (l.includes("/v2/images/") ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
  expect(chartAt).toBeGreaterThan(lastImage);
  expect(lastImage).toBeGreaterThan(-1);
}, 300_000);

test("sync --shard 1/2 and 2/2 side by side: disjoint image sets whose union is the chart's images, each blob uploaded once, the chart pushed by shard 1 after every image", async () => {
  const logStart = dst.logs().split("\n").length - 1;
  const args = (i: number) => ["sync", "--repo-url", s.repo.url, "--chart-url", "fixture/app", "--chart-version", "1.2.3", "--dest", dst.host, ...s.srcArgs, "--ca-file", caFile, ...s.mirrorArgs, ...s.pinnedSet, "--image-prefix", "sharded", "--chart-prefix", "sharded-charts", "--shard", `${i}/2`, "-o", "json"];
  const [a, b] = await Promise.all([mirror(s, args(1), { timeoutMs: 240_000 }), mirror(s, args(2), { timeoutMs: 240_000 })]);
  expectOk(a, "shard 1/2");
  expectOk(b, "shard 2/2");
  const ra = JSON.parse(a.stdout);
  const rb = JSON.parse(b.stdout);
  expect(ra.shard.shard).toBe("1/2");
  expect(rb.shard.shard).toBe("2/2");
  const ia = ra.items.filter((x: any) => x.kind === "image").map((x: any) => x.source);
  const ib = rb.items.filter((x: any) => x.kind === "image").map((x: any) => x.source);
  expect(ia.length).toBeGreaterThan(0);
  expect(ib.length).toBeGreaterThan(0);
  expect([...ia, ...ib].sort()).toEqual(s.images);
  expect(ra.items.filter((x: any) => x.kind === "chart").map((x: any) => x.status)).toEqual(["copied"]);
  expect(rb.items.filter((x: any) => x.kind === "chart")).toHaveLength(0);
  for (const x of [...ra.items, ...rb.items]) expect(x.status).toBe("copied");
  const lines = dst.logs().split("\n").slice(logStart).filter((l) => /response completed/.test(l) && /http\.request\.method=PUT/.test(l));
  const uploads = new Map<string, number>();
  for (const l of lines) {
    const m = /uri="?\/v2\/sharded\/[^ ]*\/blobs\/uploads\/[^ ]*digest=(sha256(?::|%3A)[0-9a-f]{64})/.exec(l);
    if (m) uploads.set(m[1]!, (uploads.get(m[1]!) ?? 0) + 1);
  }
  expect(uploads.size).toBeGreaterThan(10);
  for (const [d, n] of uploads) expect(`${d} ${n}`).toBe(`${d} 1`);
  const manifests = lines.filter((l) => /\/manifests\//.test(l));
  const chartAt = manifests.findIndex((l) => l.includes("/v2/sharded-charts/app/app/manifests/"));
  const lastImage = manifests.map((l, i) => (l.includes("/v2/sharded/") ? i : -1)).reduce((x, y) => Math.max(x, y), -1);
  expect(chartAt).toBeGreaterThan(lastImage);
}, 300_000);
