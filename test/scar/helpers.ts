// Helpers for the kubectl-scar tests: a fault-injecting recording reverse proxy (put in front of the real registry
// or the fake kube-apiserver), a manifests tree fixture, a fake Specman that really pulls the artifact, and a
// parser for the printed resume command.
import http from "node:http";
import https from "node:https";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { FakeApiServer } from "../support/kube-apiserver.ts";

export interface ProxyRule {
  method: string;
  path: RegExp;
  status: number;
  times?: number;
  after?: number;
}

export interface ProxyCall {
  method: string;
  path: string;
  status: number;
  /** request body length in bytes */
  bytes: number;
  contentLength?: string;
  body?: string;
}

export interface FaultProxy {
  url: string;
  host: string;
  calls: ProxyCall[];
  fail(rule: ProxyRule): void;
  clear(): void;
  stop(): Promise<void>;
}

/** HTTP reverse proxy to `target` (http://host:port, or https:// verified with `ca`). Keeps the Host header so
 *  registries build Locations to the proxy (an https target's https:// Locations are turned into http://). */
export async function startFaultProxy(target: string, opts: { keepBodies?: RegExp; ca?: string } = {}): Promise<FaultProxy> {
  const t = new URL(target);
  const rules: (ProxyRule & { seen: number; failed: number })[] = [];
  const calls: ProxyCall[] = [];
  const server = http.createServer((req, res) => {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const call: ProxyCall = { method, path, status: 0, bytes: 0, contentLength: req.headers["content-length"] as string | undefined };
    calls.push(call);
    for (const r of rules) {
      if (r.method !== method || !r.path.test(path.split("?")[0]!)) continue;
      r.seen++;
      if (r.seen > (r.after ?? 0) && r.failed < (r.times ?? 1)) {
        r.failed++;
        req.resume();
        req.on("end", () => {
          call.status = r.status;
          const body = JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", message: "injected failure", reason: "InternalError", code: r.status, errors: [{ code: "UNKNOWN", message: "injected failure" }] });
          res.writeHead(r.status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
          res.end(body);
        });
        return;
      }
    }
    const tls = t.protocol === "https:";
    const up = (tls ? https : http).request({ host: t.hostname, port: t.port, method, path, headers: req.headers, agent: false, ...(tls ? { ca: opts.ca, rejectUnauthorized: !!opts.ca } : {}) }, (ur) => {
      call.status = ur.statusCode ?? 0;
      const headers = { ...ur.headers };
      if (tls && typeof headers.location === "string") headers.location = headers.location.replace(/^https:\/\//, "http://");
      res.writeHead(ur.statusCode ?? 502, headers);
      ur.pipe(res);
    });
    up.on("error", (e) => {
      call.status = 502;
      res.writeHead(502);
      res.end(String(e));
    });
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => {
      call.bytes += c.length;
      if (opts.keepBodies?.test(path)) chunks.push(c);
    });
    req.on("end", () => {
      if (chunks.length) call.body = Buffer.concat(chunks).toString("utf8");
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    calls,
    fail(rule) {
      rules.push({ ...rule, seen: 0, failed: 0 });
    },
    clear() {
      rules.length = 0;
    },
    async stop() {
      server.closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A manifests tree like a SCAR serves: nested dirs, YAML, a binary file, a long path (> 100 bytes). */
export function makeManifestsTree(dir: string, seed = "a"): void {
  mkdirSync(join(dir, "manifests", "4.5.15", "packs"), { recursive: true });
  mkdirSync(join(dir, "manifests", "deep", "x".repeat(60), "y".repeat(60)), { recursive: true });
  mkdirSync(join(dir, "empty-dir"), { recursive: true });
  writeFileSync(join(dir, "index.yaml"), `apiVersion: v1\nentries: {}\nseed: ${seed}\n`);
  writeFileSync(join(dir, "manifests", "4.5.15", "palette.yaml"), "kind: Palette\nversion: 4.5.15\n".repeat(50));
  const bin = Buffer.alloc(300_000);
  for (let i = 0; i < bin.length; i++) bin[i] = (i * 7919 + seed.charCodeAt(0)) & 0xff;
  writeFileSync(join(dir, "manifests", "4.5.15", "packs", "blob.bin"), bin);
  writeFileSync(join(dir, "manifests", "deep", "x".repeat(60), "y".repeat(60), "long-name-file.yaml"), "deep: true\n");
}

export interface FakeSpecmanOptions {
  api: FakeApiServer;
  /** direct registry base URL (http://127.0.0.1:PORT) and repository */
  registryUrl: string;
  repository: string;
  auth?: string;
  namespace?: string;
  pods: string[];
  /** PEM CA of a TLS registry (bun's fetch `tls.ca`) */
  ca?: string;
}

/** fetch that trusts the registry's CA (bun's `tls.ca`) */
function fetchFor(o: { ca?: string }): (url: string, init?: RequestInit) => Promise<Response> {
  return (url, init = {}) => globalThis.fetch(url, { ...init, ...(o.ca ? { tls: { ca: o.ca } } : {}) } as RequestInit);
}

/**
 * What Specman does when Palette's sync runs: list the repository's tags, download `tag`, find manifests.tgz
 * (by the layer title) in it, check it is gzip'd tar, log like Specman (logrus text) into every specman pod.
 */
export async function fakeSpecmanSync(o: FakeSpecmanOptions, tag: string): Promise<boolean> {
  const ns = o.namespace ?? "hubble-system";
  const hdr: Record<string, string> = o.auth ? { authorization: o.auth } : {};
  const fetch = fetchFor(o);
  const log = (level: string, msg: string) => {
    const line = `time="${new Date().toISOString()}" level=${level} msg="${msg}"\n`;
    for (const p of o.pods) o.api.appendLog(ns, p, line);
  };
  log("info", "Syncing with OCI repo");
  const tl = await fetch(`${o.registryUrl}/v2/${o.repository}/tags/list`, { headers: hdr });
  const tags = tl.ok ? (((await tl.json()) as { tags?: string[] }).tags ?? []) : [];
  log("info", `tags[${tags.join(" ")}]`);
  if (!tags.includes(tag)) return false;
  log("info", `Downloading ${tag}`);
  const mr = await fetch(`${o.registryUrl}/v2/${o.repository}/manifests/${tag}`, { headers: { ...hdr, accept: "application/vnd.oci.image.manifest.v1+json" } });
  const m = (await mr.json()) as { layers: { digest: string; annotations?: Record<string, string> }[] };
  const layer = m.layers[0]!;
  const title = layer.annotations?.["org.opencontainers.image.title"];
  log("info", `listing dir /tmp/${tag}${Math.floor(Math.random() * 1e9)}`);
  log("info", `filename: ${title}, isDir: false`);
  if (title !== "manifests.tgz") {
    log("error", `manifests.tgz not found`);
    return false;
  }
  const blob = Buffer.from(await (await fetch(`${o.registryUrl}/v2/${o.repository}/blobs/${layer.digest}`, { headers: hdr })).arrayBuffer());
  const ok = `sha256:${createHash("sha256").update(blob).digest("hex")}` === layer.digest;
  try {
    gunzipSync(blob);
  } catch {
    log("error", "manifests.tgz is not gzip");
    return false;
  }
  if (!ok) return false;
  log("info", `Persisting ${tag}`);
  return true;
}

/** Split a command printed with single-quote shell quoting back into words. */
export function shellWords(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "'") {
      inWord = true;
      const j = s.indexOf("'", i + 1);
      cur += s.slice(i + 1, j);
      i = j;
    } else if (c === "\\" && s[i + 1] === "'") {
      cur += "'";
      i++;
    } else if (c === " ") {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

export interface SpecmanLoop {
  /** results of each sync run (true = persisted) */
  runs: boolean[];
  /** Date.now() of each successful sync (after "Persisting" was logged) */
  persistedAt: number[];
  /** Specman is up (false: it never syncs) */
  enabled: boolean;
  /** forget what was synced (the next poll syncs again) */
  reset(): void;
  stop(): void;
}

/**
 * Specman as it behaves in Palette: it syncs by itself, periodically, from the pack registry that has "Contains
 * Spectro Manifests" ticked (never before), and only when the tag holds new content. `tag()` names the tag it
 * looks for; `flagged()` says whether the box is ticked (read from the fake Palette).
 */
export function startSpecmanLoop(o: FakeSpecmanOptions & { tag: () => string; flagged: () => boolean; intervalMs?: number }): SpecmanLoop {
  const seen = new Map<string, string>();
  let busy = false;
  const loop: SpecmanLoop = {
    runs: [],
    persistedAt: [],
    enabled: true,
    reset: () => seen.clear(),
    stop: () => clearInterval(timer),
  };
  const hdr: Record<string, string> = o.auth ? { authorization: o.auth } : {};
  const fetch = fetchFor(o);
  const timer = setInterval(async () => {
    if (busy || !loop.enabled || !o.flagged()) return;
    busy = true;
    try {
      const tag = o.tag();
      const head = await fetch(`${o.registryUrl}/v2/${o.repository}/manifests/${tag}`, { method: "HEAD", headers: { ...hdr, accept: "application/vnd.oci.image.manifest.v1+json" } });
      const digest = head.ok ? head.headers.get("docker-content-digest") : null;
      if (digest && seen.get(tag) !== digest) {
        seen.set(tag, digest);
        const ok = await fakeSpecmanSync(o, tag);
        loop.runs.push(ok);
        if (ok) loop.persistedAt.push(Date.now());
      }
    } catch {
    } finally {
      busy = false;
    }
  }, o.intervalMs ?? 150);
  return loop;
}
