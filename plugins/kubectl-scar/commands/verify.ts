// kubectl scar verify --registry HOST --palette URL
import { defineCommand } from "citty";
import { outputArgs } from "../../../shared/cli/args.ts";
import { CliError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, table, versioned } from "../../../shared/cli/output.ts";
import { createClient } from "../../../shared/oci/client.ts";
import { clusterArgs, durationArg, kubeFromArgs, paletteArgs, paletteFromArgs, registryFromArgs, stateArgs, stateFromArgs, targetArgs, targetFromArgs, timeoutArgs, SCAR_CREDENTIALS_HELP } from "../lib/args.ts";
import { verifyMigration } from "../lib/verify.ts";

export default defineCommand({
  meta: {
    name: "verify",
    description: "Check the migration: Palette uses Specman, the tag is in the registry, every specman pod persisted it",
    examples: ["PALETTE_PASSWORD=… kubectl scar verify --registry harbor.example.com --palette https://palette.example.com", "kubectl scar verify --registry harbor.local --palette https://palette.local --no-wait -o json"],
    notes: SCAR_CREDENTIALS_HELP,
  } as any,
  args: {
    ...targetArgs,
    ...paletteArgs,
    ...clusterArgs,
    ...stateArgs,
    ...timeoutArgs,
    wait: { type: "boolean", default: true, description: "Wait for Specman to persist the tag (--no-wait: check once)" },
    timeout: { type: "string", description: "How long to wait for Specman (default 10m)", valueHint: "DURATION" },
    "poll-interval": { type: "string", description: "How often to read Specman's logs (default 5s)", valueHint: "DURATION" },
    ...outputArgs,
  },
  async run({ args, rawArgs }) {
    const target = targetFromArgs(args)!;
    const registry = await registryFromArgs(args, rawArgs);
    const palette = paletteFromArgs(args);
    const { kube, namespace } = kubeFromArgs(args, rawArgs);
    try {
      // only Specman log lines since our push count (when the state knows it)
      const st = await stateFromArgs(args, palette.url).load(palette.url).catch(() => undefined);
      const pushedAt = st?.pushed?.at && st.pushed.reference?.endsWith(`:${target.tag}`) ? new Date(Date.parse(st.pushed.at) - 60_000) : undefined;
      const r = await verifyMigration({ since: pushedAt, palette, client: createClient(registry), target, kube, namespace, wait: args.wait !== false, timeoutMs: durationArg(args, "timeout", "10m"), intervalMs: durationArg(args, "poll-interval", "5s"), log: (l) => logger().info(l) });
      printData(versioned("ScarVerifyReport", r), args.output as string | undefined, () =>
        table(["check", "result"], [
          ["endpoint", `${r.endpoint} (ok)`],
          ["registry", `${r.reference} present${r.digest ? ` ${r.digest.slice(0, 19)}` : ""}${r.orasShape === false ? " (not ORAS-shaped!)" : ""}`],
          ...r.specman.pods.map((p) => [`specman ${p.pod}`, `${p.persisted ? `persisted ${target.tag}` : p.downloaded ? "downloaded, not persisted yet" : "not synced yet"}${p.lastError ? `; last error: ${p.lastError}` : ""}${p.logError ? `; logs: ${p.logError}` : ""}`]),
        ]),
      );
      if (!r.ok) throw new CliError(r.specman.pods.length ? `Specman has not persisted ${target.tag} yet` : `no specman pods in ${namespace}`, 1, "check again later, or wait with --timeout");
    } finally {
      palette.close();
    }
  },
});
