// Regression (issue 11.1): requests that start before a host's auth scheme is learnt get a 401 without an
// Authorization header; they must be sent again with credentials, never reported as "password rejected".
// Bearer: concurrent first requests share one token fetch per scope set; a scope upgrade fetches a new token.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { pushArtifact } from "../../shared/oci/artifact.ts";
import { createClient } from "../../shared/oci/client.ts";
import { CopyEngine } from "../../shared/oci/copy.ts";
import { RegistryRepository } from "../../shared/oci/registry.ts";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";
import { pullScope, pushScope } from "../../shared/oci/transport/auth.ts";

let basic: TestRegistry, token: TestRegistry;
const N = 8;

beforeAll(async () => {
  [basic, token] = await Promise.all([startRegistry({ auth: "htpasswd", tls: true }), startRegistry({ auth: "token", tls: true })]);
  const creds = staticCredentials({ username: basic.username, password: basic.password });
  for (let i = 0; i < N; i++) {
    await pushArtifact(`${basic.host}/src/app${i}:v1`, {
      config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", i })) },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", bytes: Buffer.alloc(50_000 + i, i) }],
    }, { caFiles: [{ file: basic.caFile! }], credentials: creds });
  }
});
afterAll(async () => {
  await Promise.all([basic?.stop(), token?.stop()]);
});

describe("auth under concurrency", () => {
  test("basic: 8 concurrent first requests from a fresh client all succeed", async () => {
    const client = createClient({ caFiles: [{ file: basic.caFile! }], credentials: staticCredentials({ username: basic.username, password: basic.password }) });
    const rs = await Promise.all(Array.from({ length: N }, (_, i) => client.request({ method: "GET", url: `${basic.url}/v2/src/app${i}/manifests/v1`, host: basic.host, scopes: [pullScope(`src/app${i}`)], headers: { accept: "application/vnd.oci.image.manifest.v1+json" } })));
    for (const r of rs) await r.drain();
    expect(rs.map((r) => r.status)).toEqual(Array(N).fill(200));
    client.transport.close();
  });

  test("basic: copying 8 images at default concurrency into a basic-auth TLS registry copies all 8", async () => {
    const client = createClient({ caFiles: [{ file: basic.caFile! }], credentials: staticCredentials({ username: basic.username, password: basic.password }) });
    const items = Array.from({ length: N }, (_, i) => ({
      src: new RegistryRepository(client, basic.host, `src/app${i}`), srcRef: "v1",
      dst: new RegistryRepository(client, basic.host, `dst/app${i}`), dstTags: ["v1"],
    }));
    const res = await new CopyEngine({}).run(items);
    expect(res.map((r) => r.error)).toEqual(Array(N).fill(undefined));
    expect(res.map((r) => r.status)).toEqual(Array(N).fill("copied"));
    client.transport.close();
  });

  test("basic: a wrong password that was actually sent is 'rejected'", async () => {
    const client = createClient({ caFiles: [{ file: basic.caFile! }], credentials: staticCredentials({ username: basic.username, password: "not-the-password" }) });
    const err = await client.request({ method: "GET", url: `${basic.url}/v2/src/app0/manifests/v1`, host: basic.host, scopes: [pullScope("src/app0")] }).catch((e) => e);
    expect(String(err?.message)).toMatch(/rejected/);
    client.transport.close();
  });

  test("bearer: concurrent first requests share one token fetch; pull→pull,push fetches a second", async () => {
    const client = createClient({ caFiles: [{ file: token.caFile! }], credentials: staticCredentials({ username: "writer", password: token.users.writer! }) });
    const before = token.tokenServer!.calls.length;
    const rs = await Promise.all(Array.from({ length: N }, () => client.request({ method: "GET", url: `${token.url}/v2/team/x/tags/list`, host: token.host, scopes: [pullScope("team/x")] })));
    for (const r of rs) await r.drain();
    expect(rs.every((r) => r.status === 404 || r.status === 200)).toBe(true);
    expect(token.tokenServer!.calls.length - before).toBe(1);
    const up = await client.request({ method: "POST", url: `${token.url}/v2/team/x/blobs/uploads/`, host: token.host, scopes: [pushScope("team/x")] });
    await up.drain();
    expect(up.status).toBe(202);
    expect(token.tokenServer!.calls.length - before).toBe(2);
    client.transport.close();
  });
});
