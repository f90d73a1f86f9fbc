// cosign's own private key files (test/vectors/cosign: written by cosign, not by us) sign archives: decrypted with
// COSIGN_PASSWORD (empty allowed), the DSSE signature verifies with the key's public half, a wrong password is one
// clear error, and a key of cosign's format with another curve or cipher is refused.
import { expect, test } from "bun:test";
import { createPublicKey } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSigningKey, loadVerifyKeys, signPayload, verifyPayload } from "../../shared/signing/dsse.ts";

const vector = join(import.meta.dir, "..", "vectors", "cosign", "conforma-test.key");

test("a cosign-written encrypted key (empty password) signs; its public half verifies the Sigstore bundle", async () => {
  const key = await loadSigningKey(vector, "");
  expect(key.kind).toBe("ecdsa");
  const dir = mkdtempSync(join(tmpdir(), "ka-cosign-key-"));
  const pub = join(dir, "cosign.pub");
  writeFileSync(pub, createPublicKey(key.key as never).export({ type: "spki", format: "pem" }) as string);
  const doc = await signPayload(Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}'), key);
  const v = await verifyPayload(Buffer.from(doc), await loadVerifyKeys([pub]), "t");
  expect(v.format).toBe("sigstore-bundle");
  expect(v.key.hint).toBe(key.hint);
});

test("a wrong password is one clear error naming the file and the variable", async () => {
  await expect(loadSigningKey(vector, "not-the-password")).rejects.toThrow(/conforma-test\.key: wrong password for the cosign key/);
});

test("cosign's format with another cipher is refused, not misread", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ka-cosign-key-"));
  const f = join(dir, "odd.key");
  const body = Buffer.from(JSON.stringify({ kdf: { name: "argon2", params: {}, salt: "" }, cipher: { name: "aes" }, ciphertext: "" })).toString("base64");
  writeFileSync(f, `-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n${body}\n-----END ENCRYPTED COSIGN PRIVATE KEY-----\n`);
  await expect(loadSigningKey(f, "")).rejects.toThrow(/unknown format/);
});
