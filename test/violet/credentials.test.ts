// violet create/package: --username/--password-stdin (and REGISTRY_USERNAME/PASSWORD) belong to the --artifact's
// registry (issue 12.1). A related image on another registry (token auth with anonymous pull, like Docker Hub) is
// read with its own stored credentials or anonymously: its token service never sees the artifact registry's password.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { pushBundle, pushImage, type PushedImage } from "../support/violet-fixtures.ts";
import { ok, violet } from "./world.ts";

setDefaultTimeout(120_000);

let art: TestRegistry, other: TestRegistry, dir: string;
let bundle: PushedImage;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "violet-creds-"));
  [art, other] = await Promise.all([startRegistry(), startRegistry({ auth: "token", anonymous: ["pull"] })]);
  const own = await pushImage(art, "acp/bar-operator:v1.0.0");
  const foreign = await pushImage(other, "library/sidecar:v1.0.0");
  bundle = await pushBundle(art, "acp/bar-operator-bundle:v1.0.0", { packageName: "bar-operator", version: "1.0.0", channels: ["stable"], defaultChannel: "stable", relatedImages: [own.ref, foreign.ref] });
});

afterAll(async () => {
  await Promise.all([art?.stop(), other?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

const cas = () => ["--ca-file", `${art.host}=${art.caFile}`, "--ca-file", `${other.host}=${other.caFile}`];
const env = () => ({ HOME: dir, DOCKER_CONFIG: join(dir, "docker"), REGISTRY_USERNAME: undefined, REGISTRY_PASSWORD: undefined });
const otherCalls = (since: number) => other.tokenServer!.calls.slice(since);

describe("violet create/package: registry credentials stay with the --artifact's registry (12.1)", () => {
  test("-u/--password-stdin reach the artifact registry, never another registry's token service", async () => {
    const out = join(dir, "flags");
    let before = other.tokenServer!.calls.length;
    const c = await violet(["create", out, "--artifact", bundle.ref, ...cas(), "-u", art.username, "--password-stdin"], { stdin: art.password + "\n", env: env() });
    expect(c.stderr).not.toContain(art.password);
    ok(c);
    let calls = otherCalls(before);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.filter((x) => x.user !== undefined || x.grantType !== "anonymous")).toEqual([]);

    before = other.tokenServer!.calls.length;
    const p = await violet(["package", out, "-O", join(dir, "flags.tgz"), ...cas(), "-u", art.username, "--password-stdin"], { stdin: art.password + "\n", env: env() });
    ok(p);
    calls = otherCalls(before);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.filter((x) => x.user !== undefined || x.grantType !== "anonymous")).toEqual([]);
  });

  test("REGISTRY_USERNAME/REGISTRY_PASSWORD likewise", async () => {
    const before = other.tokenServer!.calls.length;
    const r = await violet(["create", join(dir, "env"), "--artifact", bundle.ref, ...cas()], { env: { ...env(), REGISTRY_USERNAME: art.username, REGISTRY_PASSWORD: art.password } });
    ok(r);
    const calls = otherCalls(before);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.filter((x) => x.user !== undefined || x.grantType !== "anonymous")).toEqual([]);
  });
});
