// kubectl mirror sign ARCHIVE --key KEY — sign an existing export archive in place (through a temp file).
import { defineCommand, type CommandMeta } from "citty";
import { outputArgs } from "../../../shared/cli/args.ts";
import { UsageError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, versioned } from "../../../shared/cli/output.ts";
import { METADATA_FILE } from "../lib/transfer/archive.ts";
import { signArchiveFile } from "../lib/transfer/archive-sign.ts";
import { KEY_PASSWORD_ENV, signingKeyFromArgs } from "../lib/inputs/sign-args.ts";

export default defineCommand({
  meta: {
    name: "sign",
    description: "Sign an export archive (or its split parts) in place with an ECDSA P-256 or OpenPGP key: push, serve and verify --key check it inside the air gap",
    notes: [
      "SIGNATURE:",
      "  The signature covers index.json, kubectl-mirror.json and every manifest by digest (so every blob), and travels",
      "  inside the archive as kubectl-mirror.signature.json: a Sigstore bundle (DSSE, in-toto statement) for ECDSA keys,",
      "  the same DSSE envelope with an OpenPGP signature for GPG keys. Every blob is checked before signing.",
      `  A passphrase-protected key reads its passphrase from $${KEY_PASSWORD_ENV}.`,
    ],
    examples: [
      "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem && openssl pkey -in key.pem -pubout -out key.pub",
      "kubectl mirror sign bundle.tar.zst --key key.pem",
      "kubectl mirror sign big.tar --key admin-gpg-private.asc      # split archives (big.tar.parts) are signed and cut again",
      "kubectl mirror push bundle.tar.zst --dest zot.local:30003 --key key.pub   # inside the air gap",
    ],
  } as CommandMeta,
  args: {
    archive: { type: "positional", required: true, description: "Archive written by kubectl mirror export/export-pack (or NAME.parts); several are each signed", valueHint: "ARCHIVE" },
    key: { type: "string", description: "Private key: ECDSA P-256 PEM (PKCS#8 or SEC1) or an armored OpenPGP private key", valueHint: "KEY" },
    ...outputArgs,
  },
  async run({ args }) {
    if (!args.key) throw new UsageError("--key KEY is required", "kubectl mirror sign ARCHIVE --key key.pem");
    const key = (await signingKeyFromArgs(args, "key"))!;
    // every ARCHIVE given (`sign *.tar.zst`), none silently left out; -o: one report, or a list for several
    const archives = (args._ as string[] | undefined)?.length ? (args._ as string[]).map(String) : [String(args.archive)];
    const reports = [];
    for (const a of archives) {
      const report = await signArchiveFile(a, key, METADATA_FILE);
      logger().info(`signed ${report.archive}${report.parts ? ` (${report.parts} parts)` : ""}: ${report.manifests} manifests, ${report.blobsChecked} blobs checked, ${report.format}, key ${report.signer.slice(0, 16)}…${report.replaced ? " (earlier signature replaced)" : ""}`);
      reports.push(report);
    }
    if (args.output) printData(reports.length === 1 ? versioned("SignReport", reports[0]!) : versioned("SignReportList", reports), args.output as string, () => "");
  },
});
