// kubectl scar migrate DIR --registry HOST --palette URL …
import { defineCommand, type ArgsDef } from "citty";
import { dryRunArgs, outputArgs } from "../../../shared/cli/args.ts";
import { optionalValueFlags } from "../../../shared/cli/conventions.ts";
import { UsageError } from "../../../shared/cli/errors.ts";
import { printData, table, versioned } from "../../../shared/cli/output.ts";
import { redact } from "../../../shared/runtime/redact.ts";
import { clusterArgs, durationArg, kubeFromArgs, paletteArgs, paletteFromArgs, registryFromArgs, stateArgs, stateFromArgs, targetArgs, targetFromArgs, timeoutArgs, lockArgs, SCAR_CREDENTIALS_HELP } from "../lib/args.ts";
import { migrate, MigrationError } from "../lib/migrate.ts";
import { REGISTRY_SECRET } from "../lib/constants.ts";
import { resumeCommands } from "../lib/resume.ts";
import { removeOnInterrupt } from "../../../shared/runtime/interrupt.ts";

const args = {
  dir: { type: "positional", required: false, description: "the manifests directory your SCAR file server serves (e.g. /var/www/html)" },
  ...targetArgs,
  ...paletteArgs,
  ...clusterArgs,
  ...stateArgs,
  ...lockArgs,
  ...timeoutArgs,
  "pack-registry": { type: "string", description: "Name of Palette's OCI pack registry that gets \"Contains Spectro Manifests\" (default: the one whose endpoint is --registry)", valueHint: "NAME" },
  "spectro-manifests-set": { type: "boolean", description: "You ticked \"Contains Spectro Manifests\" in the system console yourself (when Palette's API cannot do it)" },
  wait: { type: "boolean", default: true, description: "Wait for Specman to persist the tag before switching the endpoint (--no-wait: check once, stop if not yet)" },
  timeout: { type: "string", description: "How long to wait for Specman to persist the tag (default 10m)", valueHint: "DURATION" },
  "sync-delay": { type: "string", description: "Pause between setting the endpoint and the sync jobs (default 60s, like the documented script)", valueHint: "DURATION" },
  "poll-interval": { type: "string", description: "How often verify reads Specman's logs (default 5s)", valueHint: "DURATION" },
  ...dryRunArgs,
  ...outputArgs,
} as const satisfies ArgsDef;

// flags followed by their value (not --dry-run: its value is optional and only ever given as --dry-run=MODE)
const optional = optionalValueFlags(args);
export const valueFlags = Object.entries(args).flatMap(([k, v]) => ((v as { type: string }).type === "string" && !optional.has(k) ? [k, ...(((v as { alias?: string[] }).alias) ?? [])] : []));

export default defineCommand({
  meta: {
    name: "migrate",
    description: "Migrate Palette's manifests from the SCAR file server to the OCI registry (preflight, plan, idempotent resumable steps)",
    examples: [
      "PALETTE_PASSWORD=… kubectl scar migrate /var/www/html --registry harbor.example.com --palette https://palette.example.com --username admin --password-stdin <<<\"$HARBOR_PASSWORD\"",
      "aws ecr get-login-password | PALETTE_PASSWORD=… kubectl scar migrate /var/www/html --registry 123456789012.dkr.ecr.us-east-1.amazonaws.com --registry-username AWS --password-stdin --palette https://palette.example.com",
      "kubectl scar migrate /var/www/html --registry harbor.local --palette https://palette.local --dry-run   # preflight + plan only",
      "kubectl scar migrate /var/www/html --registry harbor.local --palette https://palette.local --break-lock   # resume after a killed run left a stale lock",
    ],
    notes: SCAR_CREDENTIALS_HELP,
  } as any,
  args,
  async run({ args: a, rawArgs }) {
    const dir = (a._ as string[] | undefined)?.[0] ?? (a.dir as string | undefined);
    if (!dir) throw new UsageError("the manifests directory is required", "kubectl scar migrate DIR --registry HOST --palette URL");
    if ((a._ as string[]).length > 1) throw new UsageError(`expected one directory, got ${(a._ as string[]).length} arguments`);
    const target = targetFromArgs(a)!;
    const registry = await registryFromArgs(a, rawArgs);
    const palette = paletteFromArgs(a);
    const { kube, namespace } = kubeFromArgs(a, rawArgs);
    const state = stateFromArgs(a, palette.url);
    const log = (l: string) => {
      if (!a.quiet || l.startsWith("warning") || l.includes(" FAIL ")) process.stderr.write(redact(l) + "\n");
    };
    // Ctrl-C: the state file keeps what was done; say how to go on (the same command, secrets left out)
    const unregister = a["dry-run"] ? () => {} : removeOnInterrupt(`migrating; resume with: ${resumeCommands(rawArgs, valueFlags).resume}`);
    try {
      const r = await migrate({
        dir,
        target,
        registry,
        palette,
        kube,
        namespace,
        state,
        dryRun: !!a["dry-run"],
        wait: a.wait !== false,
        timeoutMs: durationArg(a, "timeout", "10m"),
        syncDelayMs: durationArg(a, "sync-delay", "60s"),
        pollIntervalMs: durationArg(a, "poll-interval", "5s"),
        log,
        packRegistry: (a["pack-registry"] as string | undefined) || undefined,
        manifestsSet: !!a["spectro-manifests-set"],
        breakLock: !!a["break-lock"],
      });
      printData(versioned("ScarMigrateReport", r), a.output as string | undefined, () => table(["step", "status", "detail"], r.steps.map((s) => [s.step, s.status, s.detail])) + (r.dryRun ? "dry run: nothing was changed\n" : `state: ${r.stateFile}\n`));
    } catch (e) {
      if (e instanceof MigrationError) {
        const c = resumeCommands(rawArgs, valueFlags);
        const lines = [
          `done: ${e.done.join(", ") || "nothing"}`,
          `failed: ${e.step}`,
          `resume with: ${c.resume}${c.notes.length ? `   (${c.notes.join("; ")})` : ""}`,
          e.done.includes("record-config") || e.done.includes("set-endpoint")
            ? `roll back with: ${c.rollback}`
            : e.secretSaved
              ? `Palette's SCAR config was not changed; the deleted secret ${REGISTRY_SECRET} is kept in ${e.result.stateFile}: put it back with: ${c.rollback}`
              : "nothing to roll back: Palette's SCAR config was not changed",
        ];
        if (a.output === "json" || a.output === "yaml") printData(versioned("ScarMigrateReport", { ...e.result, error: e.message, done: e.done, failed: e.step, resume: c.resume, rollback: c.rollback }), a.output as string, () => "");
        process.stderr.write(redact(lines.join("\n")) + "\n");
      }
      throw e;
    } finally {
      unregister();
      palette.close();
    }
  },
});
