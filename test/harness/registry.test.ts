// Self-tests of test/support/registry.ts: every auth/TLS mode of the real docker-registry, exercised
// with the real skopeo (push a generated image, read it back byte-exact).
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pushWithSkopeo, skopeoInspectRaw, skopeoListTags, writeImageLayout, type WrittenLayout } from "../support/images.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";

// bunfig's [test] timeout is not applied by this bun; these tests run real registries/skopeo/helm.
setDefaultTimeout(60_000);

let work: string;
let layout: WrittenLayout;
const regs: TestRegistry[] = [];
const start = async (o: Parameters<typeof startRegistry>[0]) => {
  const r = await startRegistry(o);
  regs.push(r);
  return r;
};

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "ka-harness-reg-"));
  layout = await writeImageLayout(join(work, "layout"), { tag: "1.0", layers: [{ size: 2048 }, { size: 100_000 }] });
});

afterAll(async () => {
  await Promise.all(regs.map((r) => r.stop()));
  rmSync(work, { recursive: true, force: true });
});

const img = () => layout.images[0]!;

describe("auth none", () => {
  test("starts fast, answers /v2/ with 200, push + read back with skopeo", async () => {
    const t0 = Date.now();
    const reg = await start({ auth: "none", tls: false });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(reg.host).toBe(`127.0.0.1:${reg.port}`);
    expect(reg.url).toBe(`http://${reg.host}`);
    expect((await fetch(`${reg.url}/v2/`)).status).toBe(200);
    await pushWithSkopeo(layout.dir, "1.0", `${reg.host}/lib/app:1.0`, reg.skopeo);
    const raw = await skopeoInspectRaw(`${reg.host}/lib/app:1.0`, reg.skopeo);
    expect(raw.digest).toBe(img().digest);
    expect(raw.bytes.equals(readFileSync(join(layout.dir, "blobs/sha256", img().digest.slice(7))))).toBe(true);
    expect(await skopeoListTags(`${reg.host}/lib/app`, reg.skopeo)).toEqual(["1.0"]);
    // the data really is on disk in the registry's temp storage
    expect(existsSync(join(reg.dataDir, "docker/registry/v2/blobs/sha256", img().manifests[0]!.layers[1]!.digest.slice(7, 9)))).toBe(true);
  });

  test("delete is enabled by default and can be disabled", async () => {
    const on = await start({ auth: "none", tls: false });
    const off = await start({ auth: "none", tls: false, deleteEnabled: false });
    for (const r of [on, off]) await pushWithSkopeo(layout.dir, "1.0", `${r.host}/lib/app:1.0`, r.skopeo);
    const del = (r: TestRegistry) => fetch(`${r.url}/v2/lib/app/manifests/${img().digest}`, { method: "DELETE" }).then((x) => x.status);
    expect(await del(on)).toBe(202);
    expect(await del(off)).toBe(405);
    expect((await fetch(`${on.url}/v2/lib/app/manifests/1.0`, { method: "HEAD" })).status).toBe(404);
  });

  test("logs go to a file, not the test output; stop() kills the process and removes the temp dir", async () => {
    const reg = await start({ auth: "htpasswd", tls: false });
    await fetch(`${reg.url}/v2/`, { headers: { authorization: `Basic ${btoa(`${reg.username}:wrong`)}` } });
    await Bun.sleep(50);
    expect(reg.logs()).toContain("error authenticating user");
    const dataDir = reg.dataDir;
    await reg.stop();
    expect(existsSync(dataDir)).toBe(false);
    const after = await fetch(`${reg.url}/v2/`).then((r) => r.status, () => 0);
    expect(after).toBe(0);
    await reg.stop(); // idempotent
  });
});

describe("auth htpasswd", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await start({ auth: "htpasswd", tls: false, users: { alice: "s3cret-A", bob: "s3cret-B" } });
  });

  test("challenges with Basic; bcrypt entries computed in TS are accepted", async () => {
    const anon = await fetch(`${reg.url}/v2/`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get("www-authenticate")).toMatch(/^Basic realm=/);
    expect(readFileSync(join(reg.configFile, "..", "htpasswd"), "utf8")).toMatch(/^alice:\$2[aby]\$04\$/);
    for (const [u, p] of Object.entries(reg.users)) {
      expect((await fetch(`${reg.url}/v2/`, { headers: { authorization: `Basic ${btoa(`${u}:${p}`)}` } })).status).toBe(200);
    }
    expect(reg.username).toBe("alice");
    expect(reg.password).toBe("s3cret-A");
  });

  test("skopeo with the right password pushes and reads back; a wrong password fails", async () => {
    await pushWithSkopeo(layout.dir, "1.0", `${reg.host}/team/app:1.0`, reg.skopeo);
    const raw = await skopeoInspectRaw(`${reg.host}/team/app:1.0`, { creds: "bob:s3cret-B" });
    expect(raw.digest).toBe(img().digest);
    await expect(pushWithSkopeo(layout.dir, "1.0", `${reg.host}/team/app:2.0`, { creds: "alice:nope" })).rejects.toThrow(/unauthorized|authentication required|401/i);
    await expect(skopeoInspectRaw(`${reg.host}/team/app:1.0`, {})).rejects.toThrow(/unauthorized|authentication required|401/i);
    await expect(skopeoListTags(`${reg.host}/team/app`, reg.skopeo)).resolves.toEqual(["1.0"]);
  });

  test("dockerConfig() gives a config.json auths entry for the registry host", () => {
    const cfg = reg.dockerConfig("bob");
    expect(Buffer.from(cfg.auths[reg.host]!.auth, "base64").toString()).toBe("bob:s3cret-B");
  });
});

describe("auth token", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await start({ auth: "token", tls: false });
  });

  test("challenges with Bearer pointing at our token server", async () => {
    const r = await fetch(`${reg.url}/v2/`);
    expect(r.status).toBe(401);
    const ts = reg.tokenServer!;
    expect(r.headers.get("www-authenticate")).toBe(`Bearer realm="${ts.realm}",service="${ts.service}"`);
    expect(Object.keys(reg.users).sort()).toEqual(["admin", "reader", "writer"]);
    expect(reg.username).toBe("writer");
  });

  test("writer pushes; reader reads but cannot push; the token server saw both", async () => {
    const ts = reg.tokenServer!;
    await pushWithSkopeo(layout.dir, "1.0", `${reg.host}/team/app:1.0`, reg.skopeo);
    const pushCalls = ts.calls.filter((c) => c.user === "writer" && c.status === 200);
    expect(pushCalls.some((c) => c.granted.some((g) => g.name === "team/app" && g.actions.includes("push")))).toBe(true);

    const reader = { creds: `reader:${reg.users.reader}` };
    const raw = await skopeoInspectRaw(`${reg.host}/team/app:1.0`, reader);
    expect(raw.digest).toBe(img().digest);
    await expect(pushWithSkopeo(layout.dir, "1.0", `${reg.host}/team/app:evil`, reader)).rejects.toThrow(/denied|unauthorized|authentication required/i);
    const readerCalls = ts.calls.filter((c) => c.user === "reader" && c.status === 200);
    expect(readerCalls.length).toBeGreaterThan(0);
    expect(readerCalls.every((c) => c.granted.every((g) => !g.actions.includes("push")))).toBe(true);
    // and the tag the reader tried to push does not exist
    await expect(skopeoInspectRaw(`${reg.host}/team/app:evil`, reg.skopeo)).rejects.toThrow(/manifest unknown|not found/i);
  });

  test("wrong password is refused by the token server; anonymous gets no access", async () => {
    await expect(skopeoInspectRaw(`${reg.host}/team/app:1.0`, { creds: "writer:wrong" })).rejects.toThrow(/401|unauthorized|invalid/i);
    expect(reg.tokenServer!.calls.some((c) => c.user === "writer" && c.status === 401)).toBe(true);
    await expect(skopeoInspectRaw(`${reg.host}/team/app:1.0`, {})).rejects.toThrow(/unauthorized|authentication required|denied/i);
  });
});

describe("TLS", () => {
  test("the default registry is the realistic one: TLS with a private CA + htpasswd basic auth", async () => {
    const reg = await start(undefined);
    expect(reg.tls).toBe(true);
    expect(reg.auth).toBe("htpasswd");
    expect(reg.url).toBe(`https://${reg.host}`);
    expect(reg.username).not.toBe("");
    expect(reg.skopeo).toEqual({ creds: `${reg.username}:${reg.password}`, tlsVerify: true, certDir: reg.certDir });
    await pushWithSkopeo(layout.dir, "1.0", `${reg.host}/def/app:1.0`, reg.skopeo);
    expect((await skopeoInspectRaw(`${reg.host}/def/app:1.0`, reg.skopeo)).digest).toBe(img().digest);
    // anonymous access is refused; an untrusted CA is refused
    await expect(skopeoInspectRaw(`${reg.host}/def/app:1.0`, { tlsVerify: true, certDir: reg.certDir })).rejects.toThrow(/unauthorized|authentication required/i);
    await expect(skopeoInspectRaw(`${reg.host}/def/app:1.0`, { creds: reg.skopeo.creds, tlsVerify: true })).rejects.toThrow(/certificate|x509/i);
  });

  test("https registry: skopeo verifies with --dest-cert-dir holding ca.crt, fails to verify without it", async () => {
    const reg = await start({ auth: "none", tls: true });
    expect(reg.url).toBe(`https://${reg.host}`);
    expect(readFileSync(join(reg.certDir!, "ca.crt"), "utf8")).toBe(readFileSync(reg.caFile!, "utf8"));
    expect(reg.skopeo).toEqual({ creds: undefined, tlsVerify: true, certDir: reg.certDir });
    await pushWithSkopeo(layout.dir, "1.0", `${reg.host}/sec/app:1.0`, reg.skopeo);
    expect((await skopeoInspectRaw(`${reg.host}/sec/app:1.0`, reg.skopeo)).digest).toBe(img().digest);
    // without the CA: verification fails; with verification off it works
    await expect(skopeoInspectRaw(`${reg.host}/sec/app:1.0`, { tlsVerify: true })).rejects.toThrow(/certificate|x509/i);
    expect((await skopeoInspectRaw(`${reg.host}/sec/app:1.0`, { tlsVerify: false })).digest).toBe(img().digest);
    // plain http to the TLS port does not work
    expect((await fetch(`http://${reg.host}/v2/`)).status).toBe(400);
  });

  test("TLS + htpasswd with a caller-supplied CA", async () => {
    const first = regs.find((r) => r.ca)!;
    const reg = await start({ tls: first.ca!, auth: "htpasswd" });
    expect(reg.caFile).toBe(first.caFile);
    await pushWithSkopeo(layout.dir, "1.0", `${reg.host}/sec/app:1.0`, reg.skopeo);
    expect((await skopeoInspectRaw(`${reg.host}/sec/app:1.0`, reg.skopeo)).digest).toBe(img().digest);
    await expect(skopeoInspectRaw(`${reg.host}/sec/app:1.0`, { ...reg.skopeo, creds: `${reg.username}:bad` })).rejects.toThrow(/unauthorized|authentication required/i);
  });
});
