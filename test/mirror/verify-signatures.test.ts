// copy/sync/export --verify-signatures KEY (issue 25.3): an image is copied only when it carries a cosign signature by
// the key for its exact digest, in either of cosign's forms — the sha256-<hex>.sig tag (simple-signing payload, the
// ECDSA signature in the dev.cosignproject.cosign/signature annotation) or an OCI referrer holding a Sigstore bundle.
// The signatures are made by openssl (an independent signer), in the shapes cosign writes; both registries are TLS +
// htpasswd. Unsigned, otherwise-signed, wrong-digest and keyless images fail and are never tagged.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { runCli } from "../support/cli.ts";
import { pushArtifact, pushArtifactTo } from "../../shared/oci/artifact.ts";
import { createClient } from "../../shared/oci/client.ts";
import { pae } from "../../shared/signing/dsse.ts";
import { RegistryRepository } from "../../shared/oci/registry.ts";
import { NotFoundError } from "../../shared/oci/errors.ts";

const tmp = mkdtempSync(join(tmpdir(), "ka-verify-sigs-"));
let src: TestRegistry, dst: TestRegistry;
let client: ReturnType<typeof createClient>;
const digests: Record<string, string> = {};
const k = (n: string) => join(tmp, n);
const BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json";

/** ECDSA P-256 over sha256 by openssl (DER, as cosign writes it), base64. */
function opensslSign(key: string, data: Buffer): string {
  const f = join(tmp, `data-${Math.random().toString(36).slice(2)}`);
  writeFileSync(f, data);
  return execFileSync("openssl", ["dgst", "-sha256", "-sign", key, f]).toString("base64");
}

async function image(name: string): Promise<string> {
  const r = await pushArtifact(`${src.host}/img/${name}:1`, { config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from(`{"n":"${name}"}`) }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", bytes: Buffer.from(`layer ${name}`) }] }, { client });
  return (digests[name] = r.digest);
}

/** cosign's classic form: tag sha256-<hex>.sig, one simple-signing layer with the signature annotation. */
async function sigTag(name: string, key: string, naming = digests[name]!): Promise<void> {
  const payload = Buffer.from(JSON.stringify({ critical: { identity: { "docker-reference": `${src.host}/img/${name}` }, image: { "docker-manifest-digest": naming }, type: "cosign container image signature" }, optional: null }));
  await pushArtifact(`${src.host}/img/${name}:${digests[name]!.replace(":", "-")}.sig`, { config: { mediaType: "application/vnd.oci.image.config.v1+json", bytes: Buffer.from("{}") }, layers: [{ mediaType: "application/vnd.dev.cosign.simplesigning.v1+json", bytes: payload, annotations: { "dev.cosignproject.cosign/signature": opensslSign(key, payload) } }] }, { client });
}

/** cosign's bundle form: a referrer whose layer is a Sigstore bundle (DSSE over an in-toto statement), with the tag-schema index. */
async function bundleReferrer(name: string, key: string | undefined, extraMaterial: Record<string, unknown> = {}): Promise<void> {
  const statement = Buffer.from(JSON.stringify({ _type: "https://in-toto.io/Statement/v1", subject: [{ name: `${src.host}/img/${name}`, digest: { sha256: digests[name]!.slice(7) } }], predicateType: "https://sigstore.dev/cosign/sign/v1", predicate: {} }));
  const sig = key ? opensslSign(key, pae("application/vnd.in-toto+json", statement)) : "";
  const bundle = Buffer.from(JSON.stringify({ mediaType: BUNDLE, verificationMaterial: { publicKey: { hint: "" }, tlogEntries: [], ...extraMaterial }, dsseEnvelope: { payload: statement.toString("base64"), payloadType: "application/vnd.in-toto+json", signatures: [{ sig, keyid: "" }] } }));
  const repo = new RegistryRepository(client, src.host, `img/${name}`);
  const subject = await repo.resolve("1");
  const ref = await pushArtifactTo(repo, [], { artifactType: BUNDLE, config: { mediaType: "application/vnd.oci.empty.v1+json", bytes: Buffer.from("{}") }, layers: [{ mediaType: BUNDLE, bytes: bundle }], subject });
  // distribution 2.8 has no referrers API: the tag schema sha256-<hex> lists the referrer
  const index = { schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: ref.digest, size: ref.size, artifactType: BUNDLE }] };
  const bytes = Buffer.from(JSON.stringify(index));
  await repo.pushManifest({ mediaType: index.mediaType, digest: `sha256:${createHash("sha256").update(bytes).digest("hex")}`, size: bytes.length }, bytes, [digests[name]!.replace(":", "-")]);
}

beforeAll(async () => {
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  client = createClient({ caFiles: [{ host: src.host, file: src.caFile! }], credentials: async (h) => (h === src.host ? { username: src.username, password: src.password } : undefined) });
  for (const n of ["key", "other"]) {
    execFileSync("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", k(`${n}.pem`)]);
    execFileSync("openssl", ["pkey", "-in", k(`${n}.pem`), "-pubout", "-out", k(`${n}.pub`)]);
  }
  for (const n of ["signed", "bundle", "unsigned", "otherkey", "wrongdigest", "keyless"]) await image(n);
  await sigTag("signed", k("key.pem"));
  await bundleReferrer("bundle", k("key.pem"));
  await sigTag("otherkey", k("other.pem"));
  await sigTag("wrongdigest", k("key.pem"), digests.unsigned);
  await bundleReferrer("keyless", undefined, { certificate: { rawBytes: "MIIB" } });
  const docker = join(tmp, "docker");
  mkdirSync(docker, { recursive: true });
  writeFileSync(join(docker, "config.json"), JSON.stringify({ auths: { ...src.dockerConfig().auths, ...dst.dockerConfig().auths } }));
}, 120_000);

afterAll(async () => {
  client?.transport.close();
  await Promise.all([src?.stop(), dst?.stop()]);
  rmSync(tmp, { recursive: true, force: true });
});

const copy = (name: string, keys: string[]) =>
  runCli("kubectl-mirror", ["copy", `${src.host}/img/${name}:1`, `${dst.host}/img/${name}:1`, "--ca-file", `${src.host}=${src.caFile}`, "--ca-file", `${dst.host}=${dst.caFile}`, ...keys.flatMap((f) => ["--verify-signatures", k(f)]), "-o", "json"], { env: { DOCKER_CONFIG: join(tmp, "docker") } });

async function tagged(name: string): Promise<boolean> {
  const c = createClient({ caFiles: [{ host: dst.host, file: dst.caFile! }], credentials: async () => ({ username: dst.username, password: dst.password }) });
  try {
    await new RegistryRepository(c, dst.host, `img/${name}`).resolve("1");
    return true;
  } catch (e) {
    if (e instanceof NotFoundError) return false;
    throw e;
  } finally {
    c.transport.close();
  }
}

test("a .sig-tag signature (openssl-made, cosign's shape) by the key: copied", async () => {
  const r = await copy("signed", ["other.pub", "key.pub"]);
  expect(r.code, r.stderr).toBe(0);
  expect(await tagged("signed")).toBe(true);
}, 60_000);

test("a Sigstore bundle referrer (DSSE statement naming the digest) by the key: copied", async () => {
  const r = await copy("bundle", ["key.pub"]);
  expect(r.code, r.stderr).toBe(0);
  expect(await tagged("bundle")).toBe(true);
}, 60_000);

for (const [name, keys, message] of [
  ["unsigned", ["key.pub"], /no cosign signature by the key in .*key\.pub for sha256:[a-f0-9]{64} \(no sha256-….sig tag, no Sigstore bundle referrer\)/],
  ["otherkey", ["key.pub"], /a \.sig tag signed by another key/],
  ["wrongdigest", ["key.pub"], /a \.sig payload signed by the key but naming sha256:/],
  ["keyless", ["key.pub"], /keyless \(Fulcio certificate\).*out of scope/],
] as const) {
  test(`${name}: refused, not tagged`, async () => {
    const r = await copy(name, [...keys]);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(message);
    expect(await tagged(name)).toBe(false);
  }, 60_000);
}

test("an OpenPGP key for --verify-signatures is a clear usage error", async () => {
  const home = join(tmp, "gnupg");
  mkdirSync(home, { recursive: true, mode: 0o700 });
  execFileSync("gpg", ["--batch", "--homedir", home, "--passphrase", "", "--pinentry-mode", "loopback", "--quick-gen-key", "T <t@example.com>", "ed25519", "sign", "never"], { stdio: "ignore" });
  writeFileSync(k("gpg.asc"), execFileSync("gpg", ["--batch", "--homedir", home, "--armor", "--export"]));
  const r = await copy("signed", ["gpg.asc"]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain("cosign signatures are ECDSA");
  expect(readFileSync(k("gpg.asc"), "utf8")).toContain("PGP PUBLIC KEY");
}, 60_000);
