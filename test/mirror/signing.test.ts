// Signed archives (issue 25): export --sign / kubectl mirror sign on one side of the gap, push/verify --key on the
// other. Keys come from the real tools (openssl, gpg); the Sigstore bundle is checked by sigstore's own verifier
// (@sigstore/verify), not only by ours. Hostile archives (index.json/metadata/blob/part altered, another key's or
// another archive's signature, truncated or duplicated signature, a key of the wrong type) are refused before
// anything reaches the registry: the registry's storage has no trace of the destination path afterwards.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { createHash, createPublicKey } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bundleFromJSON } from "@sigstore/bundle";
import { PublicKeyDetails } from "@sigstore/protobuf-specs";
import { toSignedEntity, toTrustMaterial, Verifier } from "@sigstore/verify";
import { validReport } from "../support/schema.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { expectOk, mirror, setupSources, type Sources } from "./helpers.ts";
import { readTar, TarWriter } from "../../shared/tar/stream.ts";
import { OciArchiveReader } from "../../shared/oci/archive.ts";

let s: Sources;
let dst: TestRegistry;
let keys: string;
let signed: string;
let plain: string;

const into = (reg: TestRegistry) => ["--ca-file", reg.caFile!, "-u", reg.username, "--password-stdin"];
const pw = (reg: TestRegistry) => ({ stdin: reg.password });
const chartArgs = () => ["--repo-url", s.repo.url, "--chart-url", "fixture/app", "--chart-version", "1.2.3", ...s.srcArgs, ...s.mirrorArgs, ...s.pinnedSet];
const k = (name: string) => join(keys, name);

function sh(cmd: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync(cmd, args, { encoding: "utf8", env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
}

/** Copy a plain tar entry by entry; `edit` may replace an entry's bytes, drop it (null) or add entries after it. */
async function rewriteTar(src: string, out: string, edit: (name: string, bytes: Buffer) => Buffer | null | { bytes: Buffer; after?: { name: string; bytes: Buffer }[] } | undefined): Promise<void> {
  const ws = createWriteStream(out);
  const done = new Promise<void>((r) => ws.on("close", () => r()));
  const tar = new TarWriter(ws);
  for await (const e of readTar(createReadStream(src))) {
    if (e.header.type === "directory") {
      await tar.addDirectory(e.header.name);
      continue;
    }
    const bytes = await e.bytes(1 << 30);
    const r = edit(e.header.name, bytes);
    if (r === null) continue;
    const b = r === undefined ? bytes : Buffer.isBuffer(r) ? r : r.bytes;
    await tar.addFile(e.header.name, b.length, b);
    if (r && !Buffer.isBuffer(r)) for (const a of r.after ?? []) await tar.addFile(a.name, a.bytes.length, a.bytes);
  }
  await tar.finish();
  ws.end();
  await done;
}

async function entry(archive: string, name: string): Promise<Buffer> {
  for await (const e of readTar(createReadStream(archive))) if (e.header.name === name) return e.bytes(1 << 30);
  throw new Error(`${name} not in ${archive}`);
}

/** Swap the ref.name annotations of the first two image roots (every digest stays valid). */
function swapRefs(indexBytes: Buffer): Buffer {
  const idx = JSON.parse(indexBytes.toString());
  const imgs = idx.manifests.filter((m: any) => m.annotations?.["org.opencontainers.image.ref.name"]?.includes("/") && !m.annotations["org.opencontainers.image.ref.name"].startsWith("charts/"));
  const a = imgs[0].annotations["org.opencontainers.image.ref.name"];
  imgs[0].annotations["org.opencontainers.image.ref.name"] = imgs[1].annotations["org.opencontainers.image.ref.name"];
  imgs[1].annotations["org.opencontainers.image.ref.name"] = a;
  return Buffer.from(JSON.stringify(idx));
}

/** Copy `src` with the last byte of its first layer blob (≥ 2 KiB, not JSON) flipped: same size, another digest. */
async function flipOneBlob(src: string, out: string): Promise<void> {
  let done = false;
  await rewriteTar(src, out, (n, b) => {
    if (done || !n.startsWith("blobs/sha256/") || b.length < 2048 || b[0] === 0x7b) return undefined;
    done = true;
    const c = Buffer.from(b);
    c[c.length - 1] = c[c.length - 1]! ^ 0xff;
    return c;
  });
  expect(done).toBe(true);
}

/** Nothing of this destination path reached the registry (no repository, not even an upload session). */
function untouched(prefix: string): void {
  expect(existsSync(join(dst.dataDir, "docker", "registry", "v2", "repositories", prefix))).toBe(false);
}

async function pushWithKey(archive: string, prefix: string, keyFiles: string[]) {
  return mirror(s, ["push", archive, "--dest", `${dst.host}/${prefix}`, ...into(dst), ...keyFiles.flatMap((f) => ["--key", f])], pw(dst));
}

beforeAll(async () => {
  [s, dst] = await Promise.all([setupSources(), startRegistry()]);
  keys = join(s.tmp, "keys");
  mkdirSync(keys, { recursive: true });
  for (const n of ["key", "other"]) {
    sh("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", k(`${n}.pem`)]);
    sh("openssl", ["pkey", "-in", k(`${n}.pem`), "-pubout", "-out", k(`${n}.pub`)]);
  }
  sh("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", k("rsa.pem")]);
  sh("openssl", ["pkey", "-in", k("rsa.pem"), "-pubout", "-out", k("rsa.pub")]);
  const gnupg = join(keys, "gnupg");
  mkdirSync(gnupg, { recursive: true, mode: 0o700 });
  sh("gpg", ["--batch", "--homedir", gnupg, "--passphrase", "", "--pinentry-mode", "loopback", "--quick-gen-key", "Air Gap Admin <admin@example.com>", "ed25519", "sign", "never"]);
  writeFileSync(k("gpg-private.asc"), sh("gpg", ["--batch", "--homedir", gnupg, "--armor", "--export-secret-keys"]));
  writeFileSync(k("gpg-public.asc"), sh("gpg", ["--batch", "--homedir", gnupg, "--armor", "--export"]));
  signed = join(s.tmp, "signed.tar");
  plain = join(s.tmp, "plain.tar");
  const [a, b] = await Promise.all([mirror(s, ["export", ...chartArgs(), "-O", signed, "--sign", k("key.pem")]), mirror(s, ["export", ...chartArgs(), "-O", plain])]);
  expectOk(a, "export --sign");
  expectOk(b, "export");
}, 240_000);

afterAll(async () => {
  await Promise.all([s?.stop(), dst?.stop()]);
});

describe("signing an archive", () => {
  test("export --sign: sigstore's own verifier accepts the bundle; its statement covers index.json, the metadata and every manifest", async () => {
    const doc = JSON.parse((await entry(signed, "kubectl-mirror.signature.json")).toString());
    expect(doc.mediaType).toBe("application/vnd.dev.sigstore.bundle.v0.3+json");
    const der = createPublicKey(readFileSync(k("key.pub"))).export({ type: "spki", format: "der" });
    const hint = createHash("sha256").update(der).digest("hex");
    const trust = toTrustMaterial({ mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1", tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] } as never, { [hint]: { rawBytes: der, keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256, validFor: { start: new Date(0) } } as never });
    const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
    expect(() => verifier.verify(toSignedEntity(bundleFromJSON(doc)))).not.toThrow();
    // the same bundle with the payload changed by one byte is refused by sigstore's verifier too
    const payload = Buffer.from(doc.dsseEnvelope.payload, "base64");
    const bad = { ...doc, dsseEnvelope: { ...doc.dsseEnvelope, payload: Buffer.from(payload.toString().replace("index.json", "index.jsom")).toString("base64") } };
    expect(() => verifier.verify(toSignedEntity(bundleFromJSON(bad)))).toThrow();
    const st = JSON.parse(payload.toString());
    expect(st._type).toBe("https://in-toto.io/Statement/v1");
    const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
    const subjects = new Map(st.subject.map((x: any) => [x.name, x.digest.sha256]));
    expect(subjects.get("index.json")).toBe(sha(await entry(signed, "index.json")));
    expect(subjects.get("kubectl-mirror.json")).toBe(sha(await entry(signed, "kubectl-mirror.json")));
    // every manifest the archive holds (walked by our reader from index.json) is a subject
    const reader = await OciArchiveReader.open(signed);
    try {
      for (const r of reader.roots()) expect(subjects.get(`blobs/sha256/${r.desc.digest.slice(7)}`)).toBe(r.desc.digest.slice(7));
    } finally {
      await reader.close();
    }
    expect(st.predicate.createdBy).toBe("kubectl mirror export");
  }, 60_000);

  test("push --key with the signer's public key verifies, says so, and lands everything", async () => {
    const r = await mirror(s, ["push", signed, "--dest", `${dst.host}/ok`, ...into(dst), "--key", k("other.pub"), "--key", k("key.pub"), "-o", "json"], pw(dst));
    expectOk(r, "push --key");
    const rep = JSON.parse(r.stdout);
    expect(rep.trust[0]).toMatchObject({ signature: "verified", format: "sigstore-bundle", keyFile: k("key.pub") });
    expect(rep.trust[0].blobsChecked).toBeGreaterThan(0);
    expect(rep.summary.failed).toBe(0);
    expect(r.stderr).toContain("signature verified");
    // said before the transfer starts, not after everything was sent
    const lines = r.stderr.split("\n");
    const verifiedAt = lines.findIndex((l) => l.includes("signature verified"));
    const firstCopy = lines.findIndex((l) => /^copied\b/.test(l));
    expect(firstCopy).toBeGreaterThan(-1);
    expect(verifiedAt).toBeLessThan(firstCopy);
  }, 120_000);

  test("without --key a signed archive is reported as signed, not verified (never silently trusted)", async () => {
    const r = await mirror(s, ["push", signed, "--dest", `${dst.host}/nokey`, ...into(dst), "-o", "json", "--dry-run"], pw(dst));
    expectOk(r, "push --dry-run");
    expect(JSON.parse(r.stdout).trust[0].signature).toBe("signed, not verified (pass --key)");
    expect(r.stderr).toContain("signed, not verified");
  }, 120_000);

  test("kubectl mirror sign signs an existing .tar.gz in place with a GPG key; push and verify --key check it", async () => {
    const gz = join(s.tmp, "later.tar.gz");
    expectOk(await mirror(s, ["export", ...chartArgs(), "-O", gz]), "export");
    const r = await mirror(s, ["sign", gz, "--key", k("gpg-private.asc"), "-o", "json"]);
    expectOk(r, "sign");
    expect(validReport(r.stdout, "SignReport")).toMatchObject({ format: "openpgp-dsse", replaced: false });
    expect(existsSync(`${gz}.signing-${process.pid}`)).toBe(false);
    // the archive alone (no chart, no --archive): checked against its own metadata, its signature once
    const v = await mirror(s, ["verify", "--in-archive", gz, "--key", k("gpg-public.asc"), "-o", "json"]);
    expectOk(v, "verify --in-archive --key");
    const vr = validReport(v.stdout, "VerifyReport");
    expect(vr.destination).toBe(`oci-archive:${gz}`);
    expect(vr.trust.map((t: any) => t.signature)).toEqual(["verified"]);
    expect(vr.summary.total).toBeGreaterThan(1);
    expect(vr.items.every((i: any) => i.status === "ok")).toBe(true);
    const both = await mirror(s, ["verify", "--in-archive", gz, "--archive", gz, "--offline", "--key", k("gpg-public.asc"), "-o", "json"]);
    expectOk(both, "verify --archive --in-archive --key");
    expect(JSON.parse(both.stdout).trust.map((t: any) => t.signature)).toEqual(["verified"]);
    // the ECDSA key is not the signer
    const w = await pushWithKey(gz, "gpg-wrong", [k("key.pub")]);
    expect(w.code).not.toBe(0);
    expect(w.stderr).toContain("signed with an OpenPGP key");
    untouched("gpg-wrong");
    const ok = await pushWithKey(gz, "gpg", [k("gpg-public.asc")]);
    expectOk(ok, "push --key gpg");
  }, 180_000);

  test("kubectl mirror sign A B signs every archive given (none silently left out)", async () => {
    const [a, b] = ["multi-a.tar", "multi-b.tar"].map((n) => join(s.tmp, n));
    for (const f of [a, b]) writeFileSync(f, readFileSync(plain));
    const r = await mirror(s, ["sign", a, b, "--key", k("key.pem"), "-o", "json"]);
    expectOk(r, "sign A B");
    expect(validReport(r.stdout, "SignReportList").items.map((x: any) => x.format)).toEqual(["sigstore-bundle", "sigstore-bundle"]);
    for (const f of [a, b]) expectOk(await mirror(s, ["verify", "--in-archive", f, "--key", k("key.pub")]), `verify ${f}`);
  }, 120_000);

  test("a split archive is signed as a whole: push --key of its parts verifies; a part altered consistently with NAME.parts is refused", async () => {
    const big = join(s.tmp, "split", "big.tar");
    mkdirSync(join(s.tmp, "split"), { recursive: true });
    expectOk(await mirror(s, ["export", ...chartArgs(), "-O", big, "--split-size", "1M", "--sign", k("key.pem")]), "export --split-size --sign");
    expectOk(await pushWithKey(`${big}.parts`, "split-ok", [k("key.pub")]), "push parts --key");
    // flip one byte near the end of the last part (blob data, not a tar header) and fix NAME.parts to match
    const idx = JSON.parse(readFileSync(`${big}.parts`, "utf8"));
    const last = idx.parts[idx.parts.length - 1];
    const partFile = join(s.tmp, "split", last.file);
    const bytes = readFileSync(partFile);
    const pos = bytes.length - 1024 * 3 - 10;
    bytes[pos] = bytes[pos]! ^ 0xff;
    writeFileSync(partFile, bytes);
    last.sha256 = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    writeFileSync(`${big}.parts`, JSON.stringify(idx));
    const r = await pushWithKey(`${big}.parts`, "split-bad", [k("key.pub")]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/refused|altered|digest/);
    untouched("split-bad");
  }, 180_000);
});

describe("hostile archives are refused before anything is sent", () => {
  test("the issue's attack: two ref.name annotations swapped in an UNSIGNED archive's index.json → push refuses (metadata disagrees)", async () => {
    const bad = join(s.tmp, "swapped-plain.tar");
    await rewriteTar(plain, bad, (name, b) => (name === "index.json" ? swapRefs(b) : undefined));
    const r = await mirror(s, ["push", bad, "--dest", `${dst.host}/swapped`, ...into(dst)], pw(dst));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("index.json says");
    expect(r.stderr).toContain("refused");
    untouched("swapped");
  }, 120_000);

  test("an UNSIGNED archive with a corrupt blob, pushed without --key: read once (no re-fetch of local bytes), the chart not tagged, told the archive is damaged", async () => {
    const bad = join(s.tmp, "corrupt-plain.tar");
    await flipOneBlob(plain, bad);
    const r = await mirror(s, ["push", bad, "--dest", `${dst.host}/corrupt`, ...into(dst)], pw(dst));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("does not match");
    expect(r.stderr).not.toMatch(/fetching sha256:[0-9a-f]+ again/);
    expect(r.stderr).toContain("the archive is damaged");
    expect(r.stderr).not.toContain("run the same command again");
    const tags = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).filter((p) => /_manifests\/tags\/[^/]+\/current\/link$/.test(p)) : []);
    // images that do not use the corrupt blob land; the chart, which needs the image that does, is not tagged
    expect(tags(join(dst.dataDir, "docker", "registry", "v2", "repositories", "corrupt", "charts"))).toEqual([]);
  }, 120_000);

  const cases: [string, () => Promise<string>, string[], RegExp][] = [
    ["unsigned archive with --key", async () => plain, ["key.pub"], /is not signed: refused/],
    ["signed by another key", async () => signed, ["other.pub"], /does not verify with the key in/],
    [
      "index.json altered (refs swapped) in a signed archive",
      async () => {
        const f = join(s.tmp, "h-index.tar");
        await rewriteTar(signed, f, (n, b) => (n === "index.json" ? swapRefs(b) : undefined));
        return f;
      },
      ["key.pub"],
      /index\.json/,
    ],
    [
      "metadata altered",
      async () => {
        const f = join(s.tmp, "h-meta.tar");
        await rewriteTar(signed, f, (n, b) => (n === "kubectl-mirror.json" ? Buffer.from(b.toString().replace('"createdBy": "kubectl mirror export"', '"createdBy": "someone else"')) : undefined));
        return f;
      },
      ["key.pub"],
      /kubectl-mirror\.json was altered/,
    ],
    [
      "one blob swapped (same size, valid signature)",
      async () => {
        const f = join(s.tmp, "h-blob.tar");
        await flipOneBlob(signed, f);
        return f;
      },
      ["key.pub"],
      /blob sha256:[a-f0-9]+.*(digest|mismatch)|refused/,
    ],
    [
      "a truncated signature",
      async () => {
        const f = join(s.tmp, "h-trunc.tar");
        await rewriteTar(signed, f, (n, b) => (n === "kubectl-mirror.signature.json" ? b.subarray(0, Math.floor(b.length / 2)) : undefined));
        return f;
      },
      ["key.pub"],
      /truncated or altered/,
    ],
    [
      "a valid signature of another archive",
      async () => {
        const other = join(s.tmp, "other-signed.tar");
        expectOk(await mirror(s, ["export", "--image", s.images.find((i) => !i.includes("@"))!, ...s.srcArgs, ...s.mirrorArgs, "-O", other, "--sign", k("key.pem")]), "export other");
        const sig = await entry(other, "kubectl-mirror.signature.json");
        const f = join(s.tmp, "h-other.tar");
        await rewriteTar(signed, f, (n) => (n === "kubectl-mirror.signature.json" ? sig : undefined));
        return f;
      },
      ["key.pub"],
      /altered after signing/,
    ],
    [
      "the signature file twice in the tar",
      async () => {
        const f = join(s.tmp, "h-dup.tar");
        await rewriteTar(signed, f, (n, b) => (n === "kubectl-mirror.signature.json" ? { bytes: b, after: [{ name: n, bytes: b }] } : undefined));
        return f;
      },
      ["key.pub"],
      /duplicate entry "kubectl-mirror\.signature\.json"/,
    ],
    ["a key of the wrong type (RSA)", async () => signed, ["rsa.pub"], /not ECDSA P-256/],
  ];
  for (const [what, make, keyFiles, message] of cases) {
    test(`${what}: refused with one line, nothing pushed`, async () => {
      const archive = await make();
      const prefix = `h-${what.replace(/[^a-z]+/gi, "-").toLowerCase()}`.slice(0, 40).replace(/-$/, "");
      const r = await pushWithKey(archive, prefix, keyFiles.map(k));
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split("\n").filter((l) => l.startsWith("error:"))).toHaveLength(1);
      untouched(prefix);
    }, 120_000);
  }

  test("export --sign with an RSA key is refused before anything is written", async () => {
    const out = join(s.tmp, "rsa.tar");
    const r = await mirror(s, ["export", ...chartArgs(), "-O", out, "--sign", k("rsa.pem")]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("not ECDSA P-256");
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});

describe("verified images on the way in", () => {
  test("sync/export --verify-signatures: the fixture's images carry no signature by the key → the chart is not tagged, no archive is written", async () => {
    const r = await mirror(s, ["sync", ...chartArgs(), "--dest", `${dst.host}/vs`, ...into(dst), "--verify-signatures", k("key.pub"), "-o", "json"], pw(dst));
    expect(r.code).not.toBe(0);
    const rep = JSON.parse(r.stdout);
    const chart = rep.items.find((i: any) => i.kind === "chart");
    expect(chart.status).toBe("failed");
    expect(rep.items.filter((i: any) => i.kind === "image").every((i: any) => i.status === "failed" && /no cosign signature by the key/.test(i.error))).toBe(true);
    // nothing tagged: the chart repository has no tag
    expect(existsSync(join(dst.dataDir, "docker", "registry", "v2", "repositories", "vs", "charts", "app", "app", "_manifests", "tags"))).toBe(false);
    const out = join(s.tmp, "vs.tar");
    const e = await mirror(s, ["export", ...chartArgs(), "-O", out, "--verify-signatures", k("key.pub")]);
    expect(e.code).not.toBe(0);
    expect(existsSync(out)).toBe(false);
  }, 180_000);
});

describe("serve checks what it serves", () => {
  test("serve --key: a signed archive is served after its signature and blobs verified; another key, an unsigned archive or a swapped index.json never start", async () => {
    const { serveArchive } = await import("../../plugins/kubectl-mirror/lib/serve/serve.ts");
    const { loadVerifyKeys } = await import("../../shared/signing/dsse.ts");
    const srv = await serveArchive(signed, { address: "127.0.0.1:0", keys: await loadVerifyKeys([k("key.pub")]) });
    try {
      expect(srv.trust).toMatchObject({ signature: "verified", format: "sigstore-bundle" });
      const res = await fetch(`${srv.url}/v2/_catalog`);
      expect(res.status).toBe(200);
    } finally {
      await srv.stop();
    }
    await expect(serveArchive(signed, { address: "127.0.0.1:0", keys: await loadVerifyKeys([k("other.pub")]) })).rejects.toThrow(/does not verify with the key/);
    await expect(serveArchive(plain, { address: "127.0.0.1:0", keys: await loadVerifyKeys([k("key.pub")]) })).rejects.toThrow(/is not signed: refused/);
    const bad = join(s.tmp, "serve-swapped.tar");
    await rewriteTar(plain, bad, (name, b) => (name === "index.json" ? swapRefs(b) : undefined));
    await expect(serveArchive(bad, { address: "127.0.0.1:0" })).rejects.toThrow(/index\.json says .* its metadata recorded/);
    const unverified = await serveArchive(signed, { address: "127.0.0.1:0" });
    expect(unverified.trust.signature).toBe("signed, not verified (pass --key)");
    await unverified.stop();
  }, 60_000);
});

describe("inspect shows the verdict", () => {
  test("inspect: verified with --key, 'signed, not verified' without, an altered blob refused with --key", async () => {
    const v = await mirror(s, ["inspect", signed, "--key", k("key.pub"), "-o", "json"]);
    expectOk(v, "inspect --key");
    expect(JSON.parse(v.stdout).signature).toMatchObject({ signature: "verified", format: "sigstore-bundle" });
    const u = await mirror(s, ["inspect", signed]);
    expectOk(u, "inspect");
    expect(u.stdout).toContain("Signature: signed, not verified (pass --key)");
    const bad = join(s.tmp, "inspect-blob.tar");
    let done = false;
    await rewriteTar(signed, bad, (n, b) => {
      if (done || !n.startsWith("blobs/sha256/") || b.length < 2048 || b[0] === 0x7b) return undefined;
      done = true;
      const c = Buffer.from(b);
      c[0] = c[0]! ^ 0xff;
      return c;
    });
    const r = await mirror(s, ["inspect", bad, "--key", k("key.pub")]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/does not match|refused/);
  }, 60_000);
});
