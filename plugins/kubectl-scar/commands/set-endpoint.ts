// kubectl scar set-endpoint --palette URL
import { defineCommand } from "citty";
import { dryRunArgs, outputArgs } from "../../../shared/cli/args.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, versioned } from "../../../shared/cli/output.ts";
import { paletteArgs, paletteFromArgs, stateArgs, stateFromArgs, timeoutArgs, lockArgs, SCAR_CREDENTIALS_HELP } from "../lib/args.ts";
import { SPECMAN_ENDPOINT } from "../lib/constants.ts";
import { setEndpoint } from "../lib/endpoint.ts";

export default defineCommand({
  meta: {
    name: "set-endpoint",
    description: `Save Palette's SCAR config (for rollback) and point it at Specman (${SPECMAN_ENDPOINT})`,
    examples: ["PALETTE_PASSWORD=… kubectl scar set-endpoint --palette https://palette.example.com", "PALETTE_TOKEN=… kubectl scar set-endpoint --palette https://palette.example.com --palette-ca-file ca.pem --dry-run"],
    notes: SCAR_CREDENTIALS_HELP,
  } as any,
  args: { ...paletteArgs, ...stateArgs, ...lockArgs, ...timeoutArgs, ...dryRunArgs, ...outputArgs },
  async run({ args }) {
    const palette = paletteFromArgs(args);
    try {
      const r = await setEndpoint({ palette, state: stateFromArgs(args, palette.url), dryRun: !!args["dry-run"], breakLock: !!args["break-lock"], log: (l) => (l.startsWith("warning: ") ? logger().warn(l.slice(9)) : logger().info(l)) });
      printData(versioned("ScarEndpointReport", r), args.output as string | undefined, () => `${r.dryRun ? "would set" : r.changed ? "set" : "unchanged"}\t${r.endpoint}\t(was ${r.previous ?? "unset"})\n`);
    } finally {
      palette.close();
    }
  },
});
