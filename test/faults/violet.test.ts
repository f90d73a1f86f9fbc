// Issue 12 point 7 for violet packages (.tgz read in one pass): a 5xx on an upload while pushing a package is
// retried from the spooled blob instead of failing the push ("cannot retry … from a compressed archive stream").
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { ok, startWorld, violet, type World } from "../violet/world.ts";
import { tagDigest } from "./helpers.ts";

let w: World;
let dst: TestRegistry;
let proxy: FaultProxy;
let pkg = "";

beforeAll(async () => {
  [w, dst] = await Promise.all([startWorld(), startRegistry({ auth: "htpasswd", tls: true })]);
  proxy = await startFaultProxy(dst.url, { ca: dst.ca!.certPem });
  ok(await violet(["create", join(w.dir, "log"), "--artifact", w.pluginChart.ref, ...w.regArgs()]));
  pkg = ok(await violet(["package", join(w.dir, "log"), ...w.regArgs()], { cwd: w.dir })).stdout.trim();
}, 120_000);
afterAll(async () => {
  await proxy.stop();
  await Promise.all([w.stop(), dst.stop()]);
});

describe("violet push from a .tgz (point 7)", () => {
  test("two 500s on blob uploads are retried; the package's images all land", async () => {
    proxy.setRules([{ method: "PUT", path: /\/blobs\/uploads\//, fault: "500", times: 2 }]);
    const r = await violet(["push", pkg, "--dest-repo", proxy.host, "--plain", "--username", dst.username, "--password-stdin", "--skip-crs", "--skip-verify", "-o", "json"], { stdin: `${dst.password}\n` });
    expect(r.stderr).not.toMatch(/cannot retry/);
    expect(r.code).toBe(0);
    expect(proxy.rules[0]!.hits).toBe(2);
    expect(await tagDigest(dst, "acp/log-agent", "v1.2.0")).toBe(w.images.plugin.digest);
  }, 60_000);
});
