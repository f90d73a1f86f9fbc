// Auth and TLS against the real registry: none, htpasswd (Basic), token (Bearer: GET with Basic credentials,
// OAuth2 refresh-token POST, re-challenge after expiry, insufficient scope), TLS with --ca-file / --insecure.
// The credentialed registries are TLS with a private CA (trusted per host with --ca-file HOST=FILE); only the
// anonymous source and the anonymous TLS-only registry of the TLS tests are about plain HTTP / no auth.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { runCli } from "../support/cli.ts";
import { pushArtifact } from "../../shared/oci/artifact.ts";
import { createClient } from "../../shared/oci/client.ts";
import { CopyEngine } from "../../shared/oci/copy.ts";
import { RegistryRepository } from "../../shared/oci/registry.ts";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";

const tmp = mkdtempSync(join(tmpdir(), "ka-auth-"));
const regs: TestRegistry[] = [];
let open: TestRegistry, basic: TestRegistry, token: TestRegistry, tls: TestRegistry;

function artifact(seed: number) {
  return {
    config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", seed })) },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", bytes: Buffer.alloc(200_000 + seed, seed) }],
  };
}

beforeAll(async () => {
  [open, basic, token, tls] = await Promise.all([
    startRegistry({ auth: "none", tls: false }),
    startRegistry({ auth: "htpasswd" }),
    startRegistry({ auth: "token", tokenExpiresIn: 2, strictExpiry: true }),
    startRegistry({ auth: "none", tls: true }),
  ]);
  regs.push(open, basic, token, tls);
  await pushArtifact(`${open.host}/src/app:v1`, artifact(1), { plainHttp: true });
});
afterAll(async () => {
  await Promise.all(regs.map((r) => r.stop()));
  rmSync(tmp, { recursive: true, force: true });
});

function skopeoDigest(ref: string, extra: string[] = []): string {
  const raw = execFileSync("skopeo", ["inspect", "--raw", ...extra, `docker://${ref}`]);
  return "sha256:" + require("node:crypto").createHash("sha256").update(raw).digest("hex");
}

describe("basic auth (htpasswd)", () => {
  test("--password-stdin works and the password never shows", async () => {
    const r = await runCli("kubectl-mirror", ["copy", `${open.host}/src/app:v1`, `${basic.host}/dst/app:v1`, "--plain-http-host", open.host, "--ca-file", `${basic.host}=${basic.caFile}`, "--username", basic.username, "--password-stdin", "--debug"], { stdin: basic.password + "\n" });
    expect(r.stderr + r.stdout).not.toContain(basic.password);
    expect(r.code).toBe(0);
    expect(skopeoDigest(`${basic.host}/dst/app:v1`, ["--cert-dir", basic.certDir!, "--creds", `${basic.username}:${basic.password}`])).toBe(skopeoDigest(`${open.host}/src/app:v1`, ["--tls-verify=false"]));
  });

  test("a wrong password is one clear line and exit 1", async () => {
    const r = await runCli("kubectl-mirror", ["copy", `${open.host}/src/app:v1`, `${basic.host}/dst/bad:v1`, "--plain-http-host", open.host, "--ca-file", `${basic.host}=${basic.caFile}`, "--username", basic.username, "--password-stdin"], { stdin: "wrong-password-123\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/authentication to 127\.0\.0\.1:\d+ failed/);
    expect(r.stderr + r.stdout).not.toContain("wrong-password-123");
  });

  test("credentials from docker config.json via --registry-config; a password on the command line warns", async () => {
    const cfg = join(tmp, "basic.json");
    writeFileSync(cfg, JSON.stringify({ auths: { [basic.host]: { auth: Buffer.from(`${basic.username}:${basic.password}`).toString("base64") } } }));
    const ok = await runCli("kubectl-mirror", ["copy", `${open.host}/src/app:v1`, `${basic.host}/cfg/app:v1`, "--plain-http-host", open.host, "--ca-file", `${basic.host}=${basic.caFile}`, "--registry-config", cfg]);
    expect(ok.code).toBe(0);
    const warn = await runCli("kubectl-mirror", ["copy", `${open.host}/src/app:v1`, `${basic.host}/cli/app:v1`, "--plain-http-host", open.host, "--ca-file", `${basic.host}=${basic.caFile}`, "-u", basic.username, "--password", basic.password]);
    expect(warn.code).toBe(0);
    expect(warn.stderr).toContain("warning: a password on the command line");
    expect(warn.stderr + warn.stdout).not.toContain(basic.password);
  });
});

describe("token auth", () => {
  test("writer pushes with a token fetched by GET with Basic credentials; reader is denied", async () => {
    const cfg = join(tmp, "token.json");
    writeFileSync(cfg, JSON.stringify({ auths: { [token.host]: { auth: Buffer.from(`writer:${token.users.writer}`).toString("base64") } } }));
    const ok = await runCli("kubectl-mirror", ["copy", `${open.host}/src/app:v1`, `${token.host}/team/app:v1`, "--plain-http-host", open.host, "--ca-file", `${token.host}=${token.caFile}`, "--registry-config", cfg]);
    expect(ok.stderr).toBe(ok.stderr); // keep output for debugging on failure
    expect(ok.code).toBe(0);
    expect(token.tokenServer!.calls.some((c) => c.method === "GET" && c.user === "writer")).toBe(true);
    const rd = await runCli("kubectl-mirror", ["copy", `${open.host}/src/app:v1`, `${token.host}/team/app2:v1`, "--plain-http-host", open.host, "--ca-file", `${token.host}=${token.caFile}`, "-u", "reader", "--password-stdin"], { stdin: token.users.reader! });
    expect(rd.code).toBe(1);
    expect(rd.stderr).toMatch(/denied|authentication/);
    expect(rd.stderr).not.toContain(token.users.reader!);
  });

  test("identity token (OAuth2 refresh grant) from config.json", async () => {
    const res = await fetch(token.tokenServer!.realm, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ grant_type: "password", username: "writer", password: token.users.writer!, service: token.tokenServer!.service, client_id: "test", access_type: "offline" }) });
    const { refresh_token } = (await res.json()) as { refresh_token: string };
    expect(refresh_token).toBeTruthy();
    const cfg = join(tmp, "idtoken.json");
    writeFileSync(cfg, JSON.stringify({ auths: { [token.host]: { auth: Buffer.from("<token>:").toString("base64"), identitytoken: refresh_token } } }));
    const before = token.tokenServer!.calls.length;
    const r = await runCli("kubectl-mirror", ["copy", `${open.host}/src/app:v1`, `${token.host}/team/oauth:v1`, "--plain-http-host", open.host, "--ca-file", `${token.host}=${token.caFile}`, "--registry-config", cfg]);
    expect(r.code).toBe(0);
    expect(token.tokenServer!.calls.slice(before).some((c) => c.method === "POST" && c.grantType === "refresh_token")).toBe(true);
  });

  test("expired tokens are re-fetched when the registry re-challenges", async () => {
    const client = createClient({ caFiles: [{ host: token.host, file: token.caFile! }], credentials: staticCredentials({ username: "writer", password: token.users.writer! }) });
    const src = new RegistryRepository(createClient({ plainHttp: true }), open.host, "src/app");
    const dst = new RegistryRepository(client, token.host, "team/expiry");
    const engine = () => new CopyEngine({});
    const [a] = await engine().run([{ src, srcRef: "v1", dst, dstTags: ["one"] }]);
    expect(a!.status).toBe("copied");
    await new Promise((r) => setTimeout(r, 2500)); // tokens live 2 s
    const before = token.tokenServer!.calls.length;
    const [b] = await engine().run([{ src, srcRef: "v1", dst, dstTags: ["two"] }]);
    expect(b!.error).toBeUndefined();
    expect(b!.status).toBe("copied");
    expect(token.tokenServer!.calls.length).toBeGreaterThan(before);
    client.transport.close();
  });
});

describe("TLS", () => {
  test("--ca-file trusts the registry; without it a clear TLS error; --insecure skips verification", async () => {
    const withCa = await runCli("kubectl-mirror", ["copy", `${open.host}/src/app:v1`, `${tls.host}/tls/app:v1`, "--plain-http-host", open.host, "--ca-file", `${tls.host}=${tls.caFile}`]);
    expect(withCa.code).toBe(0);
    const none = await runCli("kubectl-mirror", ["copy", `${open.host}/src/app:v1`, `${tls.host}/tls/none:v1`, "--plain-http-host", open.host]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/TLS error talking to 127\.0\.0\.1:\d+.*--ca-file/);
    const insecure = await runCli("kubectl-mirror", ["copy", `${tls.host}/tls/app:v1`, `${open.host}/back/app:v1`, "--plain-http-host", open.host, "--insecure-host", tls.host]);
    expect(insecure.code).toBe(0);
    expect(skopeoDigest(`${open.host}/back/app:v1`, ["--tls-verify=false"])).toBe(skopeoDigest(`${tls.host}/tls/app:v1`, ["--cert-dir", tls.certDir!]));
  });
});
