// shared/palette against the fake Palette API (test/support/palette-api.ts): syslogin, raw-JWT Authorization,
// re-login once on 401, token-only mode, SCAR GET/PUT, sync jobs, TLS (CA file, insecure), error messages.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PaletteAuthError, PaletteClient, PaletteConnectionError, PaletteError } from "../../shared/palette/index.ts";
import { startFakePalette, type FakePalette } from "../support/palette-api.ts";

let tlsPalette: FakePalette;
let plain: FakePalette;
const PW = "pal-Pw-7d1e!x";

beforeAll(async () => {
  tlsPalette = await startFakePalette({ tls: true, users: { admin: PW }, scar: { endpoint: "https://scar.local:8443", username: "spectro", password: "scar-old-pw" } });
  plain = await startFakePalette({ users: { admin: PW } });
});
afterAll(async () => {
  await tlsPalette.stop();
  await plain.stop();
});

describe("PaletteClient", () => {
  test("syslogin, then the raw token in Authorization; GET/PUT scar; jobs 204", async () => {
    const p = new PaletteClient({ url: tlsPalette.url + "/", username: "admin", password: PW, caFile: tlsPalette.caFile });
    const before = tlsPalette.calls.length;
    const cfg = await p.getScarConfig();
    expect(cfg.endpoint).toBe("https://scar.local:8443");
    expect(cfg.username).toBe("spectro");
    await p.putScarConfig({ endpoint: "https://specman-service.hubble-system.svc.cluster.local:8443", username: "", password: "" });
    expect(tlsPalette.scar).toEqual({ endpoint: "https://specman-service.hubble-system.svc.cluster.local:8443", username: "", password: "" });
    await p.runJob("syncCloudInstanceTypesData");
    expect(tlsPalette.jobRuns.syncCloudInstanceTypesData).toBe(1);
    const calls = tlsPalette.calls.slice(before);
    expect(calls.map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([
      "POST /v1/auth/syslogin 200",
      "GET /v1/system/config/scar 200",
      "PUT /v1/system/config/scar 204",
      "GET /v1/jobs/internal/syncCloudInstanceTypesData/run 204",
    ]);
    // the fake only accepts the exact token as the header value (a "Bearer " prefix would be rejected)
    expect(calls.slice(1).every((c) => c.auth === "token")).toBe(true);
    expect(p.logins).toBe(1);
    p.close();
  });

  test("a 401 mid-run re-logs in once and repeats the call", async () => {
    const p = new PaletteClient({ url: plain.url, username: "admin", password: PW });
    await p.getScarConfig();
    plain.expireTokens();
    await p.runJob("syncCloudStorageTypesData");
    expect(p.logins).toBe(2);
    expect(plain.jobRuns.syncCloudStorageTypesData).toBe(1);
    p.close();
  });

  test("bad credentials: PaletteAuthError without the password", async () => {
    const p = new PaletteClient({ url: plain.url, username: "admin", password: "wrong-password-123" });
    const err = await p.getScarConfig().catch((e) => e);
    expect(err).toBeInstanceOf(PaletteAuthError);
    expect(err.message).toContain("login");
    expect(err.message).not.toContain("wrong-password-123");
    p.close();
  });

  test("token mode: works until the token expires, then a clear error (no login possible)", async () => {
    const login = new PaletteClient({ url: plain.url, username: "admin", password: PW });
    await login.login();
    const token = plain.tokens[plain.tokens.length - 1]!;
    const p = new PaletteClient({ url: plain.url, token });
    expect((await p.getScarConfig()).endpoint).toBeDefined();
    plain.expireTokens();
    const err = await p.getScarConfig().catch((e) => e);
    expect(err).toBeInstanceOf(PaletteAuthError);
    expect(err.hint).toContain("expired");
    expect(err.message).not.toContain(token);
    login.close();
    p.close();
  });

  test("server errors and unknown jobs are PaletteErrors with the status", async () => {
    const p = new PaletteClient({ url: plain.url, username: "admin", password: PW });
    plain.fail({ method: "PUT", path: "/v1/system/config/scar", status: 500 });
    const e1 = await p.putScarConfig({ endpoint: "x" }).catch((e) => e);
    expect(e1).toBeInstanceOf(PaletteError);
    expect(e1.status).toBe(500);
    expect(e1.message).toContain("HTTP 500");
    const e2 = await p.runJob("noSuchJob").catch((e) => e);
    expect(e2.status).toBe(404);
    p.close();
  });

  test("TLS: untrusted CA fails clearly; --palette-insecure and --palette-ca-file work", async () => {
    const bad = new PaletteClient({ url: tlsPalette.url, username: "admin", password: PW });
    const err = await bad.getScarConfig().catch((e) => e);
    expect(err).toBeInstanceOf(PaletteConnectionError);
    expect(err.hint).toContain("--palette-ca-file");
    bad.close();
    const insecure = new PaletteClient({ url: tlsPalette.url, username: "admin", password: PW, insecure: true });
    expect((await insecure.getScarConfig()).endpoint).toBeDefined();
    insecure.close();
  });

  test("connection refused names the address", async () => {
    const p = new PaletteClient({ url: "http://127.0.0.1:1", username: "admin", password: PW });
    const err = await p.getScarConfig().catch((e) => e);
    expect(err).toBeInstanceOf(PaletteConnectionError);
    expect(err.message).toContain("127.0.0.1:1");
    p.close();
  });
});
