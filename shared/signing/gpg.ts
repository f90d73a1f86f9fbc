// Detached OpenPGP signatures (`gpg --detach-sign` binary or `--armor` text) verified with openpgp in constant
// memory: the file is streamed through openpgp's verifier. The recipe (openpgp 6.3): format "binary", drain
// res.data with a reader loop (`for await` throws "ReadableStream is locked"), then await the signature's
// `verified` (it never settles if the data is not drained).
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { Readable } from "node:stream";
import * as openpgp from "openpgp";

export class SignatureError extends Error {
  override name = "SignatureError";
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

export type PublicKey = openpgp.PublicKey;

function isArmored(bytes: Uint8Array): boolean {
  const head = Buffer.from(bytes.subarray(0, 64)).toString("latin1");
  return head.includes("-----BEGIN PGP");
}

/** Read every public key in a keyring file (armored or binary; `gpg --export [--armor]`). */
export async function readKeyring(file: string): Promise<PublicKey[]> {
  const bytes = await readFile(file).catch((e) => {
    throw new SignatureError(`cannot read keyring ${file}: ${(e as Error).message}`, "pass a public key exported with `gpg --export --armor KEYID > key.asc`");
  });
  return parseKeys(bytes, file);
}

export async function parseKeys(bytes: Uint8Array, where: string): Promise<PublicKey[]> {
  try {
    const keys = isArmored(bytes)
      ? await openpgp.readKeys({ armoredKeys: Buffer.from(bytes).toString("utf8") })
      : await openpgp.readKeys({ binaryKeys: new Uint8Array(bytes) });
    if (!keys.length) throw new Error("no keys");
    return keys.map((k) => (k.isPrivate() ? k.toPublic() : k));
  } catch (e) {
    if (e instanceof SignatureError) throw e;
    throw new SignatureError(`${where}: not an OpenPGP public key (${(e as Error).message.split("\n")[0]})`, "export it with `gpg --export --armor KEYID`");
  }
}

async function readSignatureFile(sigFile: string): Promise<openpgp.Signature> {
  const bytes = await readFile(sigFile).catch((e) => {
    throw new SignatureError(`cannot read ${sigFile}: ${(e as Error).message}`);
  });
  return parseSignature(bytes, sigFile);
}

async function parseSignature(bytes: Uint8Array, where: string): Promise<openpgp.Signature> {
  try {
    return isArmored(bytes)
      ? await openpgp.readSignature({ armoredSignature: Buffer.from(bytes).toString("utf8") })
      : await openpgp.readSignature({ binarySignature: new Uint8Array(bytes) });
  } catch (e) {
    throw new SignatureError(`${where}: not an OpenPGP signature (${(e as Error).message.split("\n")[0]})`);
  }
}

export interface GpgResult {
  ok: boolean;
  /** hex key id of the signature */
  keyID: string;
  /** fingerprint of the key that verified it */
  fingerprint?: string;
  /** why it failed */
  reason?: string;
}

/**
 * Verify a detached signature over `file` with the given keys, streaming the file. Returns ok=false with a
 * reason for a bad signature or an unknown key; throws SignatureError for unreadable inputs.
 */
export async function verifyDetached(file: string, sigFile: string, keys: PublicKey[]): Promise<GpgResult> {
  const signature = await readSignatureFile(sigFile);
  return verifySignature(() => createReadStream(file, { highWaterMark: 1 << 20 }), signature, keys);
}

/**
 * The same check over a stream (e.g. a blob read from an archive) and the signature's bytes (`where` names them
 * in errors). The stream is opened only when the signer is in the keyring, and always drained or destroyed.
 */
export async function verifyDetachedStream(data: () => Readable | Promise<Readable>, sigBytes: Uint8Array, where: string, keys: PublicKey[]): Promise<GpgResult> {
  return verifySignature(data, await parseSignature(sigBytes, where), keys);
}

async function verifySignature(data: () => Readable | Promise<Readable>, signature: openpgp.Signature, keys: PublicKey[]): Promise<GpgResult> {
  const keyIDs = signature.getSigningKeyIDs().map((k) => k.toHex());
  const keyID = keyIDs[0] ?? "unknown";
  const signer = keys.find((k) => keyIDs.some((id) => k.getKeys().some((sub) => sub.getKeyID().toHex() === id)));
  if (!signer) return { ok: false, keyID, reason: `signed by key ${keyID.toUpperCase()}, which is not in the keyring` };
  const src = await data();
  const web = Readable.toWeb(src) as unknown as ReadableStream<Uint8Array>;
  const message = await openpgp.createMessage({ binary: web });
  const res = await openpgp.verify({ message, signature, verificationKeys: keys, format: "binary" });
  const reader = (res.data as unknown as ReadableStream<Uint8Array>).getReader();
  try {
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
  } catch (e) {
    src.destroy();
    return { ok: false, keyID, reason: (e as Error).message };
  }
  const sig = res.signatures[0];
  if (!sig) return { ok: false, keyID, reason: "the signature file holds no signature" };
  try {
    await sig.verified;
    return { ok: true, keyID: sig.keyID.toHex(), fingerprint: signer.getFingerprint() };
  } catch (e) {
    return { ok: false, keyID, reason: (e as Error).message.replace(/^Signature verification failed:\s*/i, "") || "bad signature" };
  }
}
