// Issue 11.11: without a helm binary, discovery must not silently miss images.
//   - sync and export stop before copying anything when a chart cannot be rendered (no helm, or helm template
//     fails), with a clear error naming helm and --static-only; --static-only (or --no-render) accepts static
//     discovery explicitly
//   - the static fallback finds `image:` keys in every YAML style (flow style, quoted keys, JSON), templates too
// Registry: TLS with a private CA + htpasswd basic auth (source images and destination in the same registry).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { HELM3, runCli } from "../support/cli.ts";
import { pushArtifact } from "../../shared/oci/artifact.ts";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";
import { discoverImages, literalImages, literalRelatedImages } from "../../shared/helm/discover.ts";

let reg: TestRegistry;
let tmp: string;
let chart: string;
let failing: string;
const NO_HELM = { HELM_BIN: "", PATH: "/usr/bin:/bin" };

async function catalog(): Promise<string[]> {
  const r = await fetch(`${reg.url}/v2/_catalog`, {
    headers: { authorization: `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString("base64")}` },
    tls: { ca: readFileSync(reg.caFile!, "utf8") },
  } as RequestInit);
  return ((await r.json()) as { repositories: string[] }).repositories ?? [];
}

function mirror(args: string[], env: Record<string, string> = {}) {
  const home = join(tmp, "home");
  // the registry is the images' source and the destination: credentials stored for its host (as after
  // `kubectl mirror login`) serve both; -u/--password-stdin would be the destination's (or the chart source's) only
  mkdirSync(join(home, ".docker"), { recursive: true });
  writeFileSync(join(home, ".docker", "config.json"), JSON.stringify(reg.dockerConfig()));
  return runCli("kubectl-mirror", [...args, "--ca-file", reg.caFile!], {
    env: { HOME: home, DOCKER_CONFIG: join(home, ".docker"), KUBE_AIRGAP_NO_CACHE: "true", XDG_CACHE_HOME: join(tmp, "cache"), HELM_CACHE_HOME: join(tmp, "helm/cache"), HELM_CONFIG_HOME: join(tmp, "helm/config"), HELM_DATA_HOME: join(tmp, "helm/data"), ...env },
  });
}

beforeAll(async () => {
  reg = await startRegistry({ auth: "htpasswd", tls: true });
  tmp = mkdtempSync(join(tmpdir(), "ka-static-"));
  const creds = staticCredentials({ username: reg.username, password: reg.password });
  for (const name of ["app", "side", "quoted", "json-cfg"]) {
    await pushArtifact(`${reg.host}/src/${name}:1`, {
      config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", name })) },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", bytes: Buffer.alloc(2048, name) }],
    }, { caFiles: [{ file: reg.caFile! }], credentials: creds });
  }
  chart = join(tmp, "chart");
  mkdirSync(join(chart, "templates"), { recursive: true });
  writeFileSync(join(chart, "Chart.yaml"), "apiVersion: v2\nname: flow\nversion: 0.1.0\nappVersion: '1'\n");
  writeFileSync(join(chart, "values.yaml"), `image:\n  repository: ${reg.host}/src/app\n  tag: "1"\n`);
  writeFileSync(join(chart, "templates", "deploy.yaml"), [
    "apiVersion: apps/v1",
    "kind: Deployment",
    "metadata: {name: {{ .Release.Name }}}",
    "spec:",
    "  template:",
    "    spec:",
    "      containers:",
    '        - name: app',
    '          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"',
    `        - {name: side, image: "${reg.host}/src/side:1"}`,
    `        - {'image': '${reg.host}/src/quoted:1', name: quoted}`,
    "        # - image: never/commented:1",
    "---",
    "apiVersion: v1",
    "kind: ConfigMap",
    "metadata: {name: cfg}",
    "data:",
    `  plugins.json: '{"image": "${reg.host}/src/json-cfg:1"}'`,
    "",
  ].join("\n"));
  failing = join(tmp, "failing");
  mkdirSync(join(failing, "templates"), { recursive: true });
  writeFileSync(join(failing, "Chart.yaml"), "apiVersion: v2\nname: failing\nversion: 0.1.0\n");
  writeFileSync(join(failing, "values.yaml"), `image: ${reg.host}/src/app:1\n`);
  writeFileSync(join(failing, "templates", "x.yaml"), '{{ required "license is required" .Values.license }}\n');
}, 60_000);

afterAll(async () => {
  await reg?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const ALL = () => ["app", "json-cfg", "quoted", "side"].map((n) => `${reg.host}/src/${n}:1`);

describe("static discovery", () => {
  test("finds image: keys in flow style, quoted keys and JSON inside templates; not in comments", async () => {
    const r = await discoverImages({ chartDir: chart, helm: false });
    expect(r.images.map((i) => i.image)).toEqual(ALL());
    const side = r.images.find((i) => i.image.endsWith("/side:1"))!;
    expect(side.sources).toEqual([{ type: "template-literal", chart: "flow", file: "flow/templates/deploy.yaml", value: `${reg.host}/src/side:1`, note: "line 10" }]);
  });

  test("literal image: values in every style; template expressions and comments are not images", () => {
    const text = [
      "containers:",
      "  - name: app",
      "    image: {{ .Values.image | quote }}",
      '  - {name: side, image: "reg/side:1"}',
      "  - {image: 'reg/b:2', name: x}",
      "  - name: c",
      "    image: reg/c:3   # comment",
      "  # image: reg/commented:9",
      "  {{/* image: reg/tplcomment:9 */}}",
      '  - image: "reg/d:{{ .Values.tag }}"',
      "  - image: reg/e:{{ .Values.tag }}",
      '  - "image": "reg/json:1"',
      "  - image: &main reg/anchored:1",
      "  - image: !!str reg/tagged:1",
      "  - imagePullPolicy: Always",
      '  env: [{name: RELATED_IMAGE_X, value: "reg/x:1"}]',
      "  env2:",
      "    - name: RELATED_IMAGE_Y",
      "      value: reg/y:1",
    ].join("\n");
    expect(literalImages(text)).toEqual([
      { value: "reg/side:1", line: 4 },
      { value: "reg/b:2", line: 5 },
      { value: "reg/c:3", line: 7 },
      { value: "reg/json:1", line: 12 },
      { value: "reg/anchored:1", line: 13 },
      { value: "reg/tagged:1", line: 14 },
    ]);
    expect(literalRelatedImages(text)).toEqual([{ key: "RELATED_IMAGE_X", value: "reg/x:1", line: 16 }, { key: "RELATED_IMAGE_Y", value: "reg/y:1", line: 19 }]);
  });

  test("the rendered result agrees (real helm)", async () => {
    const r = await discoverImages({ chartDir: chart, helm: HELM3, env: { HELM_CACHE_HOME: join(tmp, "helm/cache"), HELM_CONFIG_HOME: join(tmp, "helm/config"), HELM_DATA_HOME: join(tmp, "helm/data") } });
    expect(r.render.rendered).toBe(true);
    expect(r.images.map((i) => i.image)).toEqual(ALL());
  });
});

describe("sync and export without helm", () => {
  test("sync stops before copying anything, naming helm and --static-only", async () => {
    const r = await mirror(["sync", chart, "--dest", `${reg.host}/mirror`], NO_HELM);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines[lines.length - 1]).toBe(
      "error: chart flow 0.1.0: cannot render it (no helm binary found); images written into its templates would be missed, nothing was copied " +
        "(install helm 3.8+ (https://helm.sh/docs/intro/install/) and put it on PATH, or point --helm PATH or $HELM_BIN at it, or add --static-only to mirror only the images found without rendering (values, annotations, images.lock, image: lines in templates))",
    );
    expect((await catalog()).filter((x) => x.startsWith("mirror/"))).toEqual([]);
  }, 60_000);

  test("export stops too and writes no archive", async () => {
    const out = join(tmp, "flow.tar");
    const r = await mirror(["export", chart, "-O", out], NO_HELM);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cannot render it (no helm binary found)");
    expect(existsSync(out)).toBe(false);
  }, 60_000);

  test("a chart that helm cannot render stops sync too (with the helm error)", async () => {
    const r = await mirror(["sync", failing, "--dest", `${reg.host}/mirror`], { HELM_BIN: HELM3 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: chart failing 0.1.0: helm template failed (");
    expect(r.stderr).toContain("license is required");
    expect(r.stderr).toContain("--static-only");
    expect((await catalog()).filter((x) => x.startsWith("mirror/"))).toEqual([]);
  }, 60_000);

  test("--static-only accepts static discovery: every image, flow style included, lands", async () => {
    const r = await mirror(["sync", chart, "--dest", `${reg.host}/mirror`, "--static-only", "-o", "json"], NO_HELM);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep.items.filter((i: any) => i.kind === "image").map((i: any) => i.source).sort()).toEqual(ALL());
    expect(rep.summary.failed).toBe(0);
    const cat = await catalog();
    for (const n of ["app", "side", "quoted", "json-cfg"]) expect(cat).toContain(`mirror/images/src/${n}`);
    expect(cat).toContain("mirror/charts/flow/flow");
    // --no-render still means the same (backwards compatible)
    const out = join(tmp, "static.tar");
    const e = await mirror(["export", chart, "-O", out, "--no-render"], NO_HELM);
    expect(e.code).toBe(0);
    expect(existsSync(out)).toBe(true);
  }, 60_000);
});
