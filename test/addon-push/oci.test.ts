// oci:// targets against the real registry (distribution 2.8, TLS with a private CA + htpasswd), read back with
// real helm 4.1 over TLS; Helm 3.17 reads the pulled archives (its OCI client talks plain HTTP to any loopback
// registry whatever the flags: test/harness/helm.test.ts, so it cannot reach a TLS registry on 127.0.0.1).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { prepareChart } from "../../plugins/helm-addon-push/lib/package.ts";
import { makeAddon, makeChart, tempDir } from "./fixtures.ts";
import { cli, HELM, helmEnv, run } from "./helpers.ts";

let reg: TestRegistry;
let root: string;
let env: Record<string, string>;
let addon: string;

beforeAll(async () => {
  reg = await startRegistry(); // TLS (private CA) + htpasswd
  root = tempDir("ka-oci-");
  env = helmEnv(join(root, "helm"));
  addon = makeAddon(join(root, "src"));
  // credentials the way Helm users have them: `helm registry login` → $HELM_REGISTRY_CONFIG
  const login = await run(HELM.helm4, ["registry", "login", reg.host, "--username", reg.username, "--password-stdin", "--ca-file", reg.caFile!], { env, stdin: reg.password });
  expect(login.code).toBe(0);
});

afterAll(async () => {
  await reg?.stop();
  rmSync(root, { recursive: true, force: true });
});

async function manifest(repo: string, tag: string): Promise<any> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, {
    headers: { accept: "application/vnd.oci.image.manifest.v1+json", authorization: `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString("base64")}` },
    tls: { ca: readFileSync(reg.caFile!, "utf8") },
  } as RequestInit);
  expect(res.status).toBe(200);
  return res.json();
}

describe("oci:// push", () => {
  test("Helm's chart format; helm 4 show chart and pull read it (helm 3 reads the pull); + becomes _ in the tag", async () => {
    const r = await cli([addon, `oci://${reg.host}/addons`, "--ca-file", reg.caFile!, "--version", "1.2.0+vela.1"], { env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Pushing fluxcd-1\\.2\\.0\\+vela\\.1\\.tgz to oci://${reg.host}/addons\\.\\.\\. Done\\. \\(${reg.host}/addons/fluxcd:1\\.2\\.0_vela\\.1 sha256:[0-9a-f]{64}\\)\\n$`));

    const m = await manifest("addons/fluxcd", "1.2.0_vela.1");
    expect(m.config.mediaType).toBe("application/vnd.cncf.helm.config.v1+json");
    expect(m.layers.map((l: any) => l.mediaType)).toEqual(["application/vnd.cncf.helm.chart.content.v1.tar+gzip"]);
    expect(m.annotations["org.opencontainers.image.title"]).toBe("fluxcd");
    expect(m.annotations["org.opencontainers.image.version"]).toBe("1.2.0+vela.1");
    expect(m.annotations["system.vela"]).toBe(">=1.5.0-beta.3");

    const show = await run(HELM.helm4, ["show", "chart", `oci://${reg.host}/addons/fluxcd`, "--version", "1.2.0+vela.1", "--ca-file", reg.caFile!], { env });
    expect(show.code).toBe(0);
    expect(parseYaml(show.stdout)).toMatchObject({ name: "fluxcd", version: "1.2.0+vela.1", appVersion: "1.2.0", type: "library", home: "https://fluxcd.io" });

    const dest = join(root, "pulled");
    mkdirSync(dest, { recursive: true });
    const pull = await run(HELM.helm4, ["pull", `oci://${reg.host}/addons/fluxcd`, "--version", "1.2.0+vela.1", "--ca-file", reg.caFile!, "-d", dest], { env });
    expect(pull.code).toBe(0);
    const show4 = await run(HELM.helm4, ["show", "chart", join(dest, "fluxcd-1.2.0+vela.1.tgz")], { env });
    expect(parseYaml(show4.stdout).annotations).toEqual({ "addon.name": "fluxcd", "system.kubernetes": ">=1.19", "system.vela": ">=1.5.0-beta.3" });
    const show3 = await run(HELM.helm3, ["show", "chart", join(dest, "fluxcd-1.2.0+vela.1.tgz")], { env });
    expect(parseYaml(show3.stdout)).toMatchObject({ name: "fluxcd", version: "1.2.0+vela.1", appVersion: "1.2.0", type: "library", home: "https://fluxcd.io" });
  });

  test("a .tgz with .prov gets the provenance layer; bytes pulled equal bytes pushed", async () => {
    const p = await prepareChart(makeChart(join(root, "src2"), "web", "0.3.1"), join(root, "pkg"));
    writeFileSync(`${p.file}.prov`, "-----BEGIN PGP SIGNED MESSAGE-----\nname: web\nversion: 0.3.1\n");
    const r = await cli([p.file, `oci://${reg.host}/charts/team`, "--ca-file", reg.caFile!], { env });
    expect(r.code).toBe(0);
    const m = await manifest("charts/team/web", "0.3.1");
    expect(m.layers.map((l: any) => l.mediaType)).toEqual(["application/vnd.cncf.helm.chart.content.v1.tar+gzip", "application/vnd.cncf.helm.chart.provenance.v1.prov"]);
    const dest = join(root, "pulled3");
    mkdirSync(dest, { recursive: true });
    const pull = await run(HELM.helm4, ["pull", `oci://${reg.host}/charts/team/web`, "--version", "0.3.1", "--ca-file", reg.caFile!, "-d", dest], { env });
    expect(pull.code).toBe(0);
    expect(readFileSync(join(dest, "web-0.3.1.tgz")).equals(readFileSync(p.file))).toBe(true);
  });

  test("docker's config.json is used when Helm's registry config has no entry", async () => {
    const env2 = helmEnv(join(root, "helm2"));
    mkdirSync(env2.DOCKER_CONFIG!, { recursive: true });
    writeFileSync(join(env2.DOCKER_CONFIG!, "config.json"), JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`${reg.username}:${reg.password}`).toString("base64") } } }));
    const r = await cli([addon, `oci://${reg.host}/viadocker`, "--ca-file", reg.caFile!], { env: env2 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect((await manifest("viadocker/fluxcd", "1.2.0")).config.mediaType).toBe("application/vnd.cncf.helm.config.v1+json");
  });

  test("no or wrong credentials → one clear line, non-zero exit", async () => {
    const env3 = helmEnv(join(root, "helm3"));
    const none = await cli([addon, `oci://${reg.host}/denied`, "--ca-file", reg.caFile!], { env: env3 });
    expect(none.code).not.toBe(0);
    expect(none.stderr.trim().split("\n").length).toBe(1);
    expect(none.stderr).toMatch(/^error: .*(401|unauthori[sz]ed|denied|credentials|authentication)/i);
    expect(none.stderr).not.toMatch(/certificate|x509|TLS/i); // refused for its credentials, not for the CA
    const wrong = await cli([addon, `oci://${reg.host}/denied`, "--ca-file", reg.caFile!, "-u", reg.username, "--password-stdin"], { env: env3, stdin: "not-the-password" });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr.trim().split("\n").length).toBe(1);
    expect(wrong.stderr).not.toContain("not-the-password");
  });
});
