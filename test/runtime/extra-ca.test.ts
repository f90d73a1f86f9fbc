// Every TLS path trusts the same way when a CA file is given: public roots + NODE_EXTRA_CA_CERTS + that file.
// The user's case: SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt (Debian/Ubuntu images set it; kubectl-mirror
// reads it as the chart repository CA like helm does) and the private CA only in NODE_EXTRA_CA_CERTS. Passing a
// `ca` list without NODE_EXTRA_CA_CERTS replaced the trust store and failed "unable to verify the first certificate".
import { afterAll, beforeAll, expect, test } from "bun:test";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCA } from "../support/pki.ts";
import { loadChart } from "../../shared/helm/chart-source.ts";
import { httpRequestFull, jsonRequest } from "../../shared/chartmuseum/http.ts";
import { PaletteClient } from "../../shared/palette/client.ts";
import { PaletteContentClient } from "../../shared/palette/content.ts";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";

const SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";
const ca = createCA();
const pair = ca.server("extra-ca");
let server: https.Server;
let base = "";
let tgz: Uint8Array;
const saved = { extra: process.env.NODE_EXTRA_CA_CERTS, ssl: process.env.SSL_CERT_FILE };

beforeAll(async () => {
  const d = mkdtempSync(join(tmpdir(), "ka-extra-chart-"));
  mkdirSync(join(d, "extra"));
  writeFileSync(join(d, "extra", "Chart.yaml"), "apiVersion: v2\nname: extra\nversion: 1.0.0\n");
  execFileSync("tar", ["czf", join(d, "extra.tgz"), "-C", d, "extra"]);
  tgz = readFileSync(join(d, "extra.tgz"));
  server = https.createServer({ cert: pair.certPem, key: pair.keyPem }, (req, res) => {
    if (req.url === "/extra-1.0.0.tgz") {
      res.writeHead(200, { "content-type": "application/gzip" });
      return res.end(tgz);
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ spec: {}, items: [], ok: true }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `https://localhost:${(server.address() as AddressInfo).port}`;
  process.env.NODE_EXTRA_CA_CERTS = ca.cert;
  process.env.SSL_CERT_FILE = SYSTEM_BUNDLE;
});
afterAll(() => {
  server?.close();
  for (const [k, v] of [["NODE_EXTRA_CA_CERTS", saved.extra], ["SSL_CERT_FILE", saved.ssl]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

test.skipIf(!existsSync(SYSTEM_BUNDLE))("chart repository download (kubectl-mirror, caFile = SSL_CERT_FILE) trusts NODE_EXTRA_CA_CERTS", async () => {
  const loaded = await loadChart({ chart: `${base}/extra-1.0.0.tgz`, caFile: SYSTEM_BUNDLE });
  try {
    expect(loaded.name).toBe("extra");
  } finally {
    await loaded.cleanup();
  }
});

test.skipIf(!existsSync(SYSTEM_BUNDLE))("ChartMuseum raw and JSON requests with --ca-file trust NODE_EXTRA_CA_CERTS", async () => {
  const raw = await httpRequestFull(`${base}/index.yaml`, { tls: { caFile: SYSTEM_BUNDLE } });
  expect(raw.status).toBe(200);
  const api = await jsonRequest(`${base}/api/charts`, { tls: { caFile: SYSTEM_BUNDLE } });
  expect(api.status).toBe(200);
});

test.skipIf(!existsSync(SYSTEM_BUNDLE))("Palette clients with a CA file trust NODE_EXTRA_CA_CERTS", async () => {
  const p = new PaletteClient({ url: base, token: "t", caFile: SYSTEM_BUNDLE });
  const res = await p.request("GET", "/v1/system/config/scar");
  expect(res.status).toBe(200);
  const c = new PaletteContentClient({ endpoint: base, apiKey: "k", caFile: SYSTEM_BUNDLE });
  await (c as any).get("/v1/dashboard/projects", "projects");
});
