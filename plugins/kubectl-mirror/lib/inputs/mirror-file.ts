// Mirror files: many charts and extra images at once. Two shapes are read:
//
//   # kubectl mirror
//   apiVersion: mirror.kube-airgap.io/v1
//   kind: MirrorSet
//   charts:
//     - name: app                      # chart name in repoURL, or
//       repoURL: https://charts.example.com     (http(s):// repo, or oci://host/path → oci://host/path/<name>)
//       version: 1.2.3                 # exact or constraint; default latest stable
//     - chart: ./charts/local-app      # or a local dir/.tgz, oci://…, https://…/x.tgz
//       releaseName: web
//       namespace: web
//       values: [prod-values.yaml]     # relative to the mirror file
//       set: ["metrics.enabled=true"]
//       images: [quay.io/acme/sidecar:1.0]        # extra images for this chart
//       excludeImages: ["docker.io/bitnami/*"]
//   images:
//     - docker.io/library/nginx:1.27
//     - name: quay.io/acme/tool:2.0    # {name} or {image} objects too
//
//   # Hauler manifests (multi-document): kind Charts (spec.charts[]: name, repoURL, version) and
//   # kind Images (spec.images[]: name), apiVersion content.hauler.cattle.io/v1
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import type { ChartRequest } from "../../../../shared/helm/chart-source.ts";
import type { DiscoverOptions } from "../../../../shared/helm/discover.ts";
import type { ChartInput, MirrorInput } from "../plan/plan.ts";

export class MirrorFileError extends Error {
  override name = "MirrorFileError";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

export interface MirrorFileDefaults {
  /** request fields shared by every chart (credentials, TLS, helm, registry options) */
  request: Omit<ChartRequest, "chart" | "repoUrl" | "chartUrl" | "version">;
  discover: Omit<DiscoverOptions, "chartDir">;
}

function strList(v: unknown, where: string): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v === "string") return [v];
  if (!Array.isArray(v)) throw new MirrorFileError(`${where}: expected a list`);
  return v.map((x, i) => {
    if (typeof x === "string") return x;
    if (x && typeof x === "object" && (typeof x.name === "string" || typeof x.image === "string")) return (x.image ?? x.name) as string;
    throw new MirrorFileError(`${where}[${i}]: expected an image reference`);
  });
}

function chartEntry(e: any, where: string, base: string, d: MirrorFileDefaults): ChartInput {
  if (!e || typeof e !== "object") throw new MirrorFileError(`${where}: expected a mapping`);
  const rel = (p: string) => (isAbsolute(p) || /^[a-z]+:\/\//.test(p) ? p : resolve(base, p));
  const repoURL = e.repoURL ?? e.repoUrl ?? e.repo;
  const version = e.version !== undefined ? String(e.version) : undefined;
  let req: ChartRequest;
  if (typeof e.chart === "string") {
    req = { ...d.request, chart: rel(e.chart), version };
  } else if (typeof repoURL === "string" && typeof e.name === "string") {
    req = /^oci:\/\//.test(repoURL) ? { ...d.request, chart: `${repoURL.replace(/\/+$/, "")}/${e.name}`, version } : { ...d.request, repoUrl: repoURL, chart: e.name, version };
  } else if (typeof e.name === "string" && /^(oci|https?):\/\/|^[./]/.test(e.name)) {
    req = { ...d.request, chart: rel(e.name), version };
  } else {
    throw new MirrorFileError(`${where}: needs "chart" (path/URL/oci://) or "name" with "repoURL"`);
  }
  const discover: ChartInput["discover"] = { ...d.discover };
  if (e.releaseName) discover.releaseName = String(e.releaseName);
  if (e.namespace) discover.namespace = String(e.namespace);
  const values = strList(e.values ?? e.valuesFiles, `${where}.values`).map(rel);
  if (values.length) discover.valuesFiles = [...(d.discover.valuesFiles ?? []), ...values];
  const set = strList(e.set, `${where}.set`);
  if (set.length) discover.set = [...(d.discover.set ?? []), ...set];
  const ex = strList(e.excludeImages, `${where}.excludeImages`);
  if (ex.length) discover.excludeImages = [...(d.discover.excludeImages ?? []), ...ex];
  return { request: req, discover, extraImages: strList(e.images ?? e["add-images"], `${where}.images`) };
}

/** Parse mirror file text into charts + images. */
export function parseMirrorFile(text: string, file: string, d: MirrorFileDefaults): MirrorInput {
  const base = dirname(resolve(file));
  let docs;
  try {
    docs = parseAllDocuments(text);
  } catch (e) {
    throw new MirrorFileError(`${file}: ${(e as Error).message}`);
  }
  const out: MirrorInput = { charts: [], images: [] };
  for (const [di, doc] of (Array.isArray(docs) ? docs : [docs]).entries()) {
    if (doc.errors?.length) throw new MirrorFileError(`${file}: ${doc.errors[0]!.message.split("\n")[0]}`);
    const j = doc.toJS() as any;
    if (j === null || j === undefined) continue;
    if (typeof j !== "object" || Array.isArray(j)) throw new MirrorFileError(`${file}: document ${di + 1} is not a mapping`);
    const where = `${file}${docs.length > 1 ? ` (document ${di + 1})` : ""}`;
    if (typeof j.kind === "string" && /hauler/.test(String(j.apiVersion ?? ""))) {
      if (j.kind === "Charts") (j.spec?.charts ?? []).forEach((c: any, i: number) => out.charts.push(chartEntry(c, `${where}: spec.charts[${i}]`, base, d)));
      else if (j.kind === "Images") out.images.push(...strList(j.spec?.images, `${where}: spec.images`));
      else if (j.kind !== "Files") throw new MirrorFileError(`${where}: unsupported Hauler kind "${j.kind}"`, "Charts and Images are supported");
      continue;
    }
    if (j.kind !== undefined && j.kind !== "MirrorSet") throw new MirrorFileError(`${where}: unknown kind "${j.kind}"`, "use kind: MirrorSet (or Hauler Charts/Images manifests)");
    const charts = j.charts ?? [];
    if (!Array.isArray(charts)) throw new MirrorFileError(`${where}: charts must be a list`);
    charts.forEach((c: any, i: number) => out.charts.push(chartEntry(c, `${where}: charts[${i}]`, base, d)));
    out.images.push(...strList(j.images, `${where}: images`));
  }
  if (!out.charts.length && !out.images.length) throw new MirrorFileError(`${file}: no charts and no images`);
  return out;
}

export async function readMirrorFile(file: string, d: MirrorFileDefaults): Promise<MirrorInput> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new MirrorFileError(`--mirror-file ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  return parseMirrorFile(text, file, d);
}
