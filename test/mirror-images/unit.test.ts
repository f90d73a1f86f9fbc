// Pure parts of kubectl mirror images: image normalisation, destination mapping and the registry map file,
// chart version selection, --set parsing, chart request resolution, chart archive reading.
import { afterAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { normalizeImage, tryNormalizeImage } from "../../shared/helm/image-ref.ts";
import { mapImage, mapImages, MappingError, parseRegistryMap, readRegistryMap, writeRegistryMap, formatRegistryMap } from "../../plugins/kubectl-mirror/lib/plan/mapping.ts";
import { pickVersion } from "../../shared/helm/semver.ts";
import { applySet, chartTree, loadUserValues } from "../../shared/helm/values.ts";
import { ChartSourceError, resolveChartRequest } from "../../shared/helm/chart-source.ts";
import { extractChartArchive, parseTar } from "../../shared/helm/chart-tar.ts";
import { excludeMatcher, scanManifests, splitManifests } from "../../shared/helm/discover.ts";
import { HELM3 } from "./fixture.ts";

const tmp = mkdtempSync(join(tmpdir(), "ka-mirror-unit-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("image references", () => {
  test("Docker normalisation", () => {
    expect(normalizeImage("nginx")).toBe("docker.io/library/nginx:latest");
    expect(normalizeImage("bitnami/redis:7.2")).toBe("docker.io/bitnami/redis:7.2");
    expect(normalizeImage("index.docker.io/library/alpine:3.20")).toBe("docker.io/library/alpine:3.20");
    expect(normalizeImage("localhost:5000/a/b")).toBe("localhost:5000/a/b:latest");
    expect(normalizeImage("localhost/a")).toBe("localhost/a:latest");
    expect(normalizeImage("127.0.0.1:5000/x/y:1@sha256:" + "c".repeat(64))).toBe("127.0.0.1:5000/x/y:1@sha256:" + "c".repeat(64));
    expect(normalizeImage("ghcr.io/a/b@sha256:" + "d".repeat(64))).toBe("ghcr.io/a/b@sha256:" + "d".repeat(64));
  });
  test("non-images are rejected", () => {
    for (const s of ["", "{{ .Values.image }}", "Always", "a b", "nginx:", "ghcr.io/A/b", "x@sha256:zz", "${IMAGE}", 3])
      expect(tryNormalizeImage(s)).toBeUndefined();
  });
});

describe("destination mapping", () => {
  const dest = "zot.local:30003";
  test("modes and prefix", () => {
    expect(mapImage("nginx:1.27", dest)).toBe("zot.local:30003/images/library/nginx:1.27");
    expect(mapImage("quay.io/prometheus/prometheus:v2.53.0", dest, "strip-host")).toBe("zot.local:30003/images/prometheus/prometheus:v2.53.0");
    expect(mapImage("nginx:1.27", dest, "keep-host")).toBe("zot.local:30003/images/docker.io/library/nginx:1.27");
    expect(mapImage("localhost:5000/a/b:1", dest, "keep-host")).toBe("zot.local:30003/images/localhost-5000/a/b:1");
    expect(mapImage("quay.io/acme/worker:1.10", dest, "flat")).toBe("zot.local:30003/images/worker:1.10");
    expect(mapImage("nginx:1.27", "oci://harbor.corp/proj/", "strip-host", [], { prefix: "" })).toBe("harbor.corp/proj/library/nginx:1.27");
    expect(mapImage("nginx:1.27", "harbor.corp", "strip-host", [], { prefix: "team/mirror" })).toBe("harbor.corp/team/mirror/library/nginx:1.27");
    const dg = "sha256:" + "e".repeat(64);
    expect(mapImage(`ghcr.io/a/b:1@${dg}`, dest)).toBe(`zot.local:30003/images/a/b:1@${dg}`);
  });
  test("registry map: longest prefix on a path boundary wins over the mode", () => {
    const map = [
      { source: "docker.io/bitnami", destination: "harbor.corp/bitnami-mirror" },
      { source: "docker.io/bitnami/redis", destination: "harbor.corp/cache/redis" },
      { source: "quay.io", destination: "harbor.corp/quay" },
      { source: "bitnamilegacy", destination: "harbor.corp/legacy" },
    ];
    expect(mapImage("docker.io/bitnami/os-shell:12", dest, "strip-host", map)).toBe("harbor.corp/bitnami-mirror/os-shell:12");
    expect(mapImage("bitnami/redis:7", dest, "strip-host", map)).toBe("harbor.corp/cache/redis:7");
    expect(mapImage("bitnami/redis-exporter:1", dest, "strip-host", map)).toBe("harbor.corp/bitnami-mirror/redis-exporter:1");
    expect(mapImage("quay.io/acme/db:15", dest, "strip-host", map)).toBe("harbor.corp/quay/acme/db:15");
    expect(mapImage("bitnamilegacy/x:1", dest, "strip-host", map)).toBe("harbor.corp/legacy/x:1");
    // "quay.io" must not match "quay.iox"
    expect(mapImage("quay.iox/a:1", dest, "strip-host", map)).toBe("zot.local:30003/images/a:1");
    expect(() => mapImage("ghcr.io/a:1", "", "strip-host", map)).toThrow(MappingError);
  });
  test("collisions are refused, and the used map is repository level", () => {
    expect(() => mapImages(["quay.io/a/worker:1", "ghcr.io/b/worker:2"], dest, "flat")).toThrow(/both be mirrored to zot.local:30003\/images\/worker/);
    expect(() => mapImages(["quay.io/acme/app:1", "ghcr.io/acme/app:1"], dest, "strip-host")).toThrow(MappingError);
    const r = mapImages(["quay.io/acme/app:1", "quay.io/acme/app:2", "ghcr.io/acme/app:1"], dest, "keep-host");
    expect(r.registryMap).toEqual([
      { source: "ghcr.io/acme/app", destination: "zot.local:30003/images/ghcr.io/acme/app" },
      { source: "quay.io/acme/app", destination: "zot.local:30003/images/quay.io/acme/app" },
    ]);
    expect(r.images.map((i) => i.destination)).toEqual([
      "zot.local:30003/images/quay.io/acme/app:1",
      "zot.local:30003/images/quay.io/acme/app:2",
      "zot.local:30003/images/ghcr.io/acme/app:1",
    ]);
  });
  test("bad destinations", () => {
    expect(() => mapImage("nginx", "Zot Local")).toThrow(MappingError);
    expect(() => mapImage("nginx", "reg.local/UPPER")).toThrow(/bad path component/);
  });
  test("registry map file formats round-trip", async () => {
    const want = [
      { source: "docker.io/bitnami", destination: "harbor.corp/b" },
      { source: "quay.io", destination: "harbor.corp/q" },
    ];
    expect(parseRegistryMap("docker.io/bitnami: harbor.corp/b\nquay.io: harbor.corp/q\n")).toEqual(want);
    expect(parseRegistryMap(JSON.stringify({ "docker.io/bitnami": "harbor.corp/b", "quay.io": "harbor.corp/q" }))).toEqual(want);
    expect(parseRegistryMap("- {source: docker.io/bitnami, destination: harbor.corp/b}\n- {from: quay.io, to: harbor.corp/q}\n")).toEqual(want);
    expect(parseRegistryMap("# comment\ndocker.io/bitnami=harbor.corp/b\n\nquay.io harbor.corp/q # x\n")).toEqual(want);
    expect(parseRegistryMap("registryMap:\n  - source: docker.io/bitnami\n    destination: harbor.corp/b\n  - source: quay.io\n    destination: harbor.corp/q\n")).toEqual(want);
    expect(() => parseRegistryMap("- {source: quay.io}\n", "m.yaml")).toThrow(/m.yaml: entry 1/);
    expect(() => parseRegistryMap("quay.io: 'Bad Dest'\n", "m.yaml")).toThrow(/m.yaml/);
    const f = join(tmp, "map.yaml");
    await writeRegistryMap(f, want);
    expect(readFileSync(f, "utf8")).toBe(formatRegistryMap(want));
    expect(await readRegistryMap(f)).toEqual(want);
    await expect(readRegistryMap(join(tmp, "nope.yaml"))).rejects.toThrow(/--registry-map .*nope.yaml: no such file/);
  });
});

describe("chart versions", () => {
  const vs = ["1.0.0", "1.2.3", "1.10.0", "2.0.0-rc.1", "0.9.1", "v1.3.0"];
  test("latest stable, exact, constraints", () => {
    expect(pickVersion(vs)).toBe("1.10.0");
    expect(pickVersion(vs, undefined, true)).toBe("2.0.0-rc.1");
    expect(pickVersion(vs, "1.2.3")).toBe("1.2.3");
    expect(pickVersion(vs, "1.3.0")).toBe("v1.3.0");
    expect(pickVersion(vs, "~1.2")).toBe("1.2.3");
    expect(pickVersion(vs, "^1.0.0")).toBe("1.10.0");
    expect(pickVersion(vs, "^0.9")).toBe("0.9.1");
    expect(pickVersion(vs, ">=1.0.0 <1.5.0")).toBe("v1.3.0");
    expect(pickVersion(vs, "1.x")).toBe("1.10.0");
    expect(pickVersion(vs, ">=2.0.0-0")).toBe("2.0.0-rc.1");
    expect(pickVersion(vs, "3.0.0")).toBeUndefined();
    expect(pickVersion(vs, "<1.0.0 || >=1.10.0")).toBe("1.10.0");
  });
});

describe("values", () => {
  test("--set syntax (Helm strvals subset)", () => {
    const v: Record<string, unknown> = {};
    applySet(v, "image.tag=2.5.0,redis.enabled=true,replicas=3");
    applySet(v, "list[1].name=b,nodeSelector.kubernetes\\.io/os=linux");
    applySet(v, "args={a,b}");
    applySet(v, "tag=1.20", "string");
    applySet(v, 'obj={"k":[1,2]}', "json");
    expect(v).toEqual({
      image: { tag: "2.5.0" },
      redis: { enabled: true },
      replicas: 3,
      list: [undefined, { name: "b" }],
      nodeSelector: { "kubernetes.io/os": "linux" },
      args: ["a", "b"],
      tag: "1.20",
      obj: { k: [1, 2] },
    });
    expect(() => applySet({}, "novalue")).toThrow(/key=value/);
  });
  test("user values, conditions and aliases", async () => {
    const dir = join(tmp, "tree");
    mkdirSync(join(dir, "charts/sub/templates"), { recursive: true });
    writeFileSync(join(dir, "Chart.yaml"), "apiVersion: v2\nname: top\nversion: 1.0.0\ndependencies:\n- {name: sub, version: 1.0.0, alias: first, condition: first.enabled}\n- {name: sub, version: 1.0.0, alias: second, condition: second.enabled, tags: [extras]}\n");
    writeFileSync(join(dir, "values.yaml"), "first: {enabled: true}\nsecond: {enabled: false}\nglobal: {imageRegistry: mirror.local}\n");
    writeFileSync(join(dir, "charts/sub/Chart.yaml"), "apiVersion: v2\nname: sub\nversion: 1.0.0\n");
    writeFileSync(join(dir, "charts/sub/values.yaml"), "image: {repository: a/b, tag: '1'}\n");
    const vf = join(tmp, "v.yaml");
    writeFileSync(vf, "second:\n  enabled: true\n  image: {tag: '2'}\n");
    const user = await loadUserValues({ valuesFiles: [vf], set: ["first.enabled=false"] });
    const tree = await chartTree(dir, user, async () => mkdtempSync(join(tmp, "sub-")));
    expect(tree.children.map((c) => [c.path, c.enabled, c.valuesPrefix, (c.values.image as any).tag, (c.values.global as any).imageRegistry])).toEqual([
      ["top/charts/first", false, "first.", "1", "mirror.local"],
      ["top/charts/second", true, "second.", "2", "mirror.local"],
    ]);
    expect(tree.children[0]!.reason).toBe("condition first.enabled is false");
    await expect(loadUserValues({ valuesFiles: [join(tmp, "missing.yaml")] })).rejects.toThrow(/--values .*missing.yaml: no such file/);
  });
});

describe("chart requests", () => {
  const local = (p: string) => (p === "./dir" ? "dir" : p === "./c.tgz" ? "file" : undefined) as any;
  test("every source kind", () => {
    expect(resolveChartRequest({ chart: "./dir" }, local)).toEqual({ kind: "dir", location: "./dir" });
    expect(resolveChartRequest({ chart: "./c.tgz" }, local)).toEqual({ kind: "archive", location: "./c.tgz" });
    expect(resolveChartRequest({ chart: "oci://r.io/charts/app", version: "1.0.0" })).toEqual({ kind: "oci", location: "oci://r.io/charts/app", version: "1.0.0" });
    expect(resolveChartRequest({ chart: "https://h/app-1.0.0.tgz" })).toEqual({ kind: "url", location: "https://h/app-1.0.0.tgz" });
    expect(resolveChartRequest({ repoUrl: "https://charts.example.com", chartUrl: "example/app", version: "1.2.3" })).toEqual({ kind: "repo", location: "https://charts.example.com", name: "app", version: "1.2.3" });
    expect(resolveChartRequest({ repoUrl: "https://charts.example.com", chart: "app" })).toEqual({ kind: "repo", location: "https://charts.example.com", name: "app", version: undefined });
    expect(resolveChartRequest({ repoUrl: "oci://r.io/charts", chartUrl: "x/app" })).toEqual({ kind: "oci", location: "oci://r.io/charts/app", version: undefined });
  });
  test("mistakes get one clear message", () => {
    expect(() => resolveChartRequest({})).toThrow(ChartSourceError);
    expect(() => resolveChartRequest({ repoUrl: "https://x" })).toThrow(/needs a chart/);
    expect(() => resolveChartRequest({ chart: "example/app" }, local)).toThrow(/"example\/app" is not a local path/);
    try {
      resolveChartRequest({ chart: "example/app" }, local);
    } catch (e) {
      expect((e as ChartSourceError).hint).toMatch(/add --repo-url/);
    }
    expect(() => resolveChartRequest({ chart: "./nope" }, local)).toThrow(/no such file/);
    expect(() => resolveChartRequest({ chart: "a", chartUrl: "x/a", repoUrl: "https://x" })).toThrow(/not both/);
    expect(() => resolveChartRequest({ repoUrl: "ftp://x", chart: "a" })).toThrow(/http\(s\):\/\/ or oci:\/\//);
  });
});

describe("chart archives", () => {
  test("long paths (ustar prefix / pax) from helm package are read whole", async () => {
    const src = join(tmp, "longchart");
    const deep = "templates/" + "d".repeat(60) + "/" + "e".repeat(60);
    mkdirSync(join(src, deep), { recursive: true });
    writeFileSync(join(src, "Chart.yaml"), "apiVersion: v2\nname: longchart\nversion: 0.1.0\n");
    writeFileSync(join(src, deep, "f".repeat(90) + ".yaml"), "kind: ConfigMap\n");
    execFileSync(HELM3, ["package", src, "--destination", tmp], { stdio: "pipe" });
    const out = join(tmp, "x");
    const dir = await extractChartArchive(join(tmp, "longchart-0.1.0.tgz"), out);
    expect(dir).toBe(join(out, "longchart"));
    expect(readFileSync(join(dir, deep, "f".repeat(90) + ".yaml"), "utf8")).toBe("kind: ConfigMap\n");
  });
  test("path traversal is refused", async () => {
    const h = new Uint8Array(1024);
    const name = new TextEncoder().encode("../evil/Chart.yaml");
    h.set(name, 0);
    h.set(new TextEncoder().encode("0000000"), 124);
    h[156] = 48;
    expect(parseTar(h)[0]!.name).toBe("../evil/Chart.yaml");
    const f = join(tmp, "evil.tar");
    writeFileSync(f, h);
    await expect(extractChartArchive(f, join(tmp, "evil"))).rejects.toThrow(/unsafe path/);
  });
});

describe("rendered manifest scanning", () => {
  test("documents keep their Source file; scan finds CR images; structured wins in the same doc", () => {
    const text = [
      "---",
      "# Source: app/templates/a.yaml",
      "apiVersion: v1",
      "kind: Pod",
      "metadata: {name: p}",
      "spec:",
      "  containers:",
      "  - name: c",
      "    image: nginx:1.27",
      "---",
      "# Source: app/charts/sub/templates/cr.yaml",
      "kind: Thing",
      "metadata: {name: t}",
      "spec:",
      '  config: \'{"image": "ghcr.io/x/json:1"}\'',
      "  image: \"quay.io/x/cr:2\"",
      "  imagePullPolicy: Always",
      "  env: [{name: RELATED_IMAGE_Y, value: 'quay.io/x/y:3'}]",
      "",
    ].join("\n");
    expect(splitManifests(text).map((d) => d.file)).toEqual(["app/templates/a.yaml", "app/charts/sub/templates/cr.yaml"]);
    const got: Record<string, unknown>[] = [];
    scanManifests(text, { add: (raw: string, src: any) => (got.push({ raw, ...src }), tryNormalizeImage(raw)) }, []);
    expect(got.map((g) => [g.raw, g.type, g.chart, g.resource, g.path ?? g.note])).toEqual([
      ["nginx:1.27", "manifest", "app", "Pod/p", "spec.containers[0].image"],
      ["quay.io/x/y:3", "env", "app/charts/sub", "Thing/t", "spec.env[0].value"],
      ["ghcr.io/x/json:1", "manifest-scan", "app/charts/sub", "Thing/t", "line 5"],
      ["quay.io/x/cr:2", "manifest-scan", "app/charts/sub", "Thing/t", "line 6"],
    ]);
  });
  test("exclude patterns", () => {
    expect(excludeMatcher("quay.io/acme/*")("quay.io/acme/db:15.4")).toBe(true);
    expect(excludeMatcher("*/debug*")("quay.io/acme/debug:1.0")).toBe(true);
    expect(excludeMatcher("busybox")("docker.io/library/busybox:1.36")).toBe(true);
    expect(excludeMatcher("busybox:1.37")("docker.io/library/busybox:1.36")).toBe(false);
    expect(excludeMatcher("busybox:1.36")("docker.io/library/busybox:1.36")).toBe(true);
    expect(excludeMatcher("bitnami/*")("docker.io/bitnami/redis:7")).toBe(true);
  });
});
