// The shard planner (assignShards) and `kubectl mirror copy --shard I/N` run by N processes side by side
// against TLS + htpasswd registries: the shards are disjoint, their union is the whole plan, every blob is
// uploaded by exactly one shard (the others mount it once it is present).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assignShards, parseShardSpec, type PlannedJob } from "../../plugins/kubectl-mirror/lib/plan/shard-plan.ts";
import { pushArtifact } from "../../shared/oci/artifact.ts";
import { createClient } from "../../shared/oci/client.ts";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";
import { runCli } from "../support/cli.ts";
import { createCA, type TestCA } from "../support/pki.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";

function synthetic(n: number, seed: number): PlannedJob[] {
  // a few shared bases of different sizes, own layers of varied sizes, some jobs sharing an extra layer
  let x = seed;
  const rnd = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff), x / 0x7fffffff);
  const bases = Array.from({ length: 4 }, (_, i) => ({ digest: `sha256:base${i}`, size: (i + 1) * 30_000_000 }));
  return Array.from({ length: n }, (_, i) => {
    const blobs = [bases[Math.floor(rnd() * bases.length)]!, { digest: `sha256:own${i}`, size: Math.floor(rnd() * 50_000_000) + 1000 }, { digest: `sha256:cfg${i}`, size: 1500 }];
    if (i % 5 === 0) blobs.push({ digest: `sha256:extra${i % 3}`, size: 5_000_000 });
    return { digest: `sha256:root${i}`, bytes: blobs.reduce((a, b) => a + b.size, 0), blobs };
  });
}

describe("assignShards", () => {
  test("disjoint, union = all, one owner per blob inside its shard, balanced by upload bytes, deterministic", () => {
    for (const n of [1, 2, 3, 4, 7, 16]) {
      const planned = synthetic(200, n);
      const a = assignShards(planned, n);
      const all = a.shards.flatMap((s) => s.jobs).sort((p, q) => p - q);
      expect(all).toEqual(planned.map((_, i) => i)); // union, and disjoint (no duplicates)
      a.shards.forEach((s, k) => s.jobs.forEach((j) => expect(a.shardOf[j]).toBe(k)));
      // every blob has one owner, a job that needs it
      const needed = new Set(planned.flatMap((p) => p.blobs.map((b) => b.digest)));
      expect(new Set(a.owner.keys())).toEqual(needed);
      for (const [d, j] of a.owner) expect(planned[j]!.blobs.some((b) => b.digest === d)).toBe(true);
      // upload bytes add up to the unique bytes, and no shard is more than one job above the lightest
      const unique = new Map(planned.flatMap((p) => p.blobs.map((b) => [b.digest, b.size] as const)));
      const perJob = 64 << 10;
      expect(a.shards.reduce((s, x) => s + x.uploadBytes, 0)).toBe([...unique.values()].reduce((s, v) => s + v, 0) + planned.length * perJob);
      const loads = a.shards.map((s) => s.uploadBytes);
      const biggest = Math.max(...planned.map((p) => p.bytes)) + perJob;
      expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(biggest);
      expect(assignShards(planned, n)).toEqual(a);
    }
  });

  test("--shard I/N is 1-based and checked", () => {
    expect(parseShardSpec("1/4")).toEqual({ index: 0, count: 4 });
    expect(parseShardSpec("4/4")).toEqual({ index: 3, count: 4 });
    expect(() => parseShardSpec("0/4")).toThrow(/1-4/);
    expect(() => parseShardSpec("5/4")).toThrow(/1-4/);
    expect(() => parseShardSpec("2")).toThrow(/I\/N/);
  });
});

describe("copy --shard I/N", () => {
  const N = 30;
  let tmp: string;
  let ca: TestCA;
  let src: TestRegistry;
  let dst: TestRegistry;
  let env: Record<string, string>;
  const blobs = new Set<string>();
  const digests = new Map<string, string>();

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "ka-shard-"));
    ca = createCA(mkdtempSync(join(tmp, "ca-")));
    [src, dst] = await Promise.all([startRegistry({ auth: "htpasswd", tls: ca }), startRegistry({ auth: "htpasswd", tls: ca })]);
    const client = createClient({ caFiles: [{ file: ca.cert }], credentials: staticCredentials({ username: src.username, password: src.password }) });
    const bases = [randomBytes(300 << 10), randomBytes(200 << 10)];
    for (let i = 0; i < N; i++) {
      const r = await pushArtifact(`${src.host}/apps/app${i}:v1`, { config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", i })) }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", bytes: bases[i % 2]! }, { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", bytes: randomBytes((8 + i * 3) << 10) }] }, { client });
      digests.set(`${src.host}/apps/app${i}:v1`, r.digest);
      blobs.add(r.manifest.config.digest);
      for (const l of r.manifest.layers) blobs.add(l.digest);
    }
    client.transport.close();
    const home = join(tmp, "home");
    mkdirSync(join(home, ".docker"), { recursive: true });
    writeFileSync(join(home, ".docker", "config.json"), JSON.stringify({ auths: { ...src.dockerConfig().auths, ...dst.dockerConfig().auths } }));
    env = { HOME: home, DOCKER_CONFIG: join(home, ".docker"), NO_COLOR: "1" };
    writeFileSync(join(tmp, "pairs.txt"), Array.from({ length: N }, (_, i) => `${src.host}/apps/app${i}:v1 ${dst.host}/mirror/app${i}:v1`).join("\n"));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([src?.stop(), dst?.stop()]);
    rmSync(tmp, { recursive: true, force: true });
  });

  test("3 shards side by side: disjoint, union is every pair, each blob uploaded once, every tag lands", async () => {
    const runs = await Promise.all([1, 2, 3].map((i) => runCli("kubectl-mirror", ["copy", "--from-file", join(tmp, "pairs.txt"), "--shard", `${i}/3`, "--ca-file", ca.cert, "-o", "json"], { env, timeoutMs: 180_000 })));
    const outs = runs.map((r, i) => {
      expect(r.code, `shard ${i + 1}: ${r.stderr}`).toBe(0);
      return JSON.parse(r.stdout) as { items: { source: string; status: string; digest: string; blobsCopied: number; blobsMounted: number }[] };
    });
    const srcs = outs.map((o) => o.items.map((x) => x.source));
    for (const s of srcs) expect(s.length).toBeGreaterThan(0);
    const union = srcs.flat().sort();
    expect(union).toEqual([...digests.keys()].sort()); // union = all, and no pair twice (disjoint)
    for (const o of outs) for (const x of o.items) expect(x.status).toBe("copied");
    expect(outs.flatMap((o) => o.items).reduce((a, x) => a + x.blobsCopied, 0)).toBe(blobs.size);
    expect(outs.flatMap((o) => o.items).reduce((a, x) => a + x.blobsMounted, 0)).toBeGreaterThan(0);
    // same split when planned again (each machine plans on its own)
    const dry = await Promise.all([1, 2, 3].map((i) => runCli("kubectl-mirror", ["copy", "--from-file", join(tmp, "pairs.txt"), "--shard", `${i}/3`, "--ca-file", ca.cert, "-o", "json"], { env, timeoutMs: 180_000 })));
    const again = dry.map((r) => (JSON.parse(r.stdout).items as { source: string; status: string }[]).map((x) => x.source));
    expect(again).toEqual(srcs);
    for (const r of dry) for (const x of JSON.parse(r.stdout).items) expect(x.status).toBe("up-to-date");
  }, 240_000);

  test("bad --shard values are refused with the flag named", async () => {
    const r = await runCli("kubectl-mirror", ["copy", "--from-file", join(tmp, "pairs.txt"), "--shard", "4/3"], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("--shard 4/3");
    const c = await runCli("kubectl-mirror", ["copy", "--from-file", join(tmp, "pairs.txt"), "--shard", "1/3", "--in-cluster"], { env });
    expect(c.code).not.toBe(0);
    expect(c.stderr).toContain("exclusive");
  });
});
