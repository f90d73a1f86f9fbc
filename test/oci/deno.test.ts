// plugins/kubectl-mirror/main.ts runs under `deno run -A` too: --help and a real copy between two registries
// (TLS, each with its own private CA, + htpasswd: Deno's TLS with --ca-file HOST=FILE and docker config.json auth).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { runCli } from "../support/cli.ts";
import { pushArtifact } from "../../shared/oci/artifact.ts";

let a: TestRegistry, b: TestRegistry;
const tmp = mkdtempSync(join(tmpdir(), "ka-deno-"));
beforeAll(async () => {
  [a, b] = await Promise.all([startRegistry(), startRegistry()]);
  writeFileSync(join(tmp, "config.json"), JSON.stringify({ auths: { ...a.dockerConfig().auths, ...b.dockerConfig().auths } }));
});
afterAll(async () => {
  await Promise.all([a.stop(), b.stop()]);
  rmSync(tmp, { recursive: true, force: true });
});

test("deno run: --help and copy registry → registry with equal digests", async () => {
  const help = await runCli("kubectl-mirror", ["copy", "--help"], { runtime: "deno" });
  expect(help.code).toBe(0);
  expect(help.stdout).toContain("kubectl mirror copy");
  const pushed = await pushArtifact(`${a.host}/demo/app:v1`, { config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from('{"os":"linux"}') }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", bytes: Buffer.alloc(3 << 20, 5) }] }, { caFiles: [{ host: a.host, file: a.caFile! }], credentials: staticCredentials({ username: a.username, password: a.password }) });
  const r = await runCli("kubectl-mirror", ["copy", `${a.host}/demo/app:v1`, `${b.host}/deno/app:v1`, "--registry-config", join(tmp, "config.json"), "--ca-file", `${a.host}=${a.caFile}`, "--ca-file", `${b.host}=${b.caFile}`, "-o", "json"], { runtime: "deno" });
  expect(r.stderr).not.toMatch(/^error/m);
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out.items[0].status).toBe("copied");
  expect(out.items[0].blobsCopied).toBe(2);
  const raw = execFileSync("skopeo", ["inspect", "--raw", "--cert-dir", b.certDir!, "--creds", `${b.username}:${b.password}`, `docker://${b.host}/deno/app:v1`]);
  expect("sha256:" + require("node:crypto").createHash("sha256").update(raw).digest("hex")).toBe(pushed.digest);
});
