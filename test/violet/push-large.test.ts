// issue 21 point 4: a large push prints no Node warning. The spool that makes a streamed blob retryable waited
// for backpressure with once() listeners on several events and left the others behind at every chunk, so a
// layer of more than ~11 MiB got "MaxListenersExceededWarning: Possible EventEmitter memory leak detected" per blob.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { pushBundle, pushImage } from "../support/violet-fixtures.ts";
import { ok, startWorld, violet, type World } from "./world.ts";

let w: World;
let dst: TestRegistry;
let pkg = "";

beforeAll(async () => {
  [w, dst] = await Promise.all([startWorld(), startRegistry()]);
  const big = await pushImage(w.reg, "acp/large-operator:v1.0.0", { layerBytes: 40 << 20 });
  const bundle = await pushBundle(w.reg, "acp/large-operator-bundle:v1.0.0", { packageName: "large-operator", version: "1.0.0", channels: ["stable"], defaultChannel: "stable", relatedImages: [big.ref] });
  ok(await violet(["create", join(w.dir, "large"), "--artifact", bundle.ref, ...w.regArgs()]));
  pkg = ok(await violet(["package", join(w.dir, "large"), ...w.regArgs()], { cwd: w.dir })).stdout.trim();
}, 180_000);

afterAll(async () => {
  await Promise.all([w?.stop(), dst?.stop()]);
});

test("a push with a 40 MiB layer prints no runtime warning on stderr", async () => {
  const r = ok(await violet(["push", pkg, "--skip-crs", "--skip-verify", "--dest-repo", dst.host, ...w.regArgs(dst)], { timeoutMs: 120_000 }));
  expect(r.stderr).not.toMatch(/MaxListenersExceededWarning|memory leak|\(node:\d+\)|Warning:/);
  expect(r.stderr).toContain(`copied  ${w.reg.host}/acp/large-operator:v1.0.0`);
}, 180_000);
