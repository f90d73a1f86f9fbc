import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerConfigCredentials, readDockerConfig, saveDockerConfigAuth, removeDockerConfigAuth } from "../../shared/oci/transport/credentials.ts";
import { parseChallenge } from "../../shared/oci/transport/auth.ts";
import { redact, clearSecrets } from "../../shared/runtime/redact.ts";

const dir = mkdtempSync(join(tmpdir(), "ka-creds-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("docker config.json", () => {
  test("auths: auth, username/password, identitytoken, hub keys", async () => {
    const f = join(dir, "config.json");
    writeFileSync(f, JSON.stringify({ auths: {
      "reg.a:5000": { auth: Buffer.from("alice:s3cret-a").toString("base64") },
      "https://reg.b": { username: "bob", password: "s3cret-b" },
      "reg.c": { identitytoken: "refresh-token-c" },
      "https://index.docker.io/v1/": { auth: Buffer.from("hub:hubpass").toString("base64") },
    } }));
    const p = dockerConfigCredentials(f);
    expect(await p("reg.a:5000")).toEqual({ username: "alice", password: "s3cret-a" });
    expect(await p("reg.b")).toEqual({ username: "bob", password: "s3cret-b" });
    expect(await p("reg.c")).toEqual({ identityToken: "refresh-token-c" });
    expect(await p("docker.io")).toEqual({ username: "hub", password: "hubpass" });
    expect(await p("other")).toBeUndefined();
    // every secret read is masked from then on
    expect(redact("x s3cret-a y refresh-token-c")).toBe("x *** y ***");
    clearSecrets();
  });

  test("credential helpers: credHelpers and credsStore", async () => {
    const bin = join(dir, "bin");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(bin, { recursive: true });
    const helper = (name: string, body: string) => {
      writeFileSync(join(bin, `docker-credential-${name}`), `#!/bin/sh\nread server\n${body}\n`);
      chmodSync(join(bin, `docker-credential-${name}`), 0o755);
    };
    helper("fake", `if [ "$server" = "reg.helper" ]; then echo '{"ServerURL":"reg.helper","Username":"hu","Secret":"hs"}'; else echo "credentials not found in native keychain"; exit 1; fi`);
    helper("store", `echo '{"Username":"<token>","Secret":"idtok-from-store"}'`);
    const f = join(dir, "helpers.json");
    writeFileSync(f, JSON.stringify({ credHelpers: { "reg.helper": "fake", "reg.nohelp": "fake" }, credsStore: "store" }));
    const old = process.env.PATH;
    process.env.PATH = `${bin}:${old}`;
    try {
      const p = dockerConfigCredentials(f);
      expect(await p("reg.helper")).toEqual({ username: "hu", password: "hs" });
      expect(await p("reg.nohelp")).toBeUndefined();
      expect(await p("anything.else")).toEqual({ identityToken: "idtok-from-store" });
    } finally {
      process.env.PATH = old;
    }
  });

  test("save and remove keep the file private and other entries intact", () => {
    const f = join(dir, "save", "config.json");
    saveDockerConfigAuth(f, "reg.x", { username: "u", password: "p" });
    saveDockerConfigAuth(f, "docker.io", { username: "h", password: "q" });
    const cfg = readDockerConfig(f);
    expect(Buffer.from(cfg.auths!["reg.x"]!.auth!, "base64").toString()).toBe("u:p");
    expect(cfg.auths!["https://index.docker.io/v1/"]).toBeDefined();
    expect(removeDockerConfigAuth(f, "reg.x")).toBe(true);
    expect(readDockerConfig(f).auths!["reg.x"]).toBeUndefined();
    const { statSync } = require("node:fs");
    expect(statSync(f).mode & 0o777).toBe(0o600);
  });

  test("a broken config.json is a clear error", async () => {
    const f = join(dir, "broken.json");
    writeFileSync(f, "{nope");
    await expect(dockerConfigCredentials(f)("x")).rejects.toThrow(/cannot parse registry config .*broken.json/);
  });
});

describe("WWW-Authenticate", () => {
  test("bearer with quoted values and commas in scope", () => {
    expect(parseChallenge('Bearer realm="https://auth.io/token",service="registry.io",scope="repository:a/b:pull,push"')).toEqual({ scheme: "bearer", params: { realm: "https://auth.io/token", service: "registry.io", scope: "repository:a/b:pull,push" } });
    expect(parseChallenge('Basic realm="Registry Realm"')?.scheme).toBe("basic");
  });
});
