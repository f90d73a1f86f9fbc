// shared/palette against the fake Palette API (test/support/palette-api.ts): syslogin, raw-JWT Authorization,
// re-login once on 401, token-only mode, SCAR GET/PUT, sync jobs, TLS (CA file, insecure), error messages.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { PaletteAuthError, PaletteClient, PaletteConnectionError, PaletteError } from "../../shared/palette/index.ts";
import { markSpectroManifests } from "../../plugins/kubectl-scar/lib/manifests-flag.ts";
import { startFakePalette, startHangingServer, type FakeOciRegistry, type FakePalette } from "../support/palette-api.ts";

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

  test("cookie-only Palette (the documented curl's `Cookie: Authorization=…`): login with ?setCookie=true, every call authenticated", async () => {
    const cookie = await startFakePalette({ tls: true, cookieOnly: true, users: { admin: PW }, scar: { endpoint: "https://scar.local:8443" } });
    try {
      const p = new PaletteClient({ url: cookie.url, username: "admin", password: PW, caFile: cookie.caFile });
      expect((await p.getScarConfig()).endpoint).toBe("https://scar.local:8443");
      await p.putScarConfig({ endpoint: "https://specman-service.hubble-system.svc.cluster.local:8443", username: "", password: "" });
      await p.runJob("syncCloudInstanceTypesData");
      expect(cookie.calls.map((c) => `${c.method} ${c.path}${c.query} ${c.status} ${c.auth}`)).toEqual([
        "POST /v1/auth/syslogin?setCookie=true 200 none",
        "GET /v1/system/config/scar 200 cookie",
        "PUT /v1/system/config/scar 204 cookie",
        "GET /v1/jobs/internal/syncCloudInstanceTypesData/run 204 cookie",
      ]);
      expect(p.logins).toBe(1);
      // a token given by the user (passkey admins) goes the same ways
      const t = new PaletteClient({ url: cookie.url, token: cookie.tokens[0]!, caFile: cookie.caFile });
      expect((await t.getScarConfig()).endpoint).toBe("https://specman-service.hubble-system.svc.cluster.local:8443");
      p.close();
      t.close();
    } finally {
      await cookie.stop();
    }
  });

  test("a Palette that accepts the connection and never answers fails within the deadline (HTTPS and HTTP)", async () => {
    const hang = await startHangingServer();
    try {
      for (const url of [hang.url, hang.httpUrl]) {
        const p = new PaletteClient({ url, username: "admin", password: PW, insecure: true, timeoutMs: 800 });
        const t0 = Date.now();
        const err = await Promise.race([p.getScarConfig().catch((e) => e), new Promise((r) => setTimeout(() => r("still hanging after 5s"), 5000))]);
        const ms = Date.now() - t0;
        expect(err).toBeInstanceOf(PaletteConnectionError);
        expect((err as Error).message).toContain("did not answer POST /v1/auth/syslogin within 0.8s");
        expect((err as PaletteConnectionError).hint).toContain("--request-timeout");
        expect(ms).toBeGreaterThanOrEqual(750);
        expect(ms).toBeLessThan(3000);
        p.close();
      }
      expect(hang.connections).toBeGreaterThanOrEqual(2);
    } finally {
      await hang.stop();
    }
  });

  test("connection refused names the address", async () => {
    const p = new PaletteClient({ url: "http://127.0.0.1:1", username: "admin", password: PW });
    const err = await p.getScarConfig().catch((e) => e);
    expect(err).toBeInstanceOf(PaletteConnectionError);
    expect(err.message).toContain("127.0.0.1:1");
    p.close();
  });
});

describe("Contains Spectro Manifests through the registries API", () => {
  const harbor = (over: Partial<FakeOciRegistry["spec"]> = {}): FakeOciRegistry => ({
    kind: "basic",
    metadata: { uid: "reg-harbor", name: "airgap-harbor" },
    spec: { endpoint: "https://harbor.airgap.local", baseContentPath: "spectro-packs", containsSpectroManifest: false, providerType: "pack", auth: { type: "basic", username: "admin", password: "harbor-Pw-77", tls: { enabled: true, insecureSkipVerify: true } }, ...over },
  });
  const other: FakeOciRegistry = { kind: "ecr", metadata: { uid: "reg-ecr", name: "ecr" }, spec: { endpoint: "123.dkr.ecr.us-east-1.amazonaws.com", baseContentPath: "x" } };
  const target = { registry: "harbor.airgap.local", basePath: "spectro-packs", tag: "0.0.0" };

  test("finds the registry by endpoint, GET-modify-PUTs containsSpectroManifest: true keeping every other field", async () => {
    const f = await startFakePalette({ users: { admin: PW }, registries: [other, harbor()] });
    const p = new PaletteClient({ url: f.url, username: "admin", password: PW });
    try {
      const dry = await markSpectroManifests(p, target, { dryRun: true });
      expect(dry).toMatchObject({ status: "planned", uid: "reg-harbor", kind: "basic" });
      expect(f.calls.some((c) => c.method === "PUT")).toBe(false);
      const r = await markSpectroManifests(p, target);
      expect(r).toMatchObject({ status: "set", uid: "reg-harbor", name: "airgap-harbor" });
      expect(f.registries[1]!.spec).toEqual({ ...harbor().spec, containsSpectroManifest: true });
      expect(f.registries[0]!.spec.containsSpectroManifest).toBeUndefined();
      expect(f.calls.filter((c) => c.path.startsWith("/v1/registries")).map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([
        "GET /v1/registries/oci/summary 200",
        "GET /v1/registries/oci/reg-harbor/basic 200",
        "GET /v1/registries/oci/summary 200",
        "GET /v1/registries/oci/reg-harbor/basic 200",
        "PUT /v1/registries/oci/reg-harbor/basic 204",
        "GET /v1/registries/oci/reg-harbor/basic 200",
      ]);
      expect((await markSpectroManifests(p, target)).status).toBe("already");
    } finally {
      p.close();
      await f.stop();
    }
  });

  test("stops with the console instruction (no PUT) when the API cannot do it safely", async () => {
    // Palette masks the registry password: a PUT of what GET returned would erase it
    const masked = await startFakePalette({ users: { admin: PW }, registries: [harbor()], maskRegistryPassword: true });
    const p = new PaletteClient({ url: masked.url, username: "admin", password: PW });
    try {
      const r = await markSpectroManifests(p, target);
      expect(r.status).toBe("manual");
      expect(r.reason).toContain("erase");
      expect(r.instruction).toContain('Administration → Pack Registries');
      expect(r.instruction).toContain('"Contains Spectro Manifests" → Validate → Confirm');
      expect(masked.calls.some((c) => c.method === "PUT")).toBe(false);
      // no registry with that endpoint
      const none = await markSpectroManifests(p, { ...target, registry: "other.example.com" });
      expect(none.status).toBe("manual");
      expect(none.reason).toContain("no OCI pack registry with endpoint other.example.com");
      // the registry reads from another base path: Specman would not find the manifests
      const e = await markSpectroManifests(p, { ...target, basePath: "elsewhere" }).catch((x) => x);
      expect(e.message).toContain('base content path "spectro-packs"');
      expect(e.hint).toContain("--base-path spectro-packs");
    } finally {
      p.close();
      await masked.stop();
    }
  });

  test("an ECR pack registry whose secret key Palette does not return is left to the console", async () => {
    const ecr: FakeOciRegistry = { kind: "ecr", metadata: { uid: "reg-ecr", name: "ecr-packs" }, spec: { endpoint: "123456789012.dkr.ecr.us-east-1.amazonaws.com", baseContentPath: "spectro-packs", containsSpectroManifest: false, credentials: { credentialType: "secret", accessKey: "AKIAEXAMPLE", secretKey: "" } } };
    const f = await startFakePalette({ users: { admin: PW }, registries: [ecr] });
    const p = new PaletteClient({ url: f.url, username: "admin", password: PW });
    try {
      const r = await markSpectroManifests(p, { registry: "123456789012.dkr.ecr.us-east-1.amazonaws.com", basePath: "spectro-packs", tag: "0.0.0" });
      expect(r).toMatchObject({ status: "manual", uid: "reg-ecr", kind: "ecr" });
      expect(r.reason).toContain("secret key");
      expect(f.calls.some((c) => c.method === "PUT")).toBe(false);
      expect(f.calls.some((c) => c.path === "/v1/registries/oci/reg-ecr/ecr")).toBe(true);
    } finally {
      p.close();
      await f.stop();
    }
  });
});
