// Issue 16.3: `kubectl mirror serve ARCHIVE|oci-layout:DIR` — a read-only registry straight from an export
// archive (split parts read in place; .tar.zst decompressed once), pulled by real skopeo, real helm 4 and
// `kubectl mirror copy`; tags list, catalog, manifests by tag and digest, blobs with Range, referrers, 405 on
// writes, TLS with --tls-cert/--tls-key. New command: on the previous code `serve` is an unknown command.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startContentWorld, WORLD_IMAGES, type ContentWorld } from "../support/content-world.ts";
import { BUN, HELM4, ROOT, runCli, type CliResult } from "../support/cli.ts";
import { helm, skopeoInspectRaw } from "../support/images.ts";
import { chartTgz } from "../support/violet-fixtures.ts";

let w: ContentWorld;
let chart: string;
const servers: ChildProcess[] = [];

const mirror = (args: string[], o: { stdin?: string } = {}) => runCli("kubectl-mirror", args, { env: w.env, stdin: o.stdin, timeoutMs: 120_000 });
const ok = (r: CliResult, what: string) => {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n${r.stderr}\n${r.stdout.slice(0, 2000)}`);
};

/** start `kubectl mirror serve` as a user would; resolves with its URL when it says it is serving */
function serve(args: string[]): Promise<{ url: string; host: string; child: ChildProcess; stderr: () => string }> {
  const child = spawn(BUN, [join(ROOT, "plugins/kubectl-mirror/main.ts"), "serve", ...args, "--address", "127.0.0.1:0"], { env: { ...process.env, ...w.env }, stdio: ["ignore", "pipe", "pipe"] });
  servers.push(child);
  let err = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${err}`)), 60_000);
    child.stderr!.on("data", (d) => {
      err += d;
      const m = / at (https?:\/\/(127\.0\.0\.1:\d+)) \(read-only\)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1]!, host: m[2]!, child, stderr: () => err });
      }
    });
    child.on("exit", (code) => reject(new Error(`serve exited ${code}:\n${err}`)));
  });
}

function curl(args: string[]): { status: number; body: string; headers: string } {
  const out = execFileSync("curl", ["-s", "-D", "-", "--cacert", w.ca.cert, ...args], { encoding: "utf8" });
  const i = out.indexOf("\r\n\r\n");
  const headers = out.slice(0, i);
  return { status: Number(/^HTTP\/[\d.]+ (\d+)/.exec(headers)![1]), headers, body: out.slice(i + 4) };
}

beforeAll(async () => {
  // one image with a 2.5 MiB layer, so that --split-size 1M really splits (and a blob crosses part boundaries)
  w = await startContentWorld({ images: WORLD_IMAGES.map((x) => (x.path.includes("calico-node") ? { ...x, spec: { ...x.spec, layers: [{ seed: "base", size: 64 << 10 }, { size: 2560 << 10 }] } } : x)) });
  const nginx = w.images.find((i) => i.includes("nginx"))!;
  const dir = join(w.tmp, "charts");
  mkdirSync(dir, { recursive: true });
  chart = await chartTgz(dir, { name: "edge-web", version: "0.3.0", values: { image: nginx }, templates: { "deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: {{ .Values.image }}\n" } });
  const base = ["--cred-file", w.credFile, ...w.caArgs, ...w.images.flatMap((i) => ["--image", i])];
  ok(await mirror(["export", chart, ...base, "-O", join(w.tmp, "bundle.tar"), "--split-size", "1M"]), "export split");
  ok(await mirror(["export", chart, ...base, "-O", join(w.tmp, "bundle.tar.zst")]), "export zst");
}, 180_000);

afterAll(async () => {
  for (const s of servers) if (s.exitCode === null) s.kill("SIGTERM");
  await w?.stop();
});

describe("kubectl mirror serve", () => {
  test("split parts over TLS: skopeo, helm 4 and kubectl mirror copy pull from it", async () => {
    expect(existsSync(join(w.tmp, "bundle.tar.part002"))).toBe(true); // really split
    const cert = w.ca.server("serve");
    const s = await serve([join(w.tmp, "bundle.tar.parts"), "--tls-cert", cert.cert, "--tls-key", cert.key]);
    expect(s.url.startsWith("https://")).toBe(true);
    // skopeo: manifests by tag equal the source's; a full copy verifies every blob
    for (const img of w.images) {
      const path = img.slice(img.indexOf("/") + 1);
      const a = await skopeoInspectRaw(`${w.src.host}/${path}`, w.src.skopeo);
      const b = await skopeoInspectRaw(`${s.host}/${path}`, { tlsVerify: true, certDir: w.dst.certDir });
      expect(b.digest).toBe(a.digest);
    }
    const node = w.images.find((i) => i.includes("calico-node"))!.replace(/^[^/]+\//, "");
    execFileSync("skopeo", ["copy", "-q", "--all", `--src-cert-dir=${w.dst.certDir}`, `docker://${s.host}/${node}`, `oci:${join(w.tmp, "sk-oci")}:x`]);
    // helm 4 pulls the chart, byte-identical to the one exported
    const pulled = join(w.tmp, "pulled");
    mkdirSync(pulled, { recursive: true });
    await helm(["pull", `oci://${s.host}/charts/edge-web/edge-web`, "--version", "0.3.0", "--ca-file", w.ca.cert, "--destination", pulled], { helmBin: HELM4 });
    expect(readFileSync(join(pulled, "edge-web-0.3.0.tgz")).equals(readFileSync(chart))).toBe(true);
    // kubectl mirror copy: served registry → the TLS + basic-auth destination
    const c = await mirror(["copy", `${s.host}/${node}`, `${w.dst.host}/from-serve/${node}`, ...w.caArgs, "-u", w.dst.username, "--password-stdin", "-o", "json"], { stdin: w.dst.password + "\n" });
    ok(c, "mirror copy from serve");
    const src = await skopeoInspectRaw(`${w.src.host}/${node}`, w.src.skopeo);
    expect((await skopeoInspectRaw(`${w.dst.host}/from-serve/${node}`, w.dst.skopeo)).digest).toBe(src.digest);
  }, 180_000);

  test(".tar.zst: catalog, tags, manifest by digest, blob Range, referrers, HEAD, 405 on writes", async () => {
    const s = await serve([join(w.tmp, "bundle.tar.zst")]);
    expect(s.stderr()).toContain("is zstd-compressed: decompressing it once");
    const cat = JSON.parse(curl([`${s.url}/v2/_catalog`]).body);
    expect(cat.repositories).toEqual(["charts/edge-web/edge-web", "spectro/addons/nginx", "spectro/cni/calico-cni", "spectro/cni/calico-node", "spectro/k8s/kube-apiserver"]);
    const page1 = curl([`${s.url}/v2/_catalog?n=2`]);
    expect(JSON.parse(page1.body).repositories).toHaveLength(2);
    expect(page1.headers.toLowerCase()).toContain('link: </v2/_catalog?n=2&last=spectro%2faddons%2fnginx>; rel="next"'.toLowerCase());
    expect(JSON.parse(curl([`${s.url}/v2/spectro/cni/calico-cni/tags/list`]).body)).toEqual({ name: "spectro/cni/calico-cni", tags: ["v3.27.0"] });
    const byTag = curl(["-H", "Accept: application/vnd.oci.image.index.v1+json", `${s.url}/v2/spectro/cni/calico-node/manifests/v3.27.0`]);
    expect(byTag.status).toBe(200);
    const digest = /docker-content-digest: (\S+)/i.exec(byTag.headers)![1]!;
    const idx = JSON.parse(byTag.body);
    const child = idx.manifests[0];
    const byDigest = curl([`${s.url}/v2/spectro/cni/calico-node/manifests/${child.digest}`]);
    expect(byDigest.status).toBe(200);
    expect(byDigest.headers.toLowerCase()).toContain(`content-type: ${child.mediaType}`);
    const layer = JSON.parse(byDigest.body).layers[1];
    const range = curl(["-H", "Range: bytes=10-19", `${s.url}/v2/spectro/cni/calico-node/blobs/${layer.digest}`]);
    expect(range.status).toBe(206);
    expect(range.headers).toContain(`content-range: bytes 10-19/${layer.size}`);
    expect(Buffer.byteLength(range.body, "latin1")).toBeLessThanOrEqual(10);
    const head = curl(["-I", `${s.url}/v2/spectro/cni/calico-node/blobs/${layer.digest}`]);
    expect(head.headers).toContain(`content-length: ${layer.size}`);
    const refs = curl([`${s.url}/v2/spectro/cni/calico-node/referrers/${digest}`]);
    expect(refs.status).toBe(200);
    expect(JSON.parse(refs.body)).toEqual({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [] });
    for (const [m, p] of [["PUT", "/v2/spectro/x/manifests/1"], ["POST", "/v2/spectro/x/blobs/uploads/"], ["DELETE", `/v2/spectro/cni/calico-node/manifests/${digest}`], ["PATCH", "/v2/spectro/x/blobs/uploads/abc"]]) {
      const r = curl(["-X", m!, `${s.url}${p}`]);
      expect(r.status).toBe(405);
      expect(JSON.parse(r.body).errors[0].code).toBe("UNSUPPORTED");
    }
    expect(curl([`${s.url}/v2/nope/tags/list`]).status).toBe(404);
    expect(curl([`${s.url}/v2/spectro/cni/calico-node/manifests/nope`]).status).toBe(404);
  }, 120_000);

  test("oci-layout:DIR is served too", async () => {
    const s = await serve([`oci-layout:${join(w.tmp, "sk-oci")}`, "--repository", "copied/node"]);
    const tags = JSON.parse(curl([`${s.url}/v2/copied/node/tags/list`]).body);
    expect(tags.tags).toEqual(["x"]);
    const node = w.images.find((i) => i.includes("calico-node"))!.replace(/^[^/]+\//, "");
    const src = await skopeoInspectRaw(`${w.src.host}/${node}`, w.src.skopeo);
    expect((await skopeoInspectRaw(`${s.host}/copied/node:x`, { tlsVerify: false })).digest).toBe(src.digest);
  }, 120_000);
});
