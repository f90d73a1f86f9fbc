// Seed 000 (/work/shared/seeds/000_157bcbd1183a43a6.txt, "Upload Packages"): the document's examples run
// literally in kubectl-plugin form — real kubectl finds `kubectl-violet` on PATH — against a fake Alauda
// platform (two clusters, Dex login, /kubernetes/<cluster> proxy) and basic-auth TLS registries, then the
// document's own checks: the packages are present on the platform, images in the registry, apps.yaml written,
// the gc summary printed.
//
// The document's placeholders become shell variables: $PLATFORM (platform address), $USERNAME/$PASSWORD
// (platform user), $TOKEN (API token), $STANDBY/$STANDBY_VIP/$REG_USER/$REG_PASSWORD (standby global). The
// registries' private CA is trusted through NODE_EXTRA_CA_CERTS, as a user would for any Node/Bun CLI.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { startAcpPlatform, type AcpPlatform } from "../support/acp-platform.ts";
import { startChartMuseum, type ChartMuseumServer } from "../support/chartmuseum.ts";
import { BUN, KUBECTL, ROOT } from "../support/cli.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { modulePlugin, pushBundle, pushChart, pushImage } from "../support/violet-fixtures.ts";

const APP = "app.alauda.io/v1alpha1";
const CL = "cluster.alauda.io/v1alpha1";
const PASSWORD = "Platform-Adm1n!";

let src: TestRegistry; // where Alauda built the packages
let reg: TestRegistry; // the platform registry (ProductBase spec.registry.address): TLS + basic auth
let standbyReg: TestRegistry; // the standby global's registry behind its VIP
let p: AcpPlatform; // primary: global + region1
let standby: AcpPlatform;
let cm: ChartMuseumServer;
let work: string; // the user's working directory
let bin: string;
let caBundle: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run one line of the document in a shell, kubectl plugin form. */
function sh(line: string, extraEnv: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      "bash",
      ["-c", line],
      {
        cwd: work,
        timeout: 180_000,
        maxBuffer: 64 << 20,
        env: {
          PATH: `${bin}:${process.env.PATH}`,
          HOME: work,
          KUBECONFIG: join(work, "no-kubeconfig"),
          NO_COLOR: "1",
          NODE_EXTRA_CA_CERTS: caBundle,
          // many machines also point Go/OpenSSL tools at the system bundle: that must not hide NODE_EXTRA_CA_CERTS
          SSL_CERT_FILE: "/etc/ssl/certs/ca-certificates.crt",
          PLATFORM: p.url,
          USERNAME: "admin",
          PASSWORD,
          TOKEN: p.apiToken,
          STANDBY: standby.url,
          STANDBY_VIP: standbyReg.host,
          REG_USER: standbyReg.username,
          REG_PASSWORD: standbyReg.password,
          ...extraEnv,
        },
      },
      (err, stdout, stderr) => resolve({ code: err ? ((err as any).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function ok(r: Run): Run {
  if (r.code !== 0) throw new Error(`exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

function skopeo(r: TestRegistry, ref: string): any {
  return JSON.parse(execFileSync("skopeo", ["inspect", "--raw", "--tls-verify=false", "--creds", `${r.username}:${r.password}`, `docker://${r.host}/${ref}`], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
}
function has(r: TestRegistry, ref: string): boolean {
  try {
    skopeo(r, ref);
    return true;
  } catch {
    return false;
  }
}

/** What Alauda ships: create + package from the source registry, under the names the document uses. */
async function build(name: string, ref: string, file: string, extra: string[] = []): Promise<void> {
  const dir = join(work, "build", name);
  const run = (args: string[]) => execFileSync(BUN, [join(ROOT, "plugins/kubectl-violet/main.ts"), ...args], { cwd: work, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  // the vendor's registry is TLS (private CA) + htpasswd: credentials from a docker config.json, its CA per host
  const srcArgs = ["--registry-config", join(work, "src-config.json"), "--ca-file", `${src.host}=${src.caFile}`];
  run(["create", dir, "--artifact", ref, ...srcArgs, ...extra]);
  run(["package", dir, "--output", join(work, "packages", file), ...srcArgs]);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "seed-violet-"));
  mkdirSync(join(work, "packages"), { recursive: true });
  mkdirSync(join(work, "build"), { recursive: true });
  [src, reg, standbyReg, cm] = await Promise.all([startRegistry(), startRegistry({ auth: "htpasswd", tls: true }), startRegistry({ auth: "htpasswd", tls: true }), startChartMuseum({ basicAuth: { username: "chartmuseum", password: "cm-secret" } })]);
  writeFileSync(join(work, "src-config.json"), JSON.stringify(src.dockerConfig()));
  caBundle = join(work, "ca.pem");
  writeFileSync(caBundle, readFileSync(reg.caFile!, "utf8") + readFileSync(standbyReg.caFile!, "utf8"));
  [p, standby] = await Promise.all([startAcpPlatform({ clusters: ["global", "region1"], users: { admin: { password: PASSWORD } } }), startAcpPlatform({ clusters: ["global"], users: { admin: { password: PASSWORD } } })]);
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  for (const [plat, r] of [[p, reg], [standby, reg]] as const) {
    // the standby's ProductBase names the PRIMARY registry: that is why the document says to pass --dest-repo
    const g = plat.cluster("global");
    g.put({ apiVersion: "product.alauda.io/v1alpha2", kind: "ProductBase", metadata: { name: "base" }, spec: { platformURL: plat.url, registry: { address: r.host } } });
    g.put({ apiVersion: "v1", kind: "Secret", metadata: { name: "registry-admin", namespace: "cpaas-system" }, data: { username: b64(r.username), password: b64(r.password) } });
  }
  const g = p.cluster("global");
  g.put({ apiVersion: "v1", kind: "Secret", metadata: { name: "chartmuseum-basic-auth", namespace: "cpaas-system" }, data: { username: b64("chartmuseum"), password: b64("cm-secret") } });
  g.put({ apiVersion: "app.alauda.io/v1beta1", kind: "ChartRepo", metadata: { name: "public-charts", namespace: "cpaas-system", labels: { "project.cpaas.io/catalog": "true" } }, spec: { type: "Local", url: cm.url, secret: { name: "chartmuseum-basic-auth" } } });

  // the packages: several images each
  const h = src.host;
  const [osOp, os, kubeProxy, topoOp, lvmd, edge, edgeAgent, cmImg, cmProxy] = await Promise.all([
    pushImage(src, "acp/opensearch-operator:v3.14.2", { platforms: ["linux/amd64", "linux/arm64"] }),
    pushImage(src, "acp/opensearch:2.11.1", { layerBytes: 300 << 10 }),
    pushImage(src, "acp/kube-rbac-proxy:v0.15.0"),
    pushImage(src, "acp/topolvm-operator:v2.3.0"),
    pushImage(src, "acp/lvmd:v2.3.0"),
    pushImage(src, "acp/cloudedge-controller:v0.3.16", { platforms: ["linux/amd64", "linux/arm64"] }),
    pushImage(src, "acp/cloudedge-agent:v0.3.16", { platforms: ["linux/amd64", "linux/arm64"] }),
    pushImage(src, "3rdparty/chartmuseum:v0.16.1"),
    pushImage(src, "3rdparty/nginx:1.25"),
  ]);
  const [osBundle, topoBundle, edgeChart, cmChart] = await Promise.all([
    pushBundle(src, "acp/opensearch-operator-bundle:v3.14.2", { packageName: "opensearch-operator", version: "3.14.2", displayName: "OpenSearch", channels: ["stable"], defaultChannel: "stable", relatedImages: [osOp.ref, os.ref, kubeProxy.ref], replaces: "opensearch-operator.v3.13.0" }),
    pushBundle(src, "acp/topolvm-operator-bundle:v2.3.0", { packageName: "topolvm-operator", version: "2.3.0", displayName: "NativeStor", channels: ["stable"], defaultChannel: "stable", relatedImages: [topoOp.ref, lvmd.ref] }),
    pushChart(src, "acp/chart-cloudedge:v0.3.16", {
      name: "cloudedge",
      version: "v0.3.16",
      values: { global: { registry: { address: h }, images: { controller: { repository: "acp/cloudedge-controller", tag: "v0.3.16" }, agent: { repository: "acp/cloudedge-agent", tag: "v0.3.16" } } } },
      modulePlugin: modulePlugin("cloudedge", "v0.3.16", { lifecycle: "agnostic", displayName: "CloudEdge" }),
    }),
    pushChart(src, "charts/chartmuseum:3.16.1", {
      name: "chartmuseum",
      version: "3.16.1",
      appVersion: "0.16.1",
      values: { image: { repository: `${h}/3rdparty/chartmuseum`, tag: "v0.16.1" }, proxy: { image: { repository: `${h}/3rdparty/nginx`, tag: "1.25" } } },
      templates: { "deployment.yaml": 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: chartmuseum\nspec:\n  template:\n    spec:\n      containers:\n        - name: chartmuseum\n          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"\n        - name: proxy\n          image: "{{ .Values.proxy.image.repository }}:{{ .Values.proxy.image.tag }}"\n' },
    }),
  ]);
  void [cmImg, cmProxy, edge, edgeAgent];
  await build("opensearch", osBundle.ref, "opensearch-operator.v3.14.2.tgz", ["--platforms", "linux/amd64,linux/arm64"]);
  await build("topolvm", topoBundle.ref, "topolvm-operator.v2.3.0.tgz");
  await build("cloudedge", edgeChart.ref, "plugins-cloudedge-v0.3.16-hybrid.tgz");
  await build("chartmuseum", cmChart.ref, "chartmuseum-v3.16.1.tgz");
  // kubectl finds the plugin on PATH
  bin = join(work, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "kubectl-violet"), `#!/bin/sh\nexec "${BUN}" "${join(ROOT, "plugins/kubectl-violet/main.ts")}" "$@"\n`);
  chmodSync(join(bin, "kubectl-violet"), 0o755);
  copyFileSync(KUBECTL, join(bin, "kubectl"));
  chmodSync(join(bin, "kubectl"), 0o755);
}, 240_000);

afterAll(async () => {
  await Promise.all([src?.stop(), reg?.stop(), standbyReg?.stop(), p?.stop(), standby?.stop(), cm?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("seed 000: Upload Packages", () => {
  test("kubectl violet show: the four lines; --all adds the artifact and the related images", async () => {
    const r = ok(await sh("kubectl violet show packages/topolvm-operator.v2.3.0.tgz"));
    expect(r.stdout).toBe("Name: NativeStor\nType: bundle\nArch: [linux/amd64]\nVersion: 2.3.0\n");
    const all = ok(await sh("kubectl violet show packages/topolvm-operator.v2.3.0.tgz --all"));
    expect(all.stdout).toContain(`Artifact: ${src.host}/acp/topolvm-operator-bundle:v2.3.0\n`);
    expect(all.stdout).toContain(`RelateImages: [${src.host}/acp/topolvm-operator:v2.3.0 ${src.host}/acp/lvmd:v2.3.0]`);
  });

  test("kubectl violet verify: the summary of a directory", async () => {
    const r = ok(await sh("kubectl violet verify ./packages"));
    expect(r.stdout).toContain("====== Verification Summary ======");
    expect(r.stdout).toContain("Verified successfully with checksum: 4 file(s)");
    expect(r.stdout).toContain("Verification failed: 0 file(s)");
  });

  test("Upload an Operator to Multiple Clusters: images to the platform registry, Artifact + ArtifactVersion on global and region1", async () => {
    const r = ok(await sh('cd packages && kubectl violet push opensearch-operator.v3.14.2.tgz --platform-address "$PLATFORM" --platform-username "$USERNAME" --platform-password "$PASSWORD" --clusters global,region1'));
    for (const c of ["global", "region1"]) {
      expect(r.stdout).toContain(`artifact cpaas-system/opensearch-operator created on ${c}`);
      const a = p.cluster(c).get(APP, "Artifact", "opensearch-operator", "cpaas-system")!;
      expect(a.spec).toMatchObject({ present: true, registry: reg.host, repository: "acp/opensearch-operator-bundle", type: "bundle" });
      expect(a.metadata.labels["cpaas.io/managed-by"]).toBe("violet");
      const av = p.cluster(c).get(APP, "ArtifactVersion", "opensearch-operator.v3.14.2", "cpaas-system")!;
      expect(av.spec).toEqual({ present: true, tag: "v3.14.2" });
    }
    expect(skopeo(reg, "acp/opensearch-operator:v3.14.2").manifests.map((m: any) => m.platform.architecture).sort()).toEqual(["amd64", "arm64"]);
    for (const ref of ["acp/opensearch:2.11.1", "acp/kube-rbac-proxy:v0.15.0", "acp/opensearch-operator-bundle:v3.14.2"]) expect(has(reg, ref)).toBe(true);
    expect(r.stdout + r.stderr).not.toContain(reg.password);
  }, 120_000);

  test("Upload an Operator to a Standby Global Cluster: --dest-repo <VIP> and the standby's --platform-address", async () => {
    const r = ok(await sh('cd packages && kubectl violet push topolvm-operator.v2.3.0.tgz --dest-repo "$STANDBY_VIP" --username "$REG_USER" --password "$REG_PASSWORD" --platform-address "$STANDBY" --platform-username "$USERNAME" --platform-password "$PASSWORD"'));
    expect(r.stdout).toContain("artifact cpaas-system/topolvm-operator created on global");
    expect(standby.cluster("global").get(APP, "Artifact", "topolvm-operator", "cpaas-system")!.spec.registry).toBe(standbyReg.host);
    expect(has(standbyReg, "acp/topolvm-operator:v2.3.0")).toBe(true);
    expect(has(standbyReg, "acp/lvmd:v2.3.0")).toBe(true);
    // nothing went to the primary platform or its registry
    expect(p.cluster("global").get(APP, "Artifact", "topolvm-operator", "cpaas-system")).toBeUndefined();
    expect(has(reg, "acp/topolvm-operator:v2.3.0")).toBe(false);
  }, 120_000);

  test("Upload a Cluster Plugin: ModulePlugin + ModuleConfig on global, --clusters not needed", async () => {
    const r = ok(await sh('cd packages && kubectl violet push plugins-cloudedge-v0.3.16-hybrid.tgz --platform-address "$PLATFORM" --platform-username "$USERNAME" --platform-password "$PASSWORD"'));
    expect(r.stdout).toContain("moduleplugin cloudedge has been updated successfully");
    const mp = p.cluster("global").get(CL, "ModulePlugin", "cloudedge")!;
    expect(mp.spec.version).toBe("v0.3.16");
    expect(p.cluster("global").get(CL, "ModuleConfig", "cloudedge-v0.3.16")).toBeDefined();
    for (const ref of ["acp/cloudedge-controller:v0.3.16", "acp/cloudedge-agent:v0.3.16", "acp/chart-cloudedge:v0.3.16"]) expect(has(reg, ref)).toBe(true);
  }, 120_000);

  test("Upload a Helm Chart to the chart repository (public-charts)", async () => {
    const r = ok(await sh('cd packages && kubectl violet push chartmuseum-v3.16.1.tgz --platform-address "$PLATFORM" --platform-username "$USERNAME" --platform-password "$PASSWORD"'));
    expect(r.stdout).toContain("chart chartmuseum 3.16.1 has been uploaded to chartrepo public-charts");
    expect(cm.get("chartmuseum", "3.16.1")?.metadata.appVersion).toBe("0.16.1");
    expect(has(reg, "3rdparty/chartmuseum:v0.16.1")).toBe(true);
    expect(has(reg, "3rdparty/nginx:1.25")).toBe(true);
  }, 120_000);

  test("Push all packages at once (a workload cluster: --clusters region1), with a platform token", async () => {
    const r = ok(await sh('kubectl violet push ./packages --platform-address "$PLATFORM" --platform-token "$TOKEN" --clusters region1'));
    // topolvm is new on this platform; the others were uploaded above and are skipped
    expect(r.stdout).toContain("artifact cpaas-system/topolvm-operator created on region1");
    expect(r.stdout).toContain("artifactversion cpaas-system/opensearch-operator.v3.14.2 already exists on region1, skipped");
    expect(r.stdout).toContain("chart chartmuseum 3.16.1 already exists in chartrepo public-charts, skipped");
    expect(p.cluster("region1").get(APP, "Artifact", "topolvm-operator", "cpaas-system")!.spec.registry).toBe(reg.host);
    expect(has(reg, "acp/topolvm-operator:v2.3.0")).toBe(true);
  }, 180_000);

  test("kubectl violet list: every cluster, printed and written to apps.yaml", async () => {
    const g = p.cluster("global");
    g.put({ apiVersion: APP, kind: "OperatorView", metadata: { name: "opensearch-operator", namespace: "region1" }, status: { operatorStatus: { phase: "Installed", installation: { artifactName: "opensearch-operator", subscription: { installedCSV: "opensearch-operator.v3.14.2" } } }, packageManifestStatus: { channels: [{ name: "stable", currentCSVDesc: { displayName: "OpenSearch" } }] } } });
    g.put({ apiVersion: APP, kind: "OperatorView", metadata: { name: "opensearch-operator", namespace: "global" }, status: { operatorStatus: { phase: "Uninstalled", installation: { artifactName: "opensearch-operator" } } } });
    g.put({ apiVersion: "app.alauda.io/v1alpha2", kind: "ModulePluginView", metadata: { name: "cloudedge", labels: { "cpaas.io/module-name": "cloudedge", "cpaas.io/lifecycle-type": "agnostic" } }, status: { installed: [{ cluster: "region1", version: "v0.3.16" }] } });
    p.cluster("region1").put({ apiVersion: "app.k8s.io/v1beta1", kind: "Application", metadata: { name: "chartmuseum", namespace: "cpaas-system", annotations: { "app.cpaas.io/chart.source": "public-charts/chartmuseum", "app.cpaas.io/chart.version": "3.16.1" } } });
    const r = ok(await sh('kubectl violet list --platform-address "$PLATFORM" --platform-username "$USERNAME" --platform-password "$PASSWORD"'));
    const want = {
      applications: {
        chartmuseum: { displayName: "chartmuseum", type: "Chart", installed: [{ clusterName: "region1", version: "3.16.1" }] },
        cloudedge: { displayName: "CloudEdge", type: "ModulePlugin", installed: [{ clusterName: "region1", version: "v0.3.16" }] },
        "opensearch-operator": { displayName: "OpenSearch", type: "OperatorBundle", installed: [{ clusterName: "region1", version: "3.14.2" }] },
      },
    };
    expect(parse(r.stdout)).toEqual(want);
    expect(parse(readFileSync(join(work, "apps.yaml"), "utf8"))).toEqual(want);
    const t = ok(await sh('kubectl violet list --platform-address "$PLATFORM" --platform-token "$TOKEN" --clusters global,region1'));
    expect(parse(t.stdout)).toEqual(want);
  }, 60_000);

  test("kubectl violet gc: the GC Summary, then 'No resources were deleted.'", async () => {
    const g = p.cluster("global");
    p.cluster("region1").put({ apiVersion: APP, kind: "ArtifactVersion", metadata: { name: "opensearch-operator.v3.13.0", namespace: "cpaas-system", labels: { "cpaas.io/artifact-version": "opensearch-operator" }, annotations: { "cpaas.io/csv-name": "opensearch-operator.v3.13.0" } }, spec: { present: true, tag: "v3.13.0" } });
    g.put({ ...modulePlugin("web-cli", "v4.0.4") });
    g.put({ apiVersion: "app.alauda.io/v1alpha2", kind: "ModulePluginView", metadata: { name: "web-cli", labels: { "cpaas.io/module-name": "web-cli" } }, status: { installed: [] } });
    g.put({ apiVersion: CL, kind: "ModuleConfig", metadata: { name: "web-cli-v4.0.4", labels: { "cpaas.io/module-name": "web-cli" } }, spec: { name: "web-cli", version: "v4.0.4" } });
    const r = ok(await sh('kubectl violet gc --platform-address "$PLATFORM" --platform-username "$USERNAME" --platform-password "$PASSWORD"'));
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("GC Summary:");
    expect(lines[1]).toMatch(/^TYPE\s+NAME\s+CLUSTER$/);
    expect(lines[2]).toMatch(/^-+$/);
    expect(lines.slice(3).map((l) => l.split(/\s+/).join(" ")).sort()).toEqual([
      "Artifact opensearch-operator global",
      "ArtifactVersion opensearch-operator.v3.13.0 region1",
      "ModuleConfig web-cli-v4.0.4 global",
      "ModulePlugin web-cli global",
    ]);
    // what is installed stays
    expect(p.cluster("region1").get(APP, "ArtifactVersion", "opensearch-operator.v3.14.2", "cpaas-system")).toBeDefined();
    expect(g.get(CL, "ModulePlugin", "cloudedge")).toBeDefined();
    const again = ok(await sh('kubectl violet gc --platform-address "$PLATFORM" --platform-token "$TOKEN" --clusters global,region1'));
    expect(again.stdout).toBe("No resources were deleted.\n");
  }, 60_000);
});
