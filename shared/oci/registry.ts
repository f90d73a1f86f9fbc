// A repository on an OCI distribution registry (distribution-spec 1.1) as a Store: manifests with exact bytes
// and digest checks; blob HEAD, streaming GET with verification and Range resume; monolithic upload (POST →
// PUT with Content-Length, streamed) and chunked PATCH where a registry asks for it; large blobs through upload
// sessions noted in the upload journal, which a later run continues from the registry's Range (resumeUpload);
// cross-repo mounts (201 and 202); tags with Link pagination; catalog; referrers API with the tag-schema fallback.
import { PassThrough, Readable } from "node:stream";
import { digestOf, digestHex, verifyBytes, VerifyStream } from "./digest.ts";
import { DeniedError, NotFoundError, OciError, RegistryError, TransportError, UnauthorizedError, UnsupportedError } from "./errors.ts";
import { isIndex, manifestAccept, MT } from "./media-types.ts";
import { apiHost, type RegistryReference } from "./reference.ts";
import type { PushOptions, Store } from "./store.ts";
import { AuthClient, pullScope, pushScope } from "./transport/auth.ts";
import type { HttpResponse, RetryBudget } from "./transport/http.ts";
import type { Descriptor, ImageIndex } from "./types.ts";
import { redact, redactUrl } from "../runtime/redact.ts";
import { hasOwnedChunks, markOwnedChunks } from "../runtime/memory.ts";
import { traceNote } from "../runtime/trace.ts";
import { UploadJournal } from "./upload-journal.ts";

const MAX_MANIFEST = 4 * 1024 * 1024;
/** per client: registry host → serves the referrers API (all repositories of a registry answer alike) */
const referrersSupport = new WeakMap<AuthClient, Map<string, boolean>>();
const DEFAULT_CHUNK = 8 * 1024 * 1024;

/** blobs from this size up are uploaded through a session noted in the upload journal (resumable by a later run) */
const RESUMABLE_MIN = 16 << 20;
/**
 * a streamed PATCH ends when its source sends nothing for this long (the next one starts when bytes flow again):
 * a run stopped while its source stalls then leaves a session the registry kept whole
 */
const SEGMENT_STALL_MS = 1000;

export interface RepositoryOptions {
  /** upload in PATCH chunks of this size instead of one PUT (0 = monolithic) */
  chunkSize?: number;
  /** where upload sessions of large blobs are noted (default: UploadJournal.default(); false: nowhere) */
  journal?: UploadJournal | false;
  /** blobs from this size up go through a noted session (default 16 MiB) */
  resumableMin?: number;
}

export class RegistryRepository implements Store {
  readonly name: string;
  readonly id: string;
  readonly host: string;
  private base: string;
  /** manifests fetched or pushed in this run, by digest (so tags can be re-put without refetching) */
  private manifestCache = new Map<string, Uint8Array>();
  /** whether the registry serves the referrers API: learnt once per registry host and client */
  private get referrersApi(): boolean | undefined {
    return referrersSupport.get(this.client)?.get(this.host);
  }
  private set referrersApi(v: boolean | undefined) {
    let m = referrersSupport.get(this.client);
    if (!m) referrersSupport.set(this.client, (m = new Map()));
    if (v === undefined) m.delete(this.host);
    else m.set(this.host, v);
  }
  /** PATCH chunk size (0: monolithic PUT) */
  private chunkSize: number;

  constructor(
    readonly client: AuthClient,
    readonly registry: string,
    readonly repository: string,
    private opts: RepositoryOptions = {},
  ) {
    this.host = apiHost(registry);
    this.name = `${registry}/${repository}`;
    this.id = `registry:${this.name}`;
    this.base = `${client.transport.baseUrl(this.host)}/v2/${repository}`;
    this.chunkSize = opts.chunkSize ?? 0;
  }

  static fromReference(client: AuthClient, ref: RegistryReference, opts?: RepositoryOptions): RegistryRepository {
    return new RegistryRepository(client, ref.registry, ref.repository, opts);
  }

  private req(method: string, url: string, scopes: string[], extra: { headers?: Record<string, string>; body?: any; retry?: boolean; budget?: RetryBudget } = {}): Promise<HttpResponse> {
    return this.client.request({ method, url, host: this.host, scopes, ...extra });
  }

  private async fail(res: HttpResponse, method: string, what: string): Promise<never> {
    throw await this.errorOf(res, method, what);
  }

  /** The typed error for a refused request (its body read). */
  private async errorOf(res: HttpResponse, method: string, what: string): Promise<Error> {
    let errors: { code: string; message?: string }[] = [];
    const text = method === "HEAD" ? "" : await res.text().catch(() => "");
    try {
      errors = (JSON.parse(text) as { errors?: { code: string; message?: string }[] }).errors ?? [];
    } catch {}
    if (method === "HEAD") await res.drain();
    if (res.status === 404) return new NotFoundError(what, errors[0]?.message && errors[0].code !== "MANIFEST_UNKNOWN" && errors[0].code !== "BLOB_UNKNOWN" ? errors[0].message : undefined);
    if (res.status === 401) return new UnauthorizedError(this.registry);
    if (res.status === 403) return new DeniedError(this.registry, this.repository);
    // a storage backend's error body may echo the presigned URL it was given: mask it
    return new RegistryError(res.status, method, res.url, errors.length ? errors : text ? [{ code: `HTTP_${res.status}`, message: redact(text.slice(0, 200).replace(/\s+/g, " ")) }] : []);
  }

  // ---------- manifests ----------

  async resolve(reference: string): Promise<Descriptor> {
    const what = `${this.name}${reference.includes(":") ? "@" : ":"}${reference}`;
    const res = await this.req("HEAD", `${this.base}/manifests/${reference}`, [pullScope(this.repository)], { headers: { accept: manifestAccept } });
    if (res.status === 200) {
      await res.drain();
      const digest = res.header("docker-content-digest");
      const mediaType = res.header("content-type")?.split(";")[0]?.trim();
      const size = Number(res.header("content-length"));
      if (digest && mediaType && Number.isFinite(size) && (!reference.includes(":") || reference === digest)) return { mediaType, digest, size };
    } else if (res.status !== 405) await this.fail(res, "HEAD", `manifest ${what}`);
    // HEAD without a digest (or not allowed): GET and hash the bytes
    const { desc } = await this.getManifest(reference, what);
    return desc;
  }

  /** GET a manifest by tag or digest: descriptor and bytes in one round trip (fetchManifest then hits the cache). */
  manifestByReference(reference: string): Promise<{ desc: Descriptor; bytes: Uint8Array }> {
    return this.getManifest(reference, `${this.name}${reference.includes(":") ? "@" : ":"}${reference}`);
  }

  private async getManifest(reference: string, what: string): Promise<{ desc: Descriptor; bytes: Uint8Array }> {
    const res = await this.req("GET", `${this.base}/manifests/${reference}`, [pullScope(this.repository)], { headers: { accept: manifestAccept } });
    if (res.status !== 200) await this.fail(res, "GET", `manifest ${what}`);
    const len = Number(res.header("content-length"));
    if (len > MAX_MANIFEST) throw new OciError(`manifest ${what} is ${len} bytes, over the ${MAX_MANIFEST} byte limit`, "MANIFEST_TOO_BIG");
    const bytes = await res.bytes();
    const digest = digestOf(bytes);
    const header = res.header("docker-content-digest");
    if (reference.includes(":")) verifyBytes(`manifest ${what}`, bytes, reference);
    else if (header && header.startsWith("sha256:") && header !== digest) verifyBytes(`manifest ${what}`, bytes, header);
    let mediaType = res.header("content-type")?.split(";")[0]?.trim() ?? "";
    if (!mediaType || mediaType === "application/json" || mediaType === "application/octet-stream") {
      try {
        const j = JSON.parse(Buffer.from(bytes).toString("utf8")) as { mediaType?: string; manifests?: unknown };
        mediaType = j.mediaType ?? (j.manifests ? MT.ociIndex : MT.ociManifest);
      } catch {}
    }
    this.manifestCache.set(digest, bytes);
    return { desc: { mediaType, digest, size: bytes.byteLength }, bytes };
  }

  async fetchManifest(desc: Descriptor): Promise<Uint8Array> {
    const cached = this.manifestCache.get(desc.digest);
    if (cached) return cached;
    const { bytes } = await this.getManifest(desc.digest, `${this.name}@${desc.digest}`);
    verifyBytes(`manifest ${this.name}@${desc.digest}`, bytes, desc.digest, desc.size);
    return bytes;
  }

  async pushManifest(desc: Descriptor, bytes: Uint8Array, tags: string[] = []): Promise<void> {
    verifyBytes(`manifest for ${this.name}`, bytes, desc.digest, desc.size);
    await this.putManifest(desc, bytes, desc.digest);
    for (const t of tags) await this.putManifest(desc, bytes, t);
    this.manifestCache.set(desc.digest, bytes);
  }

  async tag(desc: Descriptor, bytes: Uint8Array, tag: string): Promise<void> {
    await this.putManifest(desc, bytes, tag);
  }

  private async putManifest(desc: Descriptor, bytes: Uint8Array, reference: string): Promise<void> {
    const res = await this.req("PUT", `${this.base}/manifests/${reference}`, [pushScope(this.repository)], { headers: { "content-type": desc.mediaType }, body: Buffer.from(bytes) });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202) await this.fail(res, "PUT", `manifest ${this.name}:${reference}`);
    const got = res.header("docker-content-digest");
    await res.drain();
    if (got && got.startsWith("sha256:") && got !== desc.digest) throw new OciError(`registry ${this.registry} stored manifest ${this.name}:${reference} as ${got}, expected ${desc.digest}`, "DIGEST_MISMATCH", "the registry rewrote the manifest; it may not support this media type");
    if (res.header("oci-subject")) this.referrersApi = true;
  }

  async deleteManifest(digest: string): Promise<void> {
    const res = await this.req("DELETE", `${this.base}/manifests/${digest}`, [`repository:${this.repository}:delete`]);
    if (res.status !== 202 && res.status !== 200) await this.fail(res, "DELETE", `manifest ${this.name}@${digest}`);
    await res.drain();
  }

  // ---------- blobs ----------

  fetchBlobFrom(desc: Descriptor, offset: number): Promise<Readable> {
    return this.fetchBlob(desc, { offset });
  }

  async exists(desc: Descriptor): Promise<boolean> {
    const kind = desc.mediaType && (desc.mediaType.includes("manifest") || isIndex(desc.mediaType)) ? "manifests" : "blobs";
    const res = await this.req("HEAD", `${this.base}/${kind}/${desc.digest}`, [pullScope(this.repository)], kind === "manifests" ? { headers: { accept: manifestAccept } } : {});
    await res.drain();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    return this.fail(res, "HEAD", `${kind === "manifests" ? "manifest" : "blob"} ${this.name}@${desc.digest}`);
  }

  /**
   * GET a blob; on a broken connection resume with Range from the byte reached; verify size and digest
   * (`verify: false`: size only, for a receiver that checks the digest itself; `offset`: the bytes from there on,
   * size checked only).
   */
  async fetchBlob(desc: Descriptor, opts: { verify?: boolean; offset?: number } = {}): Promise<Readable> {
    const start = opts.offset ?? 0;
    const what = `blob ${this.name}@${desc.digest}${start ? ` from byte ${start}` : ""}`;
    // one retry budget for the download: the first GET's retries and every Range resume draw from it
    const budget: RetryBudget = { left: this.client.transport.retries };
    const first = await this.openBlob(desc, start, budget);
    // the verifying stream is what the caller reads (its 1 MiB read-ahead keeps the socket busy while the
    // receiver is slower): no further pass-through layer, each of which cost a hop per chunk; a read from an
    // offset checks its size only (the digest covers the whole blob)
    const verify = new VerifyStream(what, desc.digest, desc.size - start, opts.verify !== false && !start, { highWaterMark: 1 << 20 });
    // its chunks are the response's own buffers, passed on and held by nothing else: an upload may free them
    markOwnedChunks(verify);
    (async () => {
      let res = first;
      let received = start;
      let resumes = 0;
      for (;;) {
        try {
          for await (const chunk of res.body) {
            received += (chunk as Buffer).length;
            if (!verify.write(chunk)) await new Promise((r) => verify.once("drain", r));
          }
          if (!res.body.complete && received < desc.size) throw Object.assign(new Error("premature close"), { code: "ERR_STREAM_PREMATURE_CLOSE" });
          verify.end();
          return;
        } catch (e) {
          if (received >= desc.size || budget.left <= 0) throw brokenDownload(e, what, this.host, received, desc.size, resumes);
          budget.left--;
          resumes++;
          await new Promise((r) => setTimeout(r, 200 * resumes));
          res = await this.openBlob(desc, received, budget);
        }
      }
    })().catch((e) => verify.destroy(e));
    return verify;
  }

  private async openBlob(desc: Descriptor, offset: number, budget?: RetryBudget): Promise<HttpResponse> {
    const what = `blob ${this.name}@${desc.digest}`;
    let url = `${this.base}/blobs/${desc.digest}`;
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    let res = await this.req("GET", url, [pullScope(this.repository)], { headers, budget });
    // storage redirects (S3/GCS): follow without our Authorization header
    for (let i = 0; i < 5 && res.status >= 300 && res.status < 400 && res.header("location"); i++) {
      url = new URL(res.header("location")!, url).toString();
      await res.drain();
      res = await this.client.transport.request({ method: "GET", url, headers, budget });
    }
    if (offset > 0) {
      if (res.status === 206) return res;
      if (res.status === 200) {
        // server ignored Range: skip the bytes we already have
        const skip = new SkipStream(offset);
        res.body.pipe(skip);
        return { ...res, body: skip as unknown as HttpResponse["body"] };
      }
    }
    if (res.status !== 200) await this.fail(res, "GET", what);
    return res;
  }

  /**
   * Upload a blob: POST → PUT (monolithic, Content-Length, streamed); a blob from RESUMABLE_MIN up whose source can
   * be read from an offset (`opts.openAt`) through an upload session noted in the upload journal (PATCH, then PUT
   * ?digest=), which a later run continues from the byte the registry holds (resumeUpload) where the
   * registry kept it; PATCH chunks with Content-Range where a registry asks for them.
   */
  async pushBlob(desc: Descriptor, open: () => Promise<Readable>, opts: PushOptions = {}): Promise<void> {
    const transport = this.client.transport;
    // one retry budget for the upload: POST retries, PUT restarts and chunk retries all draw from it
    const budget: RetryBudget = { left: transport.retries };
    const journal = opts.openAt && desc.size >= (this.opts.resumableMin ?? RESUMABLE_MIN) ? this.journal : undefined;
    const canResume = !!journal;
    let resume = canResume;
    for (let attempt = 0; ; attempt++) {
      try {
        if (resume && (await this.resumeUpload(desc, opts, journal!, budget))) return;
        resume = false;
        const location = await this.startUpload(undefined, budget);
        if (location.mounted) return;
        if (!journal && !(this.chunkSize > 0 && desc.size > this.chunkSize)) {
          await this.sendUpload(location.url, desc, open);
          return;
        }
        const chunk = this.chunkSize ? Math.max(this.chunkSize, location.minChunk ?? 0) : 0;
        await journal?.put({ registry: this.registry, repository: this.repository, digest: desc.digest, size: desc.size, location: location.url });
        await this.sendSession(location.url, desc, 0, open, chunk, !!opts.download, journal);
        return;
      } catch (e) {
        // the source failed (it spent its own retry budget already): not ours to retry
        if (fromSource(e)) throw e;
        const retryable = e instanceof RegistryError ? e.status >= 500 || e.status === 429 : e instanceof OciError ? e.code === "TRANSPORT" || e.code === "UPLOAD_BROKEN" : true;
        if (!retryable || budget.left <= 0) throw e;
        budget.left--;
        // continue the session this attempt left, where the registry kept it
        resume = canResume;
        await new Promise((r) => setTimeout(r, (transport.opts.backoffMs ?? 250) * 2 ** attempt));
      }
    }
  }

  private async startUpload(mount?: { digest: string; from: string }, budget?: RetryBudget): Promise<{ url: string; mounted: boolean; minChunk?: number }> {
    const scopes = [pushScope(this.repository), ...(mount ? [pullScope(mount.from)] : [])];
    const q = mount ? `?mount=${encodeURIComponent(mount.digest)}&from=${encodeURIComponent(mount.from)}` : "";
    const res = await this.req("POST", `${this.base}/blobs/uploads/${q}`, scopes, { headers: { "content-length": "0" }, body: "", retry: true, budget });
    if (res.status === 201 && mount) {
      await res.drain();
      return { url: "", mounted: true };
    }
    if (res.status !== 202) await this.fail(res, "POST", `upload to ${this.name}`);
    await res.drain();
    const loc = res.header("location");
    if (!loc) throw new OciError(`registry ${this.registry} started an upload without a Location`, "PROTOCOL");
    const min = Number(res.header("oci-chunk-min-length"));
    return { url: new URL(loc, this.base).toString(), mounted: false, minChunk: Number.isFinite(min) && min > 0 ? min : undefined };
  }

  /** the upload journal (undefined: none, sessions are not noted) */
  private get journal(): UploadJournal | undefined {
    if (this.opts.journal === false) return undefined;
    return (this.opts.journal ??= UploadJournal.default() ?? false) || undefined;
  }

  /**
   * Continue the upload session the journal holds for this blob: GET its Location; on 204 with `Range: 0-<end>`,
   * PATCH the bytes from end+1 (the source opened at that offset) and PUT ?digest= (the registry checks the whole
   * blob's digest there, so a wrong resume cannot commit a wrong blob). true: the blob is committed. false: there
   * was nothing to resume, or the registry refused the session at any step (distribution answers GET with 404
   * BLOB_UPLOAD_INVALID once a broken request left bytes its signed state does not count; zot deletes a session
   * whose PATCH broke: 404 BLOB_UPLOAD_UNKNOWN; a PATCH from the wrong offset gets 416; a wrong digest 400): the
   * entry is dropped and the caller starts a new upload. A broken connection while resuming throws (a retry
   * resumes again).
   */
  private async resumeUpload(desc: Descriptor, opts: PushOptions, journal: UploadJournal, budget: RetryBudget): Promise<boolean> {
    const s = await journal.get(this.registry, this.repository, desc.digest);
    if (!s) return false;
    const what = `upload of ${desc.digest} to ${this.name}`;
    const giveUp = async (why: string) => {
      traceNote(`${what}: earlier session not resumed (${why}); starting a new upload`);
      await journal.drop(this.registry, this.repository, desc.digest);
      return false;
    };
    if (s.size !== desc.size) return giveUp(`it was for ${s.size} bytes`);
    let res: HttpResponse;
    try {
      res = await this.req("GET", s.location, [pushScope(this.repository)], { budget });
    } catch (e) {
      return giveUp((e as Error).message);
    }
    if (res.status !== 204) {
      const text = await res.text().catch(() => "");
      let code = "";
      try {
        code = (JSON.parse(text) as { errors?: { code?: string }[] }).errors?.[0]?.code ?? "";
      } catch {}
      return giveUp(`GET ${redactUrl(s.location)} answered ${res.status}${code ? ` ${code}` : ""}`);
    }
    await res.drain();
    const range = /^(?:bytes=)?0-(-?\d+)$/.exec((res.header("range") ?? "").trim());
    if (!range) return giveUp("the registry's answer has no Range");
    // "0-0" is an empty session for zot and the spec's POST answer (a 1-byte session then gets 416 and starts anew)
    const end = Number(range[1]);
    const offset = end <= 0 ? 0 : end + 1;
    if (offset > desc.size) return giveUp(`the registry holds ${offset} bytes of a ${desc.size} byte blob`);
    const url = new URL(res.header("location") ?? s.location, this.base).toString();
    traceNote(`${what}: resuming the earlier session at byte ${offset} of ${desc.size}`);
    try {
      await this.sendSession(url, desc, offset, () => opts.openAt!(offset), this.chunkSize, !!opts.download, journal);
    } catch (e) {
      if (fromSource(e)) throw e;
      if ((e instanceof RegistryError && e.status < 500) || e instanceof NotFoundError) return giveUp((e as Error).message);
      throw e;
    }
    opts.onResumed?.(offset);
    return true;
  }

  /**
   * Send the bytes [offset, size) of a blob to an upload session: streamed PATCHes from a download (see
   * sendSegments), one PATCH with Content-Length and Content-Range from a local source, or PATCHes of `chunk` bytes
   * with Content-Range where the registry asks for chunks (the next chunk is read while one is sent); the journal follows the session's
   * Location after each accepted PATCH; then PUT ?digest= with no body, and the entry is dropped. The body is not
   * hashed here: the registry checks the digest before it commits (sources verify what they read from byte 0).
   */
  private async sendSession(location: string, desc: Descriptor, offset: number, open: () => Promise<Readable>, chunk: number, download: boolean, journal?: UploadJournal): Promise<void> {
    const what = `blob upload ${desc.digest} to ${this.name}`;
    let url = location;
    const note = (loc: string) => journal?.put({ registry: this.registry, repository: this.repository, digest: desc.digest, size: desc.size, location: loc });
    const accepted = async (res: HttpResponse, method: string) => {
      if ((res.status === 413 || res.status === 411) && !this.chunkSize) {
        // a proxy in front of the registry limits request bodies (413) or wants their length up front (411): upload
        // in chunks with Content-Length from now on
        await res.drain();
        this.chunkSize = DEFAULT_CHUNK;
        throw new OciError(`registry ${this.registry} refused a streamed request body (HTTP ${res.status}); switching to chunked uploads`, "UPLOAD_BROKEN");
      }
      if (res.status !== 202) throw await this.errorOf(res, method, what);
      await res.drain();
      url = new URL(res.header("location") ?? url, this.base).toString();
      await note(url);
    };
    if (offset < desc.size) {
      const src = await open().catch((e) => {
        throw markSource(e);
      });
      // sources check the size (and, read from byte 0, the digest) of what they deliver
      if (!chunk && download) await this.sendSegments(desc, src, () => url, accepted);
      else if (!chunk) {
        // one PATCH of the rest; Content-Range lets the registry refuse a wrong offset (zot: 416)
        await accepted(await this.sendBody("PATCH", url, desc, src, desc.size - offset, { "content-range": `${offset}-${desc.size - 1}` }), "PATCH");
      } else {
        let at = offset;
        let inflight: Promise<void> | undefined;
        let failed: unknown;
        const send = (body: Buffer) => {
          const from = at;
          at += body.length;
          const p = (async () => {
            let res: HttpResponse;
            try {
              res = await this.req("PATCH", url, [pushScope(this.repository)], {
                headers: { "content-type": "application/octet-stream", "content-length": String(body.length), "content-range": `${from}-${from + body.length - 1}` },
                body,
                retry: false,
              });
            } catch (e) {
              throw new OciError(`upload of ${desc.digest} to ${this.name} broke at byte ${from}: ${(e as Error).message}`, "UPLOAD_BROKEN");
            }
            await accepted(res, "PATCH");
          })();
          p.catch((e) => (failed ??= e));
          return p;
        };
        let parts: Buffer[] = [];
        let buffered = 0;
        try {
          for await (const c of src) {
            let rest = c as Buffer;
            while (buffered + rest.length >= chunk) {
              const take = chunk - buffered;
              parts.push(rest.subarray(0, take));
              rest = rest.subarray(take);
              const body = Buffer.concat(parts, chunk);
              parts = [];
              buffered = 0;
              await inflight?.catch(() => {});
              if (failed) throw failed;
              inflight = send(body);
            }
            if (rest.length) {
              parts.push(rest);
              buffered += rest.length;
            }
          }
        } catch (e) {
          src.destroy();
          await inflight?.catch(() => {});
          throw failed ?? markSource(e);
        }
        await inflight?.catch(() => {});
        if (failed) throw failed;
        if (buffered) await send(Buffer.concat(parts, buffered));
      }
    }
    const u = new URL(url);
    u.searchParams.set("digest", desc.digest);
    let res: HttpResponse;
    try {
      res = await this.req("PUT", u.toString(), [pushScope(this.repository)], { headers: { "content-length": "0" }, body: "", retry: false });
    } catch (e) {
      throw new OciError(`upload of ${desc.digest} to ${this.name} broke at its closing PUT: ${(e as Error).message}`, "UPLOAD_BROKEN");
    }
    if (res.status !== 201 && res.status !== 204) throw await this.errorOf(res, "PUT", what);
    await res.drain();
    await journal?.drop(this.registry, this.repository, desc.digest);
  }

  /**
   * Streamed PATCHes (no Content-Length, chunked transfer encoding, as docker push sends them; distribution and zot
   * append such a body): one request while the source flows; when it sends nothing for SEGMENT_STALL_MS the request
   * is ended (the registry answers 202 and the session is noted) and the next starts with the next bytes. A run
   * killed while its source stalls then leaves a session both zot and distribution can continue; a request cut
   * in the middle leaves none (zot deletes the session, distribution's signed state no longer matches).
   */
  private async sendSegments(desc: Descriptor, src: Readable, url: () => string, accepted: (res: HttpResponse, method: string) => Promise<void>): Promise<void> {
    // src flows into the open segment's body (one Readable, fed with push(), paused by its backpressure); between
    // segments the first bytes that arrive are held and src paused until the next segment opens
    let seg: Readable | undefined;
    let held: Buffer | undefined;
    let ended = false;
    let failed: unknown;
    let lastData = Date.now();
    let wake: (() => void) | undefined;
    const poke = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    /** the open segment's body got its end (the source ended or stalled) */
    let closed = false;
    const close = () => {
      seg?.push(null);
      seg = undefined;
      closed = true;
    };
    src.on("data", (c: Buffer) => {
      lastData = Date.now();
      if (seg) {
        if (!seg.push(c)) src.pause();
      } else {
        held = c;
        src.pause();
        poke();
      }
    });
    src.once("end", () => {
      ended = true;
      close();
      poke();
    });
    src.once("error", (e) => {
      failed = markSource(e);
      seg?.destroy(e);
      poke();
    });
    src.pause();
    const watch = setInterval(() => {
      // the source stalls: end this request cleanly, the registry keeps what it got
      if (seg && Date.now() - lastData >= SEGMENT_STALL_MS) close();
    }, SEGMENT_STALL_MS / 4);
    try {
      for (;;) {
        if (!held && !ended && !failed) {
          src.resume();
          await new Promise<void>((r) => (wake = r));
        }
        if (failed) throw failed;
        if (!held) break; // the source ended
        const body = (seg = new Readable({ highWaterMark: 1 << 20, read: () => void src.resume() }));
        // the segment passes on src's own chunks and keeps none: where src's chunks are its reader's alone (a
        // registry download), the upload may free each once sent, as a single PUT does (runtime/memory.ts)
        if (hasOwnedChunks(src)) markOwnedChunks(body);
        closed = false;
        lastData = Date.now();
        body.push(held);
        held = undefined;
        if (ended) close();
        let res: HttpResponse;
        try {
          res = await this.req("PATCH", url(), [pushScope(this.repository)], { headers: { "content-type": "application/octet-stream" }, body: () => body, retry: false });
        } catch (e) {
          if (failed) throw failed;
          throw new OciError(`upload of ${desc.digest} to ${this.name} broke: ${(e as Error).message}`, "UPLOAD_BROKEN");
        }
        if (failed) {
          await res.drain();
          throw failed;
        }
        // an answer before the body ended: a refusal (accepted throws it), else a registry that took part of a body
        const early = !closed;
        if (early) (seg = undefined), src.pause();
        await accepted(res, "PATCH");
        if (early) throw new OciError(`registry ${this.registry} answered a PATCH of ${desc.digest} before its body ended`, "UPLOAD_BROKEN");
      }
    } catch (e) {
      src.destroy();
      throw e;
    } finally {
      clearInterval(watch);
    }
  }

  private async sendUpload(location: string, desc: Descriptor, open: () => Promise<Readable>): Promise<void> {
    const url = new URL(location);
    url.searchParams.set("digest", desc.digest);
    // The registry checks size and ?digest= before it commits the blob, so the body is not hashed again here
    // (sources verify what they read: a corrupt source fails the stream, which aborts the request).
    const src = await open().catch((e) => {
      throw markSource(e);
    });
    const res = await this.sendBody("PUT", url.toString(), desc, src, desc.size);
    if (res.status === 413 && !this.chunkSize) {
      // a proxy in front of the registry limits request bodies: upload in chunks from now on
      await res.drain();
      this.chunkSize = DEFAULT_CHUNK;
      throw new OciError(`registry ${this.registry} refused a ${desc.size} byte body; switching to chunked uploads`, "UPLOAD_BROKEN");
    }
    if (res.status !== 201 && res.status !== 204) await this.fail(res, "PUT", `blob upload ${desc.digest} to ${this.name}`);
    await res.drain();
  }

  /** One request streaming `src` (length bytes) as its body; a failing source is reported as such, a broken connection as UPLOAD_BROKEN. */
  private async sendBody(method: string, url: string, desc: Descriptor, src: Readable, length: number, headers: Record<string, string> = {}): Promise<HttpResponse> {
    let srcError: unknown;
    src.on("error", (e) => (srcError = markSource(e)));
    let res: HttpResponse;
    try {
      res = await this.req(method, url, [pushScope(this.repository)], {
        headers: { "content-type": "application/octet-stream", "content-length": String(length), ...headers },
        body: () => src,
        retry: false,
      });
    } catch (e) {
      src.destroy();
      if (srcError) throw srcError;
      throw new OciError(`upload of ${desc.digest} to ${this.name} broke: ${(e as Error).message}`, "UPLOAD_BROKEN");
    }
    if (srcError) {
      await res.drain();
      throw srcError;
    }
    return res;
  }

  /** Cross-repository mount within the same registry. 201 → mounted; 202 → not mounted (upload session opened, cancelled). */
  async mountFrom(desc: Descriptor, source: Store): Promise<boolean> {
    if (!(source instanceof RegistryRepository) || source.host !== this.host || source.repository === this.repository) return false;
    try {
      const r = await this.startUpload({ digest: desc.digest, from: source.repository });
      if (r.mounted) return true;
      // 202: the registry opened an upload instead; cancel it
      await this.req("DELETE", r.url, [pushScope(this.repository)]).then((x) => x.drain()).catch(() => {});
      return false;
    } catch (e) {
      if (e instanceof DeniedError || e instanceof UnauthorizedError || e instanceof RegistryError) return false;
      throw e;
    }
  }

  // ---------- tags, catalog, referrers ----------

  async tags(pageSize = 1000): Promise<string[]> {
    const all: string[] = [];
    let url: string | undefined = `${this.base}/tags/list?n=${pageSize}`;
    while (url) {
      const res = await this.req("GET", url, [pullScope(this.repository)]);
      if (res.status === 404) {
        await res.drain();
        return all;
      }
      if (res.status !== 200) await this.fail(res, "GET", `tags of ${this.name}`);
      const link = res.header("link");
      const j = await res.json<{ tags?: string[] | null }>();
      all.push(...(j.tags ?? []));
      const m = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null;
      url = m ? new URL(m[1]!, this.base).toString() : undefined;
    }
    return all;
  }

  private tagSetCache?: Promise<Set<string> | undefined>;

  /**
   * The repository's tags when they fit one listing page (one request answers many "does tag X exist?"
   * questions: signature tags, referrer fallback tags); undefined when the list is longer or not allowed,
   * and callers probe tags one by one instead.
   */
  tagSet(): Promise<Set<string> | undefined> {
    return (this.tagSetCache ??= (async () => {
      try {
        const res = await this.req("GET", `${this.base}/tags/list?n=1000`, [pullScope(this.repository)]);
        if (res.status !== 200 || res.header("link")) {
          await res.drain();
          return undefined;
        }
        return new Set((await res.json<{ tags?: string[] | null }>()).tags ?? []);
      } catch {
        return undefined;
      }
    })());
  }

  async referrers(desc: Descriptor): Promise<Descriptor[]> {
    if (this.referrersApi !== false) {
      const res = await this.req("GET", `${this.base}/referrers/${desc.digest}`, [pullScope(this.repository)], { headers: { accept: MT.ociIndex } });
      if (res.status === 200 && (res.header("content-type") ?? "").includes(MT.ociIndex)) {
        this.referrersApi = true;
        return ((await res.json<ImageIndex>()).manifests ?? []);
      }
      await res.drain();
      if (res.status !== 404 && res.status !== 200 && res.status !== 400 && res.status !== 405) await this.fail(res, "GET", `referrers of ${this.name}@${desc.digest}`);
      this.referrersApi = false;
    }
    // tag schema fallback: sha256-<hex> holds an index of referrers
    const known = await this.tagSet();
    if (known && !known.has(referrersTag(desc.digest))) return [];
    try {
      const fallback = await this.resolve(referrersTag(desc.digest));
      if (!isIndex(fallback.mediaType)) return [];
      const idx = JSON.parse(Buffer.from(await this.fetchManifest(fallback)).toString("utf8")) as ImageIndex;
      return idx.manifests ?? [];
    } catch (e) {
      if (e instanceof NotFoundError) return [];
      throw e;
    }
  }

  /** Whether the registry answered the referrers API (undefined until probed). */
  get supportsReferrers(): boolean | undefined {
    return this.referrersApi;
  }

  async probeReferrers(desc: Descriptor): Promise<boolean> {
    if (this.referrersApi === undefined) await this.referrers(desc).catch(() => []);
    return !!this.referrersApi;
  }
}

export function referrersTag(digest: string): string {
  return `${digest.slice(0, digest.indexOf(":"))}-${digestHex(digest)}`;
}

/** GET /v2/_catalog with pagination. */
export async function catalog(client: AuthClient, registry: string, pageSize = 1000): Promise<string[]> {
  const host = apiHost(registry);
  const base = client.transport.baseUrl(host);
  const all: string[] = [];
  let url: string | undefined = `${base}/v2/_catalog?n=${pageSize}`;
  while (url) {
    const res = await client.request({ method: "GET", url, host, scopes: ["registry:catalog:*"] });
    if (res.status !== 200) {
      await res.drain();
      if (res.status === 404 || res.status === 405) throw new UnsupportedError(`registry ${registry} does not offer a catalog`);
      if (res.status === 401 || res.status === 403) throw new DeniedError(registry, "the catalog");
      throw new RegistryError(res.status, "GET", url, []);
    }
    const link = res.header("link");
    all.push(...((await res.json<{ repositories?: string[] }>()).repositories ?? []));
    const m = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null;
    url = m ? new URL(m[1]!, base).toString() : undefined;
  }
  return all;
}

/** A download that broke for good, said plainly (a bare "aborted" tells nobody anything). */
function brokenDownload(e: unknown, what: string, host: string, received: number, size: number, resumes: number): unknown {
  if (e instanceof OciError) return e;
  const msg = (e as Error)?.message ?? String(e);
  const how = (e as { code?: string })?.code === "IDLE_TIMEOUT" ? msg : /reset|aborted|hang up|premature|closed|terminated|EPIPE/i.test(`${msg} ${(e as { code?: string })?.code ?? ""}`) ? `the connection to ${host} was reset or closed (${msg})` : msg;
  return new TransportError(`${what}: ${how} after ${received} of ${size} bytes${resumes ? `, ${resumes} resume${resumes > 1 ? "s" : ""} tried` : ""}`, "the registry or a proxy in between keeps breaking the transfer; check it, or raise --retries");
}

const SOURCE = Symbol("source error");
/** Mark an error as the upload's source failing (not the registry we upload to). */
function markSource(e: unknown): unknown {
  if (e && typeof e === "object" && !(SOURCE in e)) Object.defineProperty(e, SOURCE, { value: true });
  return e;
}
function fromSource(e: unknown): boolean {
  return !!e && typeof e === "object" && SOURCE in e;
}

/** Settles when a writable can take more (or is closed); its listeners go with it. */
function drained(w: NodeJS.WritableStream & NodeJS.EventEmitter): Promise<void> {
  return new Promise((ok) => {
    const done = () => {
      w.off("drain", done);
      w.off("close", done);
      ok();
    };
    w.on("drain", done);
    w.on("close", done);
  });
}

/** A stream without its first n bytes (an upload continued from a stream that cannot seek). */
export function skipBytes(s: Readable, n: number): Readable {
  if (n <= 0) return s;
  const skip = new SkipStream(n);
  s.on("error", (e) => skip.destroy(e));
  return s.pipe(skip);
}

/** Drop the first n bytes of a stream (servers that answer a Range request with the whole body). */
class SkipStream extends PassThrough {
  constructor(private left: number) {
    super();
  }
  override _transform(chunk: Buffer, enc: BufferEncoding, cb: (e?: Error | null, d?: Buffer) => void): void {
    if (this.left >= chunk.length) {
      this.left -= chunk.length;
      return cb();
    }
    const out = chunk.subarray(this.left);
    this.left = 0;
    cb(null, out);
  }
}
