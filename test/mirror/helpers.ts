// Shared setup for the kubectl mirror sync/export/push/verify tests: the image-discovery fixture chart
// (test/mirror-images/fixture.ts) served from a local HTTP chart repo and pushed (with real helm) to an OCI
// registry, and every image it uses built synthetically and placed in a "source" registry under
// <src>/<original host>/<path> — reached through --source-mirror, so image names stay the real ones.
// The source registry is public-like: TLS with a private CA, token auth, anonymous pull (CLI runs need only the CA:
// `s.srcArgs`, --ca-file HOST=FILE); it is seeded as its writer (`s.srcRegistry`), the chart pushed with Helm 4.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startChartRepo, type ChartRepo } from "../support/chart-repo.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { helmPushChart, writeImageLayout, type ImageSpec } from "../support/images.ts";
import { BUN, HELM3, isolatedEnv, ROOT, runCli, type CliResult } from "../support/cli.ts";
import { HELM4 } from "../support/helm.ts";
import type { RegistryOptions } from "../../shared/oci/client.ts";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";
import { EXPECTED_RENDERED, makeFixture, PINNED_DIGEST, type Fixture } from "../mirror-images/fixture.ts";
import { mirrorCopy } from "../../plugins/kubectl-mirror/lib/transfer/copy.ts";
import { pushArtifact } from "../../shared/oci/artifact.ts";
import { parseRegistryReference } from "../../shared/oci/reference.ts";

export { BUN, HELM3, ROOT };
export const SOURCE_HOSTS = ["docker.io", "quay.io", "ghcr.io", "registry.example.com", "nvcr.io"];

export interface Sources {
  fx: Fixture;
  tmp: string;
  src: TestRegistry;
  /** CLI flags that trust the source registry's CA (--ca-file HOST=FILE) */
  srcArgs: string[];
  /** our client's options for writing into the source registry (its CA, its writer) */
  srcRegistry: RegistryOptions;
  repo: ChartRepo;
  /** the fixture images with the pinned one at its real digest */
  images: string[];
  pinnedDigest: string;
  /** --set that makes the chart use the real pinned digest */
  pinnedSet: string[];
  /** --source-mirror flags */
  mirrorArgs: string[];
  /** a cosign-style signature tag pushed next to the operator image */
  sigTag: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Where an image lives in the source registry. */
export function sourceRef(src: TestRegistry, image: string): string {
  const r = parseRegistryReference(image);
  return `${src.host}/${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ""}`;
}

/** Build and push every fixture image (small layers + one shared base layer; two platforms for one). */
export async function setupSources(opts: { layerSize?: number } = {}): Promise<Sources> {
  const fx = makeFixture(HELM3);
  const tmp = mkdtempSync(join(tmpdir(), "ka-mirror-test-"));
  const src = await startRegistry({ auth: "token", anonymous: ["pull"] });
  const srcRegistry: RegistryOptions = { caFiles: [{ host: src.host, file: src.caFile! }], credentials: staticCredentials({ username: "writer", password: src.users.writer! }) };
  const layout = join(tmp, "layout");
  const base = EXPECTED_RENDERED.filter((i) => !i.includes("@"));
  const specs: ImageSpec[] = base.map((image, i) => ({
    tag: `img${i}`,
    seed: image,
    layers: [{ seed: "shared-base", size: 4096 }, { size: opts.layerSize ?? 2048 }],
    platforms: image.includes("operator") ? ["linux/amd64", "linux/arm64"] : ["linux/amd64"],
  }));
  specs.push({ tag: "pinned", seed: "pinned", layers: 1 });
  const w = await writeImageLayout(layout, specs);
  const pinnedDigest = w.images.find((x) => x.tag === "pinned")!.digest;
  const pairs = base.map((image, i) => ({ src: `oci-layout:${layout}:img${i}`, dst: sourceRef(src, image) }));
  pairs.push({ src: `oci-layout:${layout}:pinned`, dst: `${src.host}/ghcr.io/acme/pinned:keep` });
  const results = await mirrorCopy(pairs, { registry: srcRegistry, extras: false });
  const bad = results.find((r) => r.status === "failed");
  if (bad) throw new Error(`seeding the source registry: ${bad.error}`);
  // a cosign signature tag for the operator index
  const op = w.images[base.indexOf("quay.io/acme/operator:0.9.0")]!;
  const sigTag = `${op.digest.replace(":", "-")}.sig`;
  await pushArtifact(`${src.host}/quay.io/acme/operator:${sigTag}`, { config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from("{}") }, layers: [{ mediaType: "application/vnd.dev.cosign.simplesigning.v1+json", bytes: Buffer.from(`{"critical":{"image":{"docker-manifest-digest":"${op.digest}"}}}`) }] }, srcRegistry);
  // the chart: in an HTTP chart repo and (pushed by real helm) in the source registry
  const repo = await startChartRepo({ charts: [fx.tgz] });
  // Helm 4: Helm 3.17 speaks plain HTTP to loopback registries
  await helmPushChart(fx.tgz, `oci://${src.host}/helm-charts`, HELM4, { username: "writer", password: src.users.writer!, plainHttp: false, caFile: src.caFile });
  const images = EXPECTED_RENDERED.map((i) => (i.includes("@") ? i.replace(PINNED_DIGEST, pinnedDigest) : i));
  const env = isolatedEnv(tmp);
  return {
    fx,
    tmp,
    src,
    srcArgs: ["--ca-file", `${src.host}=${src.caFile}`],
    srcRegistry,
    repo,
    images: images.sort(),
    pinnedDigest,
    pinnedSet: ["--set", `pinned.image.digest=${pinnedDigest}`],
    mirrorArgs: SOURCE_HOSTS.flatMap((h) => ["--source-mirror", `${h}=${src.host}/${h}`]),
    sigTag,
    env,
    stop: async () => {
      await repo.stop();
      await src.stop();
      fx.cleanup();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

export function mirror(s: Sources, args: string[], opts: { stdin?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  return runCli("kubectl-mirror", args, { env: { ...s.env, ...opts.env }, stdin: opts.stdin, timeoutMs: opts.timeoutMs ?? 120_000 });
}

/** Mapped destination of an image under the default layout (strip-host, "images" prefix). */
export function destOf(dest: string, image: string): string {
  const r = parseRegistryReference(image);
  return `${dest}/images/${r.repository}${r.tag && !image.includes("@") ? `:${r.tag}` : ""}${r.digest ? `@${r.digest}` : ""}`;
}

export function expectOk(r: CliResult, what: string): void {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\nSTDERR:\n${r.stderr}\nSTDOUT:\n${r.stdout.slice(0, 4000)}`);
}
