// A small typed Kubernetes REST client on ofetch over the runtime's TLS-aware fetch (shared/runtime/json-http.ts,
// tls-fetch.ts), runtime-neutral. Why not @kubernetes/client-node: see shared/kube/README.md.
//
//   const kube = await kubeClientFromArgs(args, rawArgs);          // or new KubeClient(resolveKubeConfig(opts))
//   const av = await kube.get<ArtifactVersion>("app.alauda.io/v1alpha1", "ArtifactVersion", "x");   // ns = -n / context
//   const all = await kube.list("v1", "Secret", { labelSelector: { app: "violet" } });
//   await kube.apply(obj, { fieldManager: "kubectl-violet" });     // server-side apply
//   await kube.modify("v1", "ConfigMap", "cm", (cm) => { cm.data!.x = "1"; return cm; });   // GET+PUT, 409 retried
//   await kube.waitFor("v1", "Pod", "p", { condition: "Ready" }, { timeoutMs: 60_000 });
//   for await (const chunk of await kube.logs("pod")) …
//
// Objects are generic `{apiVersion, kind, metadata, …}`; the resource path comes from API discovery (cached per
// client, refreshed once when a kind is missing, e.g. a CRD created moments ago). Errors are KubeApiError
// (HTTP status + Status reason + a message naming verb, resource, name and namespace), KubeConnectionError,
// KubeConfigError, KubeTimeoutError.
import { logger } from "../cli/logger.ts";
import type { FetchResponse } from "ofetch";
import { fetchCause, jsonFetch, type JsonFetch } from "../runtime/json-http.ts";
import { createTlsFetch, type TlsFetch } from "../runtime/tls-fetch.ts";
import { ProxyError } from "../runtime/proxy.ts";
import { type KubeOptions, type ResolvedKubeConfig, readTokenFile, resolveKubeConfig } from "./config.ts";
import { KubeApiError, KubeConfigError, KubeConnectionError, type KubeRequestContext, type KubeStatus, KubeTimeoutError } from "./errors.ts";
import { getExecCredential, invalidateExecCredential } from "./exec-credential.ts";
import { configForCluster } from "./platform.ts";

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }[];
  finalizers?: string[];
  managedFields?: { manager?: string; operation?: string; apiVersion?: string; time?: string; fieldsType?: string; fieldsV1?: unknown; subresource?: string }[];
  [k: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [k: string]: any;
}

export interface KubeList<T = KubeObject> {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

/** One entry of API discovery (`GET /api/v1`, `/apis/<group>/<version>`). */
export interface ApiResource {
  name: string;
  singularName?: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
  shortNames?: string[];
  group: string;
  version: string;
}

export type Selector = string | Record<string, string>;

export interface NamespaceOpt {
  /** namespace for namespaced kinds; default: the object's, else the client's (-n / context / "default") */
  namespace?: string;
}
export interface WriteOpts extends NamespaceOpt {
  /** server-side dry run (dryRun=All) */
  dryRun?: boolean;
  fieldManager?: string;
}
export interface ListOpts extends NamespaceOpt {
  allNamespaces?: boolean;
  labelSelector?: Selector;
  fieldSelector?: Selector;
  /** page size (the client follows `continue` tokens and returns every item) */
  limit?: number;
}
export type PatchType = "merge" | "json" | "strategic" | "apply";
export interface DeleteOpts extends NamespaceOpt {
  dryRun?: boolean;
  propagationPolicy?: "Foreground" | "Background" | "Orphan";
  gracePeriodSeconds?: number;
  /** return false instead of throwing when the object does not exist */
  ignoreNotFound?: boolean;
}
export interface WaitOpts extends NamespaceOpt {
  /** default 60 s */
  timeoutMs?: number;
  /** poll interval, default 500 ms */
  intervalMs?: number;
}
/** A predicate on the object, a status condition that must be "True" (or `status`), or "deleted". */
export type WaitCondition<T> = ((obj: T) => boolean) | { condition: string; status?: string } | "deleted";
export interface LogOpts extends NamespaceOpt {
  container?: string;
  follow?: boolean;
  tailLines?: number;
  sinceSeconds?: number;
  timestamps?: boolean;
  previous?: boolean;
  signal?: AbortSignal;
}

export interface RequestOpts {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** default application/json for object bodies */
  contentType?: string;
  accept?: string;
  context?: KubeRequestContext;
  signal?: AbortSignal;
  /** apply the request timeout (default true; false for streams like logs -f) */
  timeout?: boolean;
}

const CONTENT_TYPES: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
  apply: "application/apply-patch+yaml",
};

/** "apps/v1" → { group: "apps", version: "v1" }; "v1" → { group: "", version: "v1" }. */
export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf("/");
  return i < 0 ? { group: "", version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

export function selectorString(s: Selector | undefined): string | undefined {
  if (s === undefined) return undefined;
  if (typeof s === "string") return s || undefined;
  const parts = Object.entries(s).map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(",") : undefined;
}

export interface KubeClientOptions {
  /** sent as User-Agent (default kube-airgap) */
  userAgent?: string;
  /** default fieldManager for create/update/patch/apply */
  fieldManager?: string;
}

export class KubeClient {
  readonly config: ResolvedKubeConfig;
  readonly fieldManager: string;
  readonly userAgent: string;
  #discovery = new Map<string, Promise<ApiResource[]>>();
  #fetchers = new Map<string, TlsFetch>();
  #tokenCache?: { token: string; at: number };
  /** ofetch over the TLS fetch of the current credentials (which add their headers per request) */
  #http?: JsonFetch;

  constructor(config: ResolvedKubeConfig, opts: KubeClientOptions = {}) {
    this.config = config;
    this.fieldManager = opts.fieldManager ?? "kube-airgap";
    this.userAgent = opts.userAgent ?? "kube-airgap";
  }

  /** Resolve the kubeconfig the kubectl way and build a client. */
  static fromOptions(opts: KubeOptions = {}, clientOpts?: KubeClientOptions): KubeClient {
    return new KubeClient(resolveKubeConfig(opts), clientOpts);
  }

  /** The namespace commands act in: -n, else the context's namespace, else "default". */
  get namespace(): string {
    return this.config.namespace;
  }

  get server(): string {
    return this.config.server;
  }

  /** A client with the same credentials for another cluster of the same platform (`<platform>/kubernetes/<name>`). */
  forCluster(cluster: string): KubeClient {
    return new KubeClient(configForCluster(this.config, cluster), { fieldManager: this.fieldManager, userAgent: this.userAgent });
  }

  /** A client acting in another default namespace. */
  withNamespace(namespace: string): KubeClient {
    return new KubeClient({ ...this.config, namespace, namespaceExplicit: true }, { fieldManager: this.fieldManager, userAgent: this.userAgent });
  }

  // ---------------- low level ----------------

  #fetcher(cert?: string, key?: string): TlsFetch {
    const id = `${cert ?? ""}\0${key ?? ""}`;
    let f = this.#fetchers.get(id);
    if (!f) {
      const t = this.config.tls;
      f = createTlsFetch({ ca: t.ca, serverName: t.serverName, insecureSkipVerify: t.insecureSkipVerify, cert, key, proxyUrl: this.config.proxyUrl });
      this.#fetchers.set(id, f);
    }
    return f;
  }

  async #credentials(): Promise<{ headers: [string, string][]; fetch: TlsFetch }> {
    const a = this.config.auth;
    const headers: [string, string][] = [];
    let cert = a.clientCert;
    let key = a.clientKey;
    switch (a.kind) {
      case "token":
      case "auth-provider":
      case "platform-token":
        headers.push(["Authorization", `Bearer ${a.token}`]);
        break;
      case "token-file":
      case "service-account": {
        // re-read at most once a minute (projected service-account tokens rotate)
        if (!this.#tokenCache || Date.now() - this.#tokenCache.at > 60_000) this.#tokenCache = { token: readTokenFile(a.tokenFile!), at: Date.now() };
        headers.push(["Authorization", `Bearer ${this.#tokenCache.token}`]);
        break;
      }
      case "basic":
        headers.push(["Authorization", `Basic ${Buffer.from(`${a.username}:${a.password}`).toString("base64")}`]);
        break;
      case "exec": {
        const c = await getExecCredential(a.exec!, {
          server: this.config.server,
          ...(this.config.tls.ca ? { "certificate-authority-data": Buffer.from(this.config.tls.ca).toString("base64") } : {}),
          ...(this.config.tls.insecureSkipVerify ? { "insecure-skip-tls-verify": true } : {}),
          ...(this.config.tls.serverName ? { "tls-server-name": this.config.tls.serverName } : {}),
          ...(this.config.proxyUrl ? { "proxy-url": this.config.proxyUrl } : {}),
        });
        if (c.token) headers.push(["Authorization", `Bearer ${c.token}`]);
        if (c.clientCertificateData) {
          // ExecCredential carries PEM text (not base64)
          cert = c.clientCertificateData;
          key = c.clientKeyData;
        }
        break;
      }
    }
    const imp = this.config.impersonate;
    if (imp.user) headers.push(["Impersonate-User", imp.user]);
    for (const g of imp.groups) headers.push(["Impersonate-Group", g]);
    if (imp.uid) headers.push(["Impersonate-Uid", imp.uid]);
    return { headers, fetch: this.#fetcher(cert, key) };
  }

  /**
   * One API request; returns the Response for 2xx (body unread: streams such as logs stay streams), throws
   * KubeApiError otherwise. `path` starts with "/" and is appended to the server URL (which may carry a path,
   * e.g. a platform proxy).
   */
  async request(method: string, path: string, opts: RequestOpts = {}): Promise<Response> {
    return this.#exchange(method, path, opts, "stream");
  }

  /** request() and parse the JSON answer (ofetch parses it). */
  async requestJson<T = any>(method: string, path: string, opts: RequestOpts = {}): Promise<T> {
    const res = await this.#exchange(method, path, opts, "json");
    return (res._data === "" ? undefined : res._data) as T;
  }

  async #exchange(method: string, path: string, opts: RequestOpts, responseType: "stream" | "json"): Promise<FetchResponse<any>> {
    const url = new URL(this.config.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined && v !== "") url.searchParams.set(k, String(v));
    const ctx: KubeRequestContext = opts.context ?? { verb: method.toLowerCase(), resource: path };
    let body: string | undefined;
    if (opts.body !== undefined) body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    // credentials (and repeated Impersonate-Group headers) are added per request by the transport
    const http = (this.#http ??= jsonFetch({ resolve: () => this.#credentials() }));
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { Accept: opts.accept ?? "application/json", "User-Agent": this.userAgent };
      if (body !== undefined) headers["Content-Type"] = opts.contentType ?? "application/json";
      const timeoutMs = opts.timeout === false ? 0 : (this.config.requestTimeoutMs ?? 0);
      const signals = [opts.signal, timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined].filter(Boolean) as AbortSignal[];
      const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
      let res: FetchResponse<any>;
      try {
        res = await http.raw(url.toString(), { method, headers, body, signal, responseType });
      } catch (e) {
        throw this.#connectionError(fetchCause(e), url, timeoutMs, opts.signal);
      }
      if (res.ok) return res;
      let st: KubeStatus | string | undefined;
      if (responseType === "json") st = res._data === "" || res._data == null ? undefined : res._data;
      else {
        const text = await res.text().catch(() => "");
        st = text || undefined;
        try {
          const j = JSON.parse(text);
          if (j && typeof j === "object") st = j;
        } catch {}
      }
      if (res.status === 401 && attempt === 0 && this.config.auth.kind === "exec") {
        invalidateExecCredential(this.config.auth.exec!, this.config.server);
        continue;
      }
      const retryAfter = Number(res.headers.get("retry-after"));
      if ((res.status === 429 || res.status === 503) && attempt < 3 && method === "GET" && retryAfter >= 0 && retryAfter <= 10) {
        await sleep(Math.max(retryAfter, 1) * 1000);
        continue;
      }
      throw new KubeApiError(res.status, ctx, st);
    }
  }

  #connectionError(e: unknown, url: URL, timeoutMs: number, userSignal?: AbortSignal): Error {
    const err = e as any;
    const code = String(err?.code ?? err?.cause?.code ?? "");
    const msg = String(err?.message ?? err);
    if (userSignal?.aborted) return err instanceof Error ? err : new Error(msg);
    if (err?.name === "TimeoutError" || (err?.name === "AbortError" && timeoutMs > 0)) {
      return new KubeConnectionError(`request to ${this.config.server} timed out after ${timeoutMs / 1000}s`, "raise --request-timeout", { cause: e });
    }
    // https:// to a plain-HTTP port: not a certificate problem
    if (url.protocol === "https:" && /EPROTO|wrong.version.number|packet length too long|speak TLS/i.test(code + " " + msg)) {
      return new KubeConnectionError(`cannot connect to the API server ${url.origin}: the server does not speak TLS on this port`, `is it http://${url.host}? check the scheme and port of the server address`, { cause: e });
    }
    const tlsish = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME|certificate|TLS|SSL/i.test(code + " " + msg);
    const hint = err instanceof ProxyError
      ? (err.hint ?? "check HTTPS_PROXY/HTTP_PROXY, or list the API server in NO_PROXY")
      : tlsish
      ? "the server certificate is not trusted or does not match: set certificate-authority(-data)/tls-server-name for the cluster in your kubeconfig, pass --certificate-authority, or --insecure-skip-tls-verify"
      : "check the server address in your kubeconfig and that the cluster is reachable";
    return new KubeConnectionError(`cannot connect to the API server ${url.origin}: ${code && !msg.includes(code) ? `${code}: ` : ""}${msg}`, hint, { cause: e });
  }

  // ---------------- discovery ----------------

  async #groupVersion(apiVersion: string, refresh = false): Promise<ApiResource[]> {
    let p = refresh ? undefined : this.#discovery.get(apiVersion);
    if (!p) {
      const { group, version } = splitApiVersion(apiVersion);
      const path = group ? `/apis/${group}/${version}` : `/api/${version}`;
      p = this.requestJson<{ resources?: any[] }>("GET", path, { context: { verb: "discover", resource: `API ${apiVersion}` } }).then((l) =>
        (l.resources ?? []).map((r) => ({ ...r, group, version }) as ApiResource),
      );
      this.#discovery.set(apiVersion, p);
      p.catch(() => this.#discovery.delete(apiVersion));
    }
    return p;
  }

  /**
   * The API resource for a kind (or plural/singular/short name) in an apiVersion, from discovery.
   * Throws KubeApiError 404 when the API or kind is not served.
   */
  async resource(apiVersion: string, kind: string): Promise<ApiResource> {
    const find = (rs: ApiResource[]) =>
      rs.find((r) => !r.name.includes("/") && r.kind === kind) ??
      rs.find((r) => !r.name.includes("/") && (r.name === kind.toLowerCase() || r.singularName === kind.toLowerCase() || r.shortNames?.includes(kind.toLowerCase())));
    let r: ApiResource | undefined;
    try {
      r = find(await this.#groupVersion(apiVersion));
      if (!r) r = find(await this.#groupVersion(apiVersion, true));
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) {
        throw new KubeApiError(404, { verb: "discover", resource: `API ${apiVersion}` }, { message: `the server does not serve ${apiVersion} (is the CRD installed?)` });
      }
      throw e;
    }
    if (!r) throw new KubeApiError(404, { verb: "discover", resource: `kind ${kind}` }, { message: `the server has no kind ${kind} in ${apiVersion} (is the CRD installed?)` });
    return r;
  }

  /** Forget discovery results (after installing CRDs). */
  resetDiscovery(): void {
    this.#discovery.clear();
  }

  /** The REST path for a kind/name (namespace rules applied). */
  async path(apiVersion: string, kind: string, opts: { namespace?: string; name?: string; subresource?: string; allNamespaces?: boolean } = {}): Promise<{ path: string; resource: ApiResource; namespace?: string; resourceName: string }> {
    const r = await this.resource(apiVersion, kind);
    const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    const ns = r.namespaced && !opts.allNamespaces ? opts.namespace || this.namespace : undefined;
    let p = base + (ns ? `/namespaces/${encodeURIComponent(ns)}` : "") + `/${r.name}`;
    if (opts.name) p += `/${encodeURIComponent(opts.name)}`;
    if (opts.subresource) p += `/${opts.subresource}`;
    const resourceName = (r.group ? `${r.name}.${r.group}` : r.name) + (opts.subresource ? `/${opts.subresource}` : "");
    return { path: p, resource: r, namespace: ns, resourceName };
  }

  async #target(verb: string, apiVersion: string, kind: string, name: string | undefined, ns: string | undefined, extra: { subresource?: string; allNamespaces?: boolean } = {}) {
    const t = await this.path(apiVersion, kind, { namespace: ns, name, ...extra });
    return { ...t, context: { verb, resource: t.resourceName, name, namespace: t.namespace, server: this.server } as KubeRequestContext };
  }

  // ---------------- object operations ----------------

  /** GET one object. Throws KubeApiError (404 → isNotFound). */
  async get<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, name: string, opts: NamespaceOpt = {}): Promise<T> {
    const t = await this.#target("get", apiVersion, kind, name, opts.namespace);
    return this.requestJson<T>("GET", t.path, { context: t.context });
  }

  /** GET one object, or undefined when it does not exist. */
  async tryGet<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, name: string, opts: NamespaceOpt = {}): Promise<T | undefined> {
    try {
      return await this.get<T>(apiVersion, kind, name, opts);
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** Pages of a list (follows `continue`). */
  async *listPages<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, opts: ListOpts = {}): AsyncGenerator<KubeList<T>> {
    const t = await this.#target("list", apiVersion, kind, undefined, opts.namespace, { allNamespaces: opts.allNamespaces });
    let cont: string | undefined;
    do {
      const page = await this.requestJson<KubeList<T>>("GET", t.path, {
        context: t.context,
        query: { labelSelector: selectorString(opts.labelSelector), fieldSelector: selectorString(opts.fieldSelector), limit: opts.limit, continue: cont },
      });
      // list items carry no apiVersion/kind on the wire; fill them in
      for (const it of page.items ?? []) {
        it.apiVersion ??= apiVersion;
        it.kind ??= t.resource.kind;
      }
      yield page;
      cont = page.metadata?.continue || undefined;
    } while (cont);
  }

  /** Every matching object (all pages). */
  async list<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, opts: ListOpts = {}): Promise<T[]> {
    const out: T[] = [];
    for await (const p of this.listPages<T>(apiVersion, kind, opts)) out.push(...(p.items ?? []));
    return out;
  }

  #writeQuery(opts: WriteOpts, extra: Record<string, string | boolean | undefined> = {}) {
    return { dryRun: opts.dryRun ? "All" : undefined, fieldManager: opts.fieldManager ?? this.fieldManager, ...extra };
  }

  /** POST a new object (metadata.generateName works). Namespace: opts, else the object's, else the client's. */
  async create<T extends KubeObject = KubeObject>(obj: KubeObject, opts: WriteOpts = {}): Promise<T> {
    const t = await this.#target("create", obj.apiVersion, obj.kind, undefined, opts.namespace ?? obj.metadata?.namespace);
    t.context.name = obj.metadata?.name;
    return this.requestJson<T>("POST", t.path, { body: obj, context: t.context, query: this.#writeQuery(opts) });
  }

  /** PUT (replace). With metadata.resourceVersion set, a stale object fails with 409 (isConflict). */
  async update<T extends KubeObject = KubeObject>(obj: KubeObject, opts: WriteOpts & { subresource?: "status" } = {}): Promise<T> {
    const name = obj.metadata?.name;
    if (!name) throw new KubeConfigError(`update ${obj.kind}: metadata.name is required`);
    const t = await this.#target("update", obj.apiVersion, obj.kind, name, opts.namespace ?? obj.metadata.namespace, { subresource: opts.subresource });
    return this.requestJson<T>("PUT", t.path, { body: obj, context: t.context, query: this.#writeQuery(opts) });
  }

  /**
   * Read-modify-write with optimistic concurrency: GET, `mutate` (return the new object, or undefined to
   * skip), PUT with the read resourceVersion; on 409 Conflict re-read and re-apply (up to `retries`, default 5).
   * Safe because `mutate` runs again on the fresh object.
   */
  async modify<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, name: string, mutate: (obj: T) => T | undefined | Promise<T | undefined>, opts: WriteOpts & { retries?: number } = {}): Promise<T> {
    const retries = opts.retries ?? 5;
    for (let i = 0; ; i++) {
      const cur = await this.get<T>(apiVersion, kind, name, opts);
      const rv = cur.metadata.resourceVersion;
      const next = await mutate(structuredClone(cur));
      if (!next) return cur;
      next.metadata = { ...next.metadata, resourceVersion: rv };
      try {
        return await this.update<T>(next, { ...opts, namespace: opts.namespace ?? cur.metadata.namespace });
      } catch (e) {
        if (e instanceof KubeApiError && e.isConflict && i < retries) {
          logger().debug(`conflict updating ${kind} ${name}; retrying with a fresh resourceVersion`);
          continue;
        }
        throw e;
      }
    }
  }

  /**
   * PATCH. `type`: "merge" (JSON merge patch, default), "json" (RFC 6902 array), "strategic" (built-in kinds
   * only; CRDs answer 415), "apply" (server-side apply; prefer apply()).
   */
  async patch<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, name: string, patch: unknown, opts: WriteOpts & { type?: PatchType; force?: boolean; subresource?: "status" } = {}): Promise<T> {
    const type = opts.type ?? "merge";
    const t = await this.#target("patch", apiVersion, kind, name, opts.namespace, { subresource: opts.subresource });
    return this.requestJson<T>("PATCH", t.path, {
      body: patch,
      contentType: CONTENT_TYPES[type],
      context: t.context,
      query: this.#writeQuery(opts, { force: type === "apply" && opts.force ? true : undefined }),
    });
  }

  /**
   * Server-side apply: creates or updates the fields this fieldManager owns. `force` takes over fields owned by
   * other managers (otherwise a 409 names the conflicting fields).
   */
  async apply<T extends KubeObject = KubeObject>(obj: KubeObject, opts: WriteOpts & { force?: boolean } = {}): Promise<T> {
    const name = obj.metadata?.name;
    if (!name) throw new KubeConfigError(`apply ${obj.kind}: metadata.name is required (generateName cannot be applied)`);
    const body = { ...obj, metadata: { ...obj.metadata } };
    delete body.metadata.resourceVersion;
    delete body.metadata.managedFields;
    return this.patch<T>(obj.apiVersion, obj.kind, name, body, { ...opts, namespace: opts.namespace ?? obj.metadata.namespace, type: "apply" });
  }

  /** DELETE. Returns true when deleted (or deletion started), false when absent and ignoreNotFound. */
  async delete(apiVersion: string, kind: string, name: string, opts: DeleteOpts = {}): Promise<boolean> {
    const t = await this.#target("delete", apiVersion, kind, name, opts.namespace);
    const body: Record<string, unknown> = { apiVersion: "meta.k8s.io/v1", kind: "DeleteOptions" };
    if (opts.propagationPolicy) body.propagationPolicy = opts.propagationPolicy;
    if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
    if (opts.dryRun) body.dryRun = ["All"];
    try {
      await this.request("DELETE", t.path, { body, context: t.context });
      return true;
    } catch (e) {
      if (opts.ignoreNotFound && e instanceof KubeApiError && e.status === 404) return false;
      throw e;
    }
  }

  /**
   * Poll until `until` holds: a predicate, `{ condition: "Ready" }` (status.conditions[type=Ready].status ===
   * "True" or `status`), or "deleted". Returns the last object (undefined for "deleted"). KubeTimeoutError on timeout.
   */
  async waitFor<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, name: string, until: WaitCondition<T>, opts: WaitOpts = {}): Promise<T | undefined> {
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const interval = opts.intervalMs ?? 500;
    const deadline = Date.now() + timeoutMs;
    const test = (o: T | undefined): boolean => {
      if (until === "deleted") return o === undefined;
      if (!o) return false;
      if (typeof until === "function") return until(o);
      const c = (o as any).status?.conditions?.find((x: any) => x?.type === until.condition);
      return c?.status === (until.status ?? "True");
    };
    let last: T | undefined;
    for (;;) {
      last = await this.tryGet<T>(apiVersion, kind, name, opts);
      if (test(last)) return last;
      // the last poll happens at the deadline: a 7 s wait waits 7 s, not the last whole interval before it
      const left = deadline - Date.now();
      if (left <= 0) break;
      await sleep(Math.min(interval, left));
    }
    const what = until === "deleted" ? "to be deleted" : typeof until === "function" ? "to reach the expected state" : `for condition ${until.condition}=${until.status ?? "True"}`;
    const conds = (last as any)?.status?.conditions as any[] | undefined;
    const seen = !last ? "it does not exist" : conds?.length ? `conditions: ${conds.map((c) => `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ""}`).join(", ")}` : "no status conditions yet";
    const ns = last?.metadata?.namespace ?? opts.namespace ?? this.namespace;
    throw new KubeTimeoutError(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${kind} "${name}" in namespace "${ns}" ${what}; ${seen}`);
  }

  /** Pod logs as a byte stream (follow keeps it open until the container ends or `signal` aborts). */
  async logs(pod: string, opts: LogOpts = {}): Promise<ReadableStream<Uint8Array>> {
    const ns = opts.namespace || this.namespace;
    const path = `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(pod)}/log`;
    const res = await this.request("GET", path, {
      accept: "*/*",
      timeout: !opts.follow,
      signal: opts.signal,
      context: { verb: "get logs of", resource: "pods", name: pod, namespace: ns },
      query: { container: opts.container, follow: opts.follow || undefined, tailLines: opts.tailLines, sinceSeconds: opts.sinceSeconds, timestamps: opts.timestamps || undefined, previous: opts.previous || undefined },
    });
    return res.body ?? new ReadableStream({ start: (c) => c.close() });
  }

  /** Pod logs as text (no follow). */
  async logsText(pod: string, opts: Omit<LogOpts, "follow"> = {}): Promise<string> {
    return new Response(await this.logs(pod, { ...opts, follow: false })).text();
  }

  /** Who the server says we are (authentication.k8s.io/v1 SelfSubjectReview; Kubernetes ≥1.28). */
  async selfSubjectReview(): Promise<{ username?: string; uid?: string; groups?: string[] }> {
    const r = await this.requestJson<any>("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
      body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
      context: { verb: "create", resource: "selfsubjectreviews.authentication.k8s.io" },
    });
    return r?.status?.userInfo ?? {};
  }

  /** GET /version. */
  async version(): Promise<{ major?: string; minor?: string; gitVersion?: string; [k: string]: unknown }> {
    return this.requestJson("GET", "/version", { context: { verb: "get", resource: "version" } });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
