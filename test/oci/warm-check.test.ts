// A warm check (registry → registry tag copy onto a target that already has it) costs one round trip of latency
// per image: the target's tag HEAD and the source's HEAD go out together, and no source manifest is fetched
// (GETs count against pull rate limits on Docker Hub); when the target lacks the tag, one GET follows.
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
import { RegistryRepository } from "../../shared/oci/registry.ts";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";

const tmp = mkdtempSync(join(tmpdir(), "ka-warm-check-"));
let src: TestRegistry, dst: TestRegistry, caFile: string;

beforeAll(async () => {
  const ca = createCA(mkdtempSync(join(tmp, "ca-")));
  caFile = ca.cert;
  [src, dst] = await Promise.all([startRegistry({ auth: "htpasswd", tls: ca }), startRegistry({ auth: "htpasswd", tls: ca })]);
  await pushArtifact(`${src.host}/app/img:1.0`, { config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from("{}") }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", bytes: Buffer.from("layer") }] }, { caFiles: [{ file: ca.cert }], credentials: staticCredentials({ username: src.username, password: src.password }) });
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
