// kubectl mirror sync + verify, end to end: the fixture chart from a local HTTP chart repo and from an OCI
// registry (pushed by real helm), 16 images (values, annotations, subcharts with conditions, RELATED_IMAGE_*
// env, digest-pinned, multi-arch + cosign signature) → a real docker-registry; then helm pull/template against
// the mirror, verify, and verify failing after a mirrored tag is deleted.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { helm, skopeoInspectRaw, skopeoListTags } from "../support/images.ts";
import { startFakeApiServer, type FakeApiServer } from "../support/kube-apiserver.ts";
import { destOf, expectOk, mirror, setupSources, type Sources } from "./helpers.ts";
import { RegistryRepository } from "../../shared/oci/registry.ts";
import { createClient } from "../../shared/oci/client.ts";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";
import { HELM4 } from "../support/helm.ts";

let s: Sources;
let dst: TestRegistry;
let authDst: TestRegistry;
let api: FakeApiServer;

// the destination is realistic (TLS with a private CA + htpasswd), the source public-like (TLS with its own CA,
// token auth, anonymous pull): each CA is trusted for its host
const toDst = () => [...s.srcArgs, "--ca-file", `${dst.host}=${dst.caFile}`, "-u", dst.username, "--password-stdin"];
const pw = () => ({ stdin: dst.password });
const helmTls = () => ({ helmBin: HELM4, registryAuths: { [dst.host]: { username: dst.username, password: dst.password } } });

beforeAll(async () => {
  [s, dst, authDst, api] = await Promise.all([setupSources(), startRegistry(), startRegistry({ users: { zot: "Zot-Secret-Pass-1" } }), startFakeApiServer({ namespaces: ["zot-system"] })]);
  api.put({ apiVersion: "v1", kind: "Secret", metadata: { name: "zot-secret", namespace: "zot-system" }, data: { registryUsername: Buffer.from("zot").toString("base64"), registryPassword: Buffer.from("Zot-Secret-Pass-1").toString("base64") } });
}, 120_000);

afterAll(async () => {
  await Promise.all([s?.stop(), dst?.stop(), authDst?.stop(), api?.stop()]);
});

describe("sync from an HTTP chart repository", () => {
  let report: any;
  test("lands the chart and every image; prints and writes the registry map", async () => {
    const mapOut = join(s.tmp, "map.yaml");
    const r = await mirror(s, ["sync", "--repo-url", s.repo.url, "--chart-url", "fixture/app", "--chart-version", "1.2.3", "--dest-registry", dst.host, ...toDst(), ...s.mirrorArgs, ...s.pinnedSet, "--map-out", mapOut, "-o", "json"], pw());
    expectOk(r, "sync");
    report = JSON.parse(r.stdout);
    expect(report.summary.failed).toBe(0);
    expect(report.charts.map((c: any) => c.destination)).toEqual([`${dst.host}/charts/app/app:1.2.3`]);
    const images = report.items.filter((i: any) => i.kind === "image");
    expect(images.map((i: any) => i.source).sort()).toEqual(s.images);
    for (const i of images) expect(i.destination).toBe(destOf(dst.host, i.source));
    // the RELATED_IMAGE_* env image, a subchart image and an annotation image are there
    for (const img of ["quay.io/acme/agent:0.9.0", "docker.io/bitnami/redis:7.2.5", "ghcr.io/acme/extra-tool:1.0"]) {
      const raw = await skopeoInspectRaw(destOf(dst.host, img), dst.skopeo);
      expect(raw.digest).toBe((await skopeoInspectRaw(`${s.src.host}/${img}`, s.src.skopeo)).digest);
    }
    // disabled subchart / false condition images are not mirrored
    expect(images.some((i: any) => /node-exporter|gpu-plugin/.test(i.source))).toBe(false);
    const map = parse(readFileSync(mapOut, "utf8"));
    expect(map["quay.io/acme/agent"]).toBe(`${dst.host}/images/acme/agent`);
    expect(report.registryMap.length).toBe(Object.keys(map).length);
  }, 120_000);

  test("multi-arch index, digest-pinned image and cosign signature travel", async () => {
    const op = await skopeoInspectRaw(destOf(dst.host, "quay.io/acme/operator:0.9.0"), dst.skopeo);
    expect(op.json.manifests.length).toBe(2);
    const tags = await skopeoListTags(`${dst.host}/images/acme/operator`, dst.skopeo);
    expect(tags).toContain(s.sigTag);
    const pinned = await skopeoInspectRaw(`${dst.host}/images/acme/pinned@${s.pinnedDigest}`, dst.skopeo);
    expect(pinned.digest).toBe(s.pinnedDigest);
  });

  test("helm pull and helm template work against the mirrored chart", async () => {
    const out = join(s.tmp, "pulled");
    mkdirSync(out, { recursive: true });
    await helm(["pull", `oci://${dst.host}/charts/app/app`, "--version", "1.2.3", "--ca-file", dst.caFile!, "--destination", out], helmTls());
    expect(existsSync(join(out, "app-1.2.3.tgz"))).toBe(true);
    expect(readFileSync(join(out, "app-1.2.3.tgz")).equals(readFileSync(s.fx.tgz))).toBe(true);
    const t = await helm(["template", "rel", `oci://${dst.host}/charts/app/app`, "--version", "1.2.3", "--ca-file", dst.caFile!, "--set", `image.registry=${dst.host}/images`], helmTls());
    expect(t.stdout).toContain(`image: "${dst.host}/images/acme/app:2.4.0"`);
  }, 60_000);

  test("a second sync copies nothing", async () => {
    const r = await mirror(s, ["sync", "--repo-url", s.repo.url, "--chart-url", "fixture/app", "--chart-version", "1.2.3", "--dest", dst.host, ...toDst(), ...s.mirrorArgs, ...s.pinnedSet, "-o", "json"], pw());
    expectOk(r, "second sync");
    const j = JSON.parse(r.stdout);
    expect(j.summary.bytesCopied).toBe(0);
    expect(j.items.every((i: any) => i.status === "up-to-date")).toBe(true);
  }, 120_000);

  test("verify passes, then fails with a table naming the deleted tag", async () => {
    const args = ["verify", "--repo-url", s.repo.url, "--chart-url", "fixture/app", "--chart-version", "1.2.3", "--dest", dst.host, ...toDst(), ...s.mirrorArgs, ...s.pinnedSet];
    const ok = await mirror(s, [...args, "-o", "json"], pw());
    expectOk(ok, "verify");
    const j = JSON.parse(ok.stdout);
    expect(j.summary.ok).toBe(j.summary.total);
    expect(j.summary.total).toBe(s.images.length + 1);
    // delete one mirrored tag
    const repo = new RegistryRepository(createClient({ caFiles: [{ file: dst.caFile! }], credentials: staticCredentials({ username: dst.username, password: dst.password }) }), dst.host, "images/acme/worker");
    const d = await repo.resolve("1.10");
    await repo.deleteManifest(d.digest);
    const bad = await mirror(s, args, pw());
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain("images/acme/worker:1.10");
    expect(bad.stdout).toMatch(/missing/);
    expect(bad.stderr).toContain("verification failed: 1 of");
    // and sync repairs it
    expectOk(await mirror(s, ["sync", "--repo-url", s.repo.url, "--chart-url", "fixture/app", "--chart-version", "1.2.3", "--dest", dst.host, ...toDst(), ...s.mirrorArgs, ...s.pinnedSet, "-q"], pw()), "repair sync");
    expectOk(await mirror(s, args, pw()), "verify after repair");
  }, 180_000);
});

describe("sync from an OCI registry", () => {
  test("chart pushed by helm → mirror with a path prefix and keep-host naming; helm template renders", async () => {
    const r = await mirror(s, ["sync", `oci://${s.src.host}/helm-charts/app`, "--chart-version", "1.2.3", "--dest", `${dst.host}/team-a`, "--dest-mode", "keep-host", ...toDst(), ...s.mirrorArgs, ...s.pinnedSet, "--exclude-extras", "-o", "yaml"], pw());
    expectOk(r, "sync oci");
    const j = parse(r.stdout);
    expect(j.summary.failed).toBe(0);
    expect(j.charts[0].destination).toBe(`${dst.host}/team-a/charts/app/app:1.2.3`);
    const agent = j.items.find((i: any) => i.source === "quay.io/acme/agent:0.9.0");
    expect(agent.destination).toBe(`${dst.host}/team-a/images/quay.io/acme/agent:0.9.0`);
    const t = await helm(["template", "rel", `oci://${dst.host}/team-a/charts/app/app`, "--version", "1.2.3", "--ca-file", dst.caFile!], helmTls());
    expect(t.stdout).toContain("RELATED_IMAGE_DB");
    // extras excluded: no signature tag
    const tags = await skopeoListTags(`${dst.host}/team-a/images/quay.io/acme/operator`, dst.skopeo);
    expect(tags).toEqual(["0.9.0"]);
  }, 120_000);

  test("--rewrite-chart points values at the mirror", async () => {
    const r = await mirror(s, ["sync", `oci://${s.src.host}/helm-charts/app`, "--chart-version", "1.2.3", "--dest", `${dst.host}/rw`, ...toDst(), ...s.mirrorArgs, ...s.pinnedSet, "--rewrite-chart", "--exclude-extras", "-o", "json"], pw());
    expectOk(r, "sync --rewrite-chart");
    expect(JSON.parse(r.stdout).charts[0].rewritten).toBe(true);
    const t = await helm(["template", "rel", `oci://${dst.host}/rw/charts/app/app`, "--version", "1.2.3", "--ca-file", dst.caFile!], helmTls());
    for (const img of ["acme/app:2.4.0", "acme/worker:1.10", "acme/operator:0.9.0", "acme/agent:0.9.0", "bitnami/redis:7.2.5", "library/busybox:1.36"]) {
      expect(t.stdout).toContain(`${dst.host}/rw/images/${img}`);
    }
    expect(t.stdout).not.toContain("quay.io/acme/worker");
  }, 120_000);
});

describe("credentials", () => {
  // the destination is realistic (TLS with a private CA + htpasswd), the source public-like (TLS + token)
  const tlsDst = () => [...s.srcArgs, "--ca-file", `${authDst.host}=${authDst.caFile}`];
  test("--dest-credentials-from-secret reads zot-system/zot-secret; the password never appears", async () => {
    const kubeconfig = api.kubeconfig("admin");
    const args = ["sync", "--image", "quay.io/acme/worker:1.10", "--dest", authDst.host, ...tlsDst(), ...s.mirrorArgs, "--dest-credentials-from-secret", "zot-system/zot-secret", "--kubeconfig", kubeconfig, "--debug"];
    const r = await mirror(s, args);
    expectOk(r, "sync with secret creds");
    expect(r.stdout + r.stderr).not.toContain("Zot-Secret-Pass-1");
    const tags = await skopeoListTags(`${authDst.host}/images/acme/worker`, { ...authDst.skopeo, creds: "zot:Zot-Secret-Pass-1" });
    expect(tags).toContain("1.10");
    const missing = await mirror(s, [...args.slice(0, -4), "zot-system/nope", "--kubeconfig", kubeconfig]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("secret zot-system/nope not found");
  }, 60_000);

  test("--cred-file (Palette Edge JSON) and kubectl mirror login", async () => {
    const cf = join(s.tmp, "creds.json");
    writeFileSync(cf, JSON.stringify({ helm: [], image: [{ endpoint: `https://${authDst.host}`, username: "zot", password: "Zot-Secret-Pass-1" }] }));
    expectOk(await mirror(s, ["sync", "--image", "quay.io/acme/db:15.4", "--dest", authDst.host, ...tlsDst(), ...s.mirrorArgs, "--cred-file", cf]), "sync --cred-file");
    const noCreds = await mirror(s, ["sync", "--image", "quay.io/acme/debug:1.0", "--dest", authDst.host, ...tlsDst(), ...s.mirrorArgs]);
    expect(noCreds.code).toBe(1);
    const bad = await mirror(s, ["login", authDst.host, "-u", "zot", "--password-stdin", "--ca-file", authDst.caFile!], { stdin: "wrong\n" });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`login to ${authDst.host} failed`);
    const good = await mirror(s, ["login", authDst.host, "-u", "zot", "--password-stdin", "--ca-file", authDst.caFile!], { stdin: "Zot-Secret-Pass-1\n" });
    expectOk(good, "login");
    expect(good.stdout).toContain("Login Succeeded");
    const cfg = JSON.parse(readFileSync(join(s.env.DOCKER_CONFIG, "config.json"), "utf8"));
    expect(Buffer.from(cfg.auths[authDst.host].auth, "base64").toString()).toBe("zot:Zot-Secret-Pass-1");
    expectOk(await mirror(s, ["sync", "--image", "quay.io/acme/debug:1.0", "--dest", authDst.host, ...tlsDst(), ...s.mirrorArgs]), "sync after login");
    expectOk(await mirror(s, ["logout", authDst.host]), "logout");
    expect(JSON.parse(readFileSync(join(s.env.DOCKER_CONFIG, "config.json"), "utf8")).auths[authDst.host]).toBeUndefined();
  }, 90_000);
});

describe("chart layout (11.4) and charts tagged only after their images (11.5)", () => {
  test("--chart-layout flat puts the chart at <dest>/charts/<name>; the default nests it like helm push", async () => {
    const r = await mirror(s, ["sync", `oci://${s.src.host}/helm-charts/app`, "--chart-version", "1.2.3", "--dest", `${dst.host}/flat`, "--chart-layout", "flat", ...toDst(), ...s.mirrorArgs, ...s.pinnedSet, "--exclude-extras", "-o", "json"], pw());
    expectOk(r, "sync --chart-layout flat");
    expect(JSON.parse(r.stdout).charts[0].destination).toBe(`${dst.host}/flat/charts/app:1.2.3`);
    expect(await skopeoListTags(`${dst.host}/flat/charts/app`, dst.skopeo)).toEqual(["1.2.3"]);
    const t = await helm(["template", "rel", `oci://${dst.host}/flat/charts/app`, "--version", "1.2.3", "--ca-file", dst.caFile!], helmTls());
    expect(t.stdout).toContain("RELATED_IMAGE_DB");
    const bad = await mirror(s, ["sync", "--image", "x/y:1", "--dest", dst.host, "--chart-layout", "deep", ...toDst()], pw());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("error: --chart-layout deep: must be one of nested, flat\n");
  }, 120_000);

  test("an image that fails leaves the chart untagged, and the summary says why", async () => {
    // without pinnedSet the chart asks for a digest the source does not have: that one image fails
    const r = await mirror(s, ["sync", `oci://${s.src.host}/helm-charts/app`, "--chart-version", "1.2.3", "--dest", `${dst.host}/half`, ...toDst(), ...s.mirrorArgs, "--exclude-extras", "-o", "json"], pw());
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    const chart = j.items.find((i: any) => i.kind === "chart");
    expect(chart.status).toBe("failed");
    expect(chart.error).toMatch(/^not tagged: 1 of the \d+ images it needs failed \(.*pinned/);
    expect(j.items.filter((i: any) => i.kind === "image" && i.status === "failed")).toHaveLength(1);
    expect(j.items.filter((i: any) => i.kind === "image" && i.status === "copied").length).toBeGreaterThan(10);
    // the chart repository has no tag: a deployment cannot find a half-mirrored chart
    const tags = await skopeoListTags(`${dst.host}/half/charts/app/app`, dst.skopeo).catch(() => []);
    expect(tags).toEqual([]);
  }, 120_000);
});
