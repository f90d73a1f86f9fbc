// Real Helm in tests (Helm 3.17 at .tools/helm3/helm, Helm 4.1 at .tools/helm4/helm — made by
// `bash scripts/setup.sh`), every run isolated in its own HELM_* homes (never ~/.config/helm).
//
//   const tgz = await makeChart(dir, { name: "demo", version: "0.1.0", values: { image: { repository: "x" } } });
//   const pushed = await helmPushChart(tgz, `oci://${reg.host}/charts`, HELM3, { username: reg.username, password: reg.password });
//   pushed.digest                      // "sha256:…" of the chart manifest as helm reports it
//   const back = await helmPullChart(`oci://${reg.host}/charts/demo`, "0.1.0", outDir, HELM3, creds);
//   await helm(["show", "chart", tgz])  // any helm command, same isolation; throws HelmError on failure
//
// Credentials are written as a docker-style `auths` entry into a temp HELM_REGISTRY_CONFIG (no `helm registry
// login` round trip). plainHttp defaults to true (use `plainHttp: false, caFile` for a TLS registry, or
// `insecure: true` to skip verification). helm runs asynchronously so in-process test servers keep working.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify as toYaml } from "yaml";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const HELM3 = process.env.KA_HELM3 ?? join(ROOT, ".tools", "helm3", "helm");
export const HELM4 = process.env.KA_HELM4 ?? join(ROOT, ".tools", "helm4", "helm");

export class HelmError extends Error {
  constructor(public args: string[], public code: number | null, public stderr: string, public stdout: string) {
    super(`helm ${args.slice(0, 2).join(" ")} failed (exit ${code}): ${(stderr || stdout).trim().split("\n").slice(-3).join(" | ")}`);
  }
}

export interface HelmAuth {
  username?: string;
  password?: string;
  /** default true */
  plainHttp?: boolean;
  caFile?: string;
  insecure?: boolean;
  helmBin?: string;
  /** extra environment */
  env?: Record<string, string>;
}

export interface HelmRun {
  stdout: string;
  stderr: string;
}

/** Run helm with isolated HELM_* dirs; `registryAuths` (host → user/pass) goes into HELM_REGISTRY_CONFIG. */
export function helm(args: string[], opts: { helmBin?: string; registryAuths?: Record<string, { username: string; password: string }>; env?: Record<string, string>; cwd?: string } = {}): Promise<HelmRun> {
  const bin = opts.helmBin ?? HELM3;
  if (!existsSync(bin)) return Promise.reject(new Error(`helm not found at ${bin} (run: bash scripts/setup.sh)`));
  const home = mkdtempSync(join(tmpdir(), "ka-helm-"));
  const regConfig = join(home, "registry", "config.json");
  mkdirSync(dirname(regConfig), { recursive: true });
  const auths: Record<string, { auth: string }> = {};
  for (const [host, c] of Object.entries(opts.registryAuths ?? {})) auths[host] = { auth: Buffer.from(`${c.username}:${c.password}`).toString("base64") };
  writeFileSync(regConfig, JSON.stringify({ auths }));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HELM_CACHE_HOME: join(home, "cache"),
    HELM_CONFIG_HOME: join(home, "config"),
    HELM_DATA_HOME: join(home, "data"),
    HELM_REGISTRY_CONFIG: regConfig,
    HELM_REPOSITORY_CONFIG: join(home, "config", "repositories.yaml"),
    HELM_REPOSITORY_CACHE: join(home, "cache", "repository"),
    DOCKER_CONFIG: join(home, "docker"),
    ...opts.env,
  };
  return new Promise((resolvePromise, reject) => {
    const c = spawn(bin, args, { env, cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    c.stdout!.on("data", (d: Buffer) => out.push(d));
    c.stderr!.on("data", (d: Buffer) => err.push(d));
    const timer = setTimeout(() => c.kill("SIGKILL"), 120_000);
    c.on("error", (e) => {
      clearTimeout(timer);
      rmSync(home, { recursive: true, force: true });
      reject(e);
    });
    c.on("close", (code) => {
      clearTimeout(timer);
      rmSync(home, { recursive: true, force: true });
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      if (code !== 0) reject(new HelmError(args, code, stderr, stdout));
      else resolvePromise({ stdout, stderr });
    });
  });
}

export interface ChartSpec {
  name: string;
  version: string;
  appVersion?: string;
  description?: string;
  values?: Record<string, unknown>;
  /** extra files under templates/ (name → content); default one ConfigMap using .Values */
  templates?: Record<string, string>;
  /** extra Chart.yaml fields (annotations, dependencies, …) */
  chart?: Record<string, unknown>;
  helmBin?: string;
}

/** Write a minimal valid chart under `dir/<name>/` and `helm package` it into `dir`; returns the .tgz path. */
export async function makeChart(dir: string, spec: ChartSpec): Promise<string> {
  const chartDir = join(dir, spec.name);
  mkdirSync(join(chartDir, "templates"), { recursive: true });
  writeFileSync(join(chartDir, "Chart.yaml"), toYaml({
    apiVersion: "v2", name: spec.name, description: spec.description ?? `${spec.name} test chart`, type: "application",
    version: spec.version, appVersion: spec.appVersion ?? spec.version, ...spec.chart,
  }));
  writeFileSync(join(chartDir, "values.yaml"), toYaml(spec.values ?? { message: "hello" }));
  const templates = spec.templates ?? {
    "configmap.yaml": [
      "apiVersion: v1",
      "kind: ConfigMap",
      "metadata:",
      "  name: {{ .Release.Name }}-{{ .Chart.Name }}",
      "data:",
      "  values.json: {{ toJson .Values | quote }}",
      "",
    ].join("\n"),
  };
  for (const [name, content] of Object.entries(templates)) writeFileSync(join(chartDir, "templates", name), content);
  await helm(["package", chartDir, "--destination", dir], { helmBin: spec.helmBin });
  const tgz = join(dir, `${spec.name}-${spec.version}.tgz`);
  if (!existsSync(tgz)) throw new Error(`helm package did not produce ${tgz}`);
  return tgz;
}

function tlsArgs(o: HelmAuth): string[] {
  const a: string[] = [];
  if (o.plainHttp ?? true) a.push("--plain-http");
  if (o.caFile) a.push("--ca-file", o.caFile);
  if (o.insecure) a.push("--insecure-skip-tls-verify");
  return a;
}

function authsFor(ociRef: string, o: HelmAuth) {
  if (!o.username) return undefined;
  const host = ociRef.replace(/^oci:\/\//, "").split("/")[0]!;
  return { [host]: { username: o.username, password: o.password ?? "" } };
}

/** `helm push CHART.tgz oci://host/repo` → { digest, ref, output }. */
export async function helmPushChart(chartTgz: string, ociRepo: string, helmBin: string = HELM3, opts: HelmAuth = {}): Promise<{ digest: string; ref: string; output: string }> {
  const r = await helm(["push", chartTgz, ociRepo, ...tlsArgs(opts)], { helmBin: opts.helmBin ?? helmBin, registryAuths: authsFor(ociRepo, opts), env: opts.env });
  const output = `${r.stdout}\n${r.stderr}`;
  const digest = /Digest:\s*(sha256:[a-f0-9]{64})/.exec(output)?.[1] ?? "";
  const ref = /Pushed:\s*(\S+)/.exec(output)?.[1] ?? "";
  return { digest, ref, output };
}

/** `helm pull oci://host/repo/name --version V -d destDir` → path of the pulled .tgz. */
export async function helmPullChart(ociChart: string, version: string, destDir: string, helmBin: string = HELM3, opts: HelmAuth = {}): Promise<string> {
  mkdirSync(destDir, { recursive: true });
  const before = new Set(readdirSync(destDir));
  await helm(["pull", ociChart, "--version", version, "--destination", destDir, ...tlsArgs(opts)], { helmBin: opts.helmBin ?? helmBin, registryAuths: authsFor(ociChart, opts), env: opts.env });
  const added = readdirSync(destDir).filter((f) => !before.has(f) && f.endsWith(".tgz"));
  const name = ociChart.split("/").pop()!;
  const file = added[0] ?? `${name}-${version}.tgz`;
  const p = join(destDir, file);
  if (!existsSync(p)) throw new Error(`helm pull did not write a chart into ${destDir}`);
  return p;
}
