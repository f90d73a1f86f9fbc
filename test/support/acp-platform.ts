// A fake Alauda platform for violet tests: one fake kube-apiserver per cluster (each with its own store and the
// violet CRDs) behind one platform address that, like ACP's gateway,
//   - proxies <platform>/kubernetes/<cluster>/… to that cluster (unknown cluster → 404),
//   - authenticates every request with a platform bearer token (API tokens or tokens from the Dex login),
//     401 otherwise, and forwards as the cluster admin,
//   - lists the clusters at GET /auth/v1/clusters (or answers `clustersApi`, e.g. 404 on platforms without it),
//   - keeps one Cluster object (clusters.platform.tkestack.io, cluster-scoped) per cluster on global, as ACP's
//     global cluster does (`clusterObjects: false`: that API is not served),
//   - serves the Dex username/password login (dex.ts).
//
//   const p = await startAcpPlatform({ clusters: ["global", "region1"], users: { admin: { password: "pw" } } });
//   p.url, p.apiToken            // platform address; an API token that is always accepted
//   p.cluster("region1")         // that cluster's FakeApiServer (put/get/list/requests)
//   p.kubeconfig("region1")      // kubeconfig with server <platform>/kubernetes/region1 and the API token
//   p.dex                        // the login server (steps, tokens, pubkeyTtlMs, expireNext)
//   p.requests                   // [{ method, path, status, user }] as the platform saw them
import http from "node:http";
import https from "node:https";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDex, type Dex, type DexUser } from "./dex.ts";
import { startFakeApiServer, type FakeApiServer, type FakeResourceDef } from "./kube-apiserver.ts";
import { createCA, type TestCA } from "./pki.ts";
import { violetCrds } from "./violet-fixtures.ts";

export interface AcpPlatformOptions {
  clusters?: string[];
  users?: Record<string, DexUser>;
  /** serve the platform address over HTTPS with this CA (or a fresh one with true) */
  tls?: boolean | TestCA;
  /** extra namespaces on every cluster */
  namespaces?: string[];
  /** HTTP status GET /auth/v1/clusters answers instead of the list (404, 403, 500…) */
  clustersApi?: number;
  /** serve clusters.platform.tkestack.io on global with one Cluster per cluster (default true) */
  clusterObjects?: boolean;
}

/** ACP's Cluster kind (tkestack platform API, cluster-scoped, on the global cluster). */
export const PLATFORM_CLUSTER_CRD: FakeResourceDef = { group: "platform.tkestack.io", version: "v1", kind: "Cluster", plural: "clusters", namespaced: false, status: true };

export interface AcpPlatform {
  url: string;
  apiToken: string;
  caFile?: string;
  dex: Dex;
  requests: { method: string; path: string; status: number; user?: string }[];
  cluster(name: string): FakeApiServer;
  kubeconfig(cluster?: string, opts?: { token?: string; file?: string }): string;
  stop(): Promise<void>;
}

export async function startAcpPlatform(opts: AcpPlatformOptions = {}): Promise<AcpPlatform> {
  const names = opts.clusters ?? ["global"];
  const dir = mkdtempSync(join(tmpdir(), "ka-acp-"));
  const ca = opts.tls && typeof opts.tls === "object" ? opts.tls : createCA(mkdtempSync(join(dir, "pki-")));
  const caPem = readFileSync(ca.cert, "utf8");
  const servers: Record<string, FakeApiServer> = {};
  for (const n of names) {
    const crds = n === "global" && opts.clusterObjects !== false ? [...violetCrds, PLATFORM_CLUSTER_CRD] : violetCrds;
    servers[n] = await startFakeApiServer({ tls: true, ca, crds, namespaces: ["cpaas-system", ...(n === "global" ? names : []), ...(opts.namespaces ?? [])] });
  }
  if (opts.clusterObjects !== false) {
    for (const n of names) servers.global?.put({ apiVersion: "platform.tkestack.io/v1", kind: "Cluster", metadata: { name: n }, spec: { displayName: n, type: n === "global" ? "Baremetal" : "Imported" }, status: { phase: "Running" } });
  }
  const apiToken = `api-token-${Math.random().toString(36).slice(2)}`;
  const dex = createDex({ users: opts.users ?? {} });
  const requests: AcpPlatform["requests"] = [];
  let url = "";
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0]!;
    const rec = { method: req.method ?? "GET", path, status: 0, user: undefined as string | undefined };
    requests.push(rec);
    res.on("finish", () => (rec.status = res.statusCode));
    if (dex.handle(req, res, url)) return;
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    const user = token === apiToken ? "admin" : token ? dex.tokens.get(token) : undefined;
    rec.user = user;
    const unauthorized = () => res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", message: "Unauthorized", reason: "Unauthorized", code: 401 }));
    if (path === "/auth/v1/clusters") {
      if (!user) return unauthorized();
      if (opts.clustersApi) return res.writeHead(opts.clustersApi, { "content-type": "text/plain" }).end(`${opts.clustersApi} ${http.STATUS_CODES[opts.clustersApi] ?? ""}`);
      return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ items: names.map((n) => ({ metadata: { name: n } })) }));
    }
    const m = /^\/kubernetes\/([^/]+)(\/.*)?$/.exec(req.url ?? "");
    if (!m) return res.writeHead(404, { "content-type": "text/plain" }).end("404 page not found");
    if (!user) return unauthorized();
    const up = servers[decodeURIComponent(m[1]!)];
    if (!up) return res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", message: `cluster ${m[1]} not found`, reason: "NotFound", code: 404 }));
    const u = new URL(up.url);
    const headers = { ...req.headers, host: u.host, authorization: "Bearer admin-token" };
    const fwd = https.request({ host: u.hostname, port: u.port, path: m[2] ?? "/", method: req.method, headers, ca: caPem }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    fwd.on("error", () => res.writeHead(502).end());
    req.pipe(fwd);
  };
  const server = opts.tls
    ? (() => {
        const cert = ca.server("platform");
        return https.createServer({ key: readFileSync(cert.key), cert: readFileSync(cert.cert) }, handler);
      })()
    : http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  url = `${opts.tls ? "https" : "http"}://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    apiToken,
    caFile: opts.tls ? ca.cert : undefined,
    dex,
    requests,
    cluster: (n) => {
      const s = servers[n];
      if (!s) throw new Error(`no cluster ${n}`);
      return s;
    },
    kubeconfig(cluster = "global", o = {}) {
      const file = o.file ?? join(dir, `kubeconfig-${cluster}-${Math.random().toString(36).slice(2)}`);
      const tls = opts.tls ? `, certificate-authority: ${JSON.stringify(ca.cert)}` : "";
      writeFileSync(file, `apiVersion: v1
kind: Config
clusters: [{name: ${cluster}, cluster: {server: "${url}/kubernetes/${cluster}"${tls}}}]
users: [{name: admin, user: {token: ${JSON.stringify(o.token ?? apiToken)}}}]
contexts: [{name: acp-${cluster}, context: {cluster: ${cluster}, user: admin}}]
current-context: acp-${cluster}
`);
      return file;
    },
    async stop() {
      await new Promise((r) => server.close(r));
      server.closeAllConnections?.();
      await Promise.all(Object.values(servers).map((s) => s.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
