// The fixture world for violet tests: a real registry holding an OLM bundle and its (multi-arch) images, a
// cluster-plugin chart with global.images, a plain chart; plus helpers to run the CLI.
// The registry is the realistic one (TLS with a private CA + htpasswd): CLI runs get `w.regArgs()` (a docker
// config.json with the credentials, --registry-config, and the CA, --ca-file HOST=FILE).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { modulePlugin, pushBundle, pushChart, pushImage, type PushedImage } from "../support/violet-fixtures.ts";
import { runCli, type CliResult } from "../support/cli.ts";

export interface World {
  reg: TestRegistry;
  dir: string;
  images: { operator: PushedImage; proxy: PushedImage; plugin: PushedImage; web: PushedImage };
  bundle: PushedImage & { csvName: string };
  pluginChart: PushedImage;
  plainChart: PushedImage;
  /** --registry-config (credentials for the world's registry and `others`) + --ca-file HOST=FILE for each */
  regArgs(...others: TestRegistry[]): string[];
  stop(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const reg = await startRegistry(); // TLS (private CA) + htpasswd
  const dir = mkdtempSync(join(tmpdir(), "violet-test-"));
  const h = reg.host;
  const operator = await pushImage(reg, "acp/foo-operator:v1.2.0", { platforms: ["linux/amd64", "linux/arm64"] });
  const proxy = await pushImage(reg, "acp/kube-rbac-proxy:v0.15.0", { platforms: ["linux/amd64", "linux/arm64"] });
  const plugin = await pushImage(reg, "acp/log-agent:v1.2.0");
  const web = await pushImage(reg, "library/web:2.0");
  const bundle = await pushBundle(reg, "acp/foo-operator-bundle:v1.2.0", {
    packageName: "foo-operator",
    version: "1.2.0",
    displayName: "Foo Operator",
    channels: ["stable", "alpha"],
    defaultChannel: "stable",
    relatedImages: [operator.ref, proxy.ref],
    replaces: "foo-operator.v1.1.0",
    skipRange: ">=1.0.0 <1.2.0",
  });
  const pluginChart = await pushChart(reg, "acp/chart-log-center:v1.2.0", {
    name: "log-center",
    version: "v1.2.0",
    values: { global: { registry: { address: h }, images: { agent: { repository: "acp/log-agent", tag: "v1.2.0", support_arm: true } } } },
    modulePlugin: modulePlugin("log-center", "v1.2.0", { lifecycle: "aligned", displayName: "Log Center" }),
  });
  const plainChart = await pushChart(reg, "charts/web:2.0.0", {
    name: "web",
    version: "2.0.0",
    appVersion: "2.0",
    values: { image: { repository: `${h}/library/web`, tag: "2.0" } },
    templates: {
      "deployment.yaml": 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"\n',
    },
  });
  return {
    reg,
    dir,
    images: { operator, proxy, plugin, web },
    bundle,
    pluginChart,
    plainChart,
    regArgs(...others) {
      const all = [reg, ...others];
      const auths = Object.assign({}, ...all.map((r) => r.dockerConfig().auths));
      const cfg = join(dir, `docker-${all.map((r) => r.port).join("-")}.json`);
      writeFileSync(cfg, JSON.stringify({ auths }));
      return ["--registry-config", cfg, ...all.flatMap((r) => (r.caFile ? ["--ca-file", `${r.host}=${r.caFile}`] : []))];
    },
    async stop() {
      await reg.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function violet(args: string[], opts: Parameters<typeof runCli>[2] = {}): Promise<CliResult> {
  return runCli("kubectl-violet", args, { ...opts, env: { KUBECONFIG: "/nonexistent", ...opts.env } });
}

export function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}
