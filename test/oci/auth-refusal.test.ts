// Issue 11.2 at the auth layer: a password the registry refuses is tried once per run, not once per concurrent
// request, and every request of the run then fails with that one error without reaching the registry; a right
// password is unaffected (all concurrent first requests succeed). Realistic registry: TLS + htpasswd.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { createClient } from "../../shared/oci/client.ts";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";
import { failedHost, UnauthorizedError } from "../../shared/oci/errors.ts";

let reg: TestRegistry;
beforeAll(async () => {
  reg = await startRegistry();
});
afterAll(async () => {
  await reg?.stop();
});

/** A client that counts what it sends. */
function counting(password: string) {
  const client = createClient({ caFiles: [{ file: reg.caFile! }], credentials: staticCredentials({ username: reg.username, password }) });
  const seen = { total: 0, withCredentials: 0 };
  const orig = client.transport.request.bind(client.transport);
  client.transport.request = async (r) => {
    seen.total++;
    if (r.headers?.authorization) seen.withCredentials++;
    return orig(r);
  };
  const head = (i: number) => client.request({ method: "HEAD", url: `${reg.url}/v2/app${i}/manifests/v1`, host: reg.host, scopes: [] });
  return { client, seen, head };
}

test("a wrong password: 8 concurrent first requests send it once; all fail with one host-wide error; later ones send nothing", async () => {
  const { client, seen, head } = counting("not-the-password");
  const rs = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => head(i)));
  expect(rs.every((r) => r.status === "rejected")).toBe(true);
  const errs = rs.map((r) => (r as PromiseRejectedResult).reason);
  expect(errs.every((e) => e instanceof UnauthorizedError && /username or password rejected/.test(e.message))).toBe(true);
  expect(errs.every((e) => failedHost(e) === reg.host)).toBe(true);
  expect(seen.withCredentials).toBe(1);
  const before = seen.total;
  await expect(head(99)).rejects.toThrow(/rejected/);
  expect(seen.total).toBe(before);
  client.transport.close();
});

test("the right password: all concurrent first requests succeed", async () => {
  const { client, head } = counting(reg.password);
  const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => head(i)));
  expect(rs.map((r) => r.status)).toEqual(Array(8).fill(404));
  for (const r of rs) await r.drain();
  client.transport.close();
});
