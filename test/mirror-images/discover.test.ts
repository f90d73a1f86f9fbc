// Image discovery on the fixture chart with REAL helm 3.17 and helm 4.1 rendering, and without helm.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { discoverImages, explain, findImage, type DiscoveryResult } from "../../shared/helm/discover.ts";
import { EXPECTED_RENDERED, EXPECTED_STATIC, HELM3, HELM4, makeFixture, PINNED_DIGEST, type Fixture } from "./fixture.ts";

let fx: Fixture;
const helmEnv = (root: string) => ({ HELM_CACHE_HOME: join(root, "helm/cache"), HELM_CONFIG_HOME: join(root, "helm/config"), HELM_DATA_HOME: join(root, "helm/data"), PATH: "/usr/bin:/bin", HELM_BIN: undefined });

beforeAll(() => {
  fx = makeFixture();
});
afterAll(() => fx?.cleanup());

function sourcesOf(r: DiscoveryResult, image: string) {
  const e = r.images.find((i) => i.image === image);
  if (!e) throw new Error(`${image} not discovered; got ${r.images.map((i) => i.image).join(", ")}`);
  return e.sources;
}

for (const [label, helm] of [["helm 3", HELM3], ["helm 4", HELM4]] as const) {
  describe(`rendered with ${label}`, () => {
    let r: DiscoveryResult;
    beforeAll(async () => {
      r = await discoverImages({ chartDir: fx.dir, helm, releaseName: "rel", env: helmEnv(fx.root) });
    });

    test("exact image set, rendered", () => {
      expect(r.render.rendered).toBe(true);
      expect(r.render.helmVersion).toMatch(label === "helm 3" ? /^v3\.17\./ : /^v4\.1\./);
      expect(r.images.map((i) => i.image)).toEqual(EXPECTED_RENDERED);
      expect(r.chart).toEqual({ name: "app", version: "1.2.3", appVersion: "2.4.0" });
      expect(r.warnings).toEqual([]);
    });

    test("disabled subchart, false annotation condition and its lock entry are skipped, with reasons", () => {
      expect(r.skipped).toEqual([
        { chart: "app/charts/metrics", what: "subchart", reason: "condition metrics.enabled is false" },
        { chart: "app", what: "annotation helm.sh/images: nvcr.io/nvidia/gpu-plugin:3.1", reason: "condition gpu.enabled is false" },
        { chart: "app/charts/metrics", what: "images.lock: quay.io/prometheus/node-exporter:v1.8.0", reason: "condition metrics.enabled is false" },
      ]);
    });

    test("provenance: manifests, values paths, annotations, lock, env", () => {
      expect(sourcesOf(r, "docker.io/library/busybox:1.36")).toEqual([
        { type: "manifest", chart: "app", file: "app/templates/deployment.yaml", resource: "Deployment/rel-app", path: "spec.template.spec.initContainers[0].image", name: "init", value: "busybox:1.36" },
        { type: "values", chart: "app", path: "init.image", value: "busybox:1.36" },
      ]);
      expect(sourcesOf(r, "registry.example.com/acme/app:2.4.0")).toEqual([
        { type: "manifest", chart: "app", file: "app/templates/deployment.yaml", resource: "Deployment/rel-app", path: "spec.template.spec.containers[0].image", name: "app", value: "registry.example.com/acme/app:2.4.0" },
        { type: "annotation", chart: "app", file: "app/Chart.yaml", key: "artifacthub.io/images", name: "app", value: "registry.example.com/acme/app:2.4.0" },
        { type: "values", chart: "app", path: "image", value: "registry.example.com/acme/app:2.4.0", note: "tag defaulted to appVersion 2.4.0" },
      ]);
      expect(sourcesOf(r, "docker.io/library/alpine:3.20")[0]).toMatchObject({ type: "manifest", resource: "CronJob/rel-cleanup", path: "spec.jobTemplate.spec.template.spec.containers[0].image" });
      expect(sourcesOf(r, "quay.io/acme/worker:1.10")[0]).toMatchObject({ type: "manifest", resource: "StatefulSet/rel-worker" });
      expect(sourcesOf(r, `ghcr.io/acme/pinned@${PINNED_DIGEST}`).map((s) => s.type)).toEqual(["manifest", "values"]);
      expect(sourcesOf(r, "quay.io/acme/debug:1.0")).toEqual([
        { type: "manifest", chart: "app", file: "app/templates/pod.yaml", resource: "Pod/rel-pinned", path: "spec.ephemeralContainers[0].image", name: "debugger", value: "quay.io/acme/debug:1.0" },
      ]);
      expect(sourcesOf(r, "quay.io/acme/data:1.0")).toEqual([
        { type: "manifest", chart: "app", file: "app/templates/pod.yaml", resource: "Pod/rel-pinned", path: "spec.volumes[0].image.reference", name: "data", value: "quay.io/acme/data:1.0" },
      ]);
      expect(sourcesOf(r, "quay.io/acme/db:15.4")).toEqual([
        { type: "env", chart: "app", file: "app/templates/operator.yaml", resource: "Deployment/rel-operator", path: "spec.template.spec.containers[0].env[1].value", key: "RELATED_IMAGE_DB", value: "quay.io/acme/db:15.4" },
      ]);
      expect(sourcesOf(r, "quay.io/acme/agent:0.9.0")).toEqual([
        { type: "env", chart: "app", file: "app/templates/operator.yaml", resource: "Deployment/rel-operator", path: "spec.template.spec.containers[0].env[0].value", key: "RELATED_IMAGE_AGENT", value: "quay.io/acme/agent:0.9.0" },
        { type: "env", chart: "app", path: "operator.env[0].value", key: "RELATED_IMAGE_AGENT", value: "quay.io/acme/agent:0.9.0" },
      ]);
      expect(sourcesOf(r, "quay.io/prometheus/prometheus:v2.53.0")).toEqual([
        { type: "manifest-scan", chart: "app", file: "app/templates/prometheus.yaml", resource: "Prometheus/rel-prometheus", value: "quay.io/prometheus/prometheus:v2.53.0", note: "line 7" },
      ]);
      expect(sourcesOf(r, "docker.io/bitnami/redis:7.2.5")).toEqual([
        { type: "manifest", chart: "app/charts/redis", file: "app/charts/redis/templates/statefulset.yaml", resource: "StatefulSet/rel-redis", path: "spec.template.spec.containers[0].image", name: "redis", value: "docker.io/bitnami/redis:7.2.5" },
        { type: "values", chart: "app/charts/redis", path: "redis.image", value: "docker.io/bitnami/redis:7.2.5" },
      ]);
      expect(sourcesOf(r, "docker.io/bitnami/redis-exporter:1.58.0")).toEqual([
        { type: "annotation", chart: "app/charts/redis", file: "app/charts/redis/Chart.yaml", key: "images", name: "redis-exporter", value: "docker.io/bitnami/redis-exporter:1.58.0" },
      ]);
      expect(sourcesOf(r, "docker.io/bitnami/os-shell:12-debian-12-r1")).toEqual([
        { type: "images-lock", chart: "app", file: "app/images.lock", path: "images[0]", name: "os-shell", value: "docker.io/bitnami/os-shell:12-debian-12-r1" },
      ]);
      expect(sourcesOf(r, "docker.io/library/busybox:1.37")[0]).toMatchObject({ type: "manifest", resource: "Pod/rel-test", note: "helm hook: test" });
    });
  });
}

describe("values, subchart conditions, capabilities", () => {
  test("--set / --values change both the render and the static sources; enabling a subchart adds its images", async () => {
    const vf = join(fx.root, "override.yaml");
    writeFileSync(vf, "worker:\n  image:\n    tag: \"2.0\"\n");
    const r = await discoverImages({ chartDir: fx.dir, helm: HELM3, env: helmEnv(fx.root), valuesFiles: [vf], set: ["image.tag=2.5.0,metrics.enabled=true", "gpu.enabled=true"] });
    const imgs = r.images.map((i) => i.image);
    expect(imgs).toContain("registry.example.com/acme/app:2.5.0");
    expect(imgs).toContain("quay.io/acme/worker:2.0");
    expect(imgs).not.toContain("quay.io/acme/worker:1.10");
    expect(imgs).toContain("nvcr.io/nvidia/gpu-plugin:3.1");
    // metrics subchart: rendered DaemonSet, its annotation, the lock entry, and its values (no tag there: the
    // template renders "v" + appVersion, which the values path sets) — no invented :1.8.0 (issue 20)
    expect(sourcesOf(r, "quay.io/prometheus/node-exporter:v1.8.0").map((s) => `${s.type}:${s.chart}`)).toEqual([
      "manifest:app/charts/metrics",
      "annotation:app/charts/metrics",
      "images-lock:app",
      "values:app/charts/metrics",
    ]);
    expect(imgs).not.toContain("quay.io/prometheus/node-exporter:1.8.0");
    // the artifacthub annotation still names 2.4.0 (annotations are static), so both tags are listed
    expect(imgs).toContain("registry.example.com/acme/app:2.4.0");
    expect(r.skipped).toEqual([]);
  });

  test("--kube-version and --api-versions reach the render", async () => {
    const dir = join(fx.root, "caps");
    mkdirSync(join(dir, "templates"), { recursive: true });
    writeFileSync(join(dir, "Chart.yaml"), "apiVersion: v2\nname: caps\nversion: 0.1.0\n");
    writeFileSync(join(dir, "templates/pod.yaml"), [
      "apiVersion: v1",
      "kind: Pod",
      "metadata: {name: caps}",
      "spec:",
      "  containers:",
      "  - name: k",
      "    image: registry.k8s.io/kubectl:{{ .Capabilities.KubeVersion.Version }}",
      "{{- if .Capabilities.APIVersions.Has \"cert-manager.io/v1\" }}",
      "  - name: cm",
      "    image: quay.io/jetstack/cert-manager-ctl:v1.15.0",
      "{{- end }}",
      "",
    ].join("\n"));
    const plain = await discoverImages({ chartDir: dir, helm: HELM4, env: helmEnv(fx.root), kubeVersion: "v1.31.2" });
    expect(plain.images.map((i) => i.image)).toEqual(["registry.k8s.io/kubectl:v1.31.2"]);
    const caps = await discoverImages({ chartDir: dir, helm: HELM4, env: helmEnv(fx.root), kubeVersion: "1.30.1", apiVersions: ["cert-manager.io/v1"] });
    expect(caps.images.map((i) => i.image)).toEqual(["quay.io/jetstack/cert-manager-ctl:v1.15.0", "registry.k8s.io/kubectl:v1.30.1"]);
  });

  test("--image always wins; --exclude-image drops discovered images and reports them", async () => {
    const r = await discoverImages({ chartDir: fx.dir, helm: HELM3, env: helmEnv(fx.root), extraImages: ["nginx:1.27", "quay.io/acme/debug:1.0"], excludeImages: ["quay.io/acme/d*", "docker.io/bitnami/*", "nothing/here:1"] });
    const imgs = r.images.map((i) => i.image);
    expect(imgs).toContain("docker.io/library/nginx:1.27");
    expect(sourcesOf(r, "docker.io/library/nginx:1.27")).toEqual([{ type: "user", key: "--image", value: "nginx:1.27" }]);
    expect(imgs).toContain("quay.io/acme/debug:1.0");
    expect(r.excluded).toEqual([
      { image: "docker.io/bitnami/os-shell:12-debian-12-r1", pattern: "docker.io/bitnami/*" },
      { image: "docker.io/bitnami/redis-exporter:1.58.0", pattern: "docker.io/bitnami/*" },
      { image: "docker.io/bitnami/redis:7.2.5", pattern: "docker.io/bitnami/*" },
      { image: "quay.io/acme/data:1.0", pattern: "quay.io/acme/d*" },
      { image: "quay.io/acme/db:15.4", pattern: "quay.io/acme/d*" },
    ]);
    expect(r.warnings).toEqual(["--exclude-image nothing/here:1 matched no image"]);
  });
});

describe("without helm", () => {
  test("static sources still find everything but the image volume, and say so", async () => {
    const r = await discoverImages({ chartDir: fx.dir, env: { PATH: "/usr/bin:/bin" } });
    expect(r.render.rendered).toBe(false);
    expect(r.render.skipped).toMatch(/no helm binary found/);
    expect(r.images.map((i) => i.image)).toEqual(EXPECTED_STATIC);
    expect(sourcesOf(r, "quay.io/acme/db:15.4")).toEqual([{ type: "env", chart: "app", file: "app/templates/operator.yaml", key: "RELATED_IMAGE_DB", value: "quay.io/acme/db:15.4", note: "line 18" }]);
    expect(sourcesOf(r, "quay.io/prometheus/prometheus:v2.53.0")).toEqual([{ type: "template-literal", chart: "app", file: "app/templates/prometheus.yaml", value: "quay.io/prometheus/prometheus:v2.53.0", note: "line 6" }]);
    // the metrics subchart is a .tgz inside charts/: read, then skipped by its condition
    expect(r.skipped.map((s) => s.chart)).toContain("app/charts/metrics");
  });

  test("--no-render (helm: false) even when helm is available; the packed chart works the same", async () => {
    const r = await discoverImages({ chartDir: fx.dir, helm: false, env: { HELM_BIN: HELM3 } });
    expect(r.render).toEqual({ rendered: false, skipped: "rendering disabled (--static-only)" });
    expect(r.images.map((i) => i.image)).toEqual(EXPECTED_STATIC);
  });

  test("HELM_BIN is honoured when no --helm is given", async () => {
    const r = await discoverImages({ chartDir: fx.dir, env: { PATH: "/usr/bin:/bin", HELM_BIN: HELM4 } });
    expect(r.render.rendered).toBe(true);
    expect(r.render.helm).toBe(HELM4);
  });

  test("a failing render is a warning, not a failure", async () => {
    const dir = join(fx.root, "broken");
    mkdirSync(join(dir, "templates"), { recursive: true });
    writeFileSync(join(dir, "Chart.yaml"), "apiVersion: v2\nname: broken\nversion: 0.1.0\nappVersion: '5.0'\n");
    writeFileSync(join(dir, "values.yaml"), "image:\n  repository: ghcr.io/acme/broken\n");
    writeFileSync(join(dir, "templates/x.yaml"), "{{ fail \"this chart needs .Values.license\" }}\n");
    const r = await discoverImages({ chartDir: dir, helm: HELM3, env: helmEnv(fx.root) });
    expect(r.render.rendered).toBe(false);
    expect(r.render.error).toMatch(/this chart needs .Values.license/);
    expect(r.warnings[0]).toMatch(/^helm template failed, using static sources only: .*this chart needs/);
    expect(r.images.map((i) => i.image)).toEqual(["ghcr.io/acme/broken:5.0"]);
  });
});

describe("--why", () => {
  test("finds by full or short reference and explains every source", async () => {
    const r = await discoverImages({ chartDir: fx.dir, helm: HELM3, releaseName: "rel", env: helmEnv(fx.root) });
    expect(findImage(r, "busybox:1.36").map((i) => i.image)).toEqual(["docker.io/library/busybox:1.36"]);
    expect(findImage(r, "busybox").map((i) => i.image)).toEqual(["docker.io/library/busybox:1.36", "docker.io/library/busybox:1.37"]);
    expect(findImage(r, "busybox:9")).toEqual([]);
    expect(explain(findImage(r, "busybox:1.36")[0]!)).toBe(
      "docker.io/library/busybox:1.36\n" +
        "  required: rendered by helm template (or listed in helm.sh/images, or given with --image)\n" +
        '  manifest         app/templates/deployment.yaml  Deployment/rel-app  spec.template.spec.initContainers[0].image  name=init  = "busybox:1.36"\n' +
        '  values           init.image  = "busybox:1.36"\n',
    );
    // an image only a static source names (the subchart's `images` annotation): possible, and why
    const exporter = findImage(r, "bitnami/redis-exporter:1.58.0")[0]!;
    expect(exporter.kind).toBe("possible");
    expect(explain(exporter).split("\n")[1]).toBe(
      "  possible: found only in Chart.yaml annotation images of app/charts/redis; helm template does not render it with these values (a component these values leave off, or a reference the templates build differently)",
    );
  });
});

afterAll(() => rmSync(join(fx.root, "helm"), { recursive: true, force: true }));

describe("values.yaml read as Helm reads it", () => {
  test("a key repeated in values.yaml: Helm renders the last value, discovery agrees (it refused the file before)", async () => {
    const dir = join(fx.root, "dup-keys");
    mkdirSync(join(dir, "templates"), { recursive: true });
    writeFileSync(join(dir, "Chart.yaml"), "apiVersion: v2\nname: dup\nversion: 1.0.0\n");
    writeFileSync(join(dir, "values.yaml"), "image:\n  repository: ghcr.io/acme/old\n  tag: \"1.0\"\nimage:\n  repository: ghcr.io/acme/new\n  tag: \"2.0\"\n");
    writeFileSync(join(dir, "templates", "pod.yaml"), "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n");
    const r = await discoverImages({ chartDir: dir, helm: HELM3, env: helmEnv(fx.root) });
    expect(r.render.rendered).toBe(true);
    expect(r.images.map((i) => [i.image, i.kind])).toEqual([["ghcr.io/acme/new:2.0", "required"]]);
    expect(r.warnings).toEqual([]);
  });
});
