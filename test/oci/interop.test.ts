// Interop with the real peers: what skopeo pushes we copy, what we push skopeo reads (digests equal), multi-arch
// indexes, Docker media types, registry → archive → registry, skopeo's archives, platform filtering, cosign tags
// and OCI referrers, and a Helm chart pushed with `helm push` that `helm pull` reads back from our copy.
// Both registries are the realistic kind (TLS, each with its own private CA, + htpasswd): the CLI gets a docker
// config.json with both credentials and --ca-file HOST=FILE per registry.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { pushWithSkopeo, skopeoInspectRaw, skopeoCopy, writeImageLayout, type WrittenLayout } from "../support/images.ts";
import { runCli } from "../support/cli.ts";
import { pushArtifact } from "../../shared/oci/artifact.ts";
import { MT } from "../../shared/oci/media-types.ts";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";
import { HELM4 } from "../support/helm.ts";

const tmp = mkdtempSync(join(tmpdir(), "ka-interop-"));
let a: TestRegistry, b: TestRegistry;
let multi: WrittenLayout, docker: WrittenLayout;

beforeAll(async () => {
  [a, b] = await Promise.all([startRegistry(), startRegistry()]);
  writeFileSync(join(tmp, "config.json"), JSON.stringify({ auths: { ...a.dockerConfig().auths, ...b.dockerConfig().auths } }));
  multi = await writeImageLayout(join(tmp, "multi"), { tag: "1.0", platforms: ["linux/amd64", "linux/arm64", "linux/arm/v7"], layers: [{ size: 200_000, seed: "base" }, { size: 50_000 }] });
  docker = await writeImageLayout(join(tmp, "docker"), { tag: "2.0", platforms: ["linux/amd64", "linux/arm64"], mediaTypes: "docker", layers: 2 });
  await pushWithSkopeo(join(tmp, "multi"), "1.0", `${a.host}/skopeo/multi:1.0`, a.skopeo);
  await pushWithSkopeo(join(tmp, "docker"), "2.0", `${a.host}/skopeo/docker:2.0`, a.skopeo);
}, 120_000);
afterAll(async () => {
  await Promise.all([a.stop(), b.stop()]);
  rmSync(tmp, { recursive: true, force: true });
});

const mirror = (...args: string[]) => runCli("kubectl-mirror", ["copy", ...args, "--registry-config", join(tmp, "config.json"), "--ca-file", `${a.host}=${a.caFile}`, "--ca-file", `${b.host}=${b.caFile}`]);
/** our own client's options for registry a */
const atA = () => ({ caFiles: [{ host: a.host, file: a.caFile! }], credentials: staticCredentials({ username: a.username, password: a.password }) });
/** fetch over TLS (the registry's CA) with its basic-auth credentials */
const tlsFetch = (reg: TestRegistry, path: string, init: RequestInit = {}) =>
  fetch(`${reg.url}${path}`, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString("base64")}` }, tls: { ca: readFileSync(reg.caFile!, "utf8") } } as RequestInit);
const digestOf = async (ref: string, reg: TestRegistry) => (await skopeoInspectRaw(ref, reg.skopeo)).digest;

describe("skopeo ↔ kubectl mirror", () => {
  test("a multi-arch OCI index pushed by skopeo is copied with identical digests (index and children)", async () => {
    const r = await mirror(`${a.host}/skopeo/multi:1.0`, `${b.host}/ours/multi:1.0`, "-o", "json");
    expect(r.stderr).not.toMatch(/^error/m);
    expect(r.code).toBe(0);
    expect(await digestOf(`${b.host}/ours/multi:1.0`, b)).toBe(multi.images[0]!.digest);
    for (const m of multi.images[0]!.manifests) expect(await digestOf(`${b.host}/ours/multi@${m.digest}`, b)).toBe(m.digest);
    const out = JSON.parse(r.stdout);
    expect(out.items[0].blobs).toBe(3 + 1 + 3); // 3 configs, the shared base layer once, 3 own layers
  });

  test("Docker schema 2 manifest lists keep their media type and digest", async () => {
    const r = await mirror(`${a.host}/skopeo/docker:2.0`, `${b.host}/ours/docker:2.0`);
    expect(r.code).toBe(0);
    const raw = await skopeoInspectRaw(`${b.host}/ours/docker:2.0`, b.skopeo);
    expect(raw.digest).toBe(docker.images[0]!.digest);
    expect(JSON.parse(raw.text).mediaType).toBe(MT.dockerManifestList);
  });

  test("what we copy from an OCI layout dir, skopeo copies onward unchanged", async () => {
    const r = await mirror(`oci-layout:${join(tmp, "multi")}:1.0`, `${b.host}/fromlayout/multi:1.0`);
    expect(r.code).toBe(0);
    await skopeoCopy(`docker://${b.host}/fromlayout/multi:1.0`, `docker://${a.host}/skopeo-again/multi:1.0`, { src: b.skopeo, dst: a.skopeo, all: true });
    expect(await digestOf(`${a.host}/skopeo-again/multi:1.0`, a)).toBe(multi.images[0]!.digest);
  });

  test("registry → archive → another registry gives identical digests; skopeo reads our archive", async () => {
    const archive = join(tmp, "multi.tar");
    expect((await mirror(`${a.host}/skopeo/multi:1.0`, `oci-archive:${archive}`)).code).toBe(0);
    expect((await mirror(`oci-archive:${archive}:1.0`, `${b.host}/viaarchive/multi:1.0`)).code).toBe(0);
    expect(await digestOf(`${b.host}/viaarchive/multi:1.0`, b)).toBe(multi.images[0]!.digest);
    const inspected = await skopeoInspectRaw(`oci-archive:${archive}:1.0`, {});
    expect(inspected.digest).toBe(multi.images[0]!.digest);
    // gzip-compressed archive (sequential read path) too
    const gz = join(tmp, "multi.tar.gz");
    expect((await mirror(`${a.host}/skopeo/multi:1.0`, `oci-archive:${gz}`)).code).toBe(0);
    expect(readFileSync(gz).subarray(0, 2).toString("hex")).toBe("1f8b");
    expect((await mirror(`oci-archive:${gz}:1.0`, `${b.host}/viagz/multi:1.0`)).code).toBe(0);
    expect(await digestOf(`${b.host}/viagz/multi:1.0`, b)).toBe(multi.images[0]!.digest);
  });

  test("an archive written by skopeo is read by us", async () => {
    const archive = join(tmp, "skopeo-made.tar");
    await skopeoCopy(`docker://${a.host}/skopeo/multi:1.0`, `oci-archive:${archive}:1.0`, { src: a.skopeo, all: true });
    const r = await mirror(`oci-archive:${archive}:1.0`, `${b.host}/fromskopeoarchive/multi:1.0`);
    expect(r.stderr).not.toMatch(/^error/m);
    expect(r.code).toBe(0);
    expect(await digestOf(`${b.host}/fromskopeoarchive/multi:1.0`, b)).toBe(multi.images[0]!.digest);
  });

  test("a warm copy transfers nothing", async () => {
    const r = await mirror(`${a.host}/skopeo/multi:1.0`, `${b.host}/ours/multi:1.0`, "-o", "json");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.items[0].status).toBe("up-to-date");
    expect(out.items[0].bytesCopied).toBe(0);
  });
});

describe("filters and extras", () => {
  test("--platform keeps the asked platforms, warns that the index digest changes", async () => {
    const r = await mirror(`${a.host}/skopeo/multi:1.0`, `${b.host}/arm/multi:1.0`, "--platform", "linux/arm64");
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: .*new digest/);
    const idx = JSON.parse((await skopeoInspectRaw(`${b.host}/arm/multi:1.0`, b.skopeo)).text);
    expect(idx.manifests.map((m: any) => `${m.platform.os}/${m.platform.architecture}`)).toEqual(["linux/arm64"]);
    const none = await mirror(`${a.host}/skopeo/multi:1.0`, `${b.host}/none/multi:1.0`, "--platform", "windows/amd64");
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no manifest for windows\/amd64 \(index has: linux\/amd64, linux\/arm64, linux\/arm\/v7\)/);
  });

  test("cosign signature tags and OCI referrers (tag-schema fallback) travel with the image; --exclude-extras skips them", async () => {
    const subject = await pushArtifact(`${a.host}/signed/app:v1`, { config: { mediaType: MT.ociConfig, bytes: Buffer.from('{"os":"linux"}') }, layers: [{ mediaType: MT.ociLayer, bytes: Buffer.from("app") }] }, atA());
    const sigTag = `${subject.digest.replace(":", "-")}.sig`;
    const sig = await pushArtifact(`${a.host}/signed/app:${sigTag}`, { config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from("{}") }, layers: [{ mediaType: "application/vnd.dev.cosign.simplesigning.v1+json", bytes: Buffer.from('{"critical":{}}'), annotations: { "dev.cosignproject.cosign/signature": "MEUC" } }] }, atA());
    // an SBOM referrer; registry 2.8 has no referrers API, so its tag-schema index is pushed by hand
    const sbom = await pushArtifact(`${a.host}/signed/app@`.slice(0, -1) + ":sbom-tmp", { artifactType: "application/spdx+json", config: { mediaType: MT.ociEmpty, bytes: Buffer.from("{}") }, layers: [{ mediaType: "application/spdx+json", bytes: Buffer.from('{"spdxVersion":"SPDX-2.3"}') }], subject: { mediaType: MT.ociManifest, digest: subject.digest, size: subject.size } }, atA());
    const fallback = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [{ mediaType: MT.ociManifest, digest: sbom.digest, size: sbom.size, artifactType: "application/spdx+json" }] }));
    const put = await tlsFetch(a, `/v2/signed/app/manifests/${subject.digest.replace(":", "-")}`, { method: "PUT", headers: { "content-type": MT.ociIndex }, body: fallback });
    expect(put.status).toBe(201);

    const r = await mirror(`${a.host}/signed/app:v1`, `${b.host}/signed/app:v1`, "-o", "json");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    // extras counts them as sync/push/export items do (and copy --in-cluster); extraRefs names them
    expect(out.items[0]).toMatchObject({ extras: 2, extraRefs: [sigTag, `referrer application/spdx+json ${sbom.digest}`] });
    expect(await digestOf(`${b.host}/signed/app:${sigTag}`, b)).toBe(sig.digest);
    expect(await digestOf(`${b.host}/signed/app@${sbom.digest}`, b)).toBe(sbom.digest);
    const idx = JSON.parse((await skopeoInspectRaw(`${b.host}/signed/app:${subject.digest.replace(":", "-")}`, b.skopeo)).text);
    expect(idx.manifests.map((m: any) => m.digest)).toEqual([sbom.digest]);

    // across an air gap too: registry → archive (plain and gzip) → registry keeps the signature and the referrer
    for (const archive of [join(tmp, "signed.tar"), join(tmp, "signed.tar.gz")]) {
      expect((await mirror(`${a.host}/signed/app:v1`, `oci-archive:${archive}`)).code).toBe(0);
      const repo = `viaarchive${archive.endsWith(".gz") ? "gz" : ""}/app`;
      const back = await mirror(`oci-archive:${archive}:v1`, `${b.host}/${repo}:v1`, "-o", "json");
      expect(back.code).toBe(0);
      expect(JSON.parse(back.stdout).items[0]).toMatchObject({ extras: 2, extraRefs: [sigTag, `referrer application/spdx+json ${sbom.digest}`] });
      expect(await digestOf(`${b.host}/${repo}:${sigTag}`, b)).toBe(sig.digest);
      const fb = JSON.parse((await skopeoInspectRaw(`${b.host}/${repo}:${subject.digest.replace(":", "-")}`, b.skopeo)).text);
      expect(fb.manifests.map((m: any) => m.digest)).toEqual([sbom.digest]);
    }

    const bare = await mirror(`${a.host}/signed/app:v1`, `${b.host}/bare/app:v1`, "--exclude-extras", "-o", "json");
    expect(JSON.parse(bare.stdout).items[0]).toMatchObject({ extras: 0, extraRefs: [] });
    const missing = await tlsFetch(b, `/v2/bare/app/manifests/${sigTag}`, { method: "HEAD" });
    expect(missing.status).toBe(404);
  });
});

describe("Helm charts", () => {
  test("helm push → kubectl mirror copy → helm pull reads our copy", async () => {
    const { makeChart, helmPushChart, helmPullChart } = await import("../support/images.ts");
    const chart = await makeChart(join(tmp, "chart"), { name: "demo", version: "0.3.1" });
    // Helm 4: Helm 3.17 speaks plain HTTP to any loopback registry (test/harness/helm.test.ts)
    await helmPushChart(chart, `oci://${a.host}/charts`, HELM4, { username: a.username, password: a.password, plainHttp: false, caFile: a.caFile });
    const r = await mirror(`${a.host}/charts/demo:0.3.1`, `${b.host}/mirrored/demo:0.3.1`);
    expect(r.code).toBe(0);
    const pulled = await helmPullChart(`oci://${b.host}/mirrored/demo`, "0.3.1", join(tmp, "pulled"), HELM4, { username: b.username, password: b.password, plainHttp: false, caFile: b.caFile });
    const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");
    expect(sha(pulled)).toBe(sha(chart));
  });
});
