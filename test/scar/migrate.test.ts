// kubectl scar migrate end to end: the REAL registry (htpasswd) behind a fault proxy, the fake kube-apiserver
// (hubble-system, the registry secret, specman pods with logs) behind a fault proxy, the fake Palette API (TLS,
// with the OCI pack registry), and a fake Specman that really pulls the pushed artifact, by itself, once the pack
// registry has "Contains Spectro Manifests" ticked (as in Palette), before the SCAR endpoint is switched.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";

setDefaultTimeout(60_000);
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli, type CliResult } from "../support/cli.ts";
import { validReport } from "../support/schema.ts";
import { startFakeApiServer, type FakeApiServer } from "../support/kube-apiserver.ts";
import { startFakePalette, type FakePalette } from "../support/palette-api.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { makeManifestsTree, shellWords, startFaultProxy, startSpecmanLoop, type FaultProxy, type SpecmanLoop } from "./helpers.ts";

const SPECMAN = "https://specman-service.hubble-system.svc.cluster.local:8443";
const SECRET = "spectro-manifest-registry-secrets";
const NS = "hubble-system";
const REPO = "spectro-packs/spectro-manifests/manifest";
const PALETTE_PW = "Palette-Admin-Pw-91!";
const OLD_SCAR = { endpoint: "https://10.10.1.5:8443", username: "spectro", password: "old-Scar-Secret-55" };
// what the registry secret holds (must never show in any output; kept in the state file for rollback)
const SECRET_JSON = '{"auths":{"harbor.local":{"auth":"c3BlY3Ryby1yZWctY3JlZC1YeVo="}}}';
const SECRET_DATA = { "config.json": Buffer.from(SECRET_JSON).toString("base64") };

let reg: TestRegistry;
let regProxy: FaultProxy;
let api: FakeApiServer;
let kubeProxy: FaultProxy;
let palette: FakePalette;
let tmp: string;
let src: string;
let kubeconfig: string;
/** the tag Specman looks for */
let currentTag = "0.0.0";
let specman: SpecmanLoop;

function regAuth(): string {
  return `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString("base64")}`;
}

beforeAll(async () => {
  reg = await startRegistry(); // TLS (private CA) + htpasswd
  // migrate runs through the fault proxy (plain HTTP), which verifies the registry's CA upstream
  regProxy = await startFaultProxy(reg.url, { ca: readFileSync(reg.caFile!, "utf8") });
  api = await startFakeApiServer({ namespaces: [NS] });
  kubeProxy = await startFaultProxy(api.url);
  palette = await startFakePalette({
    tls: true,
    users: { admin: PALETTE_PW },
    scar: { ...OLD_SCAR },
    revealPassword: true,
    registries: [{ kind: "basic", metadata: { uid: "reg-harbor", name: "airgap-harbor" }, spec: { endpoint: `https://${regProxy.host}`, baseContentPath: "spectro-packs", containsSpectroManifest: false, auth: { type: "basic", username: reg.username, password: reg.password } } }],
  });
  tmp = mkdtempSync(join(tmpdir(), "scar-mig-"));
  src = join(tmp, "html");
  mkdirSync(src);
  makeManifestsTree(src);
  const kc = api.kubeconfig("admin");
  kubeconfig = join(tmp, "kubeconfig");
  writeFileSync(kubeconfig, readFileSync(kc, "utf8").replace(api.url, kubeProxy.url));
  api.put({ apiVersion: "v1", kind: "Secret", metadata: { name: SECRET, namespace: NS }, type: "Opaque", data: { ...SECRET_DATA } });
  for (const p of ["specman-0", "specman-1"]) api.addPod(NS, p, `time="2026-01-01T00:00:00Z" level=info msg="Starting specman"\n`, { phase: "Running" });
  api.addPod(NS, "hubble-api-0", "unrelated\n", { phase: "Running" });
  specman = startSpecmanLoop({ api, registryUrl: reg.url, ca: readFileSync(reg.caFile!, "utf8"), repository: REPO, auth: regAuth(), pods: ["specman-0", "specman-1"], tag: () => currentTag, flagged: () => palette.registries[0]!.spec.containsSpectroManifest === true });
});

afterAll(async () => {
  specman?.stop();
  await regProxy?.stop();
  await kubeProxy?.stop();
  await api?.stop();
  await palette?.stop();
  await reg?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function baseArgs(stateDir: string, tag: string): string[] {
  return [
    "migrate", src, "--registry", regProxy.host, "--plain-http", "--registry-username", reg.username, "--password-stdin", "--retries", "0",
    "--palette", palette.url, "--palette-ca-file", palette.caFile!, "--kubeconfig", kubeconfig, "--state-dir", stateDir,
    "--tag", tag, "--sync-delay", "0s", "--timeout", "20s", "--poll-interval", "300ms",
  ];
}

function scar(args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
  return runCli("kubectl-scar", args, { stdin: reg.password + "\n", env: { PALETTE_PASSWORD: PALETTE_PW, ...extraEnv } });
}

function noSecrets(r: CliResult): void {
  const all = r.stdout + r.stderr;
  for (const s of [reg.password, PALETTE_PW, OLD_SCAR.password, ...palette.tokens, SECRET_JSON, SECRET_DATA["config.json"]]) expect(all).not.toContain(s);
  expect(all).not.toContain(Buffer.from(`${reg.username}:${reg.password}`).toString("base64"));
}

function secretExists(): boolean {
  return !!api.get("v1", "Secret", SECRET, NS);
}
/** Palette re-creates the secret (with other content) */
function restoreSecret(): void {
  if (!secretExists()) api.put({ apiVersion: "v1", kind: "Secret", metadata: { name: SECRET, namespace: NS }, data: {} });
}
function secretData(): unknown {
  return (api.get("v1", "Secret", SECRET, NS) as { data?: unknown } | undefined)?.data;
}
function flagRegistry(on: boolean): void {
  palette.registries[0]!.spec.containsSpectroManifest = on;
}
const REG_PUT = "/v1/registries/oci/reg-harbor/basic";
async function tags(): Promise<string[]> {
  const r = await fetch(`${reg.url}/v2/${REPO}/tags/list`, { headers: { authorization: regAuth() }, tls: { ca: readFileSync(reg.caFile!, "utf8") } } as RequestInit);
  if (!r.ok && r.status !== 404) throw new Error(`tags/list: HTTP ${r.status}`); // never read a 401 as "no tags"
  return r.ok ? (((await r.json()) as { tags?: string[] }).tags ?? []) : [];
}
async function tagDigest(tag: string): Promise<string | null> {
  const r = await fetch(`${reg.url}/v2/${REPO}/manifests/${tag}`, { method: "HEAD", headers: { authorization: regAuth(), accept: "application/vnd.oci.image.manifest.v1+json" }, tls: { ca: readFileSync(reg.caFile!, "utf8") } } as RequestInit);
  if (!r.ok && r.status !== 404) throw new Error(`HEAD ${tag}: HTTP ${r.status}`);
  return r.ok ? r.headers.get("docker-content-digest") : null;
}
function paletteCount(method: string, path: string, since: number, status?: number): number {
  return palette.calls.slice(since).filter((c) => c.method === method && c.path === path && (status === undefined || c.status === status)).length;
}
const JOB1 = "/v1/jobs/internal/syncCloudInstanceTypesData/run";
const JOB2 = "/v1/jobs/internal/syncCloudStorageTypesData/run";
const SCAR_PATH = "/v1/system/config/scar";

describe("kubectl scar migrate", () => {
  test("--dry-run: preflight + plan on stdout, nothing changes", async () => {
    const state = join(tmp, "state-dry");
    const before = palette.calls.length;
    const r = await scar([...baseArgs(state, "0.0.0"), "--dry-run", "-o", "json"]);
    expect(r.code).toBe(0);
    const out = validReport(r.stdout, "ScarMigrateReport");
    expect(out.dryRun).toBe(true);
    expect(out.steps.map((s: { step: string }) => s.step)).toEqual(["preflight", "delete-secret", "package", "push", "spectro-manifests", "specman-sync", "record-config", "set-endpoint", "sync-jobs", "verify"]);
    expect(out.steps.find((s: { step: string }) => s.step === "spectro-manifests").detail).toContain('tick "Contains Spectro Manifests" on registry "airgap-harbor"');
    // the plan on stderr: the details start in one column, the longest step name (spectro-manifests) included
    const planLines = r.stderr.split("\n").filter((l) => /^ {2}(ok|plan) /.test(l));
    expect(planLines).toHaveLength(10);
    expect(new Set(planLines.map((l) => /^ {2}\S+\s+\S+\s+/.exec(l)![0].length)).size).toBe(1);
    expect(paletteCount("PUT", REG_PUT, before)).toBe(0);
    expect(out.steps.find((s: { step: string }) => s.step === "delete-secret").detail).toContain(`delete secret ${NS}/${SECRET}`);
    expect(out.steps.find((s: { step: string }) => s.step === "set-endpoint").detail).toContain(`was ${OLD_SCAR.endpoint}`);
    expect(secretExists()).toBe(true);
    expect(await tags()).toEqual([]);
    expect(paletteCount("PUT", SCAR_PATH, before)).toBe(0);
    expect(palette.scar.endpoint).toBe(OLD_SCAR.endpoint);
    expect(existsSync(join(state, `127.0.0.1_${new URL(palette.url).port}.json`))).toBe(false);
    // the preflight probed push permission without leaving anything: no blob, no manifest
    expect(regProxy.calls.some((c) => c.method === "POST" && c.path.includes(`/v2/${REPO}/blobs/uploads/`))).toBe(true);
    expect(regProxy.calls.some((c) => c.method === "PUT")).toBe(false);
    noSecrets(r);
  });

  test("preflight reports every problem at once and changes nothing", async () => {
    const r = await runCli("kubectl-scar", [...baseArgs(join(tmp, "state-bad"), "0.0.0"), "--namespace", "no-such-ns"], { stdin: "wrong-registry-pw\n", env: { PALETTE_PASSWORD: "wrong-palette-pw" } });
    expect(r.code).toBe(1);
    const line = r.stderr.split("\n").find((l) => l.startsWith("error: "))!;
    expect(line).toContain("preflight failed (nothing was changed)");
    expect(line).toContain("namespace no-such-ns does not exist");
    expect(line).toContain(`registry ${regProxy.host}`);
    expect(line).toContain("Palette system login");
    expect(r.stderr).not.toContain("wrong-registry-pw");
    expect(r.stderr).not.toContain("wrong-palette-pw");
    expect(secretExists()).toBe(true);
  });

  test("both passwords from stdin is a usage error", async () => {
    const r = await runCli("kubectl-scar", [...baseArgs(join(tmp, "state-x"), "0.0.0"), "--palette-password-stdin"], { stdin: "x\n" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("cannot both read stdin");
  });

  let fullState: string;
  let fullDigest: string | null;
  test("full migrate (with a token expiring mid-run), then a re-run changes nothing", async () => {
    fullState = join(tmp, "state-full");
    currentTag = "0.0.0";
    const before = palette.calls.length;
    const loginsBefore = paletteCount("POST", "/v1/auth/syslogin", 0);
    // the first sync job makes every token expire: the next call must log in again, once
    const prevHook = palette.onJob;
    palette.onJob = (job) => {
      if (job === "syncCloudInstanceTypesData") palette.expireTokens();
      prevHook?.(job);
    };
    const r = await scar([...baseArgs(fullState, "0.0.0"), "--debug"]);
    palette.onJob = prevHook;
    if (r.code !== 0) console.error(r.stderr);
    expect(r.code).toBe(0);
    noSecrets(r);
    expect(r.stdout).toMatch(/verify\s+done/);
    expect(secretExists()).toBe(false);
    expect(await tags()).toEqual(["0.0.0"]);
    fullDigest = await tagDigest("0.0.0");
    // the document's order: box ticked (6–8), Specman persisted (9), and only then the endpoint switched (10)
    expect(palette.registries[0]!.spec).toMatchObject({ containsSpectroManifest: true, baseContentPath: "spectro-packs", auth: { type: "basic", username: reg.username, password: reg.password } });
    const regPut = palette.calls.slice(before).find((c) => c.method === "PUT" && c.path === REG_PUT && c.status === 204)!;
    const scarPut = palette.calls.slice(before).find((c) => c.method === "PUT" && c.path === SCAR_PATH && c.status === 204)!;
    expect(regPut.at!).toBeLessThan(scarPut.at!);
    expect(specman.persistedAt.length).toBeGreaterThan(0);
    expect(specman.persistedAt.at(-1)!).toBeGreaterThan(regPut.at!);
    expect(specman.persistedAt.at(-1)!).toBeLessThan(scarPut.at!);
    expect(r.stderr.indexOf("specman-sync")).toBeLessThan(r.stderr.indexOf("set-endpoint"));
    expect(palette.scar).toEqual({ endpoint: SPECMAN, password: "", username: "" });
    expect(paletteCount("PUT", SCAR_PATH, before, 204)).toBe(1);
    expect(paletteCount("GET", JOB1, before, 204)).toBe(1);
    expect(paletteCount("GET", JOB2, before, 204)).toBe(1);
    expect(paletteCount("POST", "/v1/auth/syslogin", 0) - loginsBefore).toBe(2);
    expect(specman.runs.at(-1)).toBe(true);
    const stateFile = join(fullState, `127.0.0.1_${new URL(palette.url).port}.json`);
    const st = JSON.parse(readFileSync(stateFile, "utf8"));
    expect(st.previousScar).toEqual(OLD_SCAR);
    expect(Object.keys(st.steps).sort()).toEqual(["delete-secret", "package", "preflight", "push", "record-config", "set-endpoint", "specman-sync", "spectro-manifests", "sync-jobs", "verify"]);
    // the deleted secret is kept (mode 0600 file) for rollback
    expect(st.deletedSecret).toEqual({ apiVersion: "v1", kind: "Secret", metadata: { name: SECRET, namespace: NS }, type: "Opaque", data: SECRET_DATA });
    expect((await import("node:fs")).statSync(stateFile).mode & 0o777).toBe(0o600);

    // Palette re-creates the secret meanwhile; a re-run must not delete it again, nor push, PUT or sync again
    restoreSecret();
    const before2 = palette.calls.length;
    const again = await scar(baseArgs(fullState, "0.0.0"));
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/push\s+unchanged/);
    expect(secretExists()).toBe(true);
    expect(await tagDigest("0.0.0")).toBe(fullDigest);
    expect(paletteCount("PUT", SCAR_PATH, before2)).toBe(0);
    expect(paletteCount("GET", JOB1, before2)).toBe(0);
    expect(paletteCount("GET", JOB2, before2)).toBe(0);
    expect(paletteCount("PUT", REG_PUT, before2)).toBe(0);
    // the saved copy of the secret is the original one, not what Palette re-created
    expect(JSON.parse(readFileSync(stateFile, "utf8")).deletedSecret.data).toEqual(SECRET_DATA);
    // the saved previous config is still the original one (not the Specman endpoint)
    expect(JSON.parse(readFileSync(stateFile, "utf8")).previousScar).toEqual(OLD_SCAR);
  });

  test("status -o json shows the endpoint, the tags, Specman's sync and the state", async () => {
    const r = await scar(["status", "--registry", reg.host, "--ca-file", `${reg.host}=${reg.caFile}`, "-u", reg.username, "--password-stdin", "--palette", palette.url, "--palette-ca-file", palette.caFile!, "--kubeconfig", kubeconfig, "--state-dir", fullState, "-o", "json"]);
    expect(r.code).toBe(0);
    const s = validReport(r.stdout, "ScarStatus");
    expect(s.palette.endpoint).toBe(SPECMAN);
    expect(s.palette.migrated).toBe(true);
    expect(s.registry.tags).toEqual(["0.0.0"]);
    expect(s.registry.digest).toBe(fullDigest);
    expect(s.registry.orasShape).toBe(true);
    expect(s.specman.synced).toBe(true);
    expect(s.specman.pods.map((p: { pod: string }) => p.pod)).toEqual(["specman-0", "specman-1"]);
    expect(s.state.done).toContain("verify");
    expect(s.state.previousEndpoint).toBe(OLD_SCAR.endpoint);
    expect(s.state.savedSecret).toBe(`${NS}/${SECRET} (1 key)`);
    noSecrets(r);
  });

  test("verify shows Specman's level=error lines (as status does)", async () => {
    api.appendLog(NS, "specman-1", `time="${new Date().toISOString()}" level=error msg="failed to list tags: unauthorized"\n`);
    const args = ["verify", "--registry", reg.host, "--ca-file", `${reg.host}=${reg.caFile}`, "-u", reg.username, "--password-stdin", "--palette", palette.url, "--palette-ca-file", palette.caFile!, "--kubeconfig", kubeconfig, "--state-dir", fullState, "--no-wait"];
    const v = await scar(args);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/specman specman-1\s+persisted 0\.0\.0; last error: failed to list tags: unauthorized/);
    const vj = await scar([...args, "-o", "yaml"]);
    expect(vj.code).toBe(0);
    expect(JSON.stringify(validReport(vj.stdout, "ScarVerifyReport", "yaml"))).toContain("failed to list tags: unauthorized");
    const st = await scar(["status", "--registry", reg.host, "--ca-file", `${reg.host}=${reg.caFile}`, "-u", reg.username, "--password-stdin", "--palette", palette.url, "--palette-ca-file", palette.caFile!, "--kubeconfig", kubeconfig, "--state-dir", fullState]);
    expect(st.stdout).toContain("last error: failed to list tags: unauthorized");
  });

  test("rollback restores the previous endpoint (and is idempotent)", async () => {
    const before = palette.calls.length;
    const rb = ["rollback", "--palette", palette.url, "--palette-ca-file", palette.caFile!, "--state-dir", fullState, "--kubeconfig", kubeconfig, "-o", "json"];
    expect(secretData()).toEqual({}); // what Palette re-created
    // --dry-run says what it would do, not what it did
    const dry = await scar([...rb.slice(0, -2), "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe(`would restore\t${OLD_SCAR.endpoint}\tsecret would be replaced\n`);
    expect(secretData()).toEqual({});
    const r = await scar(rb);
    expect(r.code).toBe(0);
    expect(validReport(r.stdout, "ScarRollbackReport")).toMatchObject({ restored: true, secret: "replaced" });
    expect(palette.scar).toEqual(OLD_SCAR);
    expect(secretData()).toEqual(SECRET_DATA);
    expect(paletteCount("PUT", SCAR_PATH, before, 204)).toBe(1);
    expect(paletteCount("GET", JOB1, before, 204)).toBe(1);
    noSecrets(r);
    const again = await scar(rb);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ restored: false, secret: "unchanged" });
    expect(paletteCount("PUT", SCAR_PATH, before)).toBe(1);
    // verify now fails: Palette no longer points at Specman
    const v = await scar(["verify", "--registry", reg.host, "--ca-file", `${reg.host}=${reg.caFile}`, "-u", reg.username, "--password-stdin", "--palette", palette.url, "--palette-ca-file", palette.caFile!, "--kubeconfig", kubeconfig, "--no-wait"]);
    expect(v.code).toBe(1);
    expect(v.stderr).toContain(`not ${SPECMAN}`);
    // migrating again after a rollback goes through the procedure again (secret, endpoint, jobs) but re-uses the push
    currentTag = "0.0.0";
    const before3 = palette.calls.length;
    const re = await scar(baseArgs(fullState, "0.0.0"));
    expect(re.code).toBe(0);
    expect(re.stdout).toMatch(/push\s+unchanged/);
    expect(re.stdout).toMatch(/delete-secret\s+done/);
    expect(secretExists()).toBe(false);
    expect(palette.scar.endpoint).toBe(SPECMAN);
    expect(paletteCount("PUT", SCAR_PATH, before3, 204)).toBe(1);
    expect(paletteCount("GET", JOB2, before3, 204)).toBe(1);
    expect(JSON.parse(readFileSync(join(fullState, `127.0.0.1_${new URL(palette.url).port}.json`), "utf8")).previousScar).toEqual(OLD_SCAR);
  });

  test("rollback refuses to restore a SCAR config without its password unless it is given or --force", async () => {
    const stateDir = join(tmp, "state-nopw");
    mkdirSync(stateDir, { recursive: true });
    const stateFile = join(stateDir, `127.0.0.1_${new URL(palette.url).port}.json`);
    // what set-endpoint records when Palette masks the password on GET
    writeFileSync(stateFile, JSON.stringify({ version: 1, palette: palette.url, steps: { "record-config": { done: true }, "set-endpoint": { done: true } }, previousScar: { endpoint: OLD_SCAR.endpoint, username: "spectro", password: "" } }), { mode: 0o600 });
    palette.scar = { endpoint: SPECMAN, username: "", password: "" };
    const before = palette.calls.length;
    const rb = ["rollback", "--palette", palette.url, "--palette-ca-file", palette.caFile!, "--state-dir", stateDir, "--no-sync"];
    const refused = await scar(rb);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('username "spectro" but no password');
    expect(refused.stderr).toContain("SCAR_PASSWORD");
    expect(refused.stderr).toContain("--force");
    expect(paletteCount("PUT", SCAR_PATH, before)).toBe(0);
    expect(palette.scar.endpoint).toBe(SPECMAN);
    const given = await scar(rb, { SCAR_PASSWORD: OLD_SCAR.password });
    expect(given.code).toBe(0);
    expect(palette.scar).toEqual(OLD_SCAR);
    noSecrets(given);
    palette.scar = { endpoint: SPECMAN, username: "", password: "" };
    const forced = await scar([...rb, "--force"]);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toContain("without a password (--force)");
    expect(palette.scar).toEqual({ endpoint: OLD_SCAR.endpoint, username: "spectro", password: "" });
  });

  test("when the box cannot be ticked through the API, the run stops there with the console instruction, and resumes after", async () => {
    const stateDir = join(tmp, "state-manual");
    currentTag = "2.0.0";
    palette.scar = { ...OLD_SCAR };
    flagRegistry(false);
    restoreSecret();
    palette.maskRegistryPassword = true; // a PUT of what GET returns would erase the registry password
    try {
      const before = palette.calls.length;
      const r = await scar(baseArgs(stateDir, "2.0.0"));
      expect(r.code).toBe(1);
      noSecrets(r);
      expect(r.stderr).toContain('migration stopped at step "spectro-manifests"');
      expect(r.stderr).toContain("would erase it");
      expect(r.stderr).toContain(`Administration → Pack Registries → ⋮ at the end of the OCI registry row for ${regProxy.host} → Edit → tick "Contains Spectro Manifests" → Validate → Confirm`);
      expect(r.stderr).toContain("done: preflight, delete-secret, package, push");
      expect(paletteCount("PUT", REG_PUT, before)).toBe(0);
      expect(palette.scar).toEqual(OLD_SCAR);
      // the user ticks the box in the console; the same command resumes and finds it ticked
      flagRegistry(true);
      const resume = shellWords(/^resume with: (.*?)(?:\s{3}\(|$)/m.exec(r.stderr)![1]!);
      const r2 = await scar(resume.slice(2));
      if (r2.code !== 0) console.error(r2.stderr);
      expect(r2.code).toBe(0);
      expect(r2.stdout).toMatch(/spectro-manifests\s+unchanged\s+"Contains Spectro Manifests" was already ticked on registry "airgap-harbor"/);
      expect(r2.stdout).toMatch(/push\s+unchanged/);
      expect(palette.scar.endpoint).toBe(SPECMAN);
      expect(paletteCount("PUT", REG_PUT, before)).toBe(0);
    } finally {
      palette.maskRegistryPassword = false;
      currentTag = "0.0.0";
    }
  });

  test("set-endpoint (under deno, TLS with --palette-ca-file): saves the config once, PUTs once; a password flag warns", async () => {
    palette.scar = { ...OLD_SCAR };
    const stateDir = join(tmp, "state-setep");
    const before = palette.calls.length;
    const args = ["set-endpoint", "--palette", palette.url, "--palette-ca-file", palette.caFile!, "--state-dir", stateDir, "-o", "json"];
    const r = await runCli("kubectl-scar", args, { runtime: "deno", env: { PALETTE_PASSWORD: PALETTE_PW } });
    if (r.code !== 0) console.error(r.stderr);
    expect(r.code).toBe(0);
    expect(validReport(r.stdout, "ScarEndpointReport")).toMatchObject({ changed: true, previous: OLD_SCAR.endpoint, endpoint: SPECMAN });
    expect(palette.scar.endpoint).toBe(SPECMAN);
    const again = await runCli("kubectl-scar", [...args, "--palette-password", PALETTE_PW], { env: { PALETTE_PASSWORD: "" } });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).changed).toBe(false);
    expect(again.stderr).toContain("warning: a password on the command line is visible");
    noSecrets(again);
    expect(paletteCount("PUT", SCAR_PATH, before, 204)).toBe(1);
    const st = JSON.parse(readFileSync(join(stateDir, `127.0.0.1_${new URL(palette.url).port}.json`), "utf8"));
    expect(st.previousScar).toEqual(OLD_SCAR);
    // rollback from this state
    const rb = await scar(["rollback", "--palette", palette.url, "--palette-ca-file", palette.caFile!, "--state-dir", stateDir, "--no-sync"]);
    expect(rb.code).toBe(0);
    expect(palette.scar).toEqual(OLD_SCAR);
  });

  // failure injected at each step, then the printed resume command finishes the job without repeating effects
  const D = ["preflight", "delete-secret", "package", "push", "spectro-manifests", "specman-sync", "record-config", "set-endpoint", "sync-jobs"];
  const cases: { step: string; done: string[]; args?: string[]; inject: (ctx: { stateDir: string }) => void; heal: (ctx: { stateDir: string }) => void; rollbackFirst?: boolean }[] = [
    {
      step: "delete-secret",
      done: D.slice(0, 1),
      inject: () => kubeProxy.fail({ method: "DELETE", path: new RegExp(`/secrets/${SECRET}$`), status: 500, after: 1 }),
      heal: () => kubeProxy.clear(),
    },
    {
      step: "package",
      done: D.slice(0, 2),
      inject: ({ stateDir }) => mkdirSync(join(stateDir, `127.0.0.1_${new URL(palette.url).port}.manifests.tgz`), { recursive: true }),
      heal: ({ stateDir }) => rmSync(join(stateDir, `127.0.0.1_${new URL(palette.url).port}.manifests.tgz`), { recursive: true }),
    },
    {
      step: "push",
      done: D.slice(0, 3),
      inject: () => regProxy.fail({ method: "PUT", path: /\/manifests\//, status: 500 }),
      heal: () => regProxy.clear(),
      rollbackFirst: true,
    },
    {
      step: "spectro-manifests",
      done: D.slice(0, 4),
      inject: () => palette.fail({ method: "PUT", path: REG_PUT, status: 500 }),
      heal: () => palette.clearFailures(),
    },
    {
      // Specman never persists: the run must stop BEFORE Palette is pointed at it
      step: "specman-sync",
      done: D.slice(0, 5),
      args: ["--timeout", "2s"],
      inject: () => {
        specman.enabled = false;
      },
      heal: () => {
        specman.enabled = true;
      },
      rollbackFirst: true,
    },
    {
      step: "record-config",
      done: D.slice(0, 6),
      inject: () => palette.fail({ method: "GET", path: SCAR_PATH, status: 500, after: 1 }),
      heal: () => palette.clearFailures(),
    },
    {
      step: "set-endpoint",
      done: D.slice(0, 7),
      inject: () => palette.fail({ method: "PUT", path: SCAR_PATH, status: 500 }),
      heal: () => palette.clearFailures(),
    },
    {
      step: "sync-jobs",
      done: D.slice(0, 8),
      inject: () => palette.fail({ method: "GET", path: JOB2, status: 500 }),
      heal: () => palette.clearFailures(),
    },
    {
      // GETs of the SCAR config: preflight, record-config, set-endpoint, then verify's (the document's validation)
      step: "verify",
      done: D.slice(0, 9),
      inject: () => palette.fail({ method: "GET", path: SCAR_PATH, status: 500, after: 3 }),
      heal: () => palette.clearFailures(),
    },
  ];

  for (const [i, c] of cases.entries()) {
    test(`failure at ${c.step}, then resume with the printed command`, async () => {
      const stateDir = join(tmp, `state-case-${i}`);
      const tag = `1.0.${i}`;
      currentTag = tag;
      palette.scar = { ...OLD_SCAR };
      flagRegistry(false);
      if (secretExists()) api.remove("v1", "Secret", SECRET, NS);
      api.put({ apiVersion: "v1", kind: "Secret", metadata: { name: SECRET, namespace: NS }, type: "Opaque", data: { ...SECRET_DATA } });
      const before = palette.calls.length;
      c.inject({ stateDir });
      const r = await scar([...baseArgs(stateDir, tag), ...(c.args ?? [])]);
      c.heal({ stateDir });
      expect(r.code).toBe(1);
      noSecrets(r);
      expect(r.stderr).toContain(`error: migration stopped at step "${c.step}"`);
      expect(r.stderr).toContain(`failed: ${c.step}`);
      expect(r.stderr).toContain(`done: ${c.done.join(", ")}`);
      const resume = /^resume with: (.*?)(?:\s{3}\(|$)/m.exec(r.stderr)?.[1];
      expect(resume).toBeDefined();
      const words = shellWords(resume!);
      expect(words.slice(0, 3)).toEqual(["kubectl", "scar", "migrate"]);
      if (c.done.includes("record-config")) expect(r.stderr).toMatch(/^roll back with: kubectl scar rollback --palette /m);
      else if (c.done.includes("delete-secret")) expect(r.stderr).toMatch(new RegExp(`^Palette's SCAR config was not changed; the deleted secret ${SECRET} is kept in .*: put it back with: kubectl scar rollback --palette .*--kubeconfig `, "m"));
      else expect(r.stderr).toContain("nothing to roll back");
      // nothing after the failed step happened
      if (!c.done.includes("set-endpoint")) {
        expect(palette.scar).toEqual(OLD_SCAR);
        expect(paletteCount("PUT", SCAR_PATH, before, 204)).toBe(0);
      }
      if (c.step === "specman-sync") {
        expect(r.stderr).toContain("Specman has not persisted 1.0.4 after 2s");
        expect(r.stderr).toContain("Palette's SCAR config was NOT changed");
        expect(r.stderr).toContain(`kubectl logs -n ${NS} specman-0`);
        expect(r.stderr).toContain('"Contains Spectro Manifests" ticked');
      }
      if (c.rollbackFirst) {
        // the printed rollback puts the deleted secret back (Palette's SCAR config was never touched)
        const rbCmd = /put it back with: (.*)$/m.exec(r.stderr)![1]!;
        const rb = await scar(shellWords(rbCmd).slice(2));
        if (rb.code !== 0) console.error(rb.stderr);
        expect(rb.code).toBe(0);
        expect(secretData()).toEqual(SECRET_DATA);
        expect(palette.scar).toEqual(OLD_SCAR);
        noSecrets(rb);
      }

      const r2 = await scar(words.slice(2));
      if (r2.code !== 0) console.error(r2.stderr);
      expect(r2.code).toBe(0);
      expect(r2.stdout).toMatch(/verify\s+done/);
      // every effect exactly once over both runs
      expect(secretExists()).toBe(false);
      expect(await tags()).toContain(tag);
      expect(palette.scar).toEqual({ endpoint: SPECMAN, password: "", username: "" });
      expect(palette.registries[0]!.spec.containsSpectroManifest).toBe(true);
      expect(paletteCount("PUT", SCAR_PATH, before, 204)).toBe(1);
      expect(paletteCount("PUT", REG_PUT, before, 204)).toBe(1);
      expect(paletteCount("GET", JOB1, before, 204)).toBe(1);
      expect(paletteCount("GET", JOB2, before, 204)).toBe(1);
      const st = JSON.parse(readFileSync(join(stateDir, `127.0.0.1_${new URL(palette.url).port}.json`), "utf8"));
      expect(st.previousScar).toEqual(OLD_SCAR);
    });
  }

  test("Ctrl-C while waiting for Specman: exit 130 and the command to resume with (no secrets in it)", async () => {
    const { spawn } = await import("node:child_process");
    const { BUN, ROOT } = await import("../support/cli.ts");
    currentTag = "0.0.0"; // Specman never persists 7.7.7
    const stateDir = join(tmp, "state-ctrl-c");
    const child = spawn(BUN, [join(ROOT, "plugins/kubectl-scar/main.ts"), ...baseArgs(stateDir, "7.7.7")], { env: { ...process.env, NO_COLOR: "1", PALETTE_PASSWORD: PALETTE_PW }, stdio: ["pipe", "pipe", "pipe"] });
    child.stdin.end(reg.password + "\n");
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    for (let i = 0; i < 400 && !/wait\s+specman-sync/.test(stderr); i++) await new Promise((r) => setTimeout(r, 50));
    expect(stderr).toMatch(/wait\s+specman-sync/);
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    const line = stderr.split("\n").find((l) => l.startsWith("error: "))!;
    expect(line).toContain("interrupted (SIGINT)");
    expect(line).toContain("resume with: kubectl scar migrate");
    expect(line).toContain("--tag 7.7.7");
    for (const s of [reg.password, PALETTE_PW]) expect(stderr).not.toContain(s);
  });
});

// One operation per Palette (issue 23, scar 1): the lock beside the state, against the same real registry, fake
// kube-apiserver, fake Palette and Specman loop as above.
describe("one operation per Palette at a time (the state's lock)", () => {
  const { hostname } = require("node:os") as typeof import("node:os");
  interface Child {
    pid: number;
    stderr: () => string;
    stdout: () => string;
    exited: Promise<number | null>;
    kill(sig: NodeJS.Signals): void;
  }
  async function startMigrate(args: string[]): Promise<Child> {
    const { spawn } = await import("node:child_process");
    const { BUN, ROOT } = await import("../support/cli.ts");
    const child = spawn(BUN, [join(ROOT, "plugins/kubectl-scar/main.ts"), ...args], { env: { ...process.env, NO_COLOR: "1", PALETTE_PASSWORD: PALETTE_PW }, stdio: ["pipe", "pipe", "pipe"] });
    child.stdin.end(reg.password + "\n");
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.stdout.on("data", (d) => (stdout += d));
    const exited = new Promise<number | null>((r) => child.on("exit", (code, sig) => r(code ?? (sig ? -1 : null))));
    return { pid: child.pid!, stderr: () => stderr, stdout: () => stdout, exited, kill: (s) => child.kill(s) };
  }
  async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
    for (const end = Date.now() + ms; Date.now() < end; ) {
      if (cond()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${what}`);
  }
  function fresh(tag: string): void {
    currentTag = tag;
    palette.scar = { ...OLD_SCAR };
    flagRegistry(false);
    if (secretExists()) api.remove("v1", "Secret", SECRET, NS);
    api.put({ apiVersion: "v1", kind: "Secret", metadata: { name: SECRET, namespace: NS }, type: "Opaque", data: { ...SECRET_DATA } });
  }
  const stateFile = (dir: string) => join(dir, `127.0.0.1_${new URL(palette.url).port}.json`);
  const withArg = (args: string[], flag: string, value: string) => args.map((a, i) => (args[i - 1] === flag ? value : a));
  const rollbackArgs = (dir: string) => ["rollback", "--palette", palette.url, "--palette-ca-file", palette.caFile!, "--kubeconfig", kubeconfig, "--state-dir", dir];

  test("rollback while migrate waits for Specman is refused, naming the holder; the migrate ends as it says", async () => {
    const dir = join(tmp, "state-lock-rollback");
    fresh("2.0.1");
    specman.enabled = false;
    const m = await startMigrate(withArg(baseArgs(dir, "2.0.1"), "--timeout", "60s"));
    try {
      await until("migrate waiting for Specman", () => /wait\s+specman-sync/.test(m.stderr()));
      const before = palette.calls.length;
      for (const extra of [[], ["--break-lock"]]) {
        const rb = await scar([...rollbackArgs(dir), ...extra]);
        expect(rb.code).toBe(1);
        expect(rb.stderr).toContain(`another kubectl scar operation runs against this Palette: kubectl scar migrate (pid ${m.pid} on ${hostname()}, started `);
        expect(rb.stderr).toContain(`${stateFile(dir)}.lock`);
        expect(rb.stderr).toContain("wait for it to finish");
        if (extra.length) expect(rb.stderr).toContain("never breaks the lock of a process that is still running");
        expect(rb.stderr.trim().split("\n")).toHaveLength(1);
      }
      // a dry run is not refused (it changes nothing) but says the plan may change
      const dry = await scar([...withArg(baseArgs(dir, "2.0.1"), "--timeout", "60s"), "--dry-run"]);
      expect(dry.code).toBe(0);
      expect(dry.stderr).toContain(`note: kubectl scar migrate (pid ${m.pid} on ${hostname()}, started `);
      // the rollback changed nothing: no PUT, the secret still deleted by the migrate, no rolledBack in the state
      expect(paletteCount("PUT", SCAR_PATH, before)).toBe(0);
      expect(JSON.parse(readFileSync(stateFile(dir), "utf8")).rolledBack).toBeUndefined();
      const lock = JSON.parse(readFileSync(`${stateFile(dir)}.lock`, "utf8"));
      expect(lock).toMatchObject({ pid: m.pid, host: hostname(), command: "kubectl scar migrate" });
      expect(Date.parse(lock.started)).toBeGreaterThan(Date.now() - 120_000);
    } finally {
      specman.enabled = true;
    }
    expect(await m.exited).toBe(0);
    expect(palette.scar).toEqual({ endpoint: SPECMAN, password: "", username: "" });
    expect(existsSync(`${stateFile(dir)}.lock`)).toBe(false);
    // now the rollback runs, and what it reports is what Palette and the state hold
    const rb = await scar(rollbackArgs(dir));
    expect(rb.code).toBe(0);
    expect(palette.scar).toEqual(OLD_SCAR);
    expect(secretData()).toEqual(SECRET_DATA);
    expect(JSON.parse(readFileSync(stateFile(dir), "utf8")).rolledBack).toBeString();
    expect(existsSync(`${stateFile(dir)}.lock`)).toBe(false);
  });

  test("two migrates started together: one runs, the other is refused at once naming it", async () => {
    const dir = join(tmp, "state-lock-two");
    fresh("2.0.2");
    specman.enabled = false;
    const before = palette.calls.length;
    const args = withArg(baseArgs(dir, "2.0.2"), "--timeout", "60s");
    const [a, b] = await Promise.all([startMigrate(args), startMigrate(args)]);
    let loser: Child, winner: Child;
    try {
      const first = await Promise.race([a.exited.then(() => a), b.exited.then(() => b)]);
      loser = first;
      winner = first === a ? b : a;
      await until("the other migrate waiting for Specman", () => /wait\s+specman-sync/.test(winner.stderr()));
    } finally {
      specman.enabled = true;
    }
    expect(await loser.exited).toBe(1);
    expect(loser.stderr()).toContain(`another kubectl scar operation runs against this Palette: kubectl scar migrate (pid ${winner.pid} on ${hostname()}`);
    expect(loser.stderr()).not.toContain("plan:");
    expect(await winner.exited).toBe(0);
    expect(paletteCount("PUT", SCAR_PATH, before, 204)).toBe(1);
    expect(paletteCount("GET", JOB1, before, 204)).toBe(1);
    expect(paletteCount("PUT", REG_PUT, before, 204)).toBe(1);
    expect(existsSync(`${stateFile(dir)}.lock`)).toBe(false);
  });

  test("killed between the endpoint PUT and the sync jobs: a stale lock is reported, not stolen; --break-lock resumes and still waits --sync-delay", async () => {
    const dir = join(tmp, "state-lock-kill");
    fresh("2.0.3");
    const before = palette.calls.length;
    const m = await startMigrate(withArg(baseArgs(dir, "2.0.3"), "--sync-delay", "60s"));
    await until("the endpoint PUT", () => /ok\s+set-endpoint/.test(m.stderr()));
    m.kill("SIGKILL");
    await m.exited;
    expect(paletteCount("PUT", SCAR_PATH, before, 204)).toBe(1);
    expect(paletteCount("GET", JOB1, before)).toBe(0);
    const lockFile = `${stateFile(dir)}.lock`;
    const lockText = readFileSync(lockFile, "utf8");
    // status shows who holds the lock, and that it is stale
    const st = await scar(["status", "--palette", palette.url, "--palette-ca-file", palette.caFile!, "--state-dir", dir, "--skip-cluster", "-o", "json"]);
    if (!st.stdout) console.error(st.stderr);
    expect(JSON.parse(st.stdout).state.lock).toEqual({ holder: expect.stringContaining(`kubectl scar migrate (pid ${m.pid} on ${hostname()}`), state: "stale" });

    const resumeArgs = withArg(baseArgs(dir, "2.0.3"), "--sync-delay", "3s");
    const r1 = await scar(resumeArgs);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toContain(`stale lock ${lockFile}: kubectl scar migrate (pid ${m.pid} on ${hostname()}, started `);
    expect(r1.stderr).toContain("no longer runs");
    expect(r1.stderr).toContain("--break-lock");
    expect(readFileSync(lockFile, "utf8")).toBe(lockText); // never silently stolen
    expect(paletteCount("GET", JOB1, before)).toBe(0);

    const r2 = await scar([...resumeArgs, "--break-lock"]);
    if (r2.code !== 0) console.error(r2.stderr);
    expect(r2.code).toBe(0);
    expect(r2.stderr).toContain(`broke the stale lock of kubectl scar migrate (pid ${m.pid}`);
    const put = palette.calls.slice(before).find((c) => c.method === "PUT" && c.path === SCAR_PATH && c.status === 204)!;
    const job = palette.calls.slice(before).find((c) => c.method === "GET" && c.path === JOB1 && c.status === 204)!;
    // the documented pause between the endpoint and the sync jobs (here 3s) holds across the kill
    expect(job.at! - put.at!).toBeGreaterThanOrEqual(3000);
    expect(paletteCount("PUT", SCAR_PATH, before, 204)).toBe(1);
    expect(paletteCount("GET", JOB1, before, 204)).toBe(1);
    expect(existsSync(lockFile)).toBe(false);
  });

  test("every state write checks the lock: a run whose lock was taken over stops before changing Palette", async () => {
    const dir = join(tmp, "state-lock-lost");
    fresh("2.0.4");
    specman.enabled = false;
    const before = palette.calls.length;
    const m = await startMigrate(withArg(baseArgs(dir, "2.0.4"), "--timeout", "60s"));
    const lockFile = `${stateFile(dir)}.lock`;
    try {
      await until("migrate waiting for Specman", () => /wait\s+specman-sync/.test(m.stderr()));
      // someone removed the lock and another operation took it
      rmSync(lockFile);
      writeFileSync(lockFile, JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString(), command: "kubectl scar rollback", token: "other" }));
    } finally {
      specman.enabled = true;
    }
    expect(await m.exited).toBe(1);
    expect(m.stderr()).toContain(`lost the lock ${lockFile}: it is now held by kubectl scar rollback (pid ${process.pid}`);
    expect(palette.scar).toEqual(OLD_SCAR);
    expect(paletteCount("PUT", SCAR_PATH, before)).toBe(0);
    // the other holder's lock is left alone
    expect(JSON.parse(readFileSync(lockFile, "utf8")).token).toBe("other");
    rmSync(lockFile);
  });
});
