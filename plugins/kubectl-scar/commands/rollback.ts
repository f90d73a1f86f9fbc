// kubectl scar rollback --palette URL
import { defineCommand } from "citty";
import { dryRunArgs, outputArgs } from "../../../shared/cli/args.ts";
import { UsageError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, versioned } from "../../../shared/cli/output.ts";
import { readStdinSecret } from "../../../shared/cli/registry.ts";
import { clusterArgs, kubeFromArgs, paletteArgs, paletteFromArgs, stateArgs, stateFromArgs, timeoutArgs, lockArgs, SCAR_CREDENTIALS_HELP } from "../lib/args.ts";
import { rollback } from "../lib/rollback.ts";

export default defineCommand({
  meta: {
    name: "rollback",
    description: "Put back the SCAR config Palette had before the migration (saved in the state file) and re-run the sync jobs",
    examples: [
      "SCAR_PASSWORD=… PALETTE_PASSWORD=… kubectl scar rollback --palette https://palette.example.com --kubeconfig palette.kubeconfig","PALETTE_PASSWORD=… kubectl scar rollback --palette https://palette.example.com", "SCAR_PASSWORD=… PALETTE_TOKEN=… kubectl scar rollback --palette https://palette.example.com --state-dir ./scar-state"],
    notes: SCAR_CREDENTIALS_HELP,
  } as any,
  args: {
    ...paletteArgs,
    ...stateArgs,
    ...lockArgs,
    ...clusterArgs,
    ...timeoutArgs,
    force: { type: "boolean", description: "Restore the saved SCAR config even without its password (Palette did not return it and none was given)" },
    "scar-password-stdin": { type: "boolean", description: "Read the old SCAR password from stdin (when Palette did not return it; or env SCAR_PASSWORD)" },
    sync: { type: "boolean", default: true, description: "Run the sync jobs after restoring (--no-sync to skip)" },
    ...dryRunArgs,
    ...outputArgs,
  },
  async run({ args, rawArgs }) {
    if (args["scar-password-stdin"] && args["palette-password-stdin"]) throw new UsageError("--scar-password-stdin and --palette-password-stdin cannot both read stdin", "give the Palette password in PALETTE_PASSWORD");
    const palette = paletteFromArgs(args);
    const scarPassword = args["scar-password-stdin"] ? readStdinSecret("--scar-password-stdin") : process.env.SCAR_PASSWORD || undefined;
    try {
      const r = await rollback({ palette, state: stateFromArgs(args, palette.url), dryRun: !!args["dry-run"], sync: args.sync !== false, scarPassword, force: !!args.force, breakLock: !!args["break-lock"], kube: () => kubeFromArgs(args, rawArgs).kube, log: (l) => (l.startsWith("warning: ") ? logger().warn(l.slice(9)) : logger().info(l)) });
      printData(versioned("ScarRollbackReport", r), args.output as string | undefined, () => `${r.dryRun ? "would restore" : r.restored ? "restored" : "unchanged"}\t${r.endpoint ?? "(SCAR config was not changed)"}${r.secret !== "none" ? `\tsecret ${r.dryRun && r.secret !== "unchanged" ? `would be ${r.secret === "created" ? "recreated" : r.secret}` : r.secret}` : ""}\n`);
    } finally {
      palette.close();
    }
  },
});
