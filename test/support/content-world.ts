// A "Palette content" world for the zstd / serve / profile tests: one private CA; a SOURCE registry (TLS +
// htpasswd — the "private source registries" of the seed, reached with --cred-file) holding a few images
// (one multi-arch, shared base layer); a DEST registry (TLS + htpasswd, the seed's external registry).
//
//   const w = await startContentWorld();
//   w.images            full source references (`${w.src.host}/spectro/…:tag`)
//   w.credFile          seed-format JSON {"image":[{endpoint,username,password}]} for the source
//   w.env               HOME/DOCKER_CONFIG sandbox for CLI runs
//   w.caArgs            ["--ca-file", CA]
//   w.destLogin         ["-u", user, "--password-stdin"] + stdin w.dst.password
//   await w.stop()
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCA, type TestCA } from "./pki.ts";
import { startRegistry, type TestRegistry } from "./registry.ts";
import { writeImageLayout, type ImageSpec } from "./images.ts";
import { mirrorCopy } from "../../plugins/kubectl-mirror/lib/transfer/copy.ts";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";
import { HELM3 } from "./cli.ts";

export interface ContentWorld {
  tmp: string;
  ca: TestCA;
  src: TestRegistry;
  dst: TestRegistry;
  /** full source references, sorted */
  images: string[];
  /** source repository path → image (without host) */
  credFile: string;
  caArgs: string[];
  env: Record<string, string>;
  stop(): Promise<void>;
}

export const WORLD_IMAGES: { path: string; spec: Omit<ImageSpec, "tag"> }[] = [
  { path: "spectro/cni/calico-node:v3.27.0", spec: { layers: [{ seed: "base", size: 64 << 10 }, { size: 96 << 10 }], platforms: ["linux/amd64", "linux/arm64"] } },
  { path: "spectro/cni/calico-cni:v3.27.0", spec: { layers: [{ seed: "base", size: 64 << 10 }, { size: 48 << 10 }] } },
  { path: "spectro/k8s/kube-apiserver:v1.30.4", spec: { layers: [{ seed: "base", size: 64 << 10 }, { size: 128 << 10, content: "text" }] } },
  { path: "spectro/addons/nginx:1.27.1", spec: { layers: [{ size: 32 << 10 }], platforms: ["linux/amd64", "linux/arm64"] } },
];

export async function startContentWorld(opts: { images?: typeof WORLD_IMAGES } = {}): Promise<ContentWorld> {
  const tmp = mkdtempSync(join(tmpdir(), "ka-content-"));
  mkdirSync(join(tmp, "pki"));
  const ca = createCA(join(tmp, "pki"));
  const [src, dst] = await Promise.all([startRegistry({ auth: "htpasswd", tls: ca }), startRegistry({ auth: "htpasswd", tls: ca })]);
  const list = opts.images ?? WORLD_IMAGES;
  const layout = join(tmp, "layout");
  await writeImageLayout(
    layout,
    list.map((x, i) => ({ ...x.spec, tag: `i${i}`, seed: x.path })),
  );
  const images = list.map((x) => `${src.host}/${x.path}`);
  const res = await mirrorCopy(
    list.map((x, i) => ({ src: `oci-layout:${layout}:i${i}`, dst: `${src.host}/${x.path}` })),
    { registry: { caFiles: [{ file: ca.cert }], credentials: staticCredentials({ username: src.username, password: src.password }, [src.host]) }, extras: false },
  );
  const bad = res.find((r) => r.status === "failed");
  if (bad) throw new Error(`seeding the source registry: ${bad.error}`);
  const credFile = join(tmp, "registry-creds.json");
  writeFileSync(credFile, JSON.stringify({ image: [{ endpoint: src.host, username: src.username, password: src.password }] }, null, 2));
  const home = join(tmp, "home");
  mkdirSync(home, { recursive: true });
  return {
    tmp,
    ca,
    src,
    dst,
    images: images.sort(),
    credFile,
    caArgs: ["--ca-file", ca.cert],
    env: { HOME: home, DOCKER_CONFIG: join(home, ".docker"), NO_COLOR: "1", HELM_BIN: HELM3 },
    async stop() {
      await Promise.all([src.stop(), dst.stop()]);
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}
