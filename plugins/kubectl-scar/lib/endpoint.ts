// `kubectl scar set-endpoint`: record the current SCAR config in the state file (once, for rollback), then
// PUT the Specman endpoint (204). Idempotent: nothing is PUT when Palette already uses it.
import type { PaletteClient } from "../../../shared/palette/client.ts";
import { SPECMAN_ENDPOINT } from "./constants.ts";
import { markDone, type StateStore } from "./state.ts";

export interface SetEndpointResult {
  endpoint: string;
  previous?: string;
  changed: boolean;
  stateFile: string;
  dryRun: boolean;
}

type SetEndpointOptions = { palette: PaletteClient; state: StateStore; endpoint?: string; dryRun?: boolean; log?: (l: string) => void; breakLock?: boolean };

/** Holds the state's lock (but for a dry run), like migrate and rollback. */
export async function setEndpoint(o: SetEndpointOptions): Promise<SetEndpointResult> {
  if (o.dryRun) return setEndpointLocked(o);
  return o.state.withLock("kubectl scar set-endpoint", { breakLock: o.breakLock, log: o.log }, () => setEndpointLocked(o));
}

async function setEndpointLocked(o: SetEndpointOptions): Promise<SetEndpointResult> {
  const endpoint = o.endpoint ?? SPECMAN_ENDPOINT;
  const log = o.log ?? (() => {});
  const state = await o.state.load(o.palette.url);
  const cur = await o.palette.getScarConfig();
  const changed = !(cur.endpoint === endpoint && !cur.username && !cur.password);
  const res: SetEndpointResult = { endpoint, previous: cur.endpoint, changed, stateFile: o.state.file, dryRun: !!o.dryRun };
  if (o.dryRun) {
    log(changed ? `would save the current config (endpoint ${cur.endpoint ?? "(unset)"}) and PUT endpoint ${endpoint}` : `endpoint is already ${endpoint}`);
    return res;
  }
  if (!state.previousScar) {
    state.previousScar = cur;
    markDone(state, "record-config");
    await o.state.save(state);
    log(`saved the current SCAR config (endpoint ${cur.endpoint ?? "(unset)"}) to ${o.state.file}`);
  }
  if (changed) {
    await o.palette.putScarConfig({ endpoint, password: "", username: "" });
    log(`endpoint set to ${endpoint} (204)`);
  } else log(`endpoint is already ${endpoint}`);
  if (endpoint === SPECMAN_ENDPOINT) {
    markDone(state, "set-endpoint");
    delete state.rolledBack;
  }
  await o.state.save(state);
  return res;
}
