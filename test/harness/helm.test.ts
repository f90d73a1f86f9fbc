// Self-tests of test/support/helm.ts: makeChart packages a valid chart; real Helm 3 and Helm 4 push it
// to / pull it from the real registry (htpasswd and token auth) over plain http and TLS.
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HELM3, HELM4, HelmError, helm, helmPullChart, helmPushChart, makeChart } from "../support/helm.ts";
import { skopeoInspectRaw } from "../support/images.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";

// bunfig's [test] timeout is not applied by this bun; these tests run real registries/skopeo/helm.
setDefaultTimeout(60_000);

let work: string;
let basic: TestRegistry;
let token: TestRegistry;
let tls: TestRegistry;
let tgz: string;
const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "ka-harness-helm-"));
  [basic, token, tls] = await Promise.all([startRegistry({ auth: "htpasswd", tls: false }), startRegistry({ auth: "token", tls: false }), startRegistry({ tls: true, auth: "htpasswd" })]);
  tgz = await makeChart(work, { name: "demo", version: "0.3.1", appVersion: "9.9", values: { image: { repository: "example/app", tag: "1.0" } } });
});
afterAll(async () => {
  await Promise.all([basic?.stop(), token?.stop(), tls?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

test("makeChart writes a chart helm accepts (lint, show chart, template)", async () => {
  expect(tgz).toBe(join(work, "demo-0.3.1.tgz"));
  expect((await helm(["lint", join(work, "demo")])).stdout).toContain("1 chart(s) linted, 0 chart(s) failed");
  const chart = (await helm(["show", "chart", tgz])).stdout;
  expect(chart).toContain("name: demo");
  expect(chart).toContain("version: 0.3.1");
  expect(chart).toContain("appVersion: \"9.9\"");
  const rendered = (await helm(["template", "rel", tgz])).stdout;
  expect(rendered).toContain("name: rel-demo");
  expect(rendered).toContain("example/app");
  await expect(helm(["show", "chart", join(work, "missing.tgz")])).rejects.toBeInstanceOf(HelmError);
});

for (const [label, bin] of [["helm 3", HELM3], ["helm 4", HELM4]] as const) {
  describe(label, () => {
    test("push + pull over plain http with htpasswd credentials; the pulled chart is byte-identical", async () => {
      const creds = { username: basic.username, password: basic.password };
      const pushed = await helmPushChart(tgz, `oci://${basic.host}/charts`, bin, creds);
      expect(pushed.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(pushed.ref).toBe(`${basic.host}/charts/demo:0.3.1`);
      const raw = await skopeoInspectRaw(`${basic.host}/charts/demo:0.3.1`, basic.skopeo);
      expect(raw.digest).toBe(pushed.digest);
      expect(raw.json.config.mediaType).toBe("application/vnd.cncf.helm.config.v1+json");
      expect(raw.json.layers[0].mediaType).toBe("application/vnd.cncf.helm.chart.content.v1.tar+gzip");
      expect(raw.json.layers[0].digest).toBe(`sha256:${sha(tgz)}`);
      const pulled = await helmPullChart(`oci://${basic.host}/charts/demo`, "0.3.1", join(work, `pull-${bin.length}-${label.at(-1)}`), bin, creds);
      expect(sha(pulled)).toBe(sha(tgz));
      // no credentials → refused
      await expect(helmPushChart(tgz, `oci://${basic.host}/charts2`, bin)).rejects.toThrow(/unauthorized|401|authentication required|auth credentials|credential not found/i);
    });

    test("push via token auth (writer), reader may pull but not push", async () => {
      const writer = { username: "writer", password: token.users.writer! };
      const reader = { username: "reader", password: token.users.reader! };
      const pushed = await helmPushChart(tgz, `oci://${token.host}/charts`, bin, writer);
      expect(pushed.digest).toMatch(/^sha256:/);
      const pulled = await helmPullChart(`oci://${token.host}/charts/demo`, "0.3.1", join(work, `tpull-${label.at(-1)}`), bin, reader);
      expect(sha(pulled)).toBe(sha(tgz));
      await expect(helmPushChart(tgz, `oci://${token.host}/other`, bin, reader)).rejects.toThrow(/denied|unauthorized|insufficient|403|401/i);
      expect(token.tokenServer!.calls.some((c) => c.user === "writer" && c.granted.some((g) => g.name === "charts/demo" && g.actions.includes("push")))).toBe(true);
    });

    // Helm 3.17's push/pull resolver treats 127.0.0.1/localhost as plain-http hosts (containerd's
    // MatchLocalhost), so it cannot talk TLS to a loopback registry; Helm 4 can.
    if (label === "helm 3") {
      test("Helm 3 talks plain http to a loopback TLS registry even with --ca-file (known quirk)", async () => {
        const creds = { username: tls.username, password: tls.password, plainHttp: false, caFile: tls.caFile };
        await expect(helmPushChart(tgz, `oci://${tls.host}/charts`, bin, creds)).rejects.toThrow(new RegExp(`http://${tls.host}/v2/.*400 Bad Request`));
      });
      return;
    }
    test("TLS registry with --ca-file", async () => {
      const creds = { username: tls.username, password: tls.password, plainHttp: false, caFile: tls.caFile };
      await helmPushChart(tgz, `oci://${tls.host}/charts`, bin, creds);
      const pulled = await helmPullChart(`oci://${tls.host}/charts/demo`, "0.3.1", join(work, `tls-${label.at(-1)}`), bin, creds);
      expect(existsSync(pulled)).toBe(true);
      expect(sha(pulled)).toBe(sha(tgz));
      await expect(helmPullChart(`oci://${tls.host}/charts/demo`, "0.3.1", join(work, `tls-bad-${label.at(-1)}`), bin, { ...creds, caFile: undefined })).rejects.toThrow(/certificate|x509/i);
    });
  });
}
