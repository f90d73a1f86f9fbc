// Errors a user meets with the wrong input (issue 24.5): one line that names the file, says what it looks like and
// what to run instead — a chart .tgz (packaged by real helm), a docker-save tar (written by skopeo's
// docker-archive transport), a file that is no tar — instead of "truncated tar archive (partial header)" or "bad tar
// header checksum"; helm addon-push to a plain-HTTP registry hints --plain-http instead of a raw OpenSSL error;
// Bun's fetch advice ("Is the computer able to access the url?") never reaches users.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HELM3, runCli } from "../support/cli.ts";
import { skopeo, writeImageLayout } from "../support/images.ts";
import { makeFixture, type Fixture } from "../mirror-images/fixture.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";

let tmp: string;
let fx: Fixture;
let dockerSave: string;
let plain: TestRegistry;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "ka-errors-"));
  fx = makeFixture(HELM3);
  await writeImageLayout(join(tmp, "layout"), { tag: "1.0", layers: 1 });
  dockerSave = join(tmp, "app-image.tar");
  await skopeo(["copy", `oci:${join(tmp, "layout")}:1.0`, `docker-archive:${dockerSave}:acme/app:1.0`]);
  plain = await startRegistry({ auth: "none", tls: false });
}, 120_000);

afterAll(async () => {
  fx?.cleanup();
  await plain?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const home = () => ({ HOME: join(tmp, "home"), DOCKER_CONFIG: join(tmp, "home", ".docker") });

/** The archive-taking commands, each given FILE where an OCI archive belongs (nothing reachable behind them). */
const archiveCommands = (file: string): string[][] => [
  ["push", file, "--dest", "127.0.0.1:1", "--plain-http"],
  ["inspect", file],
  ["copy", `oci-archive:${file}`, "127.0.0.1:1/x:1", "--plain-http"],
];

function oneError(stderr: string): string {
  const lines = stderr.trim().split("\n").filter((l) => l.startsWith("error:"));
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe("a file that is not an OCI archive", () => {
  test("a Helm chart .tgz: named as a chart, with the commands that take charts", async () => {
    for (const args of archiveCommands(fx.tgz)) {
      const r = await runCli("kubectl-mirror", args, { env: home() });
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      const line = oneError(r.stderr);
      expect(line).toContain(fx.tgz);
      expect(line).toContain("is a Helm chart (app/Chart.yaml)");
      expect(line).toContain("helm addon-push");
      expect(line).toContain("kubectl mirror sync");
      expect(line).not.toMatch(/truncated tar|checksum/);
    }
  }, 60_000);

  test("a docker-save tar (skopeo docker-archive): named, with the conversion to run", async () => {
    for (const args of archiveCommands(dockerSave)) {
      const r = await runCli("kubectl-mirror", args, { env: home() });
      const line = oneError(r.stderr);
      expect(line).toContain(dockerSave);
      expect(line).toContain("docker-save tar (manifest.json + repositories)");
      expect(line).toContain("skopeo copy docker-archive:");
    }
  }, 60_000);

  test("no tar at all: a text file, a JSON file, gzip of text", async () => {
    const txt = join(tmp, "notes.tar");
    writeFileSync(txt, "these are my notes, not an archive\n".repeat(40));
    const json = join(tmp, "values.tar");
    writeFileSync(json, JSON.stringify({ a: 1, pad: "x".repeat(2000) }));
    const gz = join(tmp, "text.tar.gz");
    writeFileSync(gz, Bun.gzipSync(Buffer.from("plain text inside gzip ".repeat(100))));
    for (const [file, looks] of [[txt, "a text file"], [json, "a JSON file"], [gz, "gzip-compressed data, but a text file"]] as const) {
      for (const args of archiveCommands(file)) {
        const r = await runCli("kubectl-mirror", args, { env: home() });
        const line = oneError(r.stderr);
        expect({ args, line }).toEqual({ args, line: expect.stringContaining(`${file} is not an OCI archive: it is ${looks}`) });
      }
    }
  }, 60_000);
});

test("helm addon-push to a plain-HTTP registry: the TLS failure says to add --plain-http, no raw OpenSSL text", async () => {
  const r = await runCli("helm-addon-push", [fx.tgz, `oci://${plain.host}/charts`], { env: home() });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("--plain-http");
  expect(r.stderr).toContain("does not speak TLS");
  expect(r.stderr).not.toMatch(/OPENSSL_internal|100000f7/);
  // and the hint is right: with --plain-http the push works
  const ok = await runCli("helm-addon-push", [fx.tgz, `oci://${plain.host}/charts`, "--plain-http"], { env: home() });
  expect(ok.stderr).not.toContain("Failed");
  expect(ok.code).toBe(0);
}, 60_000);

test("Bun's fetch advice never reaches users: a closed port reads like Node's ECONNREFUSED", async () => {
  const r = await runCli("kubectl-mirror", ["export", "--palette-profile", "a", "--project-id", "p", "--palette-endpoint", "https://127.0.0.1:1", "-O", join(tmp, "x.tar")], { env: { ...home(), PALETTE_API_KEY: "k" } });
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain("ECONNREFUSED 127.0.0.1:1");
  expect(r.stderr).not.toMatch(/Is the computer able|typo in the url|verbose: true/);
}, 60_000);
