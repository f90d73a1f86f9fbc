// Issue 12 point 14: IPv6 registries ([::1]:PORT/repo) work in shared references (copy to and from one, TLS
// certificate checked against the IP, credentials stored for "[::1]:PORT"); violet's --dest-repo and
// --platform-address keep refusing IPv6, as violet's documents say.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, connect, type Server, type AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { runCli } from "../support/cli.ts";
import { file, image, indexJson, mirror, OCI_LAYOUT, tagDigest, writeArchive } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "ka-v6-"));
let reg: TestRegistry;
let forwarder: Server;
let v6 = ""; // "[::1]:PORT"
const img = image([Buffer.alloc(50_000, 4)]);

beforeAll(async () => {
  reg = await startRegistry({ auth: "htpasswd", tls: true });
  // the registry listens on 127.0.0.1: reach it on ::1 through a TCP forwarder (TLS passes through untouched)
  forwarder = createServer((c) => {
    const up = connect(reg.port, "127.0.0.1");
    c.pipe(up).pipe(c);
    c.on("error", () => up.destroy());
    up.on("error", () => c.destroy());
  });
  await new Promise<void>((r) => forwarder.listen(0, "::1", () => r()));
  v6 = `[::1]:${(forwarder.address() as AddressInfo).port}`;
}, 60_000);
afterAll(async () => {
  forwarder?.close();
  await reg.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe("IPv6 registries (point 14)", () => {
  test("copy to [::1]:PORT/repo and back, over TLS with credentials stored for that host", async () => {
    const arc = writeArchive(tmp, "a.tar", [file("oci-layout", OCI_LAYOUT), file("index.json", indexJson([{ img, tag: "v1" }])), ...img.blobs]);
    const up = await mirror(reg, ["copy", `oci-archive:${arc}:v1`, `${v6}/v6/img:v1`], { alsoFor: [v6] });
    expect(up.stderr).not.toMatch(/error/);
    expect(up.code).toBe(0);
    expect(await tagDigest(reg, "v6/img", "v1")).toBe(img.digest);
    const back = await mirror(reg, ["copy", `${v6}/v6/img:v1`, `${reg.host}/v6/back:v1`, "-o", "json"], { alsoFor: [v6] });
    expect(back.code).toBe(0);
    expect(JSON.parse(back.stdout).items[0].source).toBe(`${v6}/v6/img:v1`);
    expect(await tagDigest(reg, "v6/back", "v1")).toBe(img.digest);
  });

  test("violet --dest-repo keeps refusing IPv6", async () => {
    const r = await runCli("kubectl-violet", ["push", join(tmp, "none.tgz"), "--dest-repo", v6, "--no-auth"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--dest-repo .*IPv6 addresses are not supported/);
  });

  test("violet --platform-address keeps refusing IPv6", async () => {
    const r = await runCli("kubectl-violet", ["list", "--platform-address", "https://[::1]:6443", "--platform-token", "t0ken"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--platform-address .*IPv6 addresses are not supported/);
  });
});
