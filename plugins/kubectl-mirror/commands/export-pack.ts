// kubectl mirror export-pack PACK.tgz... -O ARCHIVE — Palette packs with their charts and images into one archive.
import { defineCommand, type CommandMeta } from "citty";
import { dryRunArgs, outputArgs, CREDENTIALS_HELP } from "../../../shared/cli/args.ts";
import { CliError, UsageError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, versioned } from "../../../shared/cli/output.ts";
import { createProgress, humanBytes, hostFailure } from "../../../shared/cli/progress.ts";
import { repeated } from "../../../shared/cli/argv.ts";
import { exportPlan, parseSize, recordedArgs } from "../lib/transfer/archive.ts";
import { chartRequestFromArgs, renderOptionsFromArgs } from "../lib/inputs/chart-args.ts";
import { concurrencyFromArgs, inputArgs, inputsFromArgs, platformsFromArgs, transferArgs } from "../lib/inputs/mirror-args.ts";
import { chartLayoutFromArgs, quietFromArgs } from "../lib/inputs/mirror-args.ts";
import { isPackSignature, loadPack, packChartInputs, type LoadedPack } from "../lib/inputs/pack.ts";
import { readKeyring } from "../../../shared/signing/gpg.ts";
import { basename, resolve } from "node:path";
import { buildPlan, type MirrorInput } from "../lib/plan/plan.ts";
import { itemsTable, throwIfHostFailed } from "../lib/report/report.ts";
import { archiveOutArgs, compressionFromArgs } from "./export.ts";

export default defineCommand({
  meta: {
    name: "export-pack",
    description: "Write Palette pack tarballs (pack.json, values.yaml pack.content.images, charts/) with their charts and images into one archive for `kubectl mirror push`",
    notes: CREDENTIALS_HELP,
    examples: [
      "kubectl mirror export-pack nginx-1.26.1.tgz -O nginx-pack.tar",
      "kubectl mirror export-pack packs/*.tgz -O packs.tar.gz --platform linux/amd64",
      "kubectl mirror export-pack studio/* -O packs.tar.zst --pack-keyring spectro.gpg   # Artifact Studio <pack>.zst + <pack>.sig.bin",
      "kubectl mirror push packs.tar.gz --dest zot.local:30003      # packs → <dest>/packs/<name>:<version>",
    ],
  } as CommandMeta,
  args: {
    pack: { type: "positional", required: false, description: "Palette pack tarballs (.tgz, Artifact Studio .zst with their .sig.bin)", valueHint: "PACK..." },
    "pack-keyring": { type: "string", description: "OpenPGP public key(s) that verify each pack's detached <pack>.sig.bin (without it signatures are carried, not verified)", valueHint: "FILE" },
    ...inputArgs,
    ...archiveOutArgs,
    ...transferArgs,
    ...dryRunArgs,
    ...outputArgs,
  },
  async run({ args, rawArgs }) {
    const log = logger();
    const given = (args._ as string[]) ?? [];
    // <pack>.sig.bin files (e.g. from a glob over an Artifact Studio download) are signatures, not packs
    const files = given.filter((f) => !isPackSignature(f));
    if (!files.length) throw new UsageError("no pack tarball given", "kubectl mirror export-pack PACK.tgz|PACK.zst... -O ARCHIVE");
    const keys = args["pack-keyring"] ? await readKeyring(String(args["pack-keyring"])) : undefined;
    const out = args["output-file"] as string | undefined;
    if (!out) throw new UsageError("-O/--output-file ARCHIVE is required");
    const packs: LoadedPack[] = [];
    try {
      for (const f of files) packs.push(await loadPack(f, { keys }));
      const carried = new Set(packs.map((p) => p.signature?.file).filter(Boolean).map((f) => resolve(f!)));
      for (const sig of given.filter(isPackSignature)) if (!carried.has(resolve(sig))) log.warn(`${sig}: no pack next to it has this name; the signature is not carried`);
      for (const p of packs) {
        if (!p.signature) log.info(`pack ${p.name} ${p.version} (${basename(p.file)}): no .sig.bin next to it — no signature carried`);
        else if (p.signature.verified) log.info(`pack ${p.name} ${p.version}: signature ${basename(p.signature.file)} VERIFIED (key ${p.signature.keyID?.toUpperCase()}); carried with the pack`);
        else log.warn(`pack ${p.name} ${p.version}: signature ${basename(p.signature.file)} carried with the pack but NOT verified (${p.signature.reason})`);
      }
      // extra images / mirror files given alongside the packs
      const { input: extra, registry, sourceMirrors } = await inputsFromArgs({ ...args, _: [] }, rawArgs, { allowEmpty: true });
      const base = await chartRequestFromArgs(args, rawArgs, undefined);
      const render = renderOptionsFromArgs(args, rawArgs);
      const input: MirrorInput = {
        charts: [...packs.flatMap((p) => packChartInputs(p, { ...base, registry }, { ...render, excludeImages: repeated(rawArgs, ["exclude-image"]) })), ...extra.charts],
        images: extra.images,
        artifacts: packs.map((p) => p.artifact),
      };
      for (const p of packs) for (const w of p.warnings) log.warn(`${p.name} ${p.version}: ${w}`);
      // the totals come from the plan (onPlan): a chart's images are known only once it is rendered
      const progress = createProgress({ total: 0, quiet: quietFromArgs(args) });
      const plan = await buildPlan(input, { chartPrefix: args["chart-prefix"] as string | undefined, requireRender: true, chartLayout: chartLayoutFromArgs(args) });
      let report;
      try {
        report = await exportPlan(plan, {
          output: out,
          ...compressionFromArgs(args),
          existing: repeated(rawArgs, ["existing"], { split: false }),
          splitSize: args["split-size"] ? parseSize(String(args["split-size"])) : undefined,
          registry,
          sourceMirrors,
          concurrency: concurrencyFromArgs(args),
          platforms: platformsFromArgs(rawArgs),
          extras: !args["exclude-extras"],
          dryRun: !!args["dry-run"],
          onEvent: progress.onEvent,
          onPlan: progress.setTotals,
          command: "kubectl mirror export-pack",
          args: recordedArgs(rawArgs),
        });
      } finally {
        progress.finish();
        await plan.cleanup();
      }
      for (const w of report.warnings) log.warn(w);
      const s = report.summary;
      if (!args["dry-run"] && !s.failed) log.info(`wrote ${out}: ${packs.length} pack(s), ${s.artifacts - packs.length} chart(s), ${s.images} image(s), ${humanBytes(s.bytesWritten)} in ${s.seconds}s`);
      const packInfo = packs.map((p) => ({ name: p.name, version: p.version, file: p.file, compression: p.compression, signature: p.signature ? { file: p.signature.file, verified: p.signature.verified, ...(p.signature.keyID ? { keyID: p.signature.keyID } : {}), ...(p.signature.reason ? { reason: p.signature.reason } : {}) } : null }));
      const stopped = hostFailure(report.items);
      if (!stopped || args.output || report.items.some((i) => !i.failedHost)) printData(versioned("ExportReport", { ...report, packs: packInfo }), args.output as string | undefined, () => itemsTable(report.items));
      throwIfHostFailed(report.items);
      if (s.failed) throw new CliError(`${s.failed} of ${report.items.length} items failed; no archive written`);
    } finally {
      for (const p of packs) await p.cleanup();
    }
  },
});
