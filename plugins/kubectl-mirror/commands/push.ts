// kubectl mirror push ARCHIVE... --dest REGISTRY — air-gapped side: archives from export/export-pack → registry.
import { isZot, muralText, muralVariables } from "../lib/report/zot.ts";
import { defineCommand, type CommandMeta } from "citty";
import { dryRunArgs, outputArgs, registryArgs, CREDENTIALS_HELP } from "../../../shared/cli/args.ts";
import { CliError, UsageError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, versioned } from "../../../shared/cli/output.ts";
import { createProgress, humanBytes, hostFailure } from "../../../shared/cli/progress.ts";
import { registryOptionsFromArgs } from "../../../shared/cli/registry.ts";
import { runPush } from "../lib/transfer/archive.ts";
import { readKeyring } from "../../../shared/signing/gpg.ts";
import { repeated } from "../../../shared/cli/argv.ts";
import { credFileProvider, readCredFile, withCredentials } from "../lib/inputs/credentials.ts";
import { concurrencyFromArgs, destArgs, destHost, destinationFromArgs, withDestinationSecret } from "../lib/inputs/mirror-args.ts";
import { chainCredentials } from "../../../shared/oci/transport/credentials.ts";
import { quietFromArgs, zotArgs } from "../lib/inputs/mirror-args.ts";
import { itemsTable, mapText, throwIfHostFailed } from "../lib/report/report.ts";
import { valuesOutFailure, valuesOutLines } from "../lib/plan/values-out.ts";
import { keyArgs, logTrust, verifyKeysFromArgs } from "../lib/inputs/sign-args.ts";

export default defineCommand({
  meta: {
    name: "push",
    description: "Push archives written by export/export-pack into a registry; re-running after an interruption sends only what is missing",
    notes: CREDENTIALS_HELP,
    examples: [
      "kubectl mirror push app.tar --dest zot.local:30003",
      "kubectl mirror push day1.tar day2.tar --dest harbor.local/mirror --map-out registry-map.yaml",
      "kubectl mirror push app.tar --dest zot.local:30003 --values-out mirror-values.yaml   # helm install … -f mirror-values.yaml",
      "kubectl mirror push big.tar --dest reg.local:5000                 # joins big.tar.part001… (big.tar.parts)",
      "kubectl mirror push app.tar --dest zot.local:30003 --key key.pub   # only if signed by key.pub and intact",
      "kubectl mirror push app.tar --dest zot.local:30003 --dest-credentials-from-secret zot-system/zot-secret",
      "kubectl mirror push --file bundle.tar.zst --registry zot.local:30003             # palette content push spelling",
      "kubectl mirror push packs.tar.zst --dest zot.local:30003 --pack-keyring spectro.gpg   # every pack signed, checked before pushing",
    ],
  } as CommandMeta,
  args: {
    archive: { type: "positional", required: false, description: "Archives written by export/export-pack (.tar, .tar.gz, .tar.zst, NAME.parts of a split one); or --file", valueHint: "ARCHIVE..." },
    ...registryArgs,
    ...destArgs,
    dest: { ...destArgs.dest, alias: ["dest-registry", "registry", "url"] },
    file: { type: "string", alias: ["f", "export"], description: "Archive to push (as `palette content push --file` / `palette-edge deploy --export`; repeatable, or give archives as arguments)", valueHint: "ARCHIVE" },
    concurrency: { type: "string", description: "Parallel blob transfers (default 8)" },
    "exclude-extras": { type: "boolean", description: "Do not push the signatures/attestations carried in the archive" },
    "cred-file": { type: "string", description: "Palette Edge credentials JSON ({image: [{endpoint, username, password}]})", valueHint: "FILE" },
    "temp-dir": { type: "string", description: "Where split archives are joined (default: system temp dir)", valueHint: "DIR" },
    "pack-keyring": { type: "string", description: "OpenPGP public key(s): every pack in the archives must carry a signature (<pack>.sig.bin, carried by export-pack) that verifies with them; unsigned or altered packs stop the push before anything is sent", valueHint: "FILE" },
    ...keyArgs,
    ...zotArgs,
    ...dryRunArgs,
    ...outputArgs,
  },
  async run({ args, rawArgs }) {
    const archives = [...((args._ as string[]) ?? []), ...repeated(rawArgs, ["file", "f", "export"], { split: false })];
    if (!archives.length) throw new UsageError("no archive given", "kubectl mirror push ARCHIVE... --dest REGISTRY");
    const keys = await verifyKeysFromArgs(rawArgs);
    const dest = (await destinationFromArgs(args, true))!;
    const cf = args["cred-file"] ? await readCredFile(String(args["cred-file"])) : undefined;
    const base = await registryOptionsFromArgs(args, rawArgs, { destination: [destHost(dest.dest)] });
    let registry = cf ? { ...base, credentials: chainCredentials(base.credentials, credFileProvider(cf)) } : base;
    registry = await withDestinationSecret(args, rawArgs, registry, dest.dest);
    const packKeys = args["pack-keyring"] ? await readKeyring(String(args["pack-keyring"])) : undefined;
    const progress = createProgress({ total: 0, quiet: quietFromArgs(args) });
    const report = await runPush(archives, { ...dest, packKeys, registry, concurrency: concurrencyFromArgs(args), extras: !args["exclude-extras"], dryRun: !!args["dry-run"], tempDir: args["temp-dir"] as string | undefined, onEvent: progress.onEvent, keys, onTrust: (t) => logTrust([t]) });
    progress.finish();
    for (const p of report.packSignatures ?? []) logger().info(`pack ${p.ref}: signature VERIFIED (key ${p.keyID.toUpperCase()})`);
    if (report.packSignatures && !report.packSignatures.length) logger().warn(`--pack-keyring: ${archives.join(", ")} hold${archives.length === 1 ? "s" : ""} no pack; nothing to verify`);
    for (const l of valuesOutLines(report.values ?? [])) logger().info(l);
    const s = report.summary;
    if (!hostFailure(report.items)) logger().info(`${args["dry-run"] ? "dry run: " : ""}${s.artifacts} chart(s)/pack(s), ${s.images} image(s) → ${dest.dest}: ${humanBytes(s.bytesCopied)} ${args["dry-run"] ? "to send" : "sent"}, ${s.blobsExisting} blobs already there or mounted, ${s.seconds}s${s.failed ? `, ${s.failed} FAILED` : ""}`);
    const stopped = hostFailure(report.items);
    // PaletteAI's Zot: the values its docs ask to patch into mural-variables (also in -o json)
    const mural = !stopped && !report.summary.failed && (args.zot || (await isZot(dest.dest, registry))) ? muralVariables(dest.dest) : undefined;
    const out = mural ? { ...report, muralVariables: mural } : report;
    if (!stopped || args.output || report.items.some((i) => !i.failedHost)) printData(versioned("PushReport", out), args.output as string | undefined, () => itemsTable(report.items) + mapText(report.registryMap) + (mural ? muralText(mural) : ""));
    throwIfHostFailed(report.items);
    // content of the archive itself that does not match its digest: a re-run reads the same bytes
    const damaged = report.items.some((i) => i.error && /in oci-archive:.*(does not match|size)/.test(i.error));
    if (s.failed) throw new CliError(`${s.failed} of ${report.items.length} items failed`, 1, damaged ? "the archive is damaged: get it again from where it was exported (kubectl mirror verify --in-archive ARCHIVE checks it)" : "run the same command again: it resumes where it stopped");
    const vf = valuesOutFailure(report.values);
    if (vf) throw vf;
  },
});
