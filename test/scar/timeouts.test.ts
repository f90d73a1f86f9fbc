// A Palette endpoint that accepts the connection and never answers (not even the TLS handshake) must fail every
// kubectl scar command within its --request-timeout, and --request-timeout has one default (60s) everywhere.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";

setDefaultTimeout(60_000);
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../support/cli.ts";
import { startFakeApiServer, type FakeApiServer } from "../support/kube-apiserver.ts";
import { startHangingServer } from "../support/palette-api.ts";
import { makeManifestsTree } from "./helpers.ts";

let hang: Awaited<ReturnType<typeof startHangingServer>>;
let api: FakeApiServer;
let tmp: string;
let stateDir: string;

beforeAll(async () => {
  hang = await startHangingServer();
  api = await startFakeApiServer({ namespaces: ["hubble-system"] });
  tmp = mkdtempSync(join(tmpdir(), "scar-hang-"));
  mkdirSync(join(tmp, "html"));
  makeManifestsTree(join(tmp, "html"));
  // a migration state for this Palette address (rollback reads it before calling Palette)
  stateDir = join(tmp, "state");
  mkdirSync(stateDir);
  writeFileSync(join(stateDir, `127.0.0.1_${hang.port}.json`), JSON.stringify({ version: 1, palette: hang.url, steps: { "record-config": { done: true } }, previousScar: { endpoint: "https://10.0.0.5:8443" } }), { mode: 0o600 });
});
afterAll(async () => {
  await hang?.stop();
  await api?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const pal = () => ["--palette", hang.url, "--palette-insecure", "--state-dir", stateDir];
const kube = () => ["--kubeconfig", api.kubeconfig("admin")];
// a registry port where nothing listens (refused at once), so only Palette is slow
const reg = ["--registry", "127.0.0.1:1", "--plain-http", "--retries", "0"];

describe("a hanging Palette endpoint", () => {
  const commands: [string, () => string[]][] = [
    ["status", () => ["status", ...pal(), "--skip-cluster"]],
    ["migrate --dry-run", () => ["migrate", join(tmp, "html"), ...reg, ...pal(), ...kube(), "--dry-run"]],
    ["migrate", () => ["migrate", join(tmp, "html"), ...reg, ...pal(), ...kube()]],
    ["set-endpoint", () => ["set-endpoint", ...pal()]],
    ["verify", () => ["verify", ...reg, ...pal(), ...kube(), "--no-wait"]],
    ["rollback", () => ["rollback", ...pal()]],
  ];
  for (const [name, args] of commands) {
    test(`${name} fails within --request-timeout 1s, naming the call and the flag`, async () => {
      const t0 = Date.now();
      const r = await runCli("kubectl-scar", [...args(), "--request-timeout", "1s"], { env: { PALETTE_PASSWORD: "pw-hang-1234" }, timeoutMs: 30_000 });
      const ms = Date.now() - t0;
      expect(r.code).toBe(1);
      const out = r.stdout + r.stderr; // status prints the part that failed with the others, on stdout
      expect(out).toContain(`Palette at ${hang.url} did not answer POST /v1/auth/syslogin within 1s`);
      expect(out).toContain("--request-timeout");
      expect(ms).toBeLessThan(8_000);
      expect(out).not.toContain("pw-hang-1234");
    });
  }

  test("--request-timeout has the same default (60s) in every command, and 0 is refused", async () => {
    for (const cmd of ["migrate", "status", "verify", "push", "set-endpoint", "rollback"]) {
      const h = await runCli("kubectl-scar", [cmd, "--help"]);
      expect(h.code).toBe(0);
      const line = h.stdout.split("\n").find((l) => l.includes("--request-timeout"));
      expect(line, `${cmd} --help`).toBeDefined();
      expect(line).toContain("default 60s");
      expect(line).toContain("Palette");
    }
    const z = await runCli("kubectl-scar", ["set-endpoint", ...pal(), "--request-timeout", "0"], { env: { PALETTE_PASSWORD: "x-12345678" } });
    expect(z.code).toBe(2);
    expect(z.stderr).toContain("--request-timeout must be more than 0");
  });
});
