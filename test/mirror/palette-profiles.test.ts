// Issue 16.1: build from Palette cluster profiles (fake Palette API answering the documented shapes):
// `images --palette-profile` with profile/pack provenance, a pack without content tags and a Palette macro
// warned about, a wrong API key / a missing profile as one-line errors (key never printed), no key at all,
// --exclude-profiles (day-2 delta), --include-packs, --arch amd64 (single-platform, warned), and `sync`
// taking the same source. All of it is new: on the previous code every --palette-profile run is an unknown flag.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startContentWorld, type ContentWorld } from "../support/content-world.ts";
import { pack, profile, startFakePaletteContent, type FakePaletteContent } from "../support/palette-content-api.ts";
import { runCli, type CliResult } from "../support/cli.ts";
import { validReport } from "../support/schema.ts";
import { skopeoInspectRaw } from "../support/images.ts";
import { OciArchiveReader } from "../../shared/oci/archive.ts";

let w: ContentWorld;
let api: FakePaletteContent;
const INFRA = "66a0b1c2d3e4f5a6b7c8d9e0";
const ADDON = "66a0b1c2d3e4f5a6b7c8d9e1";
const DAY1 = "66a0b1c2d3e4f5a6b7c8d9e2";

beforeAll(async () => {
  w = await startContentWorld();
  const img = (s: string) => w.images.find((i) => i.includes(s))!;
  api = await startFakePaletteContent({
    ca: w.ca,
    profiles: [
      profile("edge-infra", INFRA, [
        pack("edge-native-byoi", "1.0.0", undefined, "os"),
        pack("edge-k8s", "1.30.4", { images: [{ image: img("kube-apiserver") }] }, "k8s"),
        pack("cni-calico", "3.27.0", { images: [{ image: img("calico-node") }, img("calico-cni")] }, "cni"),
      ]),
      profile("edge-addons", ADDON, [pack("nginx", "1.27.1", { images: [{ image: img("nginx") }, { image: "{{.spectro.pack.nginx.image}}" }] })]),
      profile("edge-day1", DAY1, [pack("cni-calico", "3.26.0", { images: [img("calico-cni")] }, "cni")]),
    ],
  });
}, 120_000);
afterAll(async () => {
  await Promise.all([w?.stop(), api?.stop()]);
});

const run = (args: string[], o: { stdin?: string; env?: Record<string, string> } = {}) => runCli("kubectl-mirror", args, { env: { ...w.env, ...o.env }, stdin: o.stdin, timeoutMs: 120_000 });
const ok = (r: CliResult, what: string) => {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n${r.stderr}\n${r.stdout.slice(0, 2000)}`);
};
const paletteFlags = (ids: string) => ["--palette-profile", ids, "--project-id", api.projectUid, "--palette-endpoint", api.url, "--palette-ca-file", api.caFile];
const keyEnv = () => ({ PALETTE_API_KEY: api.apiKey });

describe("--palette-profile", () => {
  test("images: every image the profiles declare, with profile and pack; untagged pack and macro warned", async () => {
    const r = await run(["images", ...paletteFlags(`${INFRA},${ADDON}`), "-o", "json"], { env: keyEnv() });
    ok(r, "images");
    const j = validReport(r.stdout, "ProfileImagesReport");
    expect(j.images.map((i: any) => i.image).sort()).toEqual(w.images);
    const calico = j.images.find((i: any) => i.image.includes("calico-node"));
    expect(calico.from).toEqual([{ profile: "edge-infra", profileUid: INFRA, pack: "cni-calico", tag: "3.27.0" }]);
    expect(r.stderr).toContain("profile edge-infra pack edge-native-byoi 1.0.0: no content tags (pack.content.images/charts)");
    expect(r.stderr).toContain('"{{.spectro.pack.nginx.image}}" uses a Palette macro');
    // the key went in the ApiKey header with the project, and never into the output
    expect(api.calls.filter((c) => c.path.startsWith("/v1/clusterprofiles/")).every((c) => c.apiKey === "ok" && c.projectUid === api.projectUid)).toBe(true);
    expect(r.stdout + r.stderr).not.toContain(api.apiKey);
    const human = await run(["images", ...paletteFlags(INFRA)], { env: keyEnv() });
    ok(human, "images table");
    expect(human.stdout).toMatch(/image\s+127\.0\.0\.1:\d+\/spectro\/cni\/calico-node:v3\.27\.0\s+edge-infra\/cni-calico:3\.27\.0/);
  }, 120_000);

  test("a wrong API key: one-line error, exit 1, the key not shown", async () => {
    const bad = "pk-WRONG-" + "x".repeat(20);
    const r = await run(["export", ...paletteFlags(INFRA), "--api-key-stdin", "-O", join(w.tmp, "x.tar")], { stdin: bad + "\n" });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n").filter((l) => l.startsWith("error:"))).toHaveLength(1);
    expect(r.stderr).toContain(`error: the Palette API at ${api.url} rejected the API key (HTTP 401: Invalid api key)`);
    expect(r.stderr).not.toContain(bad);
  }, 60_000);

  test("a missing profile: one-line error naming it and the project", async () => {
    const r = await run(["export", ...paletteFlags(`${INFRA},ffffffffffffffffffffffff`), "-O", join(w.tmp, "x.tar")], { env: keyEnv() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: cluster profile ffffffffffffffffffffffff not found at ${api.url} in project ${api.projectUid}`);
  }, 60_000);

  test("no API key anywhere: the flags that give one are named (never required on the command line)", async () => {
    const r = await run(["images", ...paletteFlags(INFRA)], { env: { PALETTE_API_KEY: "" } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("--palette-profile needs a Palette API key");
    expect(r.stderr).toContain("--api-key-stdin");
    const file = join(w.tmp, "key.txt");
    await Bun.write(file, api.apiKey + "\n");
    ok(await run(["images", ...paletteFlags(INFRA), "--api-key-file", file]), "--api-key-file");
  }, 60_000);

  test("--exclude-profiles day-2 delta, --include-packs, --arch amd64", async () => {
    const out = join(w.tmp, "day2.tar.zst");
    const r = await run(["export", ...paletteFlags(INFRA), "--exclude-profiles", DAY1, "--include-packs", "--arch", "amd64", "--cred-file", w.credFile, ...w.caArgs, "-O", out, "-o", "json"], { env: keyEnv() });
    ok(r, "export");
    expect(r.stderr).toContain("--arch amd64: every image is resolved to linux/amd64; digests change");
    const rep = JSON.parse(r.stdout);
    const imgs = rep.metadata.images.map((i: any) => i.image).sort();
    expect(imgs).toEqual(w.images.filter((i) => i.includes("calico-node") || i.includes("kube-apiserver")));
    expect(rep.metadata.artifacts.map((a: any) => a.ref).sort()).toEqual(["packs/cni-calico:3.27.0", "packs/edge-k8s:1.30.4", "packs/edge-native-byoi:1.0.0"]);
    const reader = await OciArchiveReader.open(out);
    const node = w.images.find((i) => i.includes("calico-node"))!; // multi-arch at the source
    const m = JSON.parse(Buffer.from(await reader.fetchManifest(await reader.resolve(node))).toString());
    // the index is cut down to linux/amd64 (its digest differs from the source's two-platform index)
    expect(m.manifests.map((x: any) => `${x.platform.os}/${x.platform.architecture}`)).toEqual(["linux/amd64"]);
    await reader.close();
  }, 120_000);

  test("sync takes the same source", async () => {
    const r = await run(["sync", ...paletteFlags(ADDON), "--api-key-stdin", "--cred-file", w.credFile, ...w.caArgs, "--dest", `${w.dst.host}/sync`, "--registry-config", join(w.tmp, "dst-config.json"), "-o", "json"], {
      stdin: api.apiKey + "\n",
      env: { REGISTRY_USERNAME: w.dst.username, REGISTRY_PASSWORD: w.dst.password },
    });
    ok(r, "sync");
    const nginx = w.images.find((i) => i.includes("nginx"))!;
    const src = await skopeoInspectRaw(`${w.src.host}/spectro/addons/nginx:1.27.1`, w.src.skopeo);
    expect((await skopeoInspectRaw(`${w.dst.host}/sync/images/spectro/addons/nginx:1.27.1`, w.dst.skopeo)).digest).toBe(src.digest);
    expect(JSON.parse(r.stdout).items.map((i: any) => i.source)).toContain(nginx);
  }, 120_000);

  test("the new flags clash with no existing short or long name (-n stays --namespace)", async () => {
    for (const cmd of ["export", "sync", "images", "push", "serve", "export-pack"]) {
      const h = await run([cmd, "--help"]);
      ok(h, `${cmd} --help`);
      const seen = new Map<string, number>();
      for (const l of h.stdout.split("\nCREDENTIALS")[0]!.split("\n").filter((x) => /^\s+-/.test(x))) {
        const head = l.trim().split(/\s{2,}/)[0]!.replace(/=<[^>]*>/g, ""); // "-a, --arch=<amd64|arm64>"
        for (const n of head.split(/,\s*/).map((x) => x.replace(/=.*/, "").replace(/^-+/, ""))) seen.set(n, (seen.get(n) ?? 0) + 1);
      }
      const dup = [...seen].filter(([, c]) => c > 1).map(([n]) => n);
      expect(dup, `${cmd}: ${dup.join(", ")}`).toEqual([]);
    }
    expect((await run(["export", "--help"])).stdout).toMatch(/-n, --namespace/);
  }, 60_000);
});
