// Flags of signed archives: --sign KEY where an archive is written or signed, --key FILE where it is used.
import type { ArgsDef } from "citty";
import { repeated } from "../../../../shared/cli/argv.ts";
import { UsageError } from "../../../../shared/cli/errors.ts";
import { logger } from "../../../../shared/cli/logger.ts";
// the key readers (openpgp and the signature code) load only when a key flag is given: sync, copy and export
// without one start faster
import type { SigningKey, VerifyKey } from "../../../../shared/signing/dsse.ts";
import type { ArchiveTrust } from "../transfer/archive-sign.ts";
import type { CopyOptions } from "../../../../shared/oci/copy.ts";

export const KEY_PASSWORD_ENV = "KUBE_AIRGAP_KEY_PASSWORD";

export const signArgs = {
  sign: { type: "string", description: `Sign the archive with this private key: ECDSA P-256 PEM or cosign.key (a Sigstore bundle), or an armored OpenPGP key; a passphrase comes from $${KEY_PASSWORD_ENV} (cosign.key: $COSIGN_PASSWORD)`, valueHint: "KEY" },
} as const satisfies ArgsDef;

export const keyArgs = {
  key: { type: "string", description: "Public key the archive must be signed by (repeatable; PEM as `openssl pkey -pubout` writes it, cosign.pub, or an OpenPGP keyring): unsigned, altered or otherwise signed archives are refused before anything is sent", valueHint: "FILE" },
} as const satisfies ArgsDef;

export async function signingKeyFromArgs(args: Record<string, unknown>, flag = "sign"): Promise<SigningKey | undefined> {
  const file = args[flag];
  if (file === undefined || file === false) return undefined;
  if (typeof file !== "string" || !file) throw new UsageError(`--${flag} needs a private key file`, "e.g. --sign key.pem (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem)");
  const { loadSigningKey } = await import("../../../../shared/signing/dsse.ts");
  return loadSigningKey(file, process.env[KEY_PASSWORD_ENV] || undefined);
}

export async function verifyKeysFromArgs(rawArgs: string[]): Promise<VerifyKey[] | undefined> {
  const files = repeated(rawArgs, ["key"], { split: false });
  if (!files.length) return undefined;
  const { loadVerifyKeys } = await import("../../../../shared/signing/dsse.ts");
  return loadVerifyKeys(files);
}

/** One stderr line per archive: what its signature says. */
export function logTrust(trust: ArchiveTrust[]): void {
  for (const t of trust) {
    if (t.signature === "verified") logger().info(`${t.archive}: signature verified (${t.format}, key ${t.signer!.slice(0, 16)}… from ${t.keyFile}${t.signed ? `, signed ${t.signed.created} by ${t.signed.createdBy}` : ""})`);
    else if (t.signature === "unsigned") continue;
    else logger().warn(`${t.archive}: signed, not verified (pass --key to check who signed it)`);
  }
}

export const verifySignaturesArgs = {
  "verify-signatures": { type: "string", description: "Copy only images signed with cosign by this key (cosign.pub or PEM; repeatable): the sha256-….sig tag or a Sigstore bundle referrer must name the exact digest; offline, key-based (keyless Fulcio/Rekor is out of scope). A chart needing an unsigned image is not tagged", valueHint: "KEY" },
} as const satisfies ArgsDef;

/** --verify-signatures KEY… → the copy engine's per-image check (undefined without the flag). */
export async function imageVerifierFromArgs(args: Record<string, unknown>, rawArgs: string[]): Promise<CopyOptions["verifyRoot"]> {
  const files = repeated(rawArgs, ["verify-signatures"], { split: false });
  if (!files.length) return undefined;
  if (args["in-cluster"]) throw new UsageError("--verify-signatures with --in-cluster: the key is not carried into the cluster's pods yet", "verify locally (without --in-cluster), or run the shards yourself with --shard I/N");
  const [{ loadVerifyKeys }, { cosignVerifier }] = await Promise.all([import("../../../../shared/signing/dsse.ts"), import("../../../../shared/signing/cosign.ts")]);
  return cosignVerifier(await loadVerifyKeys(files));
}
