// A fake kube-apiserver for tests: in-process HTTP(S), arbitrary resources, good enough that real kubectl
// (1.31/1.33) can get, get -o yaml, apply -f, delete and logs against it (test/kube/kubectl.test.ts keeps it honest).
//
//   const api = await startFakeApiServer({
//     tls: true,                                   // HTTPS with a fresh test CA (api.caFile); client certs accepted
//     crds: [{ group: "app.alauda.io", version: "v1alpha1", kind: "Artifact", plural: "artifacts", namespaced: true,
//              status: true }],                  // or CustomResourceDefinition objects (apiextensions.k8s.io/v1)
//     namespaces: ["cpaas-system"],                // created at start besides default, kube-system, kube-public
//     users: {                                     // default: { admin: { allow: "*" } }
//       admin: { allow: "*" },                                  // token defaults to "<name>-token"
//       viewer: { token: "t0k", allow: [{ verbs: ["get", "list"], resources: ["artifacts.app.alauda.io", "pods", "pods/log"], namespaces: ["cpaas-system"] }] },
//       alice: { cert: true, groups: ["devs"], allow: [...] },  // client-certificate user (needs tls)
//     },
//   });
//   api.url                       // https://127.0.0.1:PORT
//   api.kubeconfig("viewer", { namespace: "cpaas-system" })   // path of a kubeconfig file for that user
//   api.caFile / api.ca           // CA (file path / TestCA) when tls; api.clientCert(user) for cert users
//   api.put(obj) / api.get(apiVersion, kind, name, ns?) / api.list(apiVersion, kind, ns?) / api.remove(...)
//                                 // direct store access (no auth, no admission); put() assigns uid/resourceVersion
//   api.addPod(ns, name, "line1\nline2\n", { phase: "Running" })   // a pod with logs for pods/log
//   api.appendLog(ns, name, text) / api.setPodPhase(ns, name, "Succeeded")  // feed `logs -f`; a non-Running phase ends it
//   api.requests                  // [{ method, path, query, user, contentType, status, cluster }] for assertions
//   `${api.url}/kubernetes/<cluster>` also serves the API, like the platform proxy (request.cluster records
//   which one; all clusters share one store; `platformClusters` limits the names)
//   api.addResource(def)          // register a kind after start (also happens when a CRD object is created)
//   await api.stop()
//
// Behaviour: discovery (/api, /apis, /api/v1, /apis/<g>/<v>, /version, /openapi/v2|v3 → 404 so kubectl skips
// schema validation); resourceVersion on every write and 409 Conflict for a stale one; AlreadyExists;
// generateName; label selectors (=, ==, !=, exists, !exists, in, notin) and field selectors (any dotted path);
// limit/continue paging; Table output for kubectl; create/PUT/merge patch/JSON patch/strategic merge patch
// (basic: lists of objects merge by "name")/server-side apply (per-manager field ownership, 409 conflicts unless
// force=true, managedFields); status subresource for CRDs that declare it; finalizers + deletionTimestamp;
// namespaces must exist (404 otherwise), deleting one deletes its objects; pods/log (container, tailLines,
// follow); watch=true (events while the connection is open); batch/v1 Jobs validated (Indexed needs completions,
// backoffLimitPerIndex needs Indexed, …) and defaulted (selector, job-name labels); deleting an object deletes
// its dependents (ownerReferences) unless propagationPolicy is Orphan; Status error objects; bearer-token and
// client-certificate users with allow-lists (401 unknown, 403 not allowed); impersonation for users with
// `impersonate: true`; SelfSubjectReview and SelfSubjectAccessReview. ServiceAccounts: the TokenRequest API
// (POST serviceaccounts/NAME/token, what `kubectl create token` calls) or api.serviceAccountToken(ns, name) give a
// bound token (valid while that ServiceAccount object exists) for user system:serviceaccount:NS:NAME, groups
// system:serviceaccounts[:NS]; its requests are authorized by the stored rbac.authorization.k8s.io/v1 Roles,
// ClusterRoles and bindings with Kubernetes' RBAC rules (see rbacAllows); api.kubeconfig(_, { token }) uses one.
import { randomUUID } from "node:crypto";
import http from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { parse as parseYaml, stringify as toYamlText } from "yaml";
import { createCA, type CertPair, type TestCA } from "./pki.ts";

export interface FakeResourceDef {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular?: string;
  namespaced: boolean;
  shortNames?: string[];
  /** has a status subresource (main-resource writes ignore .status; /status writes only .status) */
  status?: boolean;
}

export interface FakeRule {
  verbs: string[] | "*";
  /** plural, plural.group, "pods/log", or "*" */
  resources: string[] | "*";
  /** omit = every namespace (and cluster-scoped resources) */
  namespaces?: string[];
}

export interface FakeUserDef {
  /** bearer token; default "<name>-token" (ignored with cert: true unless set) */
  token?: string;
  /** authenticate with a client certificate (CN=name, O=groups) instead of a token; needs tls */
  cert?: boolean;
  /** also accept HTTP basic auth with this password */
  password?: string;
  groups?: string[];
  allow?: FakeRule[] | "*";
  /** may use Impersonate-User / Impersonate-Group */
  impersonate?: boolean;
}

export interface FakeApiServerOptions {
  tls?: boolean;
  /** reuse an existing CA (default: a fresh one) */
  ca?: TestCA;
  crds?: (FakeResourceDef | Record<string, any>)[];
  users?: Record<string, FakeUserDef>;
  namespaces?: string[];
  /** reported by /version */
  gitVersion?: string;
  /** cluster names served under <url>/kubernetes/<name>/ like a platform proxy (default: any name) */
  platformClusters?: string[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  user?: string;
  contentType?: string;
  status?: number;
  /** set for requests through <url>/kubernetes/<cluster>/ (platform routing) */
  cluster?: string;
}

interface Identity {
  name: string;
  groups: string[];
  rules: FakeRule[] | "*";
  impersonate: boolean;
  /** a service account: authorized by the RBAC objects in the store, not by `rules` */
  rbac?: boolean;
}

interface PodLog {
  containers: Record<string, string>;
  listeners: Set<(text: string | null) => void>;
}

type Obj = Record<string, any>;

const BUILTIN: FakeResourceDef[] = [
  { group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false, shortNames: ["ns"], status: true },
  { group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true, shortNames: ["po"], status: true },
  { group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true },
  { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true, shortNames: ["cm"] },
  { group: "", version: "v1", kind: "Service", plural: "services", namespaced: true, shortNames: ["svc"], status: true },
  { group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true, shortNames: ["sa"] },
  { group: "", version: "v1", kind: "Event", plural: "events", namespaced: true, shortNames: ["ev"] },
  { group: "", version: "v1", kind: "Node", plural: "nodes", namespaced: false, shortNames: ["no"], status: true },
  { group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true, shortNames: ["deploy"], status: true },
  { group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true, status: true },
  { group: "rbac.authorization.k8s.io", version: "v1", kind: "Role", plural: "roles", namespaced: true },
  { group: "rbac.authorization.k8s.io", version: "v1", kind: "RoleBinding", plural: "rolebindings", namespaced: true },
  { group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRole", plural: "clusterroles", namespaced: false },
  { group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRoleBinding", plural: "clusterrolebindings", namespaced: false },
  { group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition", plural: "customresourcedefinitions", namespaced: false, shortNames: ["crd", "crds"], status: true },
];

const VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

export interface FakeApiServer {
  url: string;
  port: number;
  /** CA certificate file (tls only) */
  caFile?: string;
  ca?: TestCA;
  /** temp dir holding kubeconfigs and client certs */
  dir: string;
  requests: RecordedRequest[];
  kubeconfig(user?: string, opts?: { namespace?: string; context?: string; file?: string; token?: string }): string;
  /** a bound token of a ServiceAccount that exists (what the TokenRequest API, `kubectl create token`, returns) */
  serviceAccountToken(namespace: string, name: string): string;
  /** the client certificate of a `cert: true` user */
  clientCert(user: string): CertPair;
  put(obj: Obj): Obj;
  get(apiVersion: string, kind: string, name: string, namespace?: string): Obj | undefined;
  list(apiVersion: string, kind: string, namespace?: string): Obj[];
  remove(apiVersion: string, kind: string, name: string, namespace?: string): boolean;
  addResource(def: FakeResourceDef): void;
  addPod(namespace: string, name: string, logs?: string | Record<string, string>, opts?: { phase?: string; labels?: Record<string, string>; image?: string }): Obj;
  appendLog(namespace: string, name: string, text: string, container?: string): void;
  setPodPhase(namespace: string, name: string, phase: string): void;
  stop(): Promise<void>;
}

export async function startFakeApiServer(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const dir = mkdtempSync(join(tmpdir(), "ka-fakeapi-"));
  const ca = opts.tls ? (opts.ca ?? createCA(mkdtempSync(join(dir, "pki-")))) : undefined;
  const serverCert = ca?.server("kube-apiserver");
  const users = opts.users ?? { admin: { allow: "*" } };
  const tokens = new Map<string, string>();
  const clientCerts = new Map<string, CertPair>();
  for (const [name, u] of Object.entries(users)) {
    if (u.cert) {
      if (!ca) throw new Error(`fake apiserver: user ${name} uses a client certificate, which needs tls: true`);
      clientCerts.set(name, ca.client(name, u.groups ?? []));
      if (u.token) tokens.set(u.token, name);
    } else tokens.set(u.token ?? `${name}-token`, name);
  }

  const resources: FakeResourceDef[] = [];
  const store = new Map<string, Obj>(); // key: group/plural/ns/name
  const owners = new Map<string, Map<string, { manager: string; operation: string; apiVersion: string }>>(); // key → path → owner
  const logs = new Map<string, PodLog>(); // ns/name
  const watchers = new Set<{ def: FakeResourceDef; ns?: string; query: Record<string, string>; send: (type: string, obj: Obj) => void }>();
  const requests: RecordedRequest[] = [];
  /** bound service-account tokens → the ServiceAccount (valid while an object with that uid exists) */
  const saTokens = new Map<string, { namespace: string; name: string; uid: string }>();
  const peers = new WeakMap<object, { cn?: string; authorized: boolean }>();
  let rv = 100;
  const nextRv = () => String(++rv);

  const keyOf = (def: FakeResourceDef, ns: string | undefined, name: string) => `${def.group}/${def.plural}/${def.namespaced ? ns : ""}/${name}`;
  const apiVersionOf = (def: FakeResourceDef) => (def.group ? `${def.group}/${def.version}` : def.version);
  const fullName = (def: FakeResourceDef) => (def.group ? `${def.plural}.${def.group}` : def.plural);

  function addResource(def: FakeResourceDef): void {
    const i = resources.findIndex((r) => r.group === def.group && r.version === def.version && r.plural === def.plural);
    if (i >= 0) resources[i] = def;
    else resources.push(def);
  }
  function defFromCrd(crd: Obj): FakeResourceDef[] {
    const s = crd.spec ?? {};
    return (s.versions ?? [{ name: s.version }]).filter((v: Obj) => v.served !== false).map((v: Obj) => ({
      group: s.group,
      version: v.name,
      kind: s.names?.kind,
      plural: s.names?.plural,
      singular: s.names?.singular,
      shortNames: s.names?.shortNames,
      namespaced: s.scope !== "Cluster",
      status: !!v.subresources?.status,
    }));
  }
  for (const d of BUILTIN) addResource(d);
  for (const c of opts.crds ?? []) {
    if (c.kind === "CustomResourceDefinition") {
      for (const d of defFromCrd(c)) addResource(d);
      put(c);
    } else addResource(c as FakeResourceDef);
  }

  function findDef(apiVersion: string, kindOrPlural: string): FakeResourceDef | undefined {
    const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
    return resources.find((r) => r.group === group && r.version === version && (r.kind === kindOrPlural || r.plural === kindOrPlural));
  }

  function emit(type: string, def: FakeResourceDef, obj: Obj): void {
    for (const w of watchers) {
      if (w.def.group !== def.group || w.def.plural !== def.plural) continue;
      if (w.ns && obj.metadata?.namespace !== w.ns) continue;
      if (!matchesSelectors(obj, w.query)) continue;
      w.send(type, withTypeMeta(def, obj));
    }
  }

  function mintSaToken(sa: Obj): string {
    const token = `ka-sa.${randomUUID()}`;
    saTokens.set(token, { namespace: sa.metadata.namespace, name: sa.metadata.name, uid: sa.metadata.uid });
    return token;
  }

  function put(obj: Obj): Obj {
    const def = findDef(obj.apiVersion, obj.kind);
    if (!def) throw new Error(`fake apiserver: unknown kind ${obj.apiVersion} ${obj.kind}; register it with crds/addResource`);
    const o = structuredClone(obj);
    o.metadata ??= {};
    if (!o.metadata.name) o.metadata.name = (o.metadata.generateName ?? "obj-") + Math.random().toString(36).slice(2, 7);
    if (def.namespaced) o.metadata.namespace ??= "default";
    else delete o.metadata.namespace;
    const key = keyOf(def, o.metadata.namespace, o.metadata.name);
    const prev = store.get(key);
    o.metadata.uid ??= prev?.metadata.uid ?? randomUUID();
    o.metadata.creationTimestamp ??= prev?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, "Z");
    o.metadata.resourceVersion = nextRv();
    o.metadata.generation ??= 1;
    store.set(key, o);
    if (def.kind === "CustomResourceDefinition") for (const d of defFromCrd(o)) addResource(d);
    emit(prev ? "MODIFIED" : "ADDED", def, o);
    return o;
  }

  for (const ns of ["default", "kube-system", "kube-public", ...(opts.namespaces ?? [])]) {
    put({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns }, spec: { finalizers: ["kubernetes"] }, status: { phase: "Active" } });
  }

  // ---------------- helpers ----------------

  function status(res: http.ServerResponse, code: number, reason: string, message: string, details?: Obj): void {
    send(res, code, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details ? { details } : {}), code });
  }
  function send(res: http.ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), "Cache-Control": "no-cache, private" });
    res.end(text);
  }

  function authenticate(req: http.IncomingMessage): Identity | undefined | "bad" {
    let name: string | undefined;
    const auth = req.headers.authorization;
    if (auth?.startsWith("Bearer ")) {
      const sa = saTokens.get(auth.slice(7).trim());
      if (sa) {
        // a bound token: only while its ServiceAccount (the same object, by uid) exists
        const obj = store.get(`/serviceaccounts/${sa.namespace}/${sa.name}`);
        if (!obj || obj.metadata.uid !== sa.uid) return "bad";
        return { name: `system:serviceaccount:${sa.namespace}:${sa.name}`, groups: ["system:serviceaccounts", `system:serviceaccounts:${sa.namespace}`, "system:authenticated"], rules: [], impersonate: false, rbac: true };
      }
      name = tokens.get(auth.slice(7).trim());
      if (!name) return "bad";
    } else if (auth?.startsWith("Basic ")) {
      const [u, ...pw] = Buffer.from(auth.slice(6), "base64").toString("utf8").split(":");
      if (!u || users[u]?.password === undefined || users[u]!.password !== pw.join(":")) return "bad";
      name = u;
    } else if (opts.tls) {
      const peer = peers.get(req.socket);
      if (peer?.cn && peer.authorized) {
        if (users[peer.cn]?.cert) name = peer.cn;
        else return "bad";
      }
    }
    if (!name) return undefined;
    const u = users[name]!;
    let id: Identity = { name, groups: [...(u.groups ?? []), "system:authenticated"], rules: u.allow ?? [], impersonate: !!u.impersonate };
    const asUser = req.headers["impersonate-user"];
    if (asUser) {
      if (!id.impersonate) return { ...id, name: `${name}!impersonate` };
      const target = users[String(asUser)];
      // like kube-apiserver: one group per header line (a comma-joined line is ONE group named "a, b")
      const groups: string[] = [];
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === "impersonate-group") groups.push(req.rawHeaders[i + 1]!);
      id = { name: String(asUser), groups: [...(groups.length ? groups : (target?.groups ?? [])), "system:authenticated"], rules: target?.allow ?? [], impersonate: !!target?.impersonate };
    }
    return id;
  }

  // RBAC (plugin/pkg/auth/authorizer/rbac/rbac.go + pkg/apis/rbac/v1/evaluation_helpers.go), for service
  // accounts: the rules of the ClusterRoles bound by ClusterRoleBindings, and in a namespace also of the Roles and
  // ClusterRoles bound by that namespace's RoleBindings, whose subjects name the user, one of its groups, or the
  // service account (a RoleBinding's ServiceAccount subject without namespace is in the binding's namespace).
  // A rule matches on verbs ("*"), apiGroups ("*"), resources ("*", "res/sub", "*/sub") and resourceNames (none =
  // any; else the request must name one of them). No aggregation; the bootstrap policy's discovery and self
  // reviews are allowed to every authenticated user as by system:discovery and system:basic-user.
  function rbacAllows(id: Identity, a: { verb: string; group: string; resource: string; sub?: string; ns?: string; name?: string }): boolean {
    const RBAC = "rbac.authorization.k8s.io";
    const applies = (s: Obj, bindingNs?: string) =>
      s.kind === "User" ? s.name === id.name
      : s.kind === "Group" ? id.groups.includes(s.name)
      : s.kind === "ServiceAccount" ? !!(s.namespace || bindingNs) && `system:serviceaccount:${s.namespace || bindingNs}:${s.name}` === id.name
      : false;
    const rulesOf = (ref: Obj, ns?: string): Obj[] => {
      if (ref?.apiGroup !== RBAC) return [];
      const role = ref.kind === "ClusterRole" ? store.get(`${RBAC}/clusterroles//${ref.name}`) : ref.kind === "Role" && ns ? store.get(`${RBAC}/roles/${ns}/${ref.name}`) : undefined;
      return role?.rules ?? [];
    };
    const rules: Obj[] = [];
    for (const [k, b] of store) {
      if (k.startsWith(`${RBAC}/clusterrolebindings/`) && (b.subjects ?? []).some((s: Obj) => applies(s))) rules.push(...rulesOf(b.roleRef));
      else if (a.ns && k.startsWith(`${RBAC}/rolebindings/${a.ns}/`) && (b.subjects ?? []).some((s: Obj) => applies(s, a.ns))) rules.push(...rulesOf(b.roleRef, a.ns));
    }
    const combined = a.sub ? `${a.resource}/${a.sub}` : a.resource;
    return rules.some(
      (r) =>
        (r.verbs ?? []).some((v: string) => v === "*" || v === a.verb) &&
        (r.apiGroups ?? []).some((g: string) => g === "*" || g === a.group) &&
        (r.resources ?? []).some((x: string) => x === "*" || x === combined || (!!a.sub && x === `*/${a.sub}`)) &&
        (!r.resourceNames?.length || (!!a.name && r.resourceNames.includes(a.name))),
    );
  }

  function allowed(id: Identity, verb: string, def: FakeResourceDef | string, ns: string | undefined, sub?: string, name?: string): boolean {
    if (id.rbac) {
      // "plural.group" (SelfSubjectAccessReview) or a resource definition
      const [resource, ...g] = typeof def === "string" ? def.split(".") : [def.plural];
      return rbacAllows(id, { verb, group: typeof def === "string" ? g.join(".") : def.group, resource: resource!, sub, ns, name });
    }
    if (id.rules === "*") return true;
    const res = typeof def === "string" ? def : fullName(def);
    const plain = typeof def === "string" ? def : def.plural;
    const names = sub ? [`${res}/${sub}`, `${plain}/${sub}`] : [res, plain];
    return id.rules.some(
      (r) =>
        (r.verbs === "*" || r.verbs.includes(verb) || r.verbs.includes("*")) &&
        (r.resources === "*" || r.resources.includes("*") || names.some((n) => (r.resources as string[]).includes(n))) &&
        (!r.namespaces || (ns !== undefined && r.namespaces.includes(ns))),
    );
  }

  function forbid(res: http.ServerResponse, id: Identity, verb: string, def: FakeResourceDef, ns: string | undefined, name?: string, sub?: string): void {
    const r = def.plural + (sub ? `/${sub}` : "");
    const what = `${def.group ? `${def.plural}.${def.group}` : def.plural}${name ? ` "${name}"` : ""}`;
    status(
      res,
      403,
      "Forbidden",
      `${what} is forbidden: User "${id.name}" cannot ${verb} resource "${r}" in API group "${def.group}"${ns ? ` in the namespace "${ns}"` : " at the cluster scope"}`,
      { name, group: def.group, kind: def.plural },
    );
  }

  function withTypeMeta(def: FakeResourceDef, o: Obj): Obj {
    const { apiVersion: _a, kind: _k, ...rest } = o;
    const out: Obj = { apiVersion: apiVersionOf(def), kind: def.kind, ...rest };
    return out;
  }

  function readBodyBytes(req: http.IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => resolve(Buffer.concat(chunks)));
      req.on("error", reject);
    });
  }
  async function readBody(req: http.IncomingMessage): Promise<string> {
    if (String(req.headers["content-type"] ?? "").includes("protobuf")) {
      // kubectl ≥1.33 creates some built-ins as protobuf (`kubectl create namespace X`): objects that are only
      // metadata (Namespace) are decoded; anything else is refused
      const meta = decodeMetadataOnlyProto(await readBodyBytes(req));
      if (meta) return JSON.stringify(meta);
      throw Object.assign(new Error("the fake apiserver does not decode protobuf bodies"), { code: 415, reason: "UnsupportedMediaType" });
    }
    return (await readBodyBytes(req)).toString("utf8");
  }

  function parseObj(text: string, contentType: string): Obj {
    if (/yaml/.test(contentType)) return parseYaml(text);
    return JSON.parse(text);
  }

  // ---------------- OpenAPI v3 ----------------
  // Just enough for kubectl: each group-version lists its object paths with a PATCH operation that accepts
  // fieldValidation, so kubectl leaves validation to the server instead of downloading schemas. No component
  // schemas: kubectl apply then computes JSON merge patches for custom resources (strategic ones for built-ins).

  function groupVersions(): string[] {
    return [...new Set(resources.map((r) => apiVersionOf(r)))];
  }
  function gvPath(gv: string): string {
    return gv.includes("/") ? `apis/${gv}` : `api/${gv}`;
  }
  function openapiDoc(gv: string): Obj {
    const paths: Obj = {};
    for (const r of resources.filter((d) => apiVersionOf(d) === gv)) {
      const base = `/${gvPath(gv)}${r.namespaced ? "/namespaces/{namespace}" : ""}/${r.plural}/{name}`;
      const op = (name: string) => ({
        operationId: `${name}${r.kind}`,
        parameters: [{ name: "fieldValidation", in: "query", schema: { type: "string", uniqueItems: true } }, { name: "fieldManager", in: "query", schema: { type: "string", uniqueItems: true } }],
        responses: { "200": { description: "OK" } },
        "x-kubernetes-action": name,
        "x-kubernetes-group-version-kind": { group: r.group, version: r.version, kind: r.kind },
      });
      paths[base] = { patch: op("patch"), put: op("put") };
    }
    return { openapi: "3.0.0", info: { title: "Kubernetes", version: opts.gitVersion ?? "v1.31.0-fake" }, paths, components: { schemas: {} } };
  }
  function openapiHash(gv: string): string {
    let h = 0;
    for (const ch of JSON.stringify(openapiDoc(gv))) h = (h * 31 + ch.charCodeAt(0)) | 0;
    return (h >>> 0).toString(16).toUpperCase().padStart(8, "0");
  }

  // ---------------- request handling ----------------

  const handler = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const query = Object.fromEntries(url.searchParams);
    const rec: RecordedRequest = { method: req.method ?? "GET", path: url.pathname, query, contentType: req.headers["content-type"] };
    requests.push(rec);
    res.on("finish", () => (rec.status = res.statusCode));
    try {
      const id = authenticate(req);
      if (!id || id === "bad") return status(res, 401, "Unauthorized", "Unauthorized");
      rec.user = id.name;
      await route(req, res, url, query, id, rec);
    } catch (e: any) {
      if (!res.headersSent) status(res, e?.code >= 400 && e?.code < 600 ? e.code : 500, e?.reason ?? "InternalError", e?.message ?? String(e));
    }
  };

  async function route(req: http.IncomingMessage, res: http.ServerResponse, url: URL, query: Record<string, string>, id: Identity, rec: RecordedRequest): Promise<void> {
    let p = url.pathname.replace(/\/+$/, "") || "/";
    // platform proxy routing: <url>/kubernetes/<cluster>/... reaches the same store, the cluster is recorded
    const pm = /^\/kubernetes\/([^/]+)(\/.*)?$/.exec(p);
    if (pm) {
      rec.cluster = decodeURIComponent(pm[1]!);
      if (opts.platformClusters && !opts.platformClusters.includes(rec.cluster)) return status(res, 404, "NotFound", `cluster "${rec.cluster}" not found`);
      p = pm[2] || "/";
    }
    const method = req.method ?? "GET";
    if (p === "/version") return send(res, 200, { major: "1", minor: "31", gitVersion: opts.gitVersion ?? "v1.31.0-fake", platform: "linux/amd64", goVersion: "go1.22" });
    if (p === "/openapi/v3") return send(res, 200, { paths: Object.fromEntries(groupVersions().map((gv) => [gvPath(gv), { serverRelativeURL: `/openapi/v3/${gvPath(gv)}?hash=${openapiHash(gv)}` }])) });
    if (p.startsWith("/openapi/v3/")) {
      const gv = groupVersions().find((g) => `/openapi/v3/${gvPath(g)}` === p);
      if (!gv) return status(res, 404, "NotFound", "the server could not find the requested resource");
      return send(res, 200, openapiDoc(gv));
    }
    if (p === "/api") return send(res, 200, { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: `127.0.0.1:${port}` }] });
    if (p === "/apis") {
      const groups = new Map<string, string[]>();
      for (const r of resources) if (r.group) groups.set(r.group, [...new Set([...(groups.get(r.group) ?? []), r.version])]);
      groups.set("authentication.k8s.io", ["v1"]);
      groups.set("authorization.k8s.io", ["v1"]);
      return send(res, 200, {
        kind: "APIGroupList",
        apiVersion: "v1",
        groups: [...groups].map(([name, versions]) => ({
          name,
          versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
          preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
        })),
      });
    }
    let m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/(.*))?$/.exec(p);
    if (!m) return status(res, 404, "NotFound", "the server could not find the requested resource");
    const group = m[2] ?? "";
    const version = m[1] ?? m[3]!;
    const rest = m[4] ? m[4].split("/").map(decodeURIComponent) : [];
    const gv = group ? `${group}/${version}` : version;

    if (group === "authentication.k8s.io" && version === "v1") {
      if (!rest.length) return send(res, 200, { kind: "APIResourceList", apiVersion: "v1", groupVersion: gv, resources: [{ name: "selfsubjectreviews", singularName: "selfsubjectreview", namespaced: false, kind: "SelfSubjectReview", verbs: ["create"] }] });
      if (rest[0] === "selfsubjectreviews" && method === "POST") {
        return send(res, 201, { apiVersion: gv, kind: "SelfSubjectReview", metadata: { creationTimestamp: null }, status: { userInfo: { username: id.name, groups: id.groups } } });
      }
    }
    if (group === "authorization.k8s.io" && version === "v1") {
      if (!rest.length) return send(res, 200, { kind: "APIResourceList", apiVersion: "v1", groupVersion: gv, resources: [{ name: "selfsubjectaccessreviews", singularName: "selfsubjectaccessreview", namespaced: false, kind: "SelfSubjectAccessReview", verbs: ["create"] }] });
      if (rest[0] === "selfsubjectaccessreviews" && method === "POST") {
        // kubectl ≥1.33 sends this one as protobuf (typed client); decode just the resource attributes
        const raw = await readBodyBytes(req);
        const body = String(req.headers["content-type"]).includes("protobuf") ? { apiVersion: gv, kind: "SelfSubjectAccessReview", metadata: {}, spec: { resourceAttributes: decodeSsarProto(raw) } } : JSON.parse(raw.toString("utf8"));
        const ra = body.spec?.resourceAttributes ?? {};
        const res0 = ra.group ? `${ra.resource}.${ra.group}` : ra.resource;
        const ok = allowed(id, ra.verb, res0 ?? "", ra.namespace || undefined, ra.subresource || undefined, ra.name || undefined);
        return send(res, 201, { ...body, status: { allowed: ok } });
      }
    }

    const defs = resources.filter((r) => r.group === group && r.version === version);
    if (!defs.length) return status(res, 404, "NotFound", "the server could not find the requested resource");
    if (!rest.length) {
      return send(res, 200, {
        kind: "APIResourceList",
        apiVersion: "v1",
        groupVersion: gv,
        resources: defs.flatMap((d) => [
          { name: d.plural, singularName: d.singular ?? d.kind.toLowerCase(), namespaced: d.namespaced, kind: d.kind, verbs: VERBS, ...(d.shortNames ? { shortNames: d.shortNames } : {}) },
          ...(d.status ? [{ name: `${d.plural}/status`, singularName: "", namespaced: d.namespaced, kind: d.kind, verbs: ["get", "patch", "update"] }] : []),
          ...(d.kind === "Pod" && !group ? [{ name: "pods/log", singularName: "", namespaced: true, kind: "Pod", verbs: ["get"] }] : []),
          ...(d.kind === "ServiceAccount" && !group ? [{ name: "serviceaccounts/token", singularName: "", namespaced: true, group: "authentication.k8s.io", version: "v1", kind: "TokenRequest", verbs: ["create"] }] : []),
        ]),
      });
    }
    let ns: string | undefined;
    let parts = rest;
    if (parts[0] === "namespaces" && parts.length >= 3) {
      ns = parts[1];
      parts = parts.slice(2);
    }
    const def = defs.find((d) => d.plural === parts[0]);
    if (!def) return status(res, 404, "NotFound", "the server could not find the requested resource");
    if (def.namespaced === false && ns) return status(res, 404, "NotFound", "the server could not find the requested resource");
    const name = parts[1];
    const sub = parts[2];
    if (parts.length > 3 || (sub && !((sub === "status" && def.status) || (sub === "log" && def.kind === "Pod" && !group) || (sub === "token" && def.kind === "ServiceAccount" && !group && req.method === "POST")))) {
      return status(res, 404, "NotFound", "the server could not find the requested resource");
    }
    const ctype = String(req.headers["content-type"] ?? "application/json");
    const verb =
      method === "GET" ? (name ? "get" : query.watch === "true" || query.watch === "1" ? "watch" : "list")
      : method === "POST" ? "create"
      : method === "PUT" ? "update"
      : method === "PATCH" ? "patch"
      : method === "DELETE" ? (name ? "delete" : "deletecollection")
      : "";
    if (!verb) return status(res, 405, "MethodNotAllowed", `method ${method} not allowed`);
    // the name is an attribute of every request on one object except create (RBAC resourceNames)
    if (!allowed(id, verb, def, ns, sub, verb === "create" && !sub ? undefined : name)) return forbid(res, id, verb, def, ns, name, sub);

    const nsExists = (n: string | undefined) => !def.namespaced || !n || store.has(keyOf(BUILTIN[0]!, undefined, n));
    const notFound = () => status(res, 404, "NotFound", `${fullName(def)} "${name}" not found`, { name, group: def.group, kind: def.plural });
    const dryRun = query.dryRun === "All";
    const manager = query.fieldManager || String(req.headers["user-agent"] ?? "unknown").split("/")[0]!;

    if (sub === "token") {
      // TokenRequest (authentication.k8s.io/v1): a bound token of this ServiceAccount; the body (audiences,
      // expirationSeconds; protobuf from kubectl create token) is read and not needed
      await readBodyBytes(req);
      const sa = store.get(keyOf(def, ns, name!));
      if (!sa) return notFound();
      const token = mintSaToken(sa);
      const exp = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, "Z");
      return send(res, 201, { kind: "TokenRequest", apiVersion: "authentication.k8s.io/v1", metadata: { name: name, namespace: ns, creationTimestamp: null }, spec: { audiences: ["https://kubernetes.default.svc"], expirationSeconds: 3600, boundObjectRef: null }, status: { token, expirationTimestamp: exp } });
    }
    if (sub === "log") {
      const pod = store.get(keyOf(def, ns, name!));
      if (!pod) return notFound();
      return servePodLog(res, pod, query);
    }

    if (method === "GET" && !name) {
      if (verb === "watch") return serveWatch(req, res, def, ns, query);
      let items = [...store.entries()]
        .filter(([k, o]) => k.startsWith(`${def.group}/${def.plural}/`) && (!ns || o.metadata.namespace === ns))
        .map(([, o]) => o)
        .filter((o) => matchesSelectors(o, query));
      items.sort((a, b) => `${a.metadata.namespace ?? ""}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ""}/${b.metadata.name}`));
      const start = query.continue ? Number(Buffer.from(query.continue, "base64").toString()) : 0;
      const limit = Number(query.limit) || 0;
      const page = limit ? items.slice(start, start + limit) : items.slice(start);
      const more = limit && start + limit < items.length;
      const meta = { resourceVersion: String(rv), ...(more ? { continue: Buffer.from(String(start + limit)).toString("base64"), remainingItemCount: items.length - start - limit } : {}) };
      if (wantsTable(req)) return send(res, 200, table(def, page, meta, query));
      items = page.map((o) => stripInternal(o));
      return send(res, 200, { apiVersion: apiVersionOf(def), kind: `${def.kind}List`, metadata: meta, items: items.map((o) => withoutTypeMeta(o)) });
    }

    const key = name ? keyOf(def, ns, name) : "";
    const cur = name ? store.get(key) : undefined;

    if (method === "GET") {
      if (!cur) return notFound();
      if (wantsTable(req)) return send(res, 200, table(def, [cur], { resourceVersion: cur.metadata.resourceVersion }, query));
      return send(res, 200, withTypeMeta(def, stripInternal(cur)));
    }

    if (method === "POST") {
      if (!nsExists(ns)) return status(res, 404, "NotFound", `namespaces "${ns}" not found`, { name: ns, kind: "namespaces" });
      const body = parseObj(await readBody(req), ctype);
      if (!body || typeof body !== "object") return status(res, 400, "BadRequest", "the request body is not an object");
      if (body.kind && body.kind !== def.kind) return status(res, 400, "BadRequest", `the kind "${body.kind}" does not match the resource ${fullName(def)}`);
      body.metadata ??= {};
      if (def.namespaced) {
        if (body.metadata.namespace && ns && body.metadata.namespace !== ns) return status(res, 400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
        body.metadata.namespace = ns;
      }
      if (!body.metadata.name && !body.metadata.generateName) return status(res, 422, "Invalid", `${def.kind} "" is invalid: metadata.name: Required value: name or generateName is required`, { kind: def.kind, causes: [{ reason: "FieldValueRequired", field: "metadata.name", message: "Required value: name or generateName is required" }] });
      if (!body.metadata.name) {
        for (let i = 0; i < 10 && !body.metadata.name; i++) {
          const n = body.metadata.generateName + Math.random().toString(36).slice(2, 7);
          if (!store.has(keyOf(def, ns, n))) body.metadata.name = n;
        }
      }
      if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(body.metadata.name) || body.metadata.name.length > 253) {
        return status(res, 422, "Invalid", `${def.kind} "${body.metadata.name}" is invalid: metadata.name: Invalid value: "${body.metadata.name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`, { name: body.metadata.name, kind: def.kind });
      }
      const k = keyOf(def, ns, body.metadata.name);
      if (store.has(k)) return status(res, 409, "AlreadyExists", `${fullName(def)} "${body.metadata.name}" already exists`, { name: body.metadata.name, group: def.group, kind: def.plural });
      const obj = prepareNew(def, body);
      if (def.group === "batch" && def.kind === "Job") {
        const bad = validateJob(obj);
        if (bad) return status(res, 422, "Invalid", `Job.batch "${obj.metadata.name}" is invalid: ${bad.field}: ${bad.message}`, { name: obj.metadata.name, group: "batch", kind: "Job", causes: [{ reason: "FieldValueInvalid", field: bad.field, message: bad.message }] });
        defaultJob(obj);
      }
      if (dryRun) return send(res, 201, withTypeMeta(def, obj));
      track(k, def, {}, obj, manager, "Update");
      const saved = put(withTypeMeta(def, obj));
      return send(res, 201, withTypeMeta(def, stripInternal(saved)));
    }

    if (method === "PUT") {
      const body = parseObj(await readBody(req), ctype);
      if (!cur) return notFound();
      if (body?.metadata?.name && body.metadata.name !== name) return status(res, 400, "BadRequest", "the name of the object does not match the name on the URL");
      if (body?.metadata?.resourceVersion && body.metadata.resourceVersion !== cur.metadata.resourceVersion) return conflict(res, def, name!);
      return write(res, def, key, cur, body, sub, manager, "Update", dryRun);
    }

    if (method === "PATCH") {
      const text = await readBody(req);
      if (ctype.startsWith("application/apply-patch")) {
        const applied = parseObj(text, "yaml");
        if (!applied || typeof applied !== "object") return status(res, 400, "BadRequest", "apply patch body is not an object");
        if (!query.fieldManager) return status(res, 422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch");
        applied.metadata ??= {};
        applied.metadata.name ??= name;
        if (def.namespaced) applied.metadata.namespace = ns;
        if (!cur) {
          if (!nsExists(ns)) return status(res, 404, "NotFound", `namespaces "${ns}" not found`);
          const obj = prepareNew(def, applied);
          if (dryRun) return send(res, 201, withTypeMeta(def, obj));
          track(key, def, {}, obj, query.fieldManager, "Apply", leafPaths(applied));
          return send(res, 201, withTypeMeta(def, stripInternal(put(withTypeMeta(def, obj)))));
        }
        const conflicts = applyConflicts(key, cur, applied, query.fieldManager);
        if (conflicts.length && query.force !== "true") {
          return status(res, 409, "Conflict", `Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? "s" : ""}: ${conflicts.map((c) => `conflict with "${c.manager}": ${c.path.split(SEP).join(".")}`).join(", ")}`, {
            name, group: def.group, kind: def.plural, causes: conflicts.map((c) => ({ reason: "FieldManagerConflict", message: `conflict with "${c.manager}"`, field: `.${c.path.split(SEP).join(".")}` })),
          });
        }
        // remove fields this manager applied before and no longer applies
        const next = structuredClone(cur);
        const prevOwned = [...(owners.get(key) ?? new Map())].filter(([, o]) => o.manager === query.fieldManager && o.operation === "Apply").map(([p]) => p);
        const nowPaths = new Set(leafPaths(applied));
        for (const path of prevOwned) if (!nowPaths.has(path)) deletePath(next, path);
        const merged = mergePatch(next, stripMeta(applied));
        merged.metadata = { ...next.metadata, labels: mergeMaps(next.metadata.labels, applied.metadata.labels), annotations: mergeMaps(next.metadata.annotations, applied.metadata.annotations) };
        return write(res, def, key, cur, merged, sub, query.fieldManager, "Apply", dryRun, leafPaths(applied));
      }
      if (!cur) return notFound();
      let next: Obj;
      try {
        const patch = JSON.parse(text);
        if (ctype.startsWith("application/json-patch+json")) next = jsonPatch(structuredClone(cur), patch);
        else if (ctype.startsWith("application/merge-patch+json")) next = mergePatch(structuredClone(cur), patch);
        else if (ctype.startsWith("application/strategic-merge-patch+json")) {
          if (!BUILTIN.includes(def)) return status(res, 415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`);
          next = strategicMerge(structuredClone(cur), patch);
        } else return status(res, 415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`);
      } catch (e: any) {
        if (e?.code) throw e;
        return status(res, 400, "BadRequest", `invalid patch: ${e?.message ?? e}`);
      }
      if (next.metadata?.resourceVersion && next.metadata.resourceVersion !== cur.metadata.resourceVersion) return conflict(res, def, name!);
      return write(res, def, key, cur, next, sub, manager, "Update", dryRun);
    }

    if (method === "DELETE") {
      if (!name) return status(res, 405, "MethodNotAllowed", "deletecollection is not supported by the fake apiserver");
      if (!cur) return notFound();
      const text = await readBody(req);
      const delOpts = text ? JSON.parse(text) : {};
      if (dryRun || delOpts.dryRun?.includes?.("All")) return send(res, 200, withTypeMeta(def, stripInternal(cur)));
      if (delOpts.preconditions?.resourceVersion && delOpts.preconditions.resourceVersion !== cur.metadata.resourceVersion) return conflict(res, def, name);
      if (cur.metadata.finalizers?.length) {
        if (!cur.metadata.deletionTimestamp) {
          const o = structuredClone(cur);
          o.metadata.deletionTimestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
          o.metadata.deletionGracePeriodSeconds = 0;
          return send(res, 200, withTypeMeta(def, stripInternal(put(withTypeMeta(def, o)))));
        }
        return send(res, 200, withTypeMeta(def, stripInternal(cur)));
      }
      removeKey(def, key);
      // garbage collection: dependents (ownerReferences to this uid) go too, unless orphaned
      if ((delOpts.propagationPolicy ?? query.propagationPolicy) !== "Orphan") collectDependents(cur.metadata.uid);
      return send(res, 200, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details: { name, group: def.group, kind: def.plural, uid: cur.metadata.uid } });
    }
  }

  function removeKey(def: FakeResourceDef, key: string): void {
    const cur = store.get(key);
    if (!cur) return;
    store.delete(key);
    owners.delete(key);
    emit("DELETED", def, cur);
    if (def.kind === "Namespace") {
      for (const [k, o] of [...store]) {
        if (o.metadata.namespace === cur.metadata.name) {
          const d = resources.find((r) => k.startsWith(`${r.group}/${r.plural}/`));
          if (d) removeKey(d, k);
        }
      }
    }
    if (def.kind === "Pod") logs.get(`${cur.metadata.namespace}/${cur.metadata.name}`)?.listeners.forEach((l) => l(null));
  }

  function collectDependents(uid: string): void {
    for (const [k, o] of [...store]) {
      if (!(o.metadata.ownerReferences ?? []).some((r: Obj) => r.uid === uid)) continue;
      const d = resources.find((r) => k.startsWith(`${r.group}/${r.plural}/`));
      if (!d || !store.has(k)) continue;
      removeKey(d, k);
      collectDependents(o.metadata.uid);
    }
  }

  // batch/v1 Job: the checks kube-apiserver makes that matter for Indexed Jobs, and its defaults
  function validateJob(j: Obj): { field: string; message: string } | undefined {
    const s = j.spec ?? {};
    const t = s.template?.spec;
    if (!t?.containers?.length) return { field: "spec.template.spec.containers", message: "Required value" };
    if (!["Never", "OnFailure"].includes(t.restartPolicy)) return { field: "spec.template.spec.restartPolicy", message: `Unsupported value: "${t.restartPolicy ?? "Always"}": supported values: "OnFailure", "Never"` };
    if (s.completionMode !== undefined && !["Indexed", "NonIndexed"].includes(s.completionMode)) return { field: "spec.completionMode", message: `Unsupported value: "${s.completionMode}"` };
    if (s.completionMode === "Indexed" && !(Number.isInteger(s.completions) && s.completions > 0)) return { field: "spec.completions", message: "Required value: when completion mode is Indexed" };
    if (s.backoffLimitPerIndex !== undefined && s.completionMode !== "Indexed") return { field: "spec.backoffLimitPerIndex", message: "Invalid value: requires indexed completion mode" };
    if (s.maxFailedIndexes !== undefined && s.backoffLimitPerIndex === undefined) return { field: "spec.maxFailedIndexes", message: "Invalid value: cannot be set when backoffLimitPerIndex is not set" };
    if (s.maxFailedIndexes !== undefined && s.maxFailedIndexes > s.completions) return { field: "spec.maxFailedIndexes", message: "Invalid value: must be less than or equal to completions" };
    for (const [f, v] of [["completions", s.completions], ["parallelism", s.parallelism], ["backoffLimit", s.backoffLimit], ["backoffLimitPerIndex", s.backoffLimitPerIndex]] as const) {
      if (v !== undefined && !(Number.isInteger(v) && v >= 0)) return { field: `spec.${f}`, message: `Invalid value: ${JSON.stringify(v)}: must be greater than or equal to 0` };
    }
    for (const c of t.containers) if (!c.image) return { field: "spec.template.spec.containers[0].image", message: "Required value" };
    return undefined;
  }
  function defaultJob(j: Obj): void {
    const s = j.spec;
    s.completionMode ??= "NonIndexed";
    s.parallelism ??= 1;
    s.completions ??= 1;
    s.suspend ??= false;
    if (s.backoffLimitPerIndex === undefined) s.backoffLimit ??= 6;
    else s.backoffLimit ??= 2147483647;
    const uid = j.metadata.uid;
    s.selector ??= { matchLabels: { "batch.kubernetes.io/controller-uid": uid } };
    s.template.metadata ??= {};
    s.template.metadata.labels = { ...(s.template.metadata.labels ?? {}), "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": j.metadata.name, "controller-uid": uid, "job-name": j.metadata.name };
    j.status ??= {};
  }

  function conflict(res: http.ServerResponse, def: FakeResourceDef, name: string): void {
    status(res, 409, "Conflict", `Operation cannot be fulfilled on ${fullName(def)} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, group: def.group, kind: def.plural });
  }

  function prepareNew(def: FakeResourceDef, body: Obj): Obj {
    const o = structuredClone(body);
    delete o.metadata.resourceVersion;
    delete o.metadata.uid;
    delete o.metadata.managedFields;
    delete o.metadata.creationTimestamp;
    delete o.metadata.deletionTimestamp;
    o.metadata.generation = 1;
    o.metadata.uid = randomUUID();
    o.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    if (def.status && def.group !== "" && def.kind !== "Pod") delete o.status;
    if (def.kind === "Namespace") o.status = { phase: "Active" };
    return o;
  }

  function write(res: http.ServerResponse, def: FakeResourceDef, key: string, cur: Obj, body: Obj, sub: string | undefined, manager: string, operation: string, dryRun: boolean, appliedPaths?: string[]): void {
    if (!body || typeof body !== "object") return status(res, 400, "BadRequest", "the request body is not an object");
    let next: Obj = structuredClone(body);
    if (def.status) {
      // main resource ignores status; /status changes only status
      if (sub === "status") next = { ...structuredClone(cur), status: next.status };
      else if (def.group !== "" || def.kind === "Namespace") next.status = structuredClone(cur.status);
    }
    next.apiVersion = apiVersionOf(def);
    next.kind = def.kind;
    next.metadata = { ...next.metadata, name: cur.metadata.name, namespace: cur.metadata.namespace, uid: cur.metadata.uid, creationTimestamp: cur.metadata.creationTimestamp, deletionTimestamp: cur.metadata.deletionTimestamp };
    if (!next.metadata.deletionTimestamp) delete next.metadata.deletionTimestamp;
    if (!def.namespaced) delete next.metadata.namespace;
    delete next.metadata.managedFields;
    const specOf = (o: Obj) => JSON.stringify({ ...o, metadata: undefined, status: undefined });
    next.metadata.generation = (cur.metadata.generation ?? 1) + (specOf(next) !== specOf(cur) ? 1 : 0);
    next.metadata.resourceVersion = cur.metadata.resourceVersion;
    if (JSON.stringify(stripInternal(next)) === JSON.stringify(stripInternal(cur))) {
      if (appliedPaths) track(key, def, cur, next, manager, operation, appliedPaths);
      return send(res, 200, withTypeMeta(def, stripInternal(cur)));
    }
    if (dryRun) return send(res, 200, withTypeMeta(def, next));
    track(key, def, cur, next, manager, operation, appliedPaths);
    if (next.metadata.deletionTimestamp && !next.metadata.finalizers?.length) {
      removeKey(def, key);
      return send(res, 200, withTypeMeta(def, next));
    }
    const saved = put(next);
    return send(res, 200, withTypeMeta(def, stripInternal(saved)));
  }

  // field ownership for server-side apply: every leaf path written is owned by the last manager that set it
  function track(key: string, def: FakeResourceDef, before: Obj, after: Obj, manager: string, operation: string, appliedPaths?: string[]): void {
    const own = owners.get(key) ?? new Map();
    const b = new Map(leafEntries(stripMeta(before)));
    const changed = leafEntries(stripMeta(after)).filter(([p, v]) => b.get(p) !== v).map(([p]) => p);
    for (const p of [...own.keys()]) if (!leafEntries(stripMeta(after)).some(([q]) => q === p)) own.delete(p);
    for (const p of appliedPaths ?? []) own.set(p, { manager, operation, apiVersion: apiVersionOf(def) });
    for (const p of changed) if (!appliedPaths?.includes(p)) own.set(p, { manager, operation, apiVersion: apiVersionOf(def) });
    owners.set(key, own);
  }

  function applyConflicts(key: string, cur: Obj, applied: Obj, manager: string): { path: string; manager: string }[] {
    const own = owners.get(key) ?? new Map();
    const live = new Map(leafEntries(stripMeta(cur)));
    const out: { path: string; manager: string }[] = [];
    for (const [p, v] of leafEntries(stripMeta(applied))) {
      const o = own.get(p);
      if (o && o.manager !== manager && live.has(p) && live.get(p) !== v) out.push({ path: p, manager: o.manager });
    }
    return out;
  }

  function managedFields(key: string): Obj[] | undefined {
    const own = owners.get(key);
    if (!own?.size) return undefined;
    const by = new Map<string, { entry: Obj; fields: Obj }>();
    for (const [p, o] of own) {
      const id = `${o.manager}\0${o.operation}`;
      let e = by.get(id);
      if (!e) {
        e = { entry: { manager: o.manager, operation: o.operation, apiVersion: o.apiVersion, time: new Date().toISOString().replace(/\.\d+Z$/, "Z"), fieldsType: "FieldsV1" }, fields: {} };
        by.set(id, e);
      }
      let node = e.fields;
      for (const seg of p.split(SEP)) node = node[`f:${seg}`] ??= {};
    }
    return [...by.values()].map((e) => ({ ...e.entry, fieldsV1: e.fields }));
  }

  function stripInternal(o: Obj): Obj {
    const out = structuredClone(o);
    const def = findDef(o.apiVersion, o.kind);
    const mf = def ? managedFields(keyOf(def, o.metadata.namespace, o.metadata.name)) : undefined;
    if (mf) out.metadata.managedFields = mf;
    else delete out.metadata.managedFields;
    return out;
  }

  function wantsTable(req: http.IncomingMessage): boolean {
    return /as=Table/.test(String(req.headers.accept ?? ""));
  }

  function table(def: FakeResourceDef, items: Obj[], meta: Obj, query: Record<string, string>): Obj {
    const age = (o: Obj) => {
      const s = Math.max(0, Math.floor((Date.now() - Date.parse(o.metadata.creationTimestamp)) / 1000));
      return s < 120 ? `${s}s` : s < 7200 ? `${Math.floor(s / 60)}m` : s < 172800 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86400)}d`;
    };
    const isPod = def.kind === "Pod" && !def.group;
    // Secrets print like the real apiserver's: NAME TYPE DATA AGE
    const isSecret = def.kind === "Secret" && !def.group;
    const cols = [
      { name: "Name", type: "string", format: "name", description: "Name must be unique within a namespace.", priority: 0 },
      ...(isPod ? [{ name: "Status", type: "string", format: "", description: "The pod phase.", priority: 0 }] : []),
      ...(isSecret ? [{ name: "Type", type: "string", format: "", description: "The type of the secret.", priority: 0 }, { name: "Data", type: "string", format: "", description: "The number of keys.", priority: 0 }] : []),
      { name: "Age", type: "string", format: "", description: "Time since creation.", priority: 0 },
    ];
    return {
      kind: "Table",
      apiVersion: "meta.k8s.io/v1",
      metadata: meta,
      columnDefinitions: cols,
      rows: items.map((o) => ({
        cells: [o.metadata.name, ...(isPod ? [o.status?.phase ?? "Unknown"] : []), ...(isSecret ? [o.type ?? "Opaque", String(Object.keys(o.data ?? {}).length + Object.keys(o.stringData ?? {}).length)] : []), age(o)],
        object:
          query.includeObject === "Object"
            ? withTypeMeta(def, stripInternal(o))
            : { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: stripInternal(o).metadata },
      })),
    };
  }

  function servePodLog(res: http.ServerResponse, pod: Obj, query: Record<string, string>): void {
    const containers: string[] = (pod.spec?.containers ?? []).map((c: Obj) => c.name);
    let container = query.container;
    if (!container) {
      if (containers.length !== 1) return status(res, 400, "BadRequest", `a container name must be specified for pod ${pod.metadata.name}, choose one of: [${containers.join(" ")}]`);
      container = containers[0]!;
    }
    if (!containers.includes(container)) return status(res, 400, "BadRequest", `container ${container} is not valid for pod ${pod.metadata.name}`);
    const entry = logs.get(`${pod.metadata.namespace}/${pod.metadata.name}`);
    let text = entry?.containers[container] ?? "";
    if (query.tailLines) {
      const lines = text.split(/(?<=\n)/).filter((l) => l !== "");
      text = lines.slice(Math.max(0, lines.length - Number(query.tailLines))).join("");
    }
    res.writeHead(200, { "Content-Type": "text/plain", "Cache-Control": "no-cache, private" });
    res.write(text);
    if (query.follow !== "true" || pod.status?.phase !== "Running" || !entry) return void res.end();
    const l = (t: string | null) => (t === null ? res.end() : res.write(t));
    const listener = (t: string | null) => {
      if (t === null || t.startsWith(`${container}\0`)) l(t === null ? null : t.slice(container!.length + 1));
    };
    entry.listeners.add(listener);
    res.on("close", () => entry.listeners.delete(listener));
  }

  function serveWatch(req: http.IncomingMessage, res: http.ServerResponse, def: FakeResourceDef, ns: string | undefined, query: Record<string, string>): void {
    res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked", "Cache-Control": "no-cache, private" });
    res.flushHeaders(); // clients wait for the headers before they consider the watch established
    const w = { def, ns, query, send: (type: string, object: Obj) => res.write(JSON.stringify({ type, object: stripInternal(object) }) + "\n") };
    // without a resourceVersion (or with "0") a watch starts with ADDED events for what exists
    if (!query.resourceVersion || query.resourceVersion === "0") {
      for (const [k, o] of store) if (k.startsWith(`${def.group}/${def.plural}/`) && (!ns || o.metadata.namespace === ns) && matchesSelectors(o, query)) w.send("ADDED", withTypeMeta(def, o));
    }
    watchers.add(w);
    const timeout = setTimeout(() => res.end(), (Number(query.timeoutSeconds) || 300) * 1000);
    const done = () => {
      clearTimeout(timeout);
      watchers.delete(w);
    };
    res.on("close", done);
    req.on("close", done);
  }

  // ---------------- server ----------------

  // HTTPS is a node:tls server handing its sockets to a plain http.Server: Bun's node:https server does not
  // expose the client certificate (no getPeerCertificate on req.socket), its node:tls sockets do.
  const sockets = new Set<import("node:net").Socket>();
  const httpServer = http.createServer(handler);
  httpServer.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const server: import("node:net").Server = ca
    ? tls.createServer({ key: serverCert!.keyPem, cert: serverCert!.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: false }, (t) => {
        const pc = typeof t.getPeerCertificate === "function" ? t.getPeerCertificate() : undefined;
        peers.set(t, { cn: pc?.subject?.CN ? String(pc.subject.CN) : undefined, authorized: t.authorized });
        httpServer.emit("connection", t);
      })
    : httpServer;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const url = `${ca ? "https" : "http"}://127.0.0.1:${port}`;
  let caFile: string | undefined;
  if (ca) {
    caFile = join(dir, "ca.crt");
    writeFileSync(caFile, ca.certPem);
  }

  let kcCount = 0;
  const api: FakeApiServer = {
    url,
    port,
    caFile,
    ca,
    dir,
    requests,
    kubeconfig(user = Object.keys(users)[0]!, o = {}) {
      const u = o.token ? { token: o.token } : users[user];
      if (!u) throw new Error(`fake apiserver: no user ${user}`);
      const cluster: Obj = { server: url };
      if (caFile) cluster["certificate-authority"] = caFile;
      const creds: Obj = {};
      if (u.cert) {
        const c = clientCerts.get(user)!;
        creds["client-certificate"] = c.cert;
        creds["client-key"] = c.key;
      } else if (u.password !== undefined && !u.token) {
        creds.username = user;
        creds.password = u.password;
      } else creds.token = u.token ?? `${user}-token`;
      const ctx = o.context ?? "fake";
      const doc = {
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "fake-cluster", cluster }],
        users: [{ name: user, user: creds }],
        contexts: [{ name: ctx, context: { cluster: "fake-cluster", user, ...(o.namespace ? { namespace: o.namespace } : {}) } }],
        "current-context": ctx,
      };
      const file = o.file ?? join(dir, `kubeconfig-${user}-${++kcCount}.yaml`);
      writeFileSync(file, toYamlText(doc));
      return file;
    },
    serviceAccountToken(namespace, name) {
      const sa = store.get(`/serviceaccounts/${namespace}/${name}`);
      if (!sa) throw new Error(`fake apiserver: no ServiceAccount ${namespace}/${name}`);
      return mintSaToken(sa);
    },
    clientCert(user) {
      const c = clientCerts.get(user);
      if (!c) throw new Error(`fake apiserver: user ${user} has no client certificate (cert: true)`);
      return c;
    },
    put(obj) {
      return put(obj);
    },
    get(apiVersion, kind, name, namespace) {
      const def = findDef(apiVersion, kind);
      if (!def) return undefined;
      const o = store.get(keyOf(def, namespace ?? "default", name));
      return o ? withTypeMeta(def, stripInternal(o)) : undefined;
    },
    list(apiVersion, kind, namespace) {
      const def = findDef(apiVersion, kind);
      if (!def) return [];
      return [...store.entries()].filter(([k, o]) => k.startsWith(`${def.group}/${def.plural}/`) && (!namespace || o.metadata.namespace === namespace)).map(([, o]) => withTypeMeta(def, stripInternal(o)));
    },
    remove(apiVersion, kind, name, namespace) {
      const def = findDef(apiVersion, kind);
      if (!def) return false;
      const k = keyOf(def, namespace ?? "default", name);
      const had = store.has(k);
      removeKey(def, k);
      return had;
    },
    addResource,
    addPod(namespace, name, podLogs = "", o = {}) {
      const containers = typeof podLogs === "string" ? { main: podLogs } : podLogs;
      logs.set(`${namespace}/${name}`, { containers: { ...containers }, listeners: new Set() });
      return put({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace, labels: o.labels ?? {} },
        spec: { containers: Object.keys(containers).map((c) => ({ name: c, image: o.image ?? "busybox:1.36" })) },
        status: { phase: o.phase ?? "Succeeded", conditions: [{ type: "Ready", status: (o.phase ?? "Succeeded") === "Running" ? "True" : "False" }] },
      });
    },
    appendLog(namespace, name, text, container) {
      const e = logs.get(`${namespace}/${name}`);
      if (!e) throw new Error(`fake apiserver: no pod ${namespace}/${name}`);
      const c = container ?? Object.keys(e.containers)[0]!;
      e.containers[c] = (e.containers[c] ?? "") + text;
      for (const l of e.listeners) l(`${c}\0${text}`);
    },
    setPodPhase(namespace, name, phase) {
      const def = findDef("v1", "Pod")!;
      const cur = store.get(keyOf(def, namespace, name));
      if (!cur) throw new Error(`fake apiserver: no pod ${namespace}/${name}`);
      put({ ...cur, status: { ...cur.status, phase, conditions: [{ type: "Ready", status: phase === "Running" ? "True" : "False" }] } });
      if (phase !== "Running") logs.get(`${namespace}/${name}`)?.listeners.forEach((l) => l(null));
    },
    async stop() {
      for (const e of logs.values()) e.listeners.forEach((l) => l(null));
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      if (server !== httpServer) httpServer.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return api;
}

// ---------------- pure helpers (exported for tests) ----------------

/** Length-delimited fields of a protobuf message (varint and fixed fields skipped). */
function protoFields(buf: Buffer): Map<number, Buffer[]> {
  const out = new Map<number, Buffer[]>();
  let i = 0;
  const varint = () => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = buf[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
    }
  };
  while (i < buf.length) {
    const tag = varint();
    const wire = tag & 7;
    const field = Math.floor(tag / 8);
    if (wire === 0) varint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const len = varint();
      out.set(field, [...(out.get(field) ?? []), buf.subarray(i, i + len)]);
      i += len;
    } else break;
  }
  return out;
}

/** SelfSubjectAccessReview in the k8s protobuf envelope ("k8s\0" + runtime.Unknown) → resourceAttributes. */
function decodeSsarProto(raw: Buffer): Record<string, string> {
  const unknown = protoFields(raw.subarray(4)); // runtime.Unknown: 1 typeMeta, 2 raw
  const ssar = protoFields(unknown.get(2)?.[0] ?? Buffer.alloc(0)); // 1 metadata, 2 spec
  const spec = protoFields(ssar.get(2)?.[0] ?? Buffer.alloc(0)); // 1 resourceAttributes
  const ra = protoFields(spec.get(1)?.[0] ?? Buffer.alloc(0));
  const names = ["", "namespace", "verb", "group", "version", "resource", "subresource", "name"];
  const out: Record<string, string> = {};
  for (let f = 1; f < names.length; f++) {
    const v = ra.get(f)?.[0];
    if (v) out[names[f]!] = v.toString("utf8");
  }
  return out;
}

/** A Namespace in the k8s protobuf envelope → { apiVersion, kind, metadata: { name, labels, annotations } }. */
function decodeMetadataOnlyProto(raw: Buffer): Obj | undefined {
  if (raw.subarray(0, 4).toString("latin1") !== "k8s\0") return undefined;
  const unknown = protoFields(raw.subarray(4)); // runtime.Unknown: 1 typeMeta, 2 raw
  const tm = protoFields(unknown.get(1)?.[0] ?? Buffer.alloc(0)); // 1 apiVersion, 2 kind
  const apiVersion = tm.get(1)?.[0]?.toString("utf8") ?? "";
  const kind = tm.get(2)?.[0]?.toString("utf8") ?? "";
  if (kind !== "Namespace") return undefined;
  const obj = protoFields(unknown.get(2)?.[0] ?? Buffer.alloc(0)); // 1 metadata, 2 spec, 3 status
  const om = protoFields(obj.get(1)?.[0] ?? Buffer.alloc(0)); // ObjectMeta: 1 name, 2 generateName, 11 labels, 12 annotations
  const map = (entries: Buffer[] | undefined) => {
    if (!entries?.length) return undefined;
    const out: Record<string, string> = {};
    for (const e of entries) {
      const kv = protoFields(e);
      out[kv.get(1)?.[0]?.toString("utf8") ?? ""] = kv.get(2)?.[0]?.toString("utf8") ?? "";
    }
    return out;
  };
  const metadata: Obj = {};
  const name = om.get(1)?.[0]?.toString("utf8");
  const generateName = om.get(2)?.[0]?.toString("utf8");
  if (name) metadata.name = name;
  if (generateName) metadata.generateName = generateName;
  const labels = map(om.get(11));
  const annotations = map(om.get(12));
  if (labels) metadata.labels = labels;
  if (annotations) metadata.annotations = annotations;
  return { apiVersion, kind, metadata };
}

function withoutTypeMeta(o: Obj): Obj {
  const { apiVersion: _a, kind: _k, ...rest } = o;
  return rest;
}

function stripMeta(o: Obj): Obj {
  const { apiVersion: _a, kind: _k, metadata, status: _s, ...rest } = o ?? {};
  const m: Obj = {};
  if (metadata?.labels) m.labels = metadata.labels;
  if (metadata?.annotations) m.annotations = metadata.annotations;
  return Object.keys(m).length ? { ...rest, metadata: m } : rest;
}

function mergeMaps(a: Obj | undefined, b: Obj | undefined): Obj | undefined {
  if (!a && !b) return undefined;
  return { ...(a ?? {}), ...(b ?? {}) };
}

/** separator of leaf path segments (keys may contain dots) */
const SEP = "\u001f";

/** Leaf paths ("spec.replicas", "data.key"; arrays are leaves) with JSON-stringified values. */
function leafEntries(o: Obj, prefix = ""): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(o ?? {})) {
    const p = prefix ? `${prefix}${SEP}${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length) out.push(...leafEntries(v, p));
    else out.push([p, JSON.stringify(v)]);
  }
  return out;
}

function leafPaths(o: Obj): string[] {
  return leafEntries(stripMeta(o)).map(([p]) => p);
}

function deletePath(o: Obj, path: string): void {
  const segs = path.split(SEP);
  let node = o;
  for (const s of segs.slice(0, -1)) {
    node = node?.[s];
    if (!node || typeof node !== "object") return;
  }
  delete node[segs[segs.length - 1]!];
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: any, patch: any): any {
  if (!patch || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out = target && typeof target === "object" && !Array.isArray(target) ? target : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** A basic strategic merge patch: merge patch, except lists of objects with "name" merge by name; $-directives honoured minimally. */
export function strategicMerge(target: any, patch: any): any {
  if (!patch || typeof patch !== "object" || Array.isArray(patch)) return patch;
  if (patch.$patch === "replace") {
    const { $patch: _p, ...rest } = patch;
    return rest;
  }
  const out = target && typeof target === "object" && !Array.isArray(target) ? target : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$setElementOrder/") || k === "$retainKeys" || k.startsWith("$deleteFromPrimitiveList/")) continue;
    if (v === null) delete out[k];
    else if (Array.isArray(v) && Array.isArray(out[k]) && v.every((e) => e && typeof e === "object" && "name" in e) && out[k].every((e: any) => e && typeof e === "object" && "name" in e)) {
      const list = [...out[k]];
      for (const e of v) {
        const i = list.findIndex((x: any) => x.name === e.name);
        if (e.$patch === "delete") {
          if (i >= 0) list.splice(i, 1);
        } else if (i >= 0) list[i] = strategicMerge(list[i], e);
        else list.push(strategicMerge({}, e));
      }
      out[k] = list;
    } else out[k] = strategicMerge(out[k], v);
  }
  return out;
}

/** RFC 6902 JSON patch. Throws a 422-coded error when a test fails or a path is missing. */
export function jsonPatch(doc: any, ops: any[]): any {
  if (!Array.isArray(ops)) throw Object.assign(new Error("a JSON patch must be an array of operations"), { code: 400, reason: "BadRequest" });
  const parse = (p: string) => (p === "" ? [] : p.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~")));
  const fail = (msg: string) => Object.assign(new Error(msg), { code: 422, reason: "Invalid" });
  const get = (path: string[]) => path.reduce((n: any, s) => (n == null ? undefined : n[s]), doc);
  const parentOf = (path: string[]) => {
    const parent = get(path.slice(0, -1));
    if (parent == null || typeof parent !== "object") throw fail(`jsonpatch: missing parent of /${path.join("/")}`);
    return parent;
  };
  const add = (path: string[], value: any) => {
    if (!path.length) return void (doc = value);
    const parent = parentOf(path);
    const last = path[path.length - 1]!;
    if (Array.isArray(parent)) {
      const i = last === "-" ? parent.length : Number(last);
      if (!(i >= 0 && i <= parent.length)) throw fail(`jsonpatch: index out of range at /${path.join("/")}`);
      parent.splice(i, 0, value);
    } else parent[last] = value;
  };
  const remove = (path: string[]) => {
    const parent = parentOf(path);
    const last = path[path.length - 1]!;
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else {
      if (!(last in parent)) throw fail(`jsonpatch: remove of missing path /${path.join("/")}`);
      delete parent[last];
    }
  };
  for (const op of ops) {
    const path = parse(op.path ?? "");
    switch (op.op) {
      case "add":
        add(path, structuredClone(op.value));
        break;
      case "remove":
        remove(path);
        break;
      case "replace":
        if (get(path) === undefined) throw fail(`jsonpatch: replace of missing path ${op.path}`);
        if (!path.length) doc = structuredClone(op.value);
        else parentOf(path)[path[path.length - 1]!] = structuredClone(op.value);
        break;
      case "move": {
        const from = parse(op.from);
        const v = get(from);
        if (v === undefined) throw fail(`jsonpatch: move from missing path ${op.from}`);
        remove(from);
        add(path, v);
        break;
      }
      case "copy": {
        const v = get(parse(op.from));
        if (v === undefined) throw fail(`jsonpatch: copy from missing path ${op.from}`);
        add(path, structuredClone(v));
        break;
      }
      case "test":
        if (JSON.stringify(get(path)) !== JSON.stringify(op.value)) throw fail(`jsonpatch: test failed at ${op.path}`);
        break;
      default:
        throw Object.assign(new Error(`jsonpatch: unknown op ${op.op}`), { code: 400, reason: "BadRequest" });
    }
  }
  return doc;
}

/** Label selector match: "a=b,c!=d,e,!f,g in (x,y),h notin (z)". */
export function matchLabels(labels: Record<string, string> | undefined, selector: string): boolean {
  const l = labels ?? {};
  for (const term of splitTerms(selector)) {
    let m: RegExpExecArray | null;
    if ((m = /^([^\s!=]+)\s+(in|notin)\s+\((.*)\)$/.exec(term))) {
      const vals = m[3]!.split(",").map((s) => s.trim());
      const has = m[1]! in l && vals.includes(l[m[1]!]!);
      if (m[2] === "in" ? !has : has) return false;
    } else if ((m = /^([^\s!=]+)\s*!=\s*(.*)$/.exec(term))) {
      if (l[m[1]!] === m[2]!.trim()) return false;
    } else if ((m = /^([^\s!=]+)\s*==?\s*(.*)$/.exec(term))) {
      if (l[m[1]!] !== m[2]!.trim()) return false;
    } else if ((m = /^!\s*(\S+)$/.exec(term))) {
      if (m[1]! in l) return false;
    } else if (!(term in l)) return false;
  }
  return true;
}

function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      if (cur.trim()) out.push(cur.trim());
      cur = "";
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** Field selector match: "metadata.name=x,status.phase!=Running" on any dotted path. */
export function matchFields(obj: Obj, selector: string): boolean {
  for (const term of splitTerms(selector)) {
    const m = /^([^!=]+)(!=|==|=)(.*)$/.exec(term);
    if (!m) return false;
    const v = m[1]!.trim().split(".").reduce((n: any, k) => (n == null ? undefined : n[k]), obj);
    const s = v === undefined || v === null ? "" : String(v);
    if (m[2] === "!=" ? s === m[3]!.trim() : s !== m[3]!.trim()) return false;
  }
  return true;
}

function matchesSelectors(o: Obj, query: Record<string, string>): boolean {
  if (query.labelSelector && !matchLabels(o.metadata?.labels, query.labelSelector)) return false;
  if (query.fieldSelector && !matchFields(o, query.fieldSelector)) return false;
  return true;
}
