// A fake Palette API for content builds (cluster profiles and their packs), HTTPS on 127.0.0.1 with a test CA.
// It answers the documented shapes (see shared/palette/content.ts):
//   GET /v1/clusterprofiles/{uid}   headers `ApiKey`, `ProjectUid`
//     200 { metadata: { uid, name, annotations: { scope: "project", projectUid } }, spec: { version, published: { packs: PackRef[] } } }
//     401 v1Error { code: "InvalidApiKey", message, ref } without / with a wrong ApiKey
//     404 v1Error { code: "ResourceNotFound", … } for an unknown uid or a profile of another project
//
//   const api = await startFakePaletteContent({ apiKey, projectUid, profiles: [profile("edge-infra", "uid1", [pack("ubuntu", "22.04", { images: [...] })])] });
//   api.url, api.caFile, api.calls ([{ path, status, apiKey: "ok"|"bad"|"none", projectUid }]), await api.stop()
import https from "node:https";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCA, type TestCA } from "./pki.ts";

export interface FakePackRef {
  name: string;
  tag: string;
  type: string;
  layer: string;
  registryUid: string;
  packUid: string;
  digest: string;
  values: string;
}

export interface FakeProfile {
  uid: string;
  name: string;
  projectUid?: string;
  packs: FakePackRef[];
}

export interface ContentCall {
  path: string;
  status: number;
  apiKey: "ok" | "bad" | "none";
  projectUid?: string;
}

export interface FakePaletteContent {
  url: string;
  caFile: string;
  ca: TestCA;
  apiKey: string;
  projectUid: string;
  calls: ContentCall[];
  profiles: FakeProfile[];
  stop(): Promise<void>;
}

/** A pack ref whose values declare content tags (omit images/charts for a pack without content tags). */
export function pack(name: string, tag: string, content?: { images?: (string | { image: string })[]; charts?: { repo: string; name: string; version: string }[] }, layer = "addon"): FakePackRef {
  const lines = [`# ${name} ${tag}`];
  if (content) {
    lines.push("pack:", "  namespace: " + name, "  content:");
    if (content.images) {
      lines.push("    images:");
      for (const i of content.images) lines.push(typeof i === "string" ? `      - ${JSON.stringify(i)}` : `      - image: ${JSON.stringify(i.image)}`);
    }
    if (content.charts) {
      lines.push("    charts:");
      for (const c of content.charts) lines.push(`      - repo: ${c.repo}`, `        name: ${c.name}`, `        version: ${c.version}`);
    }
  }
  lines.push(`${name}:`, "  replicas: 1");
  return { name, tag, type: content?.charts ? "helm" : "spectro", layer, registryUid: "5eecc89d0b150045ae661cef", packUid: randomBytes(12).toString("hex"), digest: `sha256:${randomBytes(32).toString("hex")}`, values: lines.join("\n") + "\n" };
}

export function profile(name: string, uid: string, packs: FakePackRef[], projectUid?: string): FakeProfile {
  return { uid, name, packs, projectUid };
}

export async function startFakePaletteContent(opts: { apiKey?: string; projectUid?: string; profiles: FakeProfile[]; ca?: TestCA }): Promise<FakePaletteContent> {
  const dir = mkdtempSync(join(tmpdir(), "ka-palette-content-"));
  let ca = opts.ca;
  if (!ca) {
    mkdirSync(join(dir, "pki"));
    ca = createCA(join(dir, "pki"));
  }
  const apiKey = opts.apiKey ?? `pk-${randomBytes(18).toString("base64url")}`;
  const projectUid = opts.projectUid ?? randomBytes(12).toString("hex");
  const state: FakePaletteContent = {
    url: "",
    caFile: ca.cert,
    ca,
    apiKey,
    projectUid,
    calls: [],
    profiles: opts.profiles,
    async stop() {
      server.closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const v1Error = (code: string, message: string) => ({ code, message, ref: randomBytes(4).toString("hex") });
  const cert = ca.server("palette-api");
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const url = new URL(req.url ?? "/", "https://x");
    const key = req.headers.apikey as string | undefined;
    const project = req.headers.projectuid as string | undefined;
    const call: ContentCall = { path: url.pathname, status: 0, apiKey: !key ? "none" : key === apiKey ? "ok" : "bad", ...(project ? { projectUid: project } : {}) };
    state.calls.push(call);
    const send = (status: number, body: unknown) => {
      call.status = status;
      const text = JSON.stringify(body);
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
    };
    if (call.apiKey !== "ok") return send(401, v1Error("InvalidApiKey", call.apiKey === "none" ? "ApiKey header is missing" : "Invalid api key"));
    const m = /^\/v1\/clusterprofiles\/([^/]+)$/.exec(url.pathname);
    if (req.method === "GET" && m) {
      const uid = decodeURIComponent(m[1]!);
      const p = state.profiles.find((x) => x.uid === uid);
      if (!p || (p.projectUid ?? projectUid) !== (project ?? projectUid)) return send(404, v1Error("ResourceNotFound", `Cluster profile '${uid}' not found`));
      return send(200, {
        metadata: { uid: p.uid, name: p.name, annotations: { scope: "project", projectUid: p.projectUid ?? projectUid } },
        spec: { version: "1.0.0", published: { name: p.name, type: "cluster", cloudType: "edge-native", packs: p.packs } },
        status: { isPublished: true },
      });
    }
    return send(404, v1Error("ResourceNotFound", `no route for ${req.method} ${url.pathname}`));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  state.url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  return state;
}
