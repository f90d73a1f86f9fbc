// Signing and verifying one in-toto statement, offline, with a key the user holds:
//  - ECDSA P-256 keys (PKCS#8/SEC1 private, SPKI public PEM as `openssl genpkey`/`openssl pkey -pubout` write them;
//    cosign's encrypted `cosign.key` (scrypt + nacl/secretbox), and `cosign.pub`, which is SPKI PEM): a Sigstore bundle v0.3 holding a DSSE envelope, verification material
//    = the public key's hint, no transparency log and no timestamp (nothing to call). sigstore's own verifiers
//    (sigstore-js `@sigstore/verify`, cosign `verify-blob-attestation --key --insecure-ignore-tlog`) read it.
//  - OpenPGP keys (the GPG keys platform admins already hold for violet packages): the same DSSE envelope, its
//    signature a detached OpenPGP signature over the DSSE pre-authentication encoding, in a small JSON of our own
//    (mediaType application/vnd.kube-airgap.openpgp-dsse.v1+json): Sigstore bundles have no place for PGP.
import { createHash, createPrivateKey, createPublicKey, scryptSync, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from "node:crypto";
import { secretbox } from "@noble/ciphers/salsa.js";
import { readFile } from "node:fs/promises";
import * as openpgp from "openpgp";
import { SignatureError } from "./gpg.ts";

export const SIGSTORE_BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json";
export const PGP_DSSE = "application/vnd.kube-airgap.openpgp-dsse.v1+json";
export const IN_TOTO_PAYLOAD = "application/vnd.in-toto+json";
export const IN_TOTO_STATEMENT_V1 = "https://in-toto.io/Statement/v1";

export type SigningKey =
  | { kind: "ecdsa"; file: string; key: KeyObject; hint: string }
  | { kind: "openpgp"; file: string; key: openpgp.PrivateKey; hint: string };

export type VerifyKey =
  | { kind: "ecdsa"; file: string; key: KeyObject; hint: string }
  | { kind: "openpgp"; file: string; key: openpgp.PublicKey; hint: string };

/** DSSE pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(body) SP body. */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const t = Buffer.from(payloadType, "utf8");
  return Buffer.concat([Buffer.from(`DSSEv1 ${t.length} `), t, Buffer.from(` ${payload.byteLength} `), Buffer.from(payload)]);
}

/** sha256 (hex) of the key's SPKI DER: the hint a bundle names its key by. */
export function keyHint(pub: KeyObject): string {
  return createHash("sha256").update(pub.export({ type: "spki", format: "der" })).digest("hex");
}

function pemBlocks(text: string): { label: string; pem: string }[] {
  return [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g)].map((m) => ({ label: m[1]!, pem: m[0] }));
}

function checkP256(key: KeyObject, file: string): void {
  const curve = key.asymmetricKeyType === "ec" ? key.asymmetricKeyDetails?.namedCurve : undefined;
  if (curve !== "prime256v1") {
    const type = key.asymmetricKeyType?.toUpperCase() ?? "unknown";
    const what = key.asymmetricKeyType === "ec" ? `an EC key on ${curve}` : `${/^[AEIOR]/.test(type) ? "an" : "a"} ${type} key`;
    throw new SignatureError(`${file}: ${what}, not ECDSA P-256`, "make one with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem`, or use an OpenPGP key");
  }
}

async function readKeyFile(file: string): Promise<string> {
  return readFile(file, "utf8").catch((e) => {
    throw new SignatureError(`cannot read key ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  });
}

/**
 * A signing key: an ECDSA P-256 private key in PEM, or an armored OpenPGP private key. A passphrase-protected key
 * takes its passphrase from `password` (the command reads KUBE_AIRGAP_KEY_PASSWORD).
 */
export async function loadSigningKey(file: string, password?: string): Promise<SigningKey> {
  const text = await readKeyFile(file);
  if (text.includes("-----BEGIN PGP PRIVATE KEY BLOCK-----")) {
    let key: openpgp.PrivateKey;
    try {
      key = await openpgp.readPrivateKey({ armoredKey: text });
    } catch (e) {
      throw new SignatureError(`${file}: not an OpenPGP private key (${(e as Error).message.split("\n")[0]})`);
    }
    if (!key.isDecrypted()) {
      if (!password) throw new SignatureError(`${file}: the OpenPGP key is protected by a passphrase`, "set KUBE_AIRGAP_KEY_PASSWORD");
      key = await openpgp.decryptKey({ privateKey: key, passphrase: password }).catch(() => {
        throw new SignatureError(`${file}: wrong passphrase (KUBE_AIRGAP_KEY_PASSWORD)`);
      });
    }
    return { kind: "openpgp", file, key, hint: key.getFingerprint().toUpperCase() };
  }
  if (text.includes("-----BEGIN PGP PUBLIC KEY BLOCK-----") || /-----BEGIN PUBLIC KEY-----/.test(text)) throw new SignatureError(`${file} is a public key`, "signing needs the private key; pass the public one to --key where the archive is verified");
  const cosign = pemBlocks(text).find((b) => /^ENCRYPTED (SIGSTORE|COSIGN) PRIVATE KEY$/.test(b.label));
  if (cosign) {
    const key = cosignPrivateKey(cosign.pem, file, password ?? process.env.COSIGN_PASSWORD ?? "");
    checkP256(key, file);
    return { kind: "ecdsa", file, key, hint: keyHint(createPublicKey(key)) };
  }
  const block = pemBlocks(text).find((b) => /PRIVATE KEY$/.test(b.label));
  if (!block) throw new SignatureError(`${file}: no PEM private key or OpenPGP private key in it`, "pass an ECDSA P-256 key (`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`) or an armored OpenPGP private key");
  let key: KeyObject;
  try {
    key = createPrivateKey(block.label === "ENCRYPTED PRIVATE KEY" ? { key: block.pem, passphrase: password ?? "" } : block.pem);
  } catch (e) {
    const encrypted = block.label === "ENCRYPTED PRIVATE KEY";
    throw new SignatureError(`${file}: ${encrypted ? (password ? "wrong passphrase (KUBE_AIRGAP_KEY_PASSWORD)" : "the key is encrypted") : `not a valid private key (${(e as Error).message})`}`, encrypted && !password ? "set KUBE_AIRGAP_KEY_PASSWORD" : undefined);
  }
  checkP256(key, file);
  return { kind: "ecdsa", file, key, hint: keyHint(createPublicKey(key)) };
}

/**
 * cosign's own private key file (`cosign generate-key-pair`): a PEM whose body is JSON — scrypt parameters and salt,
 * a NaCl secretbox nonce, and the ciphertext of the PKCS#8 DER key. The password is $COSIGN_PASSWORD (empty allowed,
 * as cosign allows) unless KUBE_AIRGAP_KEY_PASSWORD is set.
 */
function cosignPrivateKey(pem: string, file: string, password: string): KeyObject {
  const body = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, "").replace(/\s+/g, "");
  let doc: { kdf?: { name?: string; params?: { N?: number; r?: number; p?: number }; salt?: string }; cipher?: { name?: string; nonce?: string }; ciphertext?: string };
  try {
    doc = JSON.parse(Buffer.from(body, "base64").toString("utf8"));
  } catch {
    throw new SignatureError(`${file}: not a cosign private key (its body is not cosign's JSON)`);
  }
  const { kdf, cipher, ciphertext } = doc;
  if (kdf?.name !== "scrypt" || cipher?.name !== "nacl/secretbox" || !kdf.salt || !cipher.nonce || !ciphertext || !kdf.params?.N || !kdf.params.r || !kdf.params.p) throw new SignatureError(`${file}: a cosign key with an unknown format (kdf ${kdf?.name}, cipher ${cipher?.name})`, "cosign keys use scrypt + nacl/secretbox");
  const { N, r, p } = kdf.params;
  const secret = scryptSync(Buffer.from(password, "utf8"), Buffer.from(kdf.salt, "base64"), 32, { N, r, p, maxmem: 256 * N * r + (1 << 20) });
  let der: Uint8Array;
  try {
    der = secretbox(new Uint8Array(secret), new Uint8Array(Buffer.from(cipher.nonce, "base64"))).open(new Uint8Array(Buffer.from(ciphertext, "base64")));
  } catch {
    throw new SignatureError(`${file}: wrong password for the cosign key`, "set COSIGN_PASSWORD (or KUBE_AIRGAP_KEY_PASSWORD)");
  }
  try {
    return createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
  } catch (e) {
    throw new SignatureError(`${file}: the decrypted cosign key is not a PKCS#8 key (${(e as Error).message})`);
  }
}

/** Every public key in the files: SPKI PEM blocks (several per file allowed), or an OpenPGP keyring. */
export async function loadVerifyKeys(files: string[]): Promise<VerifyKey[]> {
  const out: VerifyKey[] = [];
  for (const file of files) {
    const text = await readKeyFile(file);
    if (text.includes("-----BEGIN PGP")) {
      let keys: openpgp.Key[];
      try {
        keys = await openpgp.readKeys({ armoredKeys: text });
      } catch (e) {
        throw new SignatureError(`${file}: not an OpenPGP key (${(e as Error).message.split("\n")[0]})`);
      }
      for (const k of keys) out.push({ kind: "openpgp", file, key: k.isPrivate() ? k.toPublic() : (k as openpgp.PublicKey), hint: k.getFingerprint().toUpperCase() });
      continue;
    }
    const blocks = pemBlocks(text);
    if (!blocks.length) throw new SignatureError(`${file}: no PEM public key or OpenPGP key in it`, "pass the public key (`openssl pkey -in key.pem -pubout`, cosign.pub, or `gpg --export --armor KEYID`)");
    for (const b of blocks) {
      let pub: KeyObject;
      try {
        pub = createPublicKey(b.pem);
      } catch (e) {
        throw new SignatureError(`${file}: ${b.label} is not a usable key (${(e as Error).message})`);
      }
      checkP256(pub, file);
      out.push({ kind: "ecdsa", file, key: pub, hint: keyHint(pub) });
    }
  }
  return out;
}

export interface DsseEnvelope {
  payload: string;
  payloadType: string;
  signatures: { sig: string; keyid?: string }[];
}

/** Sign a payload; returns the signature document (Sigstore bundle for ECDSA, our OpenPGP DSSE for PGP) as JSON. */
export async function signPayload(payload: Uint8Array, key: SigningKey, payloadType = IN_TOTO_PAYLOAD): Promise<string> {
  const data = pae(payloadType, payload);
  if (key.kind === "ecdsa") {
    const sig = cryptoSign("sha256", data, key.key);
    const bundle = {
      mediaType: SIGSTORE_BUNDLE_V03,
      verificationMaterial: { publicKey: { hint: key.hint }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
      dsseEnvelope: { payload: Buffer.from(payload).toString("base64"), payloadType, signatures: [{ sig: sig.toString("base64"), keyid: "" }] },
    };
    return JSON.stringify(bundle, null, 2) + "\n";
  }
  const message = await openpgp.createMessage({ binary: new Uint8Array(data) });
  const sig = (await openpgp.sign({ message, signingKeys: key.key, detached: true, format: "binary" })) as Uint8Array;
  const doc = { mediaType: PGP_DSSE, dsseEnvelope: { payload: Buffer.from(payload).toString("base64"), payloadType, signatures: [{ sig: Buffer.from(sig).toString("base64"), keyid: key.hint }] } };
  return JSON.stringify(doc, null, 2) + "\n";
}

export interface Verified {
  payload: Buffer;
  payloadType: string;
  /** the key that verified it */
  key: VerifyKey;
  format: "sigstore-bundle" | "openpgp-dsse";
}

function parseDoc(bytes: Uint8Array, where: string): { format: Verified["format"]; envelope: DsseEnvelope } {
  let doc: { mediaType?: unknown; dsseEnvelope?: DsseEnvelope };
  try {
    doc = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (e) {
    throw new SignatureError(`${where}: the signature is not valid JSON (${(e as Error).message}): truncated or altered`);
  }
  const format = doc?.mediaType === SIGSTORE_BUNDLE_V03 ? "sigstore-bundle" : doc?.mediaType === PGP_DSSE ? "openpgp-dsse" : undefined;
  if (!format) throw new SignatureError(`${where}: not a signature this tool writes (mediaType ${JSON.stringify(doc?.mediaType)})`);
  const envelope = doc.dsseEnvelope;
  if (!envelope || typeof envelope.payload !== "string" || typeof envelope.payloadType !== "string" || !Array.isArray(envelope.signatures) || envelope.signatures.length !== 1 || typeof envelope.signatures[0]?.sig !== "string") throw new SignatureError(`${where}: the signature has no single DSSE signature: truncated or altered`);
  return { format, envelope };
}

/** Verify a signature document with any of `keys`; throws SignatureError (one line) when none verifies it. */
export async function verifyPayload(bytes: Uint8Array, keys: VerifyKey[], where: string): Promise<Verified> {
  const { format, envelope } = parseDoc(bytes, where);
  const payload = Buffer.from(envelope.payload, "base64");
  const data = pae(envelope.payloadType, payload);
  const sig = Buffer.from(envelope.signatures[0]!.sig, "base64");
  const candidates = keys.filter((k) => (format === "sigstore-bundle" ? k.kind === "ecdsa" : k.kind === "openpgp"));
  if (!candidates.length) throw new SignatureError(`${where}: signed with ${format === "sigstore-bundle" ? "an ECDSA key" : "an OpenPGP key"}, but --key gave only ${keys[0]?.kind === "ecdsa" ? "ECDSA" : "OpenPGP"} keys`, "pass the signer's public key with --key");
  for (const k of candidates) {
    if (k.kind === "ecdsa") {
      if (cryptoVerify("sha256", data, k.key, sig)) return { payload, payloadType: envelope.payloadType, key: k, format };
      continue;
    }
    try {
      const signature = await openpgp.readSignature({ binarySignature: new Uint8Array(sig) });
      const message = await openpgp.createMessage({ binary: new Uint8Array(data) });
      const res = await openpgp.verify({ message, signature, verificationKeys: k.key });
      await res.signatures[0]!.verified;
      return { payload, payloadType: envelope.payloadType, key: k, format };
    } catch {
      // another key, or not valid
    }
  }
  throw new SignatureError(`${where}: the signature does not verify with ${candidates.length === 1 ? `the key in ${candidates[0]!.file}` : `any of the ${candidates.length} keys given`} (signed by another key, or the signed statement was altered)`);
}
