// A fake Palette system API for tests (in-process HTTP or HTTPS on 127.0.0.1):
//
//   const palette = await startFakePalette({ tls: true, users: { admin: "s3cret!pw" }, tokenTtlMs: 60_000,
//     scar: { endpoint: "https://10.0.0.5:8443", username: "spectro", password: "old-scar-pw" } });
//   palette.url / palette.caFile
//   palette.calls            // [{ method, path, status, auth }] — every request, in order
//   palette.scar             // current SCAR config (GET/PUT /v1/system/config/scar)
//   palette.jobRuns          // { syncCloudInstanceTypesData: 1, … } successful job runs
//   palette.tokens           // every token issued (to check that none leaks into output)
//   palette.expireTokens()   // every issued token becomes invalid (→ 401; clients must log in again)
//   palette.fail({ method: "PUT", path: "/v1/system/config/scar", status: 500, times: 1, after: 0 })
//   palette.onJob = (name) => { … }   // hook when a sync job runs (tests simulate Specman with it)
//   palette.registries               // OCI pack registries (GET /v1/registries/oci/summary, GET/PUT …/{uid}/basic|ecr)
//   palette.onRegistryUpdate = (reg) => { … }   // hook after a registry PUT (Specman syncs once the box is ticked)
//   const hang = await startHangingServer()   // accepts TCP connections and never answers (no TLS handshake either)
//   await palette.stop()
//
// Behaviour: POST /v1/auth/syslogin {username,password} → 200 {"Authorization": jwt-ish, IsPasswordReset…} or
// 401 v1Error; tokens expire after tokenTtlMs; requests take the raw token in `Authorization` (no "Bearer") or
// `Cookie: Authorization=…` (cookieOnly: only the cookie, like the documented curl; a bare header is a 401); GET /v1/system/config/scar → 200 spec (the password is returned masked unless
// revealPassword); PUT → 204 (400 without a JSON object / without endpoint); GET /v1/jobs/internal/<job>/run → 204
// for the two known jobs, 404 otherwise; anything else 404; v1Error bodies {code,message,ref}.
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCA, type TestCA } from "./pki.ts";

export const KNOWN_JOBS = ["syncCloudInstanceTypesData", "syncCloudStorageTypesData"];

export interface PaletteCall {
  method: string;
  path: string;
  status: number;
  /** "token" | "cookie" | "none" | "bad" */
  auth: string;
  /** query string ("" when none), e.g. "?setCookie=true" */
  query?: string;
  /** Date.now() when the request arrived */
  at?: number;
  body?: unknown;
}

export interface FailRule {
  method: string;
  path: string;
  status: number;
  /** how many matching calls fail (default 1; Infinity for all) */
  times?: number;
  /** let this many matching calls pass first (default 0) */
  after?: number;
}

export interface FakePaletteOptions {
  tls?: boolean | TestCA;
  users?: Record<string, string>;
  tokenTtlMs?: number;
  scar?: Record<string, unknown>;
  /** return the SCAR password in GET (default false: masked as "" like a careful API) */
  revealPassword?: boolean;
  /** accept the token only as `Cookie: Authorization=<token>` (the documented curl's way) */
  cookieOnly?: boolean;
  /** OCI pack registries (system scope), e.g. the airgap Harbor */
  registries?: FakeOciRegistry[];
  /** GET …/{uid}/basic returns auth.password as "" (masked) */
  maskRegistryPassword?: boolean;
}

/** v1BasicOciRegistry / v1EcrRegistry as stored by the fake */
export interface FakeOciRegistry {
  kind: "basic" | "ecr";
  metadata: { uid: string; name: string };
  spec: { endpoint: string; baseContentPath?: string; containsSpectroManifest?: boolean; auth?: Record<string, unknown>; [k: string]: unknown };
}

export interface FakePalette {
  url: string;
  port: number;
  caFile?: string;
  ca?: TestCA;
  users: Record<string, string>;
  calls: PaletteCall[];
  scar: Record<string, unknown>;
  jobRuns: Record<string, number>;
  tokens: string[];
  registries: FakeOciRegistry[];
  /** GET …/{uid}/basic masks auth.password (settable at run time) */
  maskRegistryPassword: boolean;
  onJob?: (name: string) => void;
  onRegistryUpdate?: (reg: FakeOciRegistry) => void;
  expireTokens(): void;
  fail(rule: FailRule): void;
  clearFailures(): void;
  stop(): Promise<void>;
}

export async function startFakePalette(opts: FakePaletteOptions = {}): Promise<FakePalette> {
  const users = opts.users ?? { admin: "admin-" + randomBytes(6).toString("hex") };
  const ttl = opts.tokenTtlMs ?? 15 * 60_000;
  const live = new Map<string, number>(); // token → expiry
  const rules: (FailRule & { seen: number; failed: number })[] = [];
  let ca: TestCA | undefined;
  let dir: string | undefined;
  if (opts.tls) {
    dir = mkdtempSync(join(tmpdir(), "ka-palette-"));
    ca = opts.tls === true ? createCA(dir) : opts.tls;
  }

  const state: FakePalette = {
    url: "",
    port: 0,
    caFile: ca?.cert,
    ca,
    users,
    calls: [],
    scar: { ...(opts.scar ?? { endpoint: "https://scar.example.internal:8443", username: "spectro", password: "scar-" + randomBytes(6).toString("hex") }) },
    jobRuns: {},
    tokens: [],
    registries: structuredClone(opts.registries ?? []),
    maskRegistryPassword: !!opts.maskRegistryPassword,
    expireTokens() {
      live.clear();
    },
    fail(rule) {
      rules.push({ ...rule, seen: 0, failed: 0 });
    },
    clearFailures() {
      rules.length = 0;
    },
    async stop() {
      server.closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };

  const send = (res: http.ServerResponse, call: PaletteCall, status: number, body?: unknown) => {
    call.status = status;
    if (body === undefined || status === 204) {
      res.writeHead(status);
      res.end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };
  const v1Error = (code: string, message: string) => ({ code, message, ref: randomBytes(4).toString("hex") });

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      const path = url.pathname;
      const method = req.method ?? "GET";
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: unknown;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      const call: PaletteCall = { method, path, query: url.search, at: Date.now(), status: 0, auth: "none", body: path === "/v1/auth/syslogin" ? "(credentials)" : body };
      state.calls.push(call);

      for (const r of rules) {
        if (r.method !== method || r.path !== path) continue;
        r.seen++;
        if (r.seen > (r.after ?? 0) && r.failed < (r.times ?? 1)) {
          r.failed++;
          return send(res, call, r.status, v1Error("InjectedFailure", `injected failure for ${method} ${path}`));
        }
      }

      if (method === "POST" && path === "/v1/auth/syslogin") {
        const b = body as { username?: string; emailId?: string; password?: string } | undefined;
        const name = b?.username ?? b?.emailId;
        if (!name || !b?.password || users[name] !== b.password) return send(res, call, 401, v1Error("InvalidCredentials", "Invalid credentials"));
        const token = `eyJ${randomBytes(24).toString("base64url")}.${randomBytes(24).toString("base64url")}`;
        live.set(token, Date.now() + ttl);
        state.tokens.push(token);
        if (url.searchParams.get("setCookie") === "true") res.setHeader("set-cookie", `Authorization=${token}; Path=/; HttpOnly`);
        return send(res, call, 200, { Authorization: token, IsPasswordReset: true, IsEmailSet: false, IsEmailVerified: false, IsMfa: false });
      }

      // everything else needs a token
      let token = opts.cookieOnly ? undefined : req.headers.authorization;
      call.auth = token ? "token" : "none";
      if (!token) {
        const m = /(?:^|;\s*)Authorization=("?)([^;"]+)\1/.exec(req.headers.cookie ?? "");
        if (m) {
          token = m[2];
          call.auth = "cookie";
        }
      }
      const exp = token ? live.get(token) : undefined;
      if (!token || exp === undefined || exp < Date.now()) {
        if (token) call.auth = "bad";
        return send(res, call, 401, v1Error("Unauthorized", token ? "token is invalid or expired" : "authorization header is missing"));
      }

      if (path === "/v1/system/config/scar") {
        if (method === "GET") {
          const out = { ...state.scar };
          if (!opts.revealPassword && typeof out.password === "string" && out.password) out.password = "";
          return send(res, call, 200, out);
        }
        if (method === "PUT") {
          if (!body || typeof body !== "object" || Array.isArray(body)) return send(res, call, 400, v1Error("BadRequest", "body must be a v1SystemScarSpec object"));
          if (!(body as { endpoint?: string }).endpoint) return send(res, call, 400, v1Error("BadRequest", "endpoint is required"));
          state.scar = { ...(body as Record<string, unknown>) };
          return send(res, call, 204);
        }
        return send(res, call, 405, v1Error("MethodNotAllowed", `${method} not allowed`));
      }
      if (path === "/v1/registries/oci/summary" && method === "GET") {
        return send(res, call, 200, { items: state.registries.map((r) => ({ metadata: { ...r.metadata }, spec: { endpoint: r.spec.endpoint, registryType: r.kind, scope: "system", isPrivate: true, containsSpectroManifest: !!r.spec.containsSpectroManifest } })) });
      }
      const reg = /^\/v1\/registries\/oci\/([^/]+)\/(basic|ecr)$/.exec(path);
      if (reg) {
        const r = state.registries.find((x) => x.metadata.uid === decodeURIComponent(reg[1]!) && x.kind === reg[2]);
        if (!r) return send(res, call, 404, v1Error("RegistryNotFound", `registry ${reg[1]} not found`));
        if (method === "GET") {
          const out = structuredClone({ metadata: r.metadata, spec: r.spec });
          if (state.maskRegistryPassword && out.spec.auth && typeof out.spec.auth.password === "string") out.spec.auth.password = "";
          return send(res, call, 200, out);
        }
        if (method === "PUT") {
          const b = body as { metadata?: { name?: string }; spec?: FakeOciRegistry["spec"] } | undefined;
          if (!b?.spec?.endpoint || !b.metadata?.name) return send(res, call, 400, v1Error("BadRequest", "metadata.name and spec.endpoint are required"));
          r.spec = structuredClone(b.spec);
          r.metadata = { ...r.metadata, name: b.metadata.name };
          send(res, call, 204);
          try {
            state.onRegistryUpdate?.(r);
          } catch {}
          return;
        }
        return send(res, call, 405, v1Error("MethodNotAllowed", `${method} not allowed`));
      }
      const job = /^\/v1\/jobs\/internal\/([^/]+)\/run$/.exec(path);
      if (job && method === "GET") {
        const name = decodeURIComponent(job[1]!);
        if (!KNOWN_JOBS.includes(name)) return send(res, call, 404, v1Error("NotFound", `job ${name} not found`));
        state.jobRuns[name] = (state.jobRuns[name] ?? 0) + 1;
        send(res, call, 204);
        try {
          state.onJob?.(name);
        } catch {}
        return;
      }
      return send(res, call, 404, v1Error("NotFound", `no route for ${method} ${path}`));
    });
  };

  let server: http.Server;
  if (ca) {
    const cert = ca.server("palette");
    server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, handler);
  } else server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  state.port = (server.address() as { port: number }).port;
  state.url = `${ca ? "https" : "http"}://127.0.0.1:${state.port}`;
  return state;
}

/** A TCP server that accepts connections and never answers (HTTP or TLS clients hang until their own deadline). */
export async function startHangingServer(): Promise<{ url: string; httpUrl: string; port: number; connections: number; stop(): Promise<void> }> {
  const sockets = new Set<import("node:net").Socket>();
  const srv = net.createServer((s) => {
    out.connections++;
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as { port: number }).port;
  const out = {
    url: `https://127.0.0.1:${port}`,
    httpUrl: `http://127.0.0.1:${port}`,
    port,
    connections: 0,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    },
  };
  return out;
}
