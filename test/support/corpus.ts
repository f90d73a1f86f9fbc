// The real-world corpus (../shared/corpus beside the repository: public charts, their second value sets, the KubeVela
// catalog; see its README) and the oracle for "which images does this chart need": what real Helm renders.
//
//   const c = corpusChart("redis");             // { name, version, tgz, everything }  (everything = values file)
//   const truth = await renderedImages(c.tgz, { values: [c.everything] });   // Set of image references, Helm's render
//
// The oracle is computed from `helm template` output only (never from our own discovery code): every container,
// init container and ephemeral container of every workload kind, the image fields of custom resources that run pods
// (Prometheus, Alertmanager, ThanosRuler, PrometheusAgent), and images handed to an operator as `--*image*=REF` arguments.
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { HELM3, helm } from "./helm.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The corpus directory: `<repo>/../shared/corpus` (CI's layout), else $KA_CORPUS, else /work/shared/corpus. */
export function corpusDir(): string {
  const candidates = [join(ROOT, "..", "shared", "corpus"), process.env.KA_CORPUS ?? "", "/work/shared/corpus"];
  for (const c of candidates) if (c && existsSync(join(c, "README.md"))) return c;
  throw new Error(`the real-world corpus is not at ${candidates[0]} (CI lays shared/ beside the clone); set KA_CORPUS`);
}

export interface CorpusChart {
  name: string;
  version: string;
  tgz: string;
  /** values/<name>-<version>.everything.yaml */
  everything: string;
}

export const CORPUS_CHARTS = ["redis", "ingress-nginx", "kube-prometheus-stack"] as const;

export function corpusChart(name: (typeof CORPUS_CHARTS)[number] | string): CorpusChart {
  const dir = corpusDir();
  const file = readdirSync(join(dir, "charts")).find((f) => f.startsWith(`${name}-`) && /^\d/.test(f.slice(name.length + 1)));
  if (!file) throw new Error(`no chart ${name} in ${dir}/charts`);
  const version = file.slice(name.length + 1).replace(/\.tgz$/, "");
  return { name, version, tgz: join(dir, "charts", file), everything: join(dir, "values", `${name}-${version}.everything.yaml`) };
}

export function velaCatalog(): string {
  return join(corpusDir(), "vela-catalog-d439627.tar.gz");
}

const WORKLOAD_POD_PATHS: Record<string, string[][]> = {
  Pod: [["spec"]],
  Deployment: [["spec", "template", "spec"]],
  StatefulSet: [["spec", "template", "spec"]],
  DaemonSet: [["spec", "template", "spec"]],
  ReplicaSet: [["spec", "template", "spec"]],
  ReplicationController: [["spec", "template", "spec"]],
  Job: [["spec", "template", "spec"]],
  CronJob: [["spec", "jobTemplate", "spec", "template", "spec"]],
};
/** prometheus-operator CRs that run pods: `spec.image` plus pod-spec-like container lists. */
const POD_CRS = new Set(["Prometheus", "Alertmanager", "ThanosRuler", "PrometheusAgent"]);

function at(o: unknown, path: string[]): any {
  let v: any = o;
  for (const k of path) v = v && typeof v === "object" ? v[k] : undefined;
  return v;
}

function containerImages(podSpec: any, out: Set<string>): void {
  for (const key of ["containers", "initContainers", "ephemeralContainers"]) {
    for (const c of Array.isArray(podSpec?.[key]) ? podSpec[key] : []) {
      if (typeof c?.image === "string" && c.image) out.add(c.image);
      for (const a of [...(Array.isArray(c?.args) ? c.args : []), ...(Array.isArray(c?.command) ? c.command : [])]) {
        // operator arguments naming an image: --prometheus-config-reloader=quay.io/…:v0.x, --thanos-default-base-image=…
        const m = typeof a === "string" ? /^--[\w.-]*image[\w.-]*=(.+)$/i.exec(a) ?? /^--prometheus-config-reloader=(.+)$/.exec(a) : null;
        if (m && /[/:]/.test(m[1]!) && !/^\s*$/.test(m[1]!)) out.add(m[1]!.trim());
      }
    }
  }
}

/** Images in a rendered manifest stream (see the header for what counts). */
export function imagesInManifests(rendered: string): Set<string> {
  const out = new Set<string>();
  for (const doc of parseAllDocuments(rendered)) {
    const o = doc.toJS() as any;
    if (!o || typeof o !== "object") continue;
    const kind = String(o.kind ?? "");
    for (const p of WORKLOAD_POD_PATHS[kind] ?? []) containerImages(at(o, p), out);
    if (POD_CRS.has(kind)) {
      const spec = o.spec ?? {};
      if (typeof spec.image === "string" && spec.image) out.add(spec.image);
      containerImages(spec, out);
    }
  }
  return out;
}

/** What `helm template` renders for `chart` with these values: the required images (Helm 3.17 by default). */
export async function renderedImages(chart: string, opts: { values?: string[]; set?: string[]; helmBin?: string; kubeVersion?: string } = {}): Promise<Set<string>> {
  const args = ["template", "corpus", chart];
  for (const v of opts.values ?? []) args.push("-f", v);
  for (const s of opts.set ?? []) args.push("--set", s);
  if (opts.kubeVersion) args.push("--kube-version", opts.kubeVersion);
  const { stdout } = await helm(args, { helmBin: opts.helmBin ?? HELM3 });
  return imagesInManifests(stdout);
}
