#!/usr/bin/env bun
// The demo behind `npm run demo`: everything local, nothing downloaded.
// Starts two real registries (an "upstream" and a private "mirror"), creates sample images (a multi-arch image,
// a Docker-format image, a signed app, a Helm chart) in the upstream, then runs the real CLI:
//   kubectl mirror copy --from-file …            upstream → mirror, then again (warm: nothing moves)
//   kubectl mirror copy … oci-archive:FILE       → one archive, carried "across the air gap"
//   kubectl mirror copy oci-archive:FILE …       → a second, air-gapped registry
// and shows what landed with skopeo. Later plugins add their own demo steps (scripts/demo-*.ts).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../test/support/registry.ts";
import { makeChart, helmPushChart, pushWithSkopeo, skopeoListTags, writeImageLayout } from "../test/support/images.ts";

const ROOT = join(import.meta.dir, "..");
const BUN = join(ROOT, "node_modules/.bin/bun");
const tmp = mkdtempSync(join(tmpdir(), "kube-airgap-demo-"));
const say = (s: string) => process.stdout.write(`\n\x1b[1m== ${s}\x1b[0m\n`);

function kubectlMirror(args: string[]): void {
  process.stdout.write(`$ kubectl mirror ${args.join(" ")}\n`);
  const r = spawnSync(BUN, [join(ROOT, "plugins/kubectl-mirror/main.ts"), ...args], { stdio: "inherit" });
  if (r.status !== 0) throw new Error(`kubectl mirror ${args[0]} exited ${r.status}`);
}

const regs: TestRegistry[] = [];
try {
  say("starting local registries (docker-registry 2.8 on loopback)");
  const [upstream, mirror, airgap] = await Promise.all([0, 1, 2].map(() => startRegistry({ auth: "none", tls: false }))); // plain loopback registries keep the demo short; the tests use TLS + passwords
  regs.push(upstream, mirror, airgap);
  console.log(`upstream ${upstream.host}   mirror ${mirror.host}   air-gapped ${airgap.host}`);

  say("creating sample images and a chart in the upstream registry");
  await writeImageLayout(join(tmp, "web"), { tag: "1.27", platforms: ["linux/amd64", "linux/arm64"], layers: [{ size: 2 << 20, seed: "base" }, { size: 512 << 10 }] });
  await writeImageLayout(join(tmp, "api"), { tag: "2.1.0", platforms: ["linux/amd64"], mediaTypes: "docker", layers: [{ size: 2 << 20, seed: "base" }, { size: 256 << 10 }] });
  await writeImageLayout(join(tmp, "worker"), { tag: "0.9", platforms: ["linux/amd64", "linux/arm64", "linux/s390x"], layers: 2 });
  await pushWithSkopeo(join(tmp, "web"), "1.27", `${upstream.host}/library/web:1.27`, upstream.skopeo);
  await pushWithSkopeo(join(tmp, "api"), "2.1.0", `${upstream.host}/acme/api:2.1.0`, upstream.skopeo);
  await pushWithSkopeo(join(tmp, "worker"), "0.9", `${upstream.host}/acme/worker:0.9`, upstream.skopeo);
  const chart = await makeChart(join(tmp, "chart"), { name: "acme-app", version: "1.4.2" });
  await helmPushChart(chart, `oci://${upstream.host}/charts`);
  console.log("library/web:1.27 (amd64+arm64), acme/api:2.1.0 (Docker v2), acme/worker:0.9 (3 platforms), charts/acme-app:1.4.2");

  const pairs = join(tmp, "images.txt");
  writeFileSync(pairs, [`${upstream.host}/library/web:1.27 ${mirror.host}/library/web`, `${upstream.host}/acme/api:2.1.0 ${mirror.host}/acme/api`, `${upstream.host}/acme/worker:0.9 ${mirror.host}/acme/worker`, `${upstream.host}/charts/acme-app:1.4.2 ${mirror.host}/charts/acme-app`].join("\n") + "\n");

  say("mirror everything in one invocation (shared layers move once)");
  kubectlMirror(["copy", "--from-file", pairs, "--plain-http"]);
  say("run it again: the mirror is complete, nothing is transferred");
  kubectlMirror(["copy", "--from-file", pairs, "--plain-http"]);

  say("air gap: export to one archive (only linux/amd64), carry it over, push it on the other side");
  const archive = join(tmp, "bundle.tar");
  kubectlMirror(["copy", `${mirror.host}/acme/worker:0.9`, `oci-archive:${archive}`, "--platform", "linux/amd64", "--plain-http"]);
  kubectlMirror(["copy", `oci-archive:${archive}:0.9`, `${airgap.host}/acme/worker`, "--plain-http", "-o", "json"]);

  say("what landed (skopeo list-tags)");
  for (const [reg, repo] of [[mirror, "library/web"], [mirror, "acme/api"], [mirror, "charts/acme-app"], [airgap, "acme/worker"]] as const) {
    console.log(`${reg.host}/${repo}: ${(await skopeoListTags(`${reg.host}/${repo}`, reg.skopeo)).join(", ")}`);
  }

  say("kubectl mirror sync and export → push of a chart with every image it uses");
  const { demoMirror, setupDemoMirror } = await import("./demo-mirror.ts");
  const env = await setupDemoMirror();
  try {
    await demoMirror((line: string) => process.stdout.write(`${line}\n`), env.inputs);
  } finally {
    await env.stop();
  }
  say("done");
} finally {
  await Promise.all(regs.map((r) => r.stop()));
  rmSync(tmp, { recursive: true, force: true });
}
