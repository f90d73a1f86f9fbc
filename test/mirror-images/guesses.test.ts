// The static scan's classes of guesses (issue 20): a chart written to hold each class, rendered by real Helm (the
// oracle of what is required), and what discovery makes of it — required = rendered, possible = static scan only,
// and no invented reference (:latest for a tag set next to `image`, Docker Hub's library/ for a name whose registry
// is given elsewhere, :<appVersion> for `tag: ""`).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { discoverImages, operatorImageArg, type DiscoveryResult } from "../../shared/helm/discover.ts";
import { resolvePossible } from "../../plugins/kubectl-mirror/lib/plan/possible.ts";
import type { MirrorPlan } from "../../plugins/kubectl-mirror/lib/plan/plan.ts";
import { HELM3, helm } from "../support/helm.ts";
import { imagesInManifests } from "../support/corpus.ts";

let root: string;
let chartDir: string;
let env: Record<string, string | undefined>;

const VALUES = {
  global: { image: { registry: "registry.example.com" } },
  // ingress-nginx's shape: registry (here from global.image.registry) + image + tag + digest
  controller: { image: { image: "acme/controller", tag: "v1.2.0", digest: "" } },
  backend: { enabled: false, image: { image: "defaultbackend", tag: "1.5" } },
  side: { enabled: false, image: { registry: "quay.io", image: "acme/side", tag: "2.0" } },
  // tag "" and templates that choose it: "v" + appVersion + "-distroless" (rendered), the cluster's version (off)
  exporter: { image: { repository: "quay.io/acme/exporter", tag: "" } },
  kubectl: { enabled: false, image: { registry: "registry.k8s.io", repository: "kubectl", tag: "" } },
};

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      containers:
      - name: controller
        image: "{{ .Values.controller.image.registry | default .Values.global.image.registry }}/{{ .Values.controller.image.image }}:{{ .Values.controller.image.tag }}"
        args:
        - --config-reloader-image=quay.io/acme/reloader:v0.1.0
        - --prometheus-config-reloader=quay.io/acme/pcr:v1.0.0
        - --web.external-url=http://example.com/a/b:1
        - --log-level=info
      - name: exporter
        image: "{{ .Values.exporter.image.repository }}:{{ .Values.exporter.image.tag | default (printf "v%s-distroless" .Chart.AppVersion) }}"
      {{- if .Values.backend.enabled }}
      - name: backend
        image: "{{ .Values.global.image.registry }}/{{ .Values.backend.image.image }}:{{ .Values.backend.image.tag }}"
      {{- end }}
`;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "ka-guesses-"));
  chartDir = join(root, "guesses");
  mkdirSync(join(chartDir, "templates"), { recursive: true });
  writeFileSync(join(chartDir, "Chart.yaml"), stringify({ apiVersion: "v2", name: "guesses", version: "0.3.0", appVersion: "3.4.0" }));
  writeFileSync(join(chartDir, "values.yaml"), stringify(VALUES));
  writeFileSync(join(chartDir, "templates", "deployment.yaml"), DEPLOYMENT);
  env = { ...process.env, HELM_CACHE_HOME: join(root, "h/cache"), HELM_CONFIG_HOME: join(root, "h/config"), HELM_DATA_HOME: join(root, "h/data") };
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const kinds = (r: DiscoveryResult) => Object.fromEntries(r.images.map((i) => [i.image, i.kind]));

describe("rendered: required = Helm's render, possible = static scan only, nothing invented", () => {
  let r: DiscoveryResult;
  let truth: string[];
  beforeAll(async () => {
    r = await discoverImages({ chartDir, helm: HELM3, env });
    truth = [...imagesInManifests((await helm(["template", "guesses", chartDir], { helmBin: HELM3 })).stdout)].sort();
  });

  test("every rendered image (containers and operator arguments) is required, and only those", () => {
    expect(truth).toEqual(["quay.io/acme/exporter:v3.4.0-distroless", "quay.io/acme/pcr:v1.0.0", "quay.io/acme/reloader:v0.1.0", "registry.example.com/acme/controller:v1.2.0"]);
    expect(r.images.filter((i) => i.kind === "required").map((i) => i.image)).toEqual(truth);
  });

  test("a tag next to `image` is used, and its registry is the map's or global.image.registry (not Docker Hub)", () => {
    expect(kinds(r)).toMatchObject({ "registry.example.com/defaultbackend:1.5": "possible", "quay.io/acme/side:2.0": "possible" });
    const names = r.images.map((i) => i.image);
    for (const bad of ["docker.io/acme/controller:latest", "docker.io/library/defaultbackend:latest", "docker.io/acme/side:latest"]) expect(names).not.toContain(bad);
    expect(names.filter((n) => n.endsWith(":latest"))).toEqual([]);
  });

  test('tag: "" invents no :<appVersion>; the values path is attached to the rendered tag, or listed as skipped', () => {
    const names = r.images.map((i) => i.image);
    expect(names).not.toContain("quay.io/acme/exporter:3.4.0");
    expect(names.filter((n) => n.startsWith("registry.k8s.io/kubectl"))).toEqual([]);
    const exporter = r.images.find((i) => i.image === "quay.io/acme/exporter:v3.4.0-distroless")!;
    expect(exporter.sources.map((s) => `${s.type}:${s.path}`)).toContain("values:exporter.image");
    expect(r.skipped).toContainEqual({ chart: "guesses", what: "values kubectl.image: registry.k8s.io/kubectl", reason: "no tag in values and not rendered with these values (its templates choose the tag)" });
  });

  test("a possible image says why", () => {
    const side = r.images.find((i) => i.image === "quay.io/acme/side:2.0")!;
    expect(side.why).toBe("found only in values side.image; helm template does not render it with these values (a component these values leave off, or a reference the templates build differently)");
  });
});

test("--static-only keeps the old behaviour: every image required, tagless values guessed from appVersion", async () => {
  const r = await discoverImages({ chartDir, helm: false, env });
  expect(r.images.every((i) => i.kind === "required")).toBe(true);
  const names = r.images.map((i) => i.image);
  expect(names).toContain("quay.io/acme/exporter:3.4.0");
  expect(names).toContain("registry.example.com/acme/controller:v1.2.0");
});

test("operator arguments naming an image", () => {
  expect(operatorImageArg("--prometheus-config-reloader=quay.io/p/r:v0.93.1")).toEqual({ flag: "--prometheus-config-reloader", value: "quay.io/p/r:v0.93.1" });
  expect(operatorImageArg("--thanos-default-base-image=quay.io/thanos/thanos:v0.42.4@sha256:" + "a".repeat(64))?.value).toBe("quay.io/thanos/thanos:v0.42.4@sha256:" + "a".repeat(64));
  expect(operatorImageArg("--sidecar-image=acme/sidecar:1")?.value).toBe("acme/sidecar:1");
  for (const no of ["--prometheus-default-base-image=quay.io/prometheus/prometheus", "--web.external-url=http://h/a:1", "--log-level=info", "--storage.path=/data/x:1", "--config=cfg/a:b", "plain=quay.io/a/b:1"]) expect(operatorImageArg(no)).toBeUndefined();
});

describe("possible images at sync time", () => {
  const plan = (possible: string[]): MirrorPlan =>
    ({ images: ["registry.k8s.io/acme/ctl:v1.0"], possible: possible.map((image) => ({ image, charts: ["x 1.0"], why: "guess" })), optional: new Set<string>() }) as unknown as MirrorPlan;

  test("a guess that would land on a mirrored repository's destination is skipped, not a collision error", async () => {
    const p = plan(["docker.io/acme/ctl:latest"]);
    const skipped = await resolvePossible(p, { registry: {}, mapping: { dest: "reg.local" } });
    expect(skipped).toEqual([{ image: "docker.io/acme/ctl:latest", charts: ["x 1.0"], reason: "would be mirrored to reg.local/images/acme/ctl, where registry.k8s.io/acme/ctl goes (a guess next to a rendered image)", why: "guess" }]);
    expect(p.images).toEqual(["registry.k8s.io/acme/ctl:v1.0"]);
  });

  test("--images required leaves every possible image out, with the reason", async () => {
    const p = plan(["quay.io/acme/side:2.0"]);
    const skipped = await resolvePossible(p, { registry: {}, mode: "required" });
    expect(skipped.map((s) => s.reason)).toEqual(["not mirrored (--images required)"]);
    expect(p.images).toEqual(["registry.k8s.io/acme/ctl:v1.0"]);
  });
});
