// kubectl mirror run-shard --plan DIR [--index N] [--auth DIR] — what each pod of `--in-cluster` runs.
import { defineCommand } from "citty";
import { CliError, UsageError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { podRegistryOptions, readPlanFile, runPlanShard } from "../lib/cluster/shard-job.ts";

export default defineCommand({
  meta: {
    name: "run-shard",
    description: "Run one shard of an in-cluster mirror plan (what the pods of `sync|copy --in-cluster` run); one JSON line per item on stdout",
  },
  args: {
    plan: { type: "string", required: true, description: "The plan: the mounted ConfigMap folder or a plan.json[.gz] file", valueHint: "PATH" },
    index: { type: "string", description: "Shard index, 0-based (default: $JOB_COMPLETION_INDEX, set by Indexed Jobs)", valueHint: "N" },
    auth: { type: "string", description: "Folder with config.json (docker credentials) and ca.crt: the mounted Secret", valueHint: "DIR" },
  },
  async run({ args }) {
    const raw = args.index ?? process.env.JOB_COMPLETION_INDEX;
    if (raw === undefined || raw === "") throw new UsageError("no shard index: give --index N or set JOB_COMPLETION_INDEX");
    const index = Number(raw);
    let plan;
    try {
      plan = readPlanFile(String(args.plan));
    } catch (e) {
      throw new UsageError(`--plan ${args.plan}: ${(e as Error).message}`);
    }
    const log = logger();
    const r = await runPlanShard(plan, index, podRegistryOptions(plan, args.auth as string | undefined), (line) => process.stdout.write(JSON.stringify(line) + "\n"), (m) => log.info(m));
    if (r.failed) throw new CliError(`shard ${index + 1}/${plan.shards}: ${r.failed} of ${r.items} items failed`);
    log.info(`shard ${index + 1}/${plan.shards}: ${r.items} item(s) done`);
  },
});
