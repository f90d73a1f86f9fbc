// plugins/kubectl-mirror/main.ts runs under `deno run -A` too: --help and a real copy between two registries.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { runCli } from "../support/cli.ts";
import { pushArtifact } from "../../shared/oci/artifact.ts";

let a: TestRegistry, b: TestRegistry;
beforeAll(async () => {
  [a, b] = await Promise.all([startRegistry({ auth: "none", tls: false }), startRegistry({ auth: "none", tls: false })]);
});
afterAll(async () => {
  await Promise.all([a.stop(), b.stop()]);
});

test("deno run: --help and copy registry → registry with equal digests", async () => {
  const help = await runCli("kubectl-mirror", ["copy", "--help"], { runtime: "deno" });
  expect(help.code).toBe(0);
  expect(help.stdout).toContain("kubectl mirror copy");
  const pushed = await pushArtifact(`${a.host}/demo/app:v1`, { config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from('{"os":"linux"}') }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", bytes: Buffer.alloc(3 << 20, 5) }] }, { plainHttp: true });
  const r = await runCli("kubectl-mirror", ["copy", `${a.host}/demo/app:v1`, `${b.host}/deno/app:v1`, "--plain-http", "-o", "json"], { runtime: "deno" });
  expect(r.stderr).not.toMatch(/^error/m);
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out.images[0].status).toBe("copied");
  expect(out.images[0].blobsCopied).toBe(2);
  const raw = execFileSync("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${b.host}/deno/app:v1`]);
  expect("sha256:" + require("node:crypto").createHash("sha256").update(raw).digest("hex")).toBe(pushed.digest);
});
