// Copy-engine ordering. A warm check (registry → registry tag copy onto a target that already has it) costs one
// round trip of latency per image: the target's tag HEAD and the source's HEAD go out together, and no source
// manifest is fetched (GETs count against pull rate limits on Docker Hub); when the target lacks the tag, one
// GET follows.
// The engine also starts a job's transfer as soon as that job is planned, while other images are still being
// planned (a slow source no longer holds up everyone's bytes); a job that requires others (a chart and its
// images) is still tagged only once they all landed, and stays untagged when one of them fails late.
// TLS + htpasswd on both sides, spies on the repositories' own methods (no timing: the order is checked).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { createCA } from "../support/pki.ts";
import { pushArtifact } from "../../shared/oci/artifact.ts";
import { createClient } from "../../shared/oci/client.ts";
import { CopyEngine } from "../../shared/oci/copy.ts";
import { NotFoundError } from "../../shared/oci/errors.ts";
import { RegistryRepository } from "../../shared/oci/registry.ts";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";

const tmp = mkdtempSync(join(tmpdir(), "ka-warm-check-"));
let src: TestRegistry, dst: TestRegistry, caFile: string;

beforeAll(async () => {
  const ca = createCA(mkdtempSync(join(tmp, "ca-")));
  caFile = ca.cert;
  [src, dst] = await Promise.all([startRegistry({ auth: "htpasswd", tls: ca }), startRegistry({ auth: "htpasswd", tls: ca })]);
  const opts = { caFiles: [{ file: ca.cert }], credentials: staticCredentials({ username: src.username, password: src.password }) };
  for (const name of ["img", "fast", "slow"]) await pushArtifact(`${src.host}/app/${name}:1.0`, { config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from(`{"n":"${name}"}`) }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", bytes: Buffer.from(`layer of ${name}`) }] }, opts);
}, 120_000);
afterAll(async () => {
  await Promise.all([src?.stop(), dst?.stop()]);
  rmSync(tmp, { recursive: true, force: true });
});

function clientFor(): ReturnType<typeof createClient> {
  const creds = new Map([[src.host, { username: src.username, password: src.password }], [dst.host, { username: dst.username, password: dst.password }]]);
  return createClient({ caFiles: [{ file: caFile }], credentials: async (h) => creds.get(h), backoffMs: 20 });
}

/** Repositories whose calls are logged; the target's tag HEAD answers only once the source was asked (or after 3 s). */
function spied(client: ReturnType<typeof createClient>, target: string) {
  const log: string[] = [];
  const from = new RegistryRepository(client, src.host, "app/img");
  const to = new RegistryRepository(client, dst.host, target);
  let asked!: () => void;
  const sourceAsked = new Promise<void>((r) => (asked = r));
  const resolveSrc = from.resolve.bind(from);
  from.resolve = (ref) => (log.push(`src HEAD ${ref}`), asked(), resolveSrc(ref));
  const getSrc = from.manifestByReference.bind(from);
  from.manifestByReference = (ref) => (log.push(`src GET ${ref}`), getSrc(ref));
  const resolveDst = to.resolve.bind(to);
  to.resolve = async (ref) => {
    log.push(`dst HEAD ${ref}`);
    const answer = resolveDst(ref);
    answer.catch(() => {});
    const waited = await Promise.race([sourceAsked.then(() => "source asked"), new Promise<string>((r) => setTimeout(() => r("timeout"), 3000))]);
    log.push(`dst answered (${waited})`);
    return answer;
  };
  return { log, from, to };
}

test("warm: the target's tag and the source's HEAD are asked together, the source manifest is not fetched", async () => {
  const client = clientFor();
  try {
    const [cold] = await new CopyEngine({}).run([{ src: new RegistryRepository(client, src.host, "app/img"), srcRef: "1.0", dst: new RegistryRepository(client, dst.host, "warm/img"), dstTags: ["1.0"] }]);
    expect(cold!.error).toBeUndefined();
    expect(cold!.status).toBe("copied");
    const { log, from, to } = spied(client, "warm/img");
    const [r] = await new CopyEngine({}).run([{ src: from, srcRef: "1.0", dst: to, dstTags: ["1.0"] }]);
    expect(r!.error).toBeUndefined();
    expect(r!.status).toBe("up-to-date");
    // the source was asked while the target's answer was still outstanding; one HEAD each, no GET
    expect(log).toEqual(["src HEAD 1.0", "dst HEAD 1.0", "dst answered (source asked)"]);
  } finally {
    client.transport.close();
  }
}, 60_000);

test("cold: a missing target tag is followed by one GET of the source manifest, and the image lands", async () => {
  const client = clientFor();
  try {
    const { log, from, to } = spied(client, "cold/img");
    const [r] = await new CopyEngine({}).run([{ src: from, srcRef: "1.0", dst: to, dstTags: ["1.0"] }]);
    expect(r!.error).toBeUndefined();
    expect(r!.status).toBe("copied");
    expect(log).toEqual(["src HEAD 1.0", "dst HEAD 1.0", "dst answered (source asked)", "src GET 1.0"]);
    expect((await new RegistryRepository(client, dst.host, "cold/img").resolve("1.0")).digest).toBe(r!.digest!);
  } finally {
    client.transport.close();
  }
}, 60_000);

/** The slow image's source answers its first HEAD only once the fast image's first blob is being pushed (or after 3 s). */
function setup(client: ReturnType<typeof createClient>, prefix: string, slowFails = false) {
  const log: string[] = [];
  let pushing!: () => void;
  const firstPush = new Promise<void>((r) => (pushing = r));
  const fast = { src: new RegistryRepository(client, src.host, "app/fast"), dst: new RegistryRepository(client, dst.host, `${prefix}/fast`) };
  const slow = { src: new RegistryRepository(client, src.host, "app/slow"), dst: new RegistryRepository(client, dst.host, `${prefix}/slow`) };
  const push = fast.dst.pushBlob.bind(fast.dst);
  fast.dst.pushBlob = (d, open) => (log.push("fast blob pushed"), pushing(), push(d, open));
  const resolve = slow.src.resolve.bind(slow.src);
  slow.src.resolve = async (ref) => {
    const waited = await Promise.race([firstPush.then(() => "after the fast image's first blob"), new Promise<string>((r) => setTimeout(() => r("timeout"), 3000))]);
    if (!log.includes(`slow planned (${waited})`)) log.push(`slow planned (${waited})`);
    if (slowFails) throw new NotFoundError(`manifest ${slow.src.name}:${ref}`);
    return resolve(ref);
  };
  return { log, fast, slow };
}

test("a planned job's blobs move while another job is still being planned", async () => {
  const client = clientFor();
  try {
    const { log, fast, slow } = setup(client, "stream");
    const res = await new CopyEngine({}).run([
      { src: fast.src, srcRef: "1.0", dst: fast.dst, dstTags: ["1.0"] },
      { src: slow.src, srcRef: "1.0", dst: slow.dst, dstTags: ["1.0"] },
    ]);
    expect(res.map((r) => r.error)).toEqual([undefined, undefined]);
    expect(res.map((r) => r.status)).toEqual(["copied", "copied"]);
    expect(log[0]).toBe("fast blob pushed");
    expect(log).toContain("slow planned (after the fast image's first blob)");
  } finally {
    client.transport.close();
  }
}, 60_000);

test("a job requiring one whose plan fails late stays untagged, though its own blobs moved first", async () => {
  const client = clientFor();
  try {
    const { log, fast, slow } = setup(client, "late", true);
    const res = await new CopyEngine({}).run([
      { src: fast.src, srcRef: "1.0", dst: fast.dst, dstTags: ["1.0"], requires: [1] },
      { src: slow.src, srcRef: "1.0", dst: slow.dst, dstTags: ["1.0"] },
    ]);
    expect(log).toContain("slow planned (after the fast image's first blob)");
    expect(res[1]!.status).toBe("failed");
    expect(res[0]!.status).toBe("failed");
    expect(res[0]!.error).toContain("not tagged: 1 of the 1 images it needs failed");
    await expect(fast.dst.resolve("1.0")).rejects.toBeInstanceOf(NotFoundError);
  } finally {
    client.transport.close();
  }
}, 60_000);

test("a re-run mounts a large shared layer that a killed run left in another target repository, whichever image reaches it first", async () => {
  const client = clientFor();
  try {
    // two source images sharing one 2 MiB layer; the killed run had uploaded it into rerun/app0 only (untagged)
    const shared = Buffer.from(Array.from({ length: 2 << 20 }, (_, i) => (i * 2654435761) >>> 24));
    const layer = { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", bytes: shared };
    const opts = { client };
    for (const n of ["app0", "app1"]) await pushArtifact(`${src.host}/rerun/${n}:1.0`, { config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from(`{"n":"${n}"}`) }, layers: [layer] }, opts);
    const desc = { mediaType: layer.mediaType, digest: `sha256:${(await import("node:crypto")).createHash("sha256").update(shared).digest("hex")}`, size: shared.length };
    const left = new RegistryRepository(client, dst.host, "rerun/app0");
    await left.pushBlob(desc, async () => (await import("node:stream")).Readable.from([shared]));
    // app0's plan comes late, so app1 is the first to reach the shared layer
    const app0 = new RegistryRepository(client, src.host, "rerun/app0");
    const resolve = app0.resolve.bind(app0);
    app0.resolve = async (ref) => (await new Promise((r) => setTimeout(r, 400)), resolve(ref));
    const uploads: string[] = [];
    const app1dst = new RegistryRepository(client, dst.host, "rerun/app1");
    const push = app1dst.pushBlob.bind(app1dst);
    app1dst.pushBlob = (d, open) => (uploads.push(d.digest), push(d, open));
    const res = await new CopyEngine({}).run([
      { src: new RegistryRepository(client, src.host, "rerun/app1"), srcRef: "1.0", dst: app1dst, dstTags: ["1.0"] },
      { src: app0, srcRef: "1.0", dst: left, dstTags: ["1.0"] },
    ]);
    expect(res.map((r) => r.error)).toEqual([undefined, undefined]);
    expect(uploads).not.toContain(desc.digest);
    expect(res[0]!.blobsMounted).toBe(1);
    expect(res[0]!.bytesCopied).toBeLessThan(shared.length);
    expect((await app1dst.resolve("1.0")).digest).toBe(res[0]!.digest!);
  } finally {
    client.transport.close();
  }
}, 60_000);
