// Seed 001 ("Upload Cluster Images to Registry with the CLI", /work/shared/seeds/001_b813eaa6cfe530eb.txt), run the
// way its user would, with the tool swapped per the README table "Palette CLI / Palette Edge CLI / PaletteAI →
// kube-airgap" (parsed from README.md and executed row by row):
//   Palette CLI tab:  login (API key) → registry-login to the private source → content build (profiles from the
//                     Palette API → .tar.zst) → registry-login to the external registry → content push
//   Palette Edge tab: build --api-key … --cluster-profile-ids … --outfile … --cred-file-path creds.json (the seed's
//                     JSON for private image AND helm sources; no docker login) → deploy --export --url --username --password
//   then the seed's Validate step: every image the cluster profiles reference is in the external registry.
// Sources are private (TLS + htpasswd registry, TLS + basic-auth chart repo); the external registry is TLS + htpasswd.
// A private CA is trusted with --ca-file / --palette-ca-file (a real user has it in the system trust store).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startContentWorld, type ContentWorld } from "../support/content-world.ts";
import { pack, profile, startFakePaletteContent, type FakePaletteContent } from "../support/palette-content-api.ts";
import { startChartRepo, type ChartRepo } from "../support/chart-repo.ts";
import { chartTgz } from "../support/violet-fixtures.ts";
import { BUN, HELM3, ROOT, runCli, type CliResult } from "../support/cli.ts";
import { skopeoInspectRaw } from "../support/images.ts";
import { OciArchiveReader } from "../../shared/oci/archive.ts";

const INFRA = "6631aa00bb11cc22dd33ee44";
const ADDON = "6631aa00bb11cc22dd33ee45";
const OLD = "6631aa00bb11cc22dd33ee46";

let w: ContentWorld;
let api: FakePaletteContent;
let repo: ChartRepo;
let work: string;
let env: Record<string, string>;
let credFile: string;
/** images each profile declares (the Validate step's list) */
let declared: Record<string, string[]>;
const children: ChildProcess[] = [];

/** the README table: [palette command, kube-airgap command] */
function readmeRows(): [string, string][] {
  const md = readFileSync(join(ROOT, "README.md"), "utf8");
  const block = /<!-- palette-table -->([\s\S]*?)<!-- \/palette-table -->/.exec(md);
  if (!block) throw new Error("README.md has no palette-table block");
  return block[1]!
    .split("\n")
    .filter((l) => l.startsWith("| `"))
    .map((l) => {
      const cells = [...l.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
      return [cells[0]!, cells[cells.length - 1]!];
    });
}
const rows = readmeRows();
function row(paletteStart: string): string {
  const r = rows.find(([p]) => p.startsWith(paletteStart));
  if (!r) throw new Error(`README table has no row for "${paletteStart}"`);
  return r[1];
}

function fill(cmd: string, vars: Record<string, string>): string[] {
  return cmd
    .split(/\s+/)
    .filter(Boolean)
    .map((t) => t.replace(/<([a-z0-9.-]+)>/g, (m, k) => vars[k] ?? m));
}

/** run a kube-airgap row: `kubectl mirror …` with the placeholders filled, plus the TLS trust flags */
async function runRow(cmd: string, vars: Record<string, string>, o: { stdin?: string; env?: Record<string, string>; extra?: string[] } = {}): Promise<CliResult> {
  const argv = fill(cmd, vars);
  expect(argv.slice(0, 2)).toEqual(["kubectl", "mirror"]);
  const left = argv.filter((a) => /<[a-z]/.test(a));
  if (left.length) throw new Error(`unfilled placeholders in ${cmd}: ${left.join(" ")}`);
  return runCli("kubectl-mirror", [...argv.slice(2), ...(o.extra ?? [])], { env: { ...env, ...o.env }, stdin: o.stdin, cwd: work, timeoutMs: 180_000 });
}
const ok = (r: CliResult, what: string) => {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n${r.stderr}\n${r.stdout.slice(0, 3000)}`);
};

/** The seed's Validate step: every image the given profiles reference is in the registry (same digest as at the source). */
async function validate(pushJson: string, profiles: string[], arch?: string) {
  const rep = JSON.parse(pushJson);
  expect(rep.summary.failed).toBe(0);
  const want = [...new Set(profiles.flatMap((p) => declared[p]!))].sort();
  const dests = new Map<string, string>(rep.items.filter((i: any) => i.kind === "image").map((i: any) => [i.source, i.destination]));
  for (const img of want) {
    const dest = dests.get(img);
    expect(dest, `${img} was not pushed`).toBeDefined();
    expect(dest!.startsWith(w.dst.host + "/")).toBe(true);
    const at = await skopeoInspectRaw(dest!, w.dst.skopeo);
    const src = await skopeoInspectRaw(`${w.src.host}/${img.slice(img.indexOf("/") + 1)}`, w.src.skopeo);
    if (arch && src.json.manifests) {
      // --arch: the index keeps exactly the source's manifest for that platform (so the index digest changes)
      const want = src.json.manifests.filter((m: any) => m.platform?.architecture === arch).map((m: any) => m.digest);
      expect(at.json.manifests.map((m: any) => m.digest)).toEqual(want);
    } else expect(at.digest).toBe(src.digest);
  }
}

beforeAll(async () => {
  w = await startContentWorld();
  work = join(w.tmp, "work");
  mkdirSync(work, { recursive: true });
  const img = (s: string) => w.images.find((i) => i.includes(s))!;
  // a private chart repository (TLS + basic auth) holding the add-on chart a pack's content tags name
  const charts = join(w.tmp, "charts");
  mkdirSync(charts, { recursive: true });
  const tgz = await chartTgz(charts, { name: "edge-web", version: "0.3.0", values: { image: img("nginx") }, templates: { "deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: {{ .Values.image }}\n" } });
  const cert = w.ca.server("charts");
  const chartPassword = "Ch4rt-" + Math.random().toString(36).slice(2);
  repo = await startChartRepo({ charts: [tgz], auth: { username: "chartreader", password: chartPassword }, tls: { cert: cert.cert, key: cert.key } });
  api = await startFakePaletteContent({
    ca: w.ca,
    profiles: [
      profile("edge-native-infra", INFRA, [
        pack("edge-native-byoi", "1.0.0", undefined, "os"),
        pack("edge-k8s", "1.30.4", { images: [{ image: img("kube-apiserver") }] }, "k8s"),
        pack("cni-calico", "3.27.0", { images: [{ image: img("calico-node") }, { image: img("calico-cni") }] }, "cni"),
      ]),
      profile("edge-web-addon", ADDON, [pack("edge-web", "0.3.0", { images: [{ image: img("nginx") }], charts: [{ repo: repo.url, name: "edge-web", version: "0.3.0" }] })]),
      profile("edge-native-infra-old", OLD, [pack("cni-calico", "3.26.0", { images: [{ image: img("calico-cni") }] }, "cni")]),
    ],
  });
  declared = { [INFRA]: [img("kube-apiserver"), img("calico-node"), img("calico-cni")], [ADDON]: [img("nginx")], [OLD]: [img("calico-cni")] };
  // the seed's credentials file: image AND helm sources
  credFile = join(work, "registry-creds.json");
  writeFileSync(credFile, JSON.stringify({ helm: [{ endpoint: repo.url.replace(/^https?:\/\//, ""), username: "chartreader", password: chartPassword }], image: [{ endpoint: w.src.host, username: w.src.username, password: w.src.password }] }, null, 2));
  env = { ...w.env, HELM_BIN: HELM3, HELM_CACHE_HOME: join(w.tmp, "helm/cache"), HELM_CONFIG_HOME: join(w.tmp, "helm/config"), HELM_DATA_HOME: join(w.tmp, "helm/data") };
}, 180_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  await Promise.all([w?.stop(), api?.stop(), repo?.stop()]);
});

describe("seed 001: profiles → .tar.zst bundle → external registry (README table, row by row)", () => {
  test("the README table maps every Palette step the seed uses", () => {
    for (const p of ["palette login", "palette content registry-login", "palette content build --arch", "palette content push", "palette content serve", "palette-edge build", "palette-edge deploy", "paletteai mirror export-pack", "paletteai mirror push"]) expect(() => row(p)).not.toThrow();
  });

  test("Palette CLI tab: login → registry-login (source) → content build → registry-login (external) → content push → Validate", async () => {
    // 4. palette login --api-key … --console-url …  → the key and endpoint in the environment
    const login = fill(row("palette login"), { "api-key": api.apiKey, "palette-url": api.url });
    expect(login[0]).toBe("export");
    for (const kv of login.slice(1)) env[kv.slice(0, kv.indexOf("="))] = kv.slice(kv.indexOf("=") + 1);
    // 10. registry-login to the private source registry
    ok(await runRow(row("palette content registry-login"), { registry: w.src.host, user: w.src.username }, { stdin: w.src.password + "\n", extra: w.caArgs }), "login source");
    // 11. content build --arch --project-id --profiles --name (the chart repo's credentials: the seed's creds file)
    const build = await runRow(row("palette content build --arch"), { arch: "amd64", "project-id": api.projectUid, "profile-ids": `${INFRA},${ADDON}`, name: "edge-bundle" }, { extra: [...w.caArgs, "--palette-ca-file", api.caFile, "--cred-file", credFile] });
    ok(build, "content build");
    expect(build.stderr).toContain("--arch amd64: every image is resolved to linux/amd64; digests change");
    expect(build.stderr).toContain("pack edge-native-byoi 1.0.0: no content tags");
    const bundle = join(work, "output/content-bundle/edge-bundle.tar.zst");
    expect(readFileSync(bundle).subarray(0, 4).toString("hex")).toBe("28b52ffd");
    const reader = await OciArchiveReader.open(bundle);
    expect(await reader.tags()).toContain("charts/edge-web/edge-web:0.3.0");
    await reader.close();
    // 12. registry-login to the external registry; 13. content push --file --registry
    ok(await runRow(row("palette content registry-login"), { registry: w.dst.host, user: w.dst.username }, { stdin: w.dst.password + "\n", extra: w.caArgs }), "login external");
    const push = await runRow(row("palette content push"), { bundle, registry: w.dst.host }, { extra: [...w.caArgs, "-o", "json"] });
    ok(push, "content push");
    // Validate: every image in the cluster profiles is in the external registry; the chart too
    await validate(push.stdout, [INFRA, ADDON], "amd64");
    expect(JSON.parse(push.stdout).items.find((i: any) => i.kind === "chart").destination).toBe(`${w.dst.host}/charts/edge-web/edge-web:0.3.0`);
    // --arch amd64: the calico-node index was cut to one platform (its digest differs from the source's)
    const node = JSON.parse(push.stdout).items.find((i: any) => i.source.includes("calico-node")).destination;
    expect((await skopeoInspectRaw(node, w.dst.skopeo)).json.manifests.map((m: any) => m.platform.architecture)).toEqual(["amd64"]);
  }, 300_000);

  test("day-2 row: --exclude-profiles leaves out what the old profile carried; --include-packs adds the packs", async () => {
    const r = await runRow(row("palette content build --project-id"), { "project-id": api.projectUid, "profile-ids": INFRA, "old-profile-ids": OLD, name: "day2" }, { env: { PALETTE_API_KEY: api.apiKey, PALETTE_ENDPOINT: api.url }, extra: [...w.caArgs, "--palette-ca-file", api.caFile, "--cred-file", credFile, "-o", "json"] });
    ok(r, "day-2 build");
    const meta = JSON.parse(r.stdout).metadata;
    expect(meta.images.map((i: any) => i.image).sort()).toEqual(declared[INFRA]!.filter((i) => !declared[OLD]!.includes(i)).sort());
    expect(meta.artifacts.map((a: any) => a.ref).sort()).toEqual(["packs/cni-calico:3.27.0", "packs/edge-k8s:1.30.4", "packs/edge-native-byoi:1.0.0"]);
  }, 180_000);

  test("Palette Edge CLI tab: build with --cred-file-path only (no logins) → deploy --export --url --username --password → Validate", async () => {
    const fresh = { HOME: join(w.tmp, "edge-home"), DOCKER_CONFIG: join(w.tmp, "edge-home/.docker"), PALETTE_API_KEY: "", PALETTE_ENDPOINT: "" };
    mkdirSync(fresh.HOME, { recursive: true });
    const b = await runRow(row("palette-edge build"), { "api-key": api.apiKey, "project-id": api.projectUid, "profile-ids": `${INFRA},${ADDON}`, "palette-url": api.url, name: "core-edge", "creds.json": credFile }, { env: fresh, extra: [...w.caArgs, "--palette-ca-file", api.caFile] });
    ok(b, "palette-edge build");
    expect(b.stderr).toContain("an API key on the command line is visible to other users");
    expect(b.stdout + b.stderr).not.toContain(api.apiKey);
    const bundle = join(work, "core-edge.tar.zst");
    expect(existsSync(bundle)).toBe(true);
    const d = await runRow(row("palette-edge deploy"), { bundle, registry: `${w.dst.host}/edge`, user: w.dst.username, password: w.dst.password }, { env: fresh, extra: [...w.caArgs, "-o", "json"] });
    ok(d, "palette-edge deploy");
    expect(d.stderr).not.toContain(w.dst.password);
    await validate(d.stdout, [INFRA, ADDON]);
  }, 300_000);

  test("content serve row: the bundle answers as a registry", async () => {
    const argv = fill(row("palette content serve"), { bundle: join(work, "core-edge.tar.zst"), port: "0" });
    const child = spawn(BUN, [join(ROOT, "plugins/kubectl-mirror/main.ts"), ...argv.slice(2)], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    const host = await new Promise<string>((resolve, reject) => {
      let err = "";
      const t = setTimeout(() => reject(new Error(err)), 60_000);
      child.stderr!.on("data", (x) => {
        err += x;
        // `--address :PORT` listens on every interface (as palette content serve --port does), and the banner says so
        const line = /serving .* \(read-only\) on every interface: .*\n/.exec(err)?.[0];
        const m = line && /http:\/\/(127\.0\.0\.1:\d+)/.exec(line);
        if (m) clearTimeout(t), resolve(m[1]!);
      });
    });
    const nginx = declared[ADDON]![0]!;
    const path = nginx.slice(nginx.indexOf("/") + 1);
    expect((await skopeoInspectRaw(`${host}/${path}`, { tlsVerify: false })).digest).toBe((await skopeoInspectRaw(`${w.src.host}/${path}`, w.src.skopeo)).digest);
    child.kill("SIGTERM");
  }, 120_000);

  test("PaletteAI rows: export-pack <pack>.zst (+ .sig.bin, said NOT verified) → push", async () => {
    const root = join(w.tmp, "studio-src");
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, "pack.json"), JSON.stringify({ name: "edge-web", version: "0.3.0" }));
    writeFileSync(join(root, "values.yaml"), `pack:\n  content:\n    images:\n      - image: ${declared[ADDON]![0]}\n`);
    execFileSync("sh", ["-c", `tar -cf - -C '${root}' pack.json values.yaml | zstd -q -c > '${join(work, "edge-web-0.3.0.zst")}'`]);
    writeFileSync(join(work, "edge-web-0.3.0.sig.bin"), Buffer.from([0x89, 0x01, 0x33]));
    const e = await runRow(row("paletteai mirror export-pack"), { pack: "edge-web-0.3.0", name: "packs" }, { extra: [...w.caArgs, "--cred-file", credFile] });
    ok(e, "export-pack");
    expect(e.stderr).toContain("signature edge-web-0.3.0.sig.bin carried with the pack but NOT verified");
    const p = await runRow(row("paletteai mirror push"), { name: "packs", registry: `${w.dst.host}/ai` }, { extra: [...w.caArgs, "-o", "json"], env: {} });
    ok(p, "push packs");
    expect((await skopeoInspectRaw(`${w.dst.host}/ai/packs/edge-web:0.3.0`, w.dst.skopeo)).json.layers).toHaveLength(2);
  }, 180_000);
});
