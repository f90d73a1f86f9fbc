// Small pieces of kubectl-scar: Specman log parsing, the resume/rollback command builder (no secrets), the
// ORAS shape checker, and the push-permission probe against a real token-auth registry (reader vs writer).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { createClient } from "../../shared/oci/client.ts";
import { staticCredentials } from "../../shared/oci/transport/credentials.ts";
import { checkOrasShape, createdNow, probePush } from "../../plugins/kubectl-scar/lib/artifact.ts";
import { ScarError } from "../../plugins/kubectl-scar/lib/errors.ts";
import { resumeCommands } from "../../plugins/kubectl-scar/lib/resume.ts";
import { parseSpecmanLog, waitForSpecman } from "../../plugins/kubectl-scar/lib/specman.ts";
import { sortTags } from "../../plugins/kubectl-scar/lib/artifact.ts";
import type { KubeClient } from "../../shared/kube/index.ts";
import { valueFlags } from "../../plugins/kubectl-scar/commands/migrate.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { shellWords } from "./helpers.ts";

describe("waitForSpecman", () => {
  // a cluster where specman-0 never persists and logs an error
  const kube = {
    list: async () => [{ apiVersion: "v1", kind: "Pod", metadata: { name: "specman-0" }, status: { phase: "Running" } }],
    logsText: async () => 'time="t" level=info msg="Syncing with OCI repo"\ntime="t" level=error msg="failed to pull: unauthorized"\n',
  } as unknown as KubeClient;

  test("waits the whole --timeout, not a poll interval less (6s with 5s polls used to give up after ~5s)", async () => {
    for (const [timeoutMs, intervalMs] of [[1500, 1000], [1200, 5000]] as const) {
      const t0 = Date.now();
      const err = await waitForSpecman(kube, "0.0.0", { timeoutMs, intervalMs }).catch((e) => e);
      const ms = Date.now() - t0;
      expect(err).toBeInstanceOf(ScarError);
      expect(ms).toBeGreaterThanOrEqual(timeoutMs);
      expect(ms).toBeLessThan(timeoutMs + 800);
      expect(err.message).toContain(`after ${timeoutMs / 1000}s`);
      expect(err.message).toContain("last error: failed to pull: unauthorized");
    }
  });
});

describe("sortTags", () => {
  test("versions sort numerically", () => {
    expect(sortTags(["4.5.15", "0.0.0", "4.5.9", "4.5.13", "latest", "10.0.0"])).toEqual(["0.0.0", "4.5.9", "4.5.13", "4.5.15", "10.0.0", "latest"]);
  });
});

describe("parseSpecmanLog", () => {
  const log = [
    'time="2025-01-10T10:00:00Z" level=info msg="Syncing with OCI repo"',
    'time="2025-01-10T10:00:01Z" level=info msg="tags[4.5.13 4.5.15 0.0.0]"',
    'time="2025-01-10T10:00:01Z" level=info msg="Downloading 0.0.0"',
    'time="2025-01-10T10:00:02Z" level=info msg="listing dir /tmp/0.0.01234567"',
    'time="2025-01-10T10:00:02Z" level=info msg="filename: manifests.tgz, isDir: false"',
    'time="2025-01-10T10:00:03Z" level=info msg="Persisting 0.0.0"',
  ].join("\n");

  test("a full sync of the tag", () => {
    expect(parseSpecmanLog(log, "0.0.0")).toEqual({ tags: ["4.5.13", "4.5.15", "0.0.0"], downloaded: true, foundArchive: true, persisted: true });
  });
  test("another tag is not this one (no prefix matches: 0.0.0 ≠ 0.0.01)", () => {
    const r = parseSpecmanLog(log, "0.0.01");
    expect(r.persisted).toBe(false);
    expect(r.downloaded).toBe(false);
    expect(parseSpecmanLog(log.replace(/Persisting 0\.0\.0/, "Persisting 0.0.0-rc1"), "0.0.0").persisted).toBe(false);
  });
  test("errors are reported", () => {
    const r = parseSpecmanLog('time="x" level=error msg="failed to pull: unauthorized"\n', "0.0.0");
    expect(r.lastError).toBe("failed to pull: unauthorized");
    expect(r.persisted).toBe(false);
  });
});

describe("resumeCommands", () => {
  test("secrets are left out; the registry password comes back through stdin; values with spaces are quoted", () => {
    const argv = ["/srv/my html", "--registry", "reg.local", "-u", "admin", "--password", "Reg-Pw-1", "--palette", "https://p.local", "--palette-password=Pal-Pw-2", "--palette-token", "tok-3", "--state-dir", "/s", "--dry-run", "--palette-insecure"];
    const c = resumeCommands(argv, valueFlags);
    for (const s of ["Reg-Pw-1", "Pal-Pw-2", "tok-3"]) {
      expect(c.resume).not.toContain(s);
      expect(c.rollback).not.toContain(s);
    }
    expect(shellWords(c.resume)).toEqual(["kubectl", "scar", "migrate", "/srv/my html", "--registry", "reg.local", "-u", "admin", "--palette", "https://p.local", "--state-dir", "/s", "--palette-insecure", "--password-stdin"]);
    expect(shellWords(c.rollback)).toEqual(["kubectl", "scar", "rollback", "--palette", "https://p.local", "--state-dir", "/s", "--palette-insecure"]);
    expect(c.notes.join(" ")).toContain("PALETTE_PASSWORD");
    expect(c.notes.join(" ")).toContain("PALETTE_TOKEN");
  });
});

describe("checkOrasShape", () => {
  const good = {
    schemaVersion: 2 as const,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.unknown.config.v1+json", digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", size: 2 },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: "sha256:" + "a".repeat(64), size: 5, annotations: { "org.opencontainers.image.title": "manifests.tgz" } }],
    annotations: { "org.opencontainers.image.created": createdNow() },
  };
  test("ORAS 1.0.0 output passes; ORAS 1.1+ output does not", () => {
    expect(checkOrasShape(good)).toEqual([]);
    expect(createdNow(new Date("2024-12-06T12:43:14.567Z"))).toBe("2024-12-06T12:43:14Z");
    const v11 = { ...good, artifactType: "application/vnd.unknown.artifact.v1", config: { mediaType: "application/vnd.oci.empty.v1+json", digest: good.config.digest, size: 2, data: "e30=" } };
    expect(checkOrasShape(v11)).toEqual(["has artifactType", "config mediaType application/vnd.oci.empty.v1+json is not application/vnd.unknown.config.v1+json"]);
    const abs = { ...good, layers: [{ ...good.layers[0]!, annotations: { "org.opencontainers.image.title": "/var/www/html/manifests.tgz" } }] };
    expect(checkOrasShape(abs)).toEqual(["layer title is not manifests.tgz"]);
  });
});

describe("probePush (real registry: TLS with a private CA, token auth)", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: "token" });
  });
  const tlsTo = () => ({ caFiles: [{ host: reg.host, file: reg.caFile! }] });
  afterAll(async () => {
    await reg?.stop();
  });
  const target = () => ({ registry: reg.host, basePath: "spectro-packs", tag: "0.0.0" });

  test("a writer may push (nothing is left behind); a reader may not; a wrong password fails", async () => {
    const writer = createClient({ ...tlsTo(), credentials: staticCredentials({ username: "writer", password: reg.users.writer! }) });
    await probePush(target(), writer);
    // no manifest and no tag were written
    const token = reg.tokenServer!.mint("admin", [{ type: "repository", name: "spectro-packs/spectro-manifests/manifest", actions: ["pull"] }]);
    const tl = await fetch(`${reg.url}/v2/spectro-packs/spectro-manifests/manifest/tags/list`, { headers: { authorization: `Bearer ${token}` }, tls: { ca: readFileSync(reg.caFile!, "utf8") } } as RequestInit);
    expect(tl.status).toBe(404);
    const reader = createClient({ ...tlsTo(), credentials: staticCredentials({ username: "reader", password: reg.users.reader! }) });
    const e1 = await probePush(target(), reader).catch((e) => e);
    expect(e1).toBeInstanceOf(Error);
    expect(String(e1.message)).toMatch(/denied|does not allow pushing/);
    const bad = createClient({ ...tlsTo(), credentials: staticCredentials({ username: "writer", password: "wrong-pw-0" }) });
    const e2 = await probePush(target(), bad).catch((e) => e);
    expect(e2).toBeInstanceOf(Error);
    expect(e2).not.toBeInstanceOf(ScarError);
    expect(String(e2.message)).toContain("authentication");
  });
});
