// `kubectl scar rollback`: PUT back the SCAR config saved by the migration's record-config step, then run the
// sync jobs so Palette reads from the old SCAR again. Idempotent: when Palette already has the saved endpoint,
// nothing is PUT.
import type { PaletteClient, ScarSpec } from "../../../shared/palette/client.ts";
import { registerSecret } from "../../../shared/runtime/redact.ts";
import { SPECMAN_ENDPOINT, SYNC_JOBS } from "./constants.ts";
import { ScarError } from "./errors.ts";
import type { StateStore } from "./state.ts";

export interface RollbackOptions {
  palette: PaletteClient;
  state: StateStore;
  dryRun?: boolean;
  /** run the sync jobs afterwards (default true) */
  sync?: boolean;
  /** the old SCAR password, when Palette did not return it on GET */
  scarPassword?: string;
  log?: (line: string) => void;
}

export interface RollbackResult {
  stateFile: string;
  endpoint?: string;
  /** the PUT was needed (false: Palette already had the saved endpoint) */
  restored: boolean;
  jobs: string[];
  dryRun: boolean;
}

export async function rollback(o: RollbackOptions): Promise<RollbackResult> {
  const log = o.log ?? (() => {});
  if (!(await o.state.exists())) throw new ScarError(`no migration state at ${o.state.file}`, "rollback needs the state written by `kubectl scar migrate` or `set-endpoint` (same --palette and --state-dir)");
  const state = await o.state.load(o.palette.url);
  const prev = state.previousScar;
  if (!prev) throw new ScarError(`${o.state.file} holds no saved SCAR config`, "the migration stopped before it recorded the config, so Palette was not changed");
  const spec: ScarSpec = { ...prev };
  if (o.scarPassword) {
    registerSecret(o.scarPassword);
    spec.password = o.scarPassword;
  } else if (spec.username && !spec.password) {
    log(`warning: the saved config has username "${spec.username}" but no password (Palette did not return it); give it with SCAR_PASSWORD or --scar-password-stdin`);
  }
  if (!spec.endpoint) throw new ScarError(`the saved SCAR config in ${o.state.file} has no endpoint`, "Palette had no SCAR configured before; nothing to restore");
  if (spec.endpoint === SPECMAN_ENDPOINT) log("warning: the saved config already pointed at Specman (Palette was migrated before this state was recorded)");
  const cur = await o.palette.getScarConfig();
  const result: RollbackResult = { stateFile: o.state.file, endpoint: spec.endpoint, restored: false, jobs: [], dryRun: !!o.dryRun };
  const needPut = cur.endpoint !== spec.endpoint || (cur.username ?? "") !== (spec.username ?? "") || !!o.scarPassword;
  if (o.dryRun) {
    log(needPut ? `would PUT /v1/system/config/scar endpoint ${spec.endpoint} (now ${cur.endpoint ?? "(unset)"})` : `Palette already uses ${spec.endpoint}`);
    if (o.sync !== false) log(`would run ${SYNC_JOBS.join(", ")}`);
    result.restored = needPut;
    return result;
  }
  if (needPut) {
    await o.palette.putScarConfig(spec);
    result.restored = true;
    log(`restored SCAR endpoint ${spec.endpoint} (204)`);
  } else log(`Palette already uses ${spec.endpoint}; nothing to PUT`);
  if (o.sync !== false && (needPut || !state.rolledBack)) {
    for (const job of SYNC_JOBS) {
      await o.palette.runJob(job);
      result.jobs.push(job);
    }
    log(`ran ${result.jobs.join(", ")} (204)`);
  }
  state.rolledBack = new Date().toISOString();
  // a new migration after a rollback goes through the whole procedure again (the secret included)
  delete state.steps["delete-secret"];
  delete state.steps["set-endpoint"];
  delete state.steps["sync-jobs"];
  delete state.steps.verify;
  delete state.jobs;
  await o.state.save(state);
  return result;
}
