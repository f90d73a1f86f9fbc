// Verified images on the way in (copy/sync/export --verify-signatures KEY): an image must carry a cosign signature by
// one of the keys, offline and key-based, in either of cosign's two forms:
//  - the `sha256-<hex>.sig` tag: a manifest whose layers are simple-signing payloads
//    (application/vnd.dev.cosign.simplesigning.v1+json) with the ECDSA signature in the layer annotation
//    `dev.cosignproject.cosign/signature`; the payload's critical.image.docker-manifest-digest must be this digest;
//  - an OCI referrer holding a Sigstore bundle (artifactType application/vnd.dev.sigstore.bundle.v0.3+json, cosign's
//    new bundle format): a DSSE envelope whose in-toto statement names this digest as a subject, or a message
//    signature over the manifest itself.
// Keyless signatures (a Fulcio certificate, a Rekor entry) need services: out of scope, and said so.
import { verify as cryptoVerify } from "node:crypto";
import type { Readable } from "node:stream";
import { OciError, NotFoundError } from "../oci/errors.ts";
import type { Store } from "../oci/store.ts";
import type { Descriptor, ImageManifest } from "../oci/types.ts";
import { pae, type VerifyKey } from "./dsse.ts";

export const COSIGN_SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature";
export const SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json";
const BUNDLE_TYPE = /^application\/vnd\.dev\.sigstore\.bundle(\.v0\.\d+)?\+json/;
const MAX_PAYLOAD = 1 << 20;

export class ImageSignatureError extends OciError {
  constructor(message: string, hint?: string) {
    super(message, "SIGNATURE", hint);
  }
}

async function readSmall(s: Readable, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of s) {
    n += (c as Buffer).length;
    if (n > MAX_PAYLOAD) {
      s.destroy();
      throw new ImageSignatureError(`${what} is larger than ${MAX_PAYLOAD} bytes: not a signature`);
    }
    parts.push(c as Buffer);
  }
  return Buffer.concat(parts);
}

const json = <T>(b: Uint8Array): T => JSON.parse(Buffer.from(b).toString("utf8")) as T;

function ecdsaOk(keys: VerifyKey[], data: Uint8Array, sig: Buffer): VerifyKey | undefined {
  for (const k of keys) if (k.kind === "ecdsa" && cryptoVerify("sha256", data, k.key, sig)) return k;
  return undefined;
}

export interface ImageSignature {
  form: "sig-tag" | "sigstore-bundle";
  keyFile: string;
}

/** The `sha256-<hex>.sig` form: any layer signed by a key whose payload names `digest`. */
async function sigTag(src: Store, digest: string, keys: VerifyKey[], why: string[]): Promise<ImageSignature | undefined> {
  let desc: Descriptor;
  try {
    desc = await src.resolve(`${digest.replace(":", "-")}.sig`);
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
  const m = json<ImageManifest>(await src.fetchManifest(desc));
  for (const l of m.layers ?? []) {
    const sig = l.annotations?.[COSIGN_SIGNATURE_ANNOTATION];
    if (!sig) continue;
    const payload = await readSmall(await src.fetchBlob(l), `signature payload ${l.digest}`);
    const key = ecdsaOk(keys, payload, Buffer.from(sig, "base64"));
    if (!key) {
      why.push("a .sig tag signed by another key");
      continue;
    }
    let named: string | undefined;
    try {
      named = json<{ critical?: { image?: { "docker-manifest-digest"?: string } } }>(payload).critical?.image?.["docker-manifest-digest"];
    } catch {}
    if (named !== digest) {
      why.push(`a .sig payload signed by the key but naming ${named ?? "no digest"}`);
      continue;
    }
    return { form: "sig-tag", keyFile: key.file };
  }
  if (!m.layers?.some((l) => l.annotations?.[COSIGN_SIGNATURE_ANNOTATION])) why.push("a .sig tag without signatures");
  return undefined;
}

/** The OCI referrer form: a Sigstore bundle (DSSE over a statement naming digest, or a message signature). */
async function bundles(src: Store, root: Descriptor, keys: VerifyKey[], why: string[]): Promise<ImageSignature | undefined> {
  const list = (src as { referrers?: (d: Descriptor) => Promise<Descriptor[]> }).referrers;
  if (!list) return undefined;
  const refs = (await list.call(src, root)).filter((r) => r.artifactType && BUNDLE_TYPE.test(r.artifactType));
  let manifestBytes: Uint8Array | undefined;
  for (const r of refs) {
    const m = json<ImageManifest>(await src.fetchManifest(r));
    const layer = m.layers?.[0];
    if (!layer) continue;
    let b: { verificationMaterial?: Record<string, unknown>; dsseEnvelope?: { payload: string; payloadType: string; signatures: { sig: string }[] }; messageSignature?: { messageDigest?: { digest?: string }; signature?: string } };
    try {
      b = json(await readSmall(await src.fetchBlob(layer), `Sigstore bundle ${layer.digest}`));
    } catch (e) {
      if (e instanceof ImageSignatureError) throw e;
      why.push("a Sigstore bundle that is not JSON");
      continue;
    }
    const vm = b.verificationMaterial ?? {};
    if (vm.certificate || vm.x509CertificateChain) {
      why.push("a keyless (Fulcio certificate) Sigstore bundle, which needs Fulcio/Rekor and is out of scope: sign with a key");
      continue;
    }
    if (b.dsseEnvelope) {
      const envelope = b.dsseEnvelope;
      const payload = Buffer.from(envelope.payload ?? "", "base64");
      const key = envelope.signatures?.map((s) => ecdsaOk(keys, pae(envelope.payloadType, payload), Buffer.from(s.sig, "base64"))).find(Boolean);
      if (!key) {
        why.push("a Sigstore bundle signed by another key");
        continue;
      }
      let subjects: { digest?: { sha256?: string } }[] = [];
      try {
        subjects = json<{ subject?: { digest?: { sha256?: string } }[] }>(payload).subject ?? [];
      } catch {}
      if (!subjects.some((s) => `sha256:${s.digest?.sha256}` === root.digest)) {
        why.push("a Sigstore bundle signed by the key over another digest");
        continue;
      }
      return { form: "sigstore-bundle", keyFile: key.file };
    }
    if (b.messageSignature?.signature) {
      manifestBytes ??= await src.fetchManifest(root);
      const key = ecdsaOk(keys, manifestBytes, Buffer.from(b.messageSignature.signature, "base64"));
      const named = b.messageSignature.messageDigest?.digest ? `sha256:${Buffer.from(b.messageSignature.messageDigest.digest, "base64").toString("hex")}` : undefined;
      if (key && named === root.digest) return { form: "sigstore-bundle", keyFile: key.file };
      why.push(key ? "a Sigstore bundle for another digest" : "a Sigstore bundle signed by another key");
    }
  }
  return undefined;
}

/**
 * A check for the copy engine (CopyOptions.verifyRoot): throws ImageSignatureError unless the image carries a
 * signature by one of `keys` for exactly this digest.
 */
export function cosignVerifier(keys: VerifyKey[]): (src: Store, root: Descriptor, label: string) => Promise<ImageSignature> {
  const ecdsa = keys.filter((k) => k.kind === "ecdsa");
  if (!ecdsa.length) throw new ImageSignatureError("--verify-signatures: cosign signatures are ECDSA: give the signer's public key (cosign.pub or a PEM public key), not an OpenPGP key");
  return async (src, root, label) => {
    const why: string[] = [];
    const found = (await sigTag(src, root.digest, ecdsa, why)) ?? (await bundles(src, root, ecdsa, why));
    if (found) return found;
    throw new ImageSignatureError(`${label}: no cosign signature by ${ecdsa.length === 1 ? `the key in ${ecdsa[0]!.file}` : `any of the ${ecdsa.length} keys`} for ${root.digest}${why.length ? ` (found ${[...new Set(why)].join("; ")})` : " (no sha256-….sig tag, no Sigstore bundle referrer)"}`, "sign it with `cosign sign --key cosign.key IMAGE@DIGEST`, or leave out --verify-signatures");
  };
}

