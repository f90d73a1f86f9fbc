// A registry that keeps blob upload sessions the way zot does, for tests of resumed uploads: a front proxy (plain
// http on 127.0.0.1) that handles upload sessions itself, on disk, and passes everything else through to a REAL
// distribution registry (startRegistry() in registry.ts), which stays the judge of manifests, blobs, tags and
// auth. When a session is closed, the complete blob is committed to distribution by a monolithic upload
// (POST + PUT ?digest= with the whole body) and distribution's answer is returned.
//
// Written from zot's source (project-zot/zot @ 6d19b445, pkg/api/routes.go CreateBlobUpload, GetBlobUpload,
// PatchBlobUpload, UpdateBlobUpload, DeleteBlobUpload, getContentRange, getBlobUploadSessionLocation;
// pkg/storage/imagestore/imagestore.go NewBlobUpload, GetBlobUpload, PutBlobChunk, PutBlobChunkStreamed,
// FinishBlobUpload, DeleteBlobUpload) and the distribution spec (opencontainers/distribution-spec spec.md,
// "Pushing a blob in chunks", "get the current status after a 416"):
//   POST /v2/<name>/blobs/uploads/         → 202, Location /v2/<name>/blobs/uploads/<uuid>, Range 0-0, Blob-Upload-UUID
//                                            (?mount= / ?digest= monolithic: passed through to distribution)
//   GET  <session>                         → 204, Location, Range 0-<size-1> ("0-0" when empty), Blob-Upload-UUID
//                                            (also Docker-Upload-UUID); unknown → 404 BLOB_UPLOAD_UNKNOWN
//   PATCH <session> without Content-Length or without Content-Range → streamed: the body is appended
//   PATCH <session> with both              → Content-Range "<from>-<to>": malformed, from > to, or to-from+1 ≠
//                                            Content-Length → 416 (no body); from ≠ stored size → 416
//                                            BLOB_UPLOAD_INVALID; else appended → 202, Location, Range 0-<size-1>,
//                                            Content-Length 0, Blob-Upload-UUID
//   a PATCH (or PUT chunk) whose body breaks (client killed, connection reset) → the session is DELETED and 500
//                                            (zot since 20f40514 "Clean blob uploads when clients interrupts
//                                            uploading", #225; routes.go: "unexpected error, removing .uploads/ files")
//   PUT <session>?digest=D                 → with Content-Length > 0 (and no Content-Range): a chunk from 0, so only
//                                            on an empty session (else 416); with Content-Range: that chunk; then
//                                            the stored bytes must hash to D (400 DIGEST_INVALID otherwise, the
//                                            session stays); missing/invalid digest → 400; → distribution's answer
//   DELETE <session>                       → 204; unknown → 404 BLOB_UPLOAD_UNKNOWN
// Requests to its own sessions must carry credentials distribution accepts: each new Authorization value is
// checked once with GET /v2/ upstream (a 401 is relayed with distribution's WWW-Authenticate).
//
//   const reg = await startRegistry();
//   const zot = await startZotUploads(reg);     zot.host / zot.url (plain http: --plain-http-host zot.host)
//   zot.calls      every request: { method, path, status, bytesIn, session? (its own sessions) }
//   zot.uploadBytes(since?)   body bytes received by its sessions (PATCH/PUT), from calls[since] on
//   zot.stored()   bytes held by open sessions;  zot.busy()  request bodies being received into sessions
//   await zot.stop()
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, mkdtempSync, rmSync } from "node:fs";
import { open, rm, stat } from "node:fs/promises";
import { createServer, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import { listenLoopback } from "./ports.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestRegistry } from "./registry.ts";

export interface ZotCall {
  method: string;
  path: string;
  status: number;
  bytesIn: number;
  /** the call went to one of the stand-in's own upload sessions */
  session?: string;
}

export interface ZotUploads {
  url: string;
  host: string;
  calls: ZotCall[];
  uploadBytes(since?: number): number;
  stored(): number;
  busy(): number;
  stop(): Promise<void>;
}

const HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "proxy-authenticate", "proxy-authorization", "host"]);

interface Session {
  name: string;
  file: string;
  size: number;
}

function errorBody(code: string, message: string, detail: Record<string, string> = {}): string {
  return JSON.stringify({ errors: [{ code, message, detail }] });
}

export async function startZotUploads(reg: TestRegistry): Promise<ZotUploads> {
  const target = new URL(reg.url);
  const dir = mkdtempSync(join(tmpdir(), "ka-zot-uploads-"));
  const sessions = new Map<string, Session>();
  /** upload sessions distribution opened (a mount answered 202): passed through */
  const upstreamSessions = new Set<string>();
  const authOk = new Set<string>();
  const calls: ZotCall[] = [];
  /** bodies being received into sessions */
  let receiving = 0;
  let origin = "";

  const upstream = (method: string, path: string, headers: OutgoingHttpHeaders) =>
    (target.protocol === "https:" ? httpsRequest : httpRequest)({ protocol: target.protocol, hostname: target.hostname, port: target.port, method, path, headers: { ...headers, host: target.host }, agent: false, ...(target.protocol === "https:" ? { ca: reg.ca?.certPem } : {}) });
  const send = (req: ReturnType<typeof upstream>, body?: NodeJS.ReadableStream | string) =>
    new Promise<{ status: number; headers: IncomingMessage["headers"]; body: Buffer }>((resolve, reject) => {
      req.on("response", async (r) => {
        const parts: Buffer[] = [];
        for await (const c of r) parts.push(c as Buffer);
        resolve({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(parts) });
      });
      req.on("error", reject);
      if (body === undefined || typeof body === "string") req.end(body);
      else body.pipe(req);
    });
  const rewrite = (loc: string | undefined) => (loc && loc.startsWith(target.origin) ? origin + loc.slice(target.origin.length) : loc);

  const reply = (res: ServerResponse, call: ZotCall, status: number, headers: OutgoingHttpHeaders = {}, body = "") => {
    call.status = status;
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { "docker-distribution-api-version": "registry/2.0", ...(body ? { "content-type": "application/json; charset=utf-8" } : {}), "content-length": Buffer.byteLength(body), ...headers });
    res.end(body);
  };

  /** the client's credentials, checked by distribution once per value */
  const authorized = async (req: IncomingMessage, res: ServerResponse, call: ZotCall): Promise<boolean> => {
    const auth = req.headers.authorization ?? "";
    if (authOk.has(auth)) return true;
    const r = await send(upstream("GET", "/v2/", auth ? { authorization: auth } : {}));
    if (r.status === 200) {
      authOk.add(auth);
      return true;
    }
    for await (const _ of req) void _;
    reply(res, call, r.status, r.headers["www-authenticate"] ? { "www-authenticate": r.headers["www-authenticate"] } : {}, r.body.toString());
    return false;
  };

  /** zot's io.Copy into the session file: appended as it arrives; a body that breaks deletes the session (returns undefined) */
  const append = async (req: IncomingMessage, s: Session, uuid: string, call: ZotCall): Promise<number | undefined> => {
    const declared = req.headers["content-length"] !== undefined ? Number(req.headers["content-length"]) : undefined;
    const fh = await open(s.file, "a");
    let n = 0;
    let broken = false;
    receiving++;
    try {
      for await (const c of req) {
        const b = c as Buffer;
        await fh.write(b);
        n += b.length;
        call.bytesIn += b.length;
        s.size += b.length;
      }
    } catch {
      broken = true;
    } finally {
      receiving--;
      await fh.close();
    }
    if (broken || !req.complete || (declared !== undefined && n !== declared)) {
      // routes.go: "unexpected error, removing .uploads/ files"
      sessions.delete(uuid);
      await rm(s.file, { force: true });
      return undefined;
    }
    return n;
  };

  const sessionHeaders = (s: Session, uuid: string): OutgoingHttpHeaders => ({
    location: `/v2/${s.name}/blobs/uploads/${uuid}`,
    range: s.size > 0 ? `0-${s.size - 1}` : "0-0",
    "blob-upload-uuid": uuid,
    "docker-upload-uuid": uuid,
  });

  const digestOf = (file: string) =>
    new Promise<string>((resolve, reject) => {
      const h = createHash("sha256");
      createReadStream(file)
        .on("data", (c) => h.update(c))
        .on("end", () => resolve(`sha256:${h.digest("hex")}`))
        .on("error", reject);
    });

  const passThrough = async (req: IncomingMessage, res: ServerResponse, call: ZotCall) => {
    const headers: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k) && v !== undefined) headers[k] = v;
    const up = upstream(req.method ?? "GET", req.url ?? "/", headers);
    const answer = new Promise<IncomingMessage>((resolve, reject) => {
      up.on("response", resolve);
      up.on("error", reject);
    });
    req.on("data", (c: Buffer) => (call.bytesIn += c.length));
    req.pipe(up);
    let r: IncomingMessage;
    try {
      r = await answer;
    } catch {
      return reply(res, call, 502, {}, errorBody("UNKNOWN", "upstream unreachable"));
    }
    call.status = r.statusCode ?? 502;
    const out: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(r.headers)) if (!HOP.has(k) && v !== undefined) out[k] = v;
    if (typeof r.headers.location === "string") {
      out.location = rewrite(r.headers.location);
      const m = /\/blobs\/uploads\/([^/?]+)/.exec(r.headers.location);
      if (m) upstreamSessions.add(m[1]!);
    }
    res.writeHead(call.status, out);
    r.pipe(res);
    await new Promise((resolve) => res.on("close", resolve));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, call: ZotCall) => {
    const url = new URL(req.url ?? "/", "http://x");
    const method = req.method ?? "GET";
    const start = /^\/v2\/(.+)\/blobs\/uploads\/?$/.exec(url.pathname);
    const inSession = /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/.exec(url.pathname);
    if (start && method === "POST" && !url.searchParams.has("mount") && !url.searchParams.has("digest") && !url.searchParams.has("from")) {
      if (!(await authorized(req, res, call))) return;
      for await (const c of req) call.bytesIn += (c as Buffer).length;
      const uuid = randomUUID();
      const s: Session = { name: start[1]!, file: join(dir, uuid), size: 0 };
      await (await open(s.file, "w")).close();
      sessions.set(uuid, s);
      call.session = uuid;
      return reply(res, call, 202, sessionHeaders(s, uuid));
    }
    if (!inSession || upstreamSessions.has(inSession[2]!)) return passThrough(req, res, call);
    const uuid = inSession[2]!;
    call.session = uuid;
    if (!(await authorized(req, res, call))) return;
    const s = sessions.get(uuid);
    if (!s || s.name !== inSession[1]) {
      for await (const c of req) call.bytesIn += (c as Buffer).length;
      return reply(res, call, 404, {}, errorBody("BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", { session_id: uuid }));
    }
    if (method === "GET") return reply(res, call, 204, sessionHeaders(s, uuid));
    if (method === "DELETE") {
      sessions.delete(uuid);
      await rm(s.file, { force: true });
      return reply(res, call, 204);
    }
    const cl = req.headers["content-length"];
    const cr = req.headers["content-range"];
    /** getContentRange + the Content-Length check; undefined: 416 already sent */
    const chunkRange = (): [number, number] | undefined => {
      const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(cr ?? "");
      const from = m ? Number(m[1]) : -1;
      const to = m ? Number(m[2]) : -1;
      if (!m || from > to) return undefined;
      return [from, to];
    };
    const drain = async () => {
      for await (const c of req) call.bytesIn += (c as Buffer).length;
    };
    if (method === "PATCH") {
      if (cl !== undefined && cr !== undefined) {
        const r = chunkRange();
        if (!/^\d+$/.test(cl)) return drain().then(() => reply(res, call, 400));
        if (!r || r[1] - r[0] + 1 !== Number(cl)) return drain().then(() => reply(res, call, 416));
        // PutBlobChunk: the chunk must start where the stored bytes end
        if (r[0] !== s.size) return drain().then(() => reply(res, call, 416, {}, errorBody("BLOB_UPLOAD_INVALID", "blob upload invalid", { session_id: uuid })));
      }
      const n = await append(req, s, uuid, call);
      if (n === undefined) return reply(res, call, 500);
      return reply(res, call, 202, { ...sessionHeaders(s, uuid), "content-length": 0 });
    }
    if (method === "PUT") {
      const digest = url.searchParams.getAll("digest");
      if (digest.length !== 1 || !/^sha256:[a-f0-9]{64}$/.test(digest[0]!)) return drain().then(() => reply(res, call, 400));
      if (cl !== undefined || cr !== undefined) {
        if (cl === undefined || !/^\d+$/.test(cl)) return drain().then(() => reply(res, call, 400, {}, errorBody("BLOB_UPLOAD_INVALID", "blob upload invalid", { digest: digest[0]! })));
        let from = 0;
        let chunk = Number(cl) > 0;
        if (cr !== undefined) {
          const r = chunkRange();
          if (!r) return drain().then(() => reply(res, call, 416, {}, errorBody("BLOB_UPLOAD_INVALID", "blob upload invalid", { session_id: uuid })));
          from = r[0];
          chunk = true;
        }
        if (chunk) {
          if (from !== s.size) return drain().then(() => reply(res, call, 416, {}, errorBody("BLOB_UPLOAD_INVALID", "blob upload invalid", { session_id: uuid })));
          if ((await append(req, s, uuid, call)) === undefined) return reply(res, call, 500);
        } else await drain();
      } else await drain();
      // FinishBlobUpload: the stored bytes must be the digest's
      if ((await digestOf(s.file)) !== digest[0]) return reply(res, call, 400, {}, errorBody("DIGEST_INVALID", "provided digest did not match uploaded content", { digest: digest[0]! }));
      // commit to distribution: a monolithic upload of the whole blob, with the client's credentials
      const auth = req.headers.authorization ? { authorization: req.headers.authorization } : {};
      const post = await send(upstream("POST", `/v2/${s.name}/blobs/uploads/`, { ...auth, "content-length": 0 }), "");
      if (post.status !== 202 || !post.headers.location) return reply(res, call, post.status || 502, {}, post.body.toString());
      const put = new URL(post.headers.location, target.origin);
      put.searchParams.set("digest", digest[0]!);
      const size = (await stat(s.file)).size;
      const done = await send(upstream("PUT", put.pathname + put.search, { ...auth, "content-type": "application/octet-stream", "content-length": size }), createReadStream(s.file));
      if (done.status === 201) {
        sessions.delete(uuid);
        await rm(s.file, { force: true });
      }
      const out: OutgoingHttpHeaders = {};
      for (const k of ["location", "docker-content-digest", "content-type"]) if (done.headers[k]) out[k] = k === "location" ? rewrite(String(done.headers[k])) : done.headers[k];
      return reply(res, call, done.status, out, done.body.toString());
    }
    return drain().then(() => reply(res, call, 405));
  };

  const server = createServer((req, res) => {
    const call: ZotCall = { method: req.method ?? "GET", path: req.url ?? "/", status: 0, bytesIn: 0 };
    calls.push(call);
    handle(req, res, call).catch(() => {
      if (!res.headersSent) reply(res, call, 500);
      else res.destroy();
    });
  });
  const listener = await listenLoopback(server);
  const host = listener.host;
  origin = `http://${host}`;
  return {
    url: origin,
    host,
    calls,
    uploadBytes: (since = 0) => calls.slice(since).reduce((a, c) => a + (c.session && (c.method === "PATCH" || c.method === "PUT") ? c.bytesIn : 0), 0),
    stored: () => [...sessions.values()].reduce((a, s) => a + s.size, 0),
    busy: () => receiving,
    async stop() {
      await listener.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
