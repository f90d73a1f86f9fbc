// --palette mistakes a new user makes: http:// for an HTTPS Palette ("socket hang up" alone said nothing), and a
// URL without a scheme (a usage error naming the flag, exit 2).
import { afterAll, beforeAll, expect, test } from "bun:test";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { createCA } from "../support/pki.ts";
import { runCli } from "../support/cli.ts";

const ca = createCA();
const pair = ca.server("palette");
let server: https.Server;
let port = 0;
beforeAll(async () => {
  server = https.createServer({ cert: pair.certPem, key: pair.keyPem }, (_req, res) => res.end("{}"));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => server?.close());

const env = { PALETTE_TOKEN: "tok-secret-123", PALETTE_URL: undefined, PALETTE_PASSWORD: undefined };

test("http:// against an HTTPS Palette: the error suggests https://", async () => {
  const r = await runCli("kubectl-scar", ["status", "--palette", `http://127.0.0.1:${port}`, "--skip-cluster"], { env });
  const all = r.stdout + r.stderr;
  expect(all).toContain(`https://127.0.0.1:${port}`);
  expect(all).toMatch(/speak HTTPS/);
  expect(all).not.toContain("tok-secret-123");
});

test("a --palette URL without a scheme is a usage error naming the flag (exit 2)", async () => {
  for (const v of [`127.0.0.1:${port}`, "palette.example.com"]) {
    const r = await runCli("kubectl-scar", ["status", "--palette", v, "--skip-cluster"], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--palette");
    expect(r.stderr).toContain("https://");
  }
});
