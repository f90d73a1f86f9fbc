// Seed document 002 "Migrate Customer-Managed SCAR to OCI Registry" (/work/shared/seeds/002_5c76b9c2083768ba.txt),
// run with the tool's equivalent of every step, then the document's own validation (curl + jq, literally).
//
// Peers: the REAL registry (distribution, TLS with a private CA + htpasswd basic auth: the airgap Harbor's role),
// the fake kube-apiserver (hubble-system, the registry secret, specman pods), a fake Palette system API over
// HTTPS (self-signed) that only accepts the token as a cookie — exactly what the document's curl sends — and
// a fake Specman that pulls the pushed artifact by itself once the pack registry has "Contains Spectro Manifests".
//
//   document                                                  kubectl scar
//   1     kubectl delete secret spectro-manifest-registry-secrets  migrate: delete-secret (a copy kept for rollback)
//   2–3   cd /var/www/html; tar -czvf manifests.tgz .          package . -O ../manifests.tgz   (migrate: package)
//   4–5   oras login …; oras push <harbor>/spectro-packs/spectro-manifests/manifest:0.0.0 manifests.tgz
//                                                             push manifests.tgz --registry <harbor> -u … --password-stdin
//   6–8   system console: Pack Registries → Edit → tick "Contains Spectro Manifests" → Validate → Confirm
//                                                             migrate: spectro-manifests (PUT /v1/registries/oci/{uid}/basic)
//   9     kubectl logs -n hubble-system specman-0 → "Persisting 0.0.0"   migrate: specman-sync (every specman pod)
//   10–12 scar-registry-update.sh: syslogin?setCookie=true, PUT /v1/system/config/scar (204), sleep, 2 sync jobs
//                                                             migrate: record-config, set-endpoint, sync-jobs
//   Validate: syslogin; GET /v1/system/config/scar with Cookie: Authorization=…   (run as written, with --insecure)
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";

setDefaultTimeout(90_000);
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli, type CliResult } from "../support/cli.ts";
import { startFakeApiServer, type FakeApiServer } from "../support/kube-apiserver.ts";
import { startFakePalette, type FakePalette } from "../support/palette-api.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { makeManifestsTree, shellWords, startSpecmanLoop, type SpecmanLoop } from "../scar/helpers.ts";

const NS = "hubble-system";
const SECRET = "spectro-manifest-registry-secrets";
const SPECMAN = "https://specman-service.hubble-system.svc.cluster.local:8443";
const REPO = "spectro-packs/spectro-manifests/manifest";
const SYS_ADMIN_PASSWORD = "examplePassw0rd-Sys";
const OLD_SCAR = { endpoint: "https://10.10.1.5:8443", username: "spectro", password: "scar-Old-Pw-321" };
const SECRET_DATA = { "config.json": Buffer.from('{"auths":{"harbor":{"auth":"c3BlY3Ryby1yZWdpc3RyeS1zZWNyZXQ="}}}').toString("base64") };
const REG_PUT = "/v1/registries/oci/reg-harbor/basic";
const SCAR_PATH = "/v1/system/config/scar";

let reg: TestRegistry;
let api: FakeApiServer;
let palette: FakePalette;
let specman: SpecmanLoop;
let tmp: string;
let html: string;
let kubeconfig: string;

beforeAll(async () => {
  reg = await startRegistry({ auth: "htpasswd", tls: true });
  api = await startFakeApiServer({ namespaces: [NS] });
  palette = await startFakePalette({
    tls: true,
    cookieOnly: true,
    users: { admin: SYS_ADMIN_PASSWORD },
    scar: { ...OLD_SCAR },
    revealPassword: true,
    registries: [{ kind: "basic", metadata: { uid: "reg-harbor", name: "airgap-harbor" }, spec: { endpoint: `https://${reg.host}`, baseContentPath: "spectro-packs", containsSpectroManifest: false, providerType: "pack", auth: { type: "basic", username: reg.username, password: reg.password, tls: { enabled: true, certificate: readFileSync(reg.caFile!, "utf8") } } } }],
  });
  tmp = mkdtempSync(join(tmpdir(), "seed-002-"));
  html = join(tmp, "var", "www", "html");
  mkdirSync(html, { recursive: true });
  makeManifestsTree(html);
  kubeconfig = api.kubeconfig("admin");
  for (const p of ["specman-0", "specman-1"]) api.addPod(NS, p, `time="2024-12-06T12:40:00Z" level=info msg="Starting specman"\n`, { phase: "Running" });
  specman = startSpecmanLoop({
    api,
    registryUrl: reg.url,
    repository: REPO,
    auth: `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString("base64")}`,
    ca: readFileSync(reg.caFile!, "utf8"),
    pods: ["specman-0", "specman-1"],
    tag: () => "0.0.0",
    flagged: () => palette.registries[0]!.spec.containsSpectroManifest === true,
  });
});

afterAll(async () => {
  specman?.stop();
  await palette?.stop();
  await api?.stop();
  await reg?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function resetPalette(): void {
  palette.scar = { ...OLD_SCAR };
  palette.registries[0]!.spec.containsSpectroManifest = false;
  api.remove("v1", "Secret", SECRET, NS);
  api.put({ apiVersion: "v1", kind: "Secret", metadata: { name: SECRET, namespace: NS }, type: "Opaque", data: { ...SECRET_DATA } });
}

function scar(args: string[], opts: { cwd?: string; stdin?: string } = {}): Promise<CliResult> {
  return runCli("kubectl-scar", args, { cwd: opts.cwd, stdin: opts.stdin ?? reg.password + "\n", env: { PALETTE_PASSWORD: SYS_ADMIN_PASSWORD } });
}

function noSecrets(r: CliResult): void {
  const all = r.stdout + r.stderr;
  for (const s of [reg.password, SYS_ADMIN_PASSWORD, OLD_SCAR.password, SECRET_DATA["config.json"], ...palette.tokens]) expect(all).not.toContain(s);
}

/** The document's "Validate" section, as written (plus --insecure, as its tip says for self-signed certs). */
async function validate(): Promise<Record<string, unknown>> {
  const script = `
set -euo pipefail
export ENDPOINT=${palette.url}
export PASSWORD=${SYS_ADMIN_PASSWORD}
AUTH_TOKEN=$(curl --insecure --silent --location "\${ENDPOINT}/v1/auth/syslogin" \\
--header 'Content-Type: application/json' \\
--data '{
"username": "admin",
"password": "'\${PASSWORD}'"
}' | jq ."Authorization")
curl --insecure --silent --location "\${ENDPOINT}/v1/system/config/scar" \\
--header 'Content-Type: application/json' \\
--header "Cookie: Authorization=\${AUTH_TOKEN}"
`;
  // async: the fake Palette answers from this process
  const { stdout } = await promisify(execFile)("bash", ["-c", script], { encoding: "utf8", timeout: 30_000 });
  return JSON.parse(stdout);
}

const migrateArgs = (stateDir: string) => [
  "migrate", html,
  "--registry", reg.host, "--ca-file", reg.caFile!, "--username", reg.username, "--password-stdin",
  "--palette", palette.url, "--palette-ca-file", palette.caFile!,
  "--kubeconfig", kubeconfig, "--state-dir", stateDir,
  "--sync-delay", "1s", "--poll-interval", "300ms",
];

describe("seed 002: Migrate Customer-Managed SCAR to OCI Registry", () => {
  test("the document's procedure, step by step, then its validation GET", async () => {
    resetPalette();
    const stateDir = join(tmp, "state");
    // 2–3: cd /var/www/html && tar -czvf manifests.tgz .   (written next to the folder: never archived into itself)
    const pk = await scar(["package", ".", "-O", "../manifests.tgz", "-o", "json"], { cwd: html });
    expect(pk.code).toBe(0);
    const archive = join(html, "..", "manifests.tgz");
    const listed = execFileSync("tar", ["-tzf", archive], { encoding: "utf8" }).trim().split("\n");
    expect(listed[0]).toBe("./");
    expect(listed).toContain("./index.yaml");
    // 4–5: oras login <harbor> …; oras push <harbor>/spectro-packs/spectro-manifests/manifest:0.0.0 manifests.tgz
    const push = await scar(["push", "manifests.tgz", "--registry", reg.host, "--ca-file", reg.caFile!, "--username", reg.username, "--password-stdin", "-o", "json"], { cwd: join(html, "..") });
    expect(push.code).toBe(0);
    const pushed = JSON.parse(push.stdout);
    expect(pushed).toMatchObject({ reference: `${reg.host}/${REPO}:0.0.0`, pushed: true });
    noSecrets(push);

    // 1, 6–8, 9, 10–12 in the document's order (the push above is found in place: not repeated)
    const before = palette.calls.length;
    const r = await scar(migrateArgs(stateDir));
    if (r.code !== 0) console.error(r.stderr);
    expect(r.code).toBe(0);
    noSecrets(r);
    const steps = r.stdout.split("\n").map((l) => l.trim().split(/\s+/).slice(0, 2)).filter((w) => w.length === 2);
    expect(Object.fromEntries(steps)).toMatchObject({ preflight: "done", "delete-secret": "done", package: "done", push: "unchanged", "spectro-manifests": "done", "specman-sync": "done", "record-config": "done", "set-endpoint": "done", "sync-jobs": "done", verify: "done" });
    // step 1
    expect(api.get("v1", "Secret", SECRET, NS)).toBeUndefined();
    // steps 6–8: the box ticked on the registry, nothing else in it changed
    expect(palette.registries[0]!.spec).toMatchObject({ containsSpectroManifest: true, endpoint: `https://${reg.host}`, auth: { username: reg.username, password: reg.password } });
    // step 9 before 10: Specman persisted 0.0.0 before Palette was pointed at it
    const calls = palette.calls.slice(before);
    const regPut = calls.find((c) => c.method === "PUT" && c.path === REG_PUT && c.status === 204)!;
    const scarPut = calls.find((c) => c.method === "PUT" && c.path === SCAR_PATH && c.status === 204)!;
    expect(specman.persistedAt.length).toBeGreaterThan(0);
    expect(regPut.at!).toBeLessThan(specman.persistedAt[0]!);
    expect(specman.persistedAt[0]!).toBeLessThan(scarPut.at!);
    // steps 10–12 as the script does them: syslogin?setCookie=true, PUT (204) with the cookie, the two jobs (204)
    expect(scarPut.body).toEqual({ endpoint: SPECMAN, password: "", username: "" });
    const jobs = calls.filter((c) => c.path.startsWith("/v1/jobs/internal/")).map((c) => `${c.path} ${c.status}`);
    expect(jobs).toEqual(["/v1/jobs/internal/syncCloudInstanceTypesData/run 204", "/v1/jobs/internal/syncCloudStorageTypesData/run 204"]);
    expect(calls.filter((c) => c.path.startsWith("/v1/jobs/")).every((c) => c.at! >= scarPut.at! + 1000)).toBe(true); // --sync-delay 1s
    expect(calls.filter((c) => c.path === "/v1/auth/syslogin").every((c) => c.query === "?setCookie=true")).toBe(true);
    expect(calls.filter((c) => c.path !== "/v1/auth/syslogin").every((c) => c.auth === "cookie")).toBe(true);
    // the deleted secret is kept for rollback, in a 0600 file
    const stateFile = join(stateDir, `127.0.0.1_${new URL(palette.url).port}.json`);
    expect(statSync(stateFile).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(stateFile, "utf8")).deletedSecret.data).toEqual(SECRET_DATA);

    // Validate (the document's own commands)
    expect(await validate()).toMatchObject({ endpoint: SPECMAN });
  });

  test("Specman never persists: the run stops before step 10 and Palette's SCAR config is unchanged", async () => {
    resetPalette();
    specman.enabled = false;
    // Specman restarted and cannot pull (its logs hold no earlier "Persisting")
    for (const p of ["specman-0", "specman-1"]) api.addPod(NS, p, `time="${new Date().toISOString()}" level=info msg="Starting specman"\ntime="${new Date().toISOString()}" level=error msg="Syncing with OCI repo failed: unauthorized"\n`, { phase: "Running" });
    try {
      const stateDir = join(tmp, "state-stuck");
      const before = palette.calls.length;
      const r = await scar([...migrateArgs(stateDir), "--timeout", "3s"]);
      expect(r.code).toBe(1);
      noSecrets(r);
      expect(r.stderr).toContain('migration stopped at step "specman-sync": Specman has not persisted 0.0.0 after 3s');
      expect(r.stderr).toContain("Palette's SCAR config was NOT changed");
      expect(r.stderr).toContain(`kubectl logs -n ${NS} specman-0`);
      expect(r.stderr).toContain("specman-0 (last error: Syncing with OCI repo failed: unauthorized)");
      expect(r.stderr).toContain("done: preflight, delete-secret, package, push, spectro-manifests");
      expect(palette.scar).toEqual(OLD_SCAR);
      expect(palette.calls.slice(before).some((c) => c.path === SCAR_PATH && c.method === "PUT")).toBe(false);
      expect(palette.calls.slice(before).some((c) => c.path.startsWith("/v1/jobs/"))).toBe(false);
      expect(await validate()).toMatchObject({ endpoint: OLD_SCAR.endpoint });
      // the printed rollback puts the deleted secret back; Palette stays as it was
      const cmd = /put it back with: (.*)$/m.exec(r.stderr)![1]!;
      const rb = await scar(shellWords(cmd).slice(2));
      expect(rb.code).toBe(0);
      expect((api.get("v1", "Secret", SECRET, NS) as { data?: unknown } | undefined)?.data).toEqual(SECRET_DATA);
      expect(palette.scar).toEqual(OLD_SCAR);
    } finally {
      specman.enabled = true;
    }
  });
});
