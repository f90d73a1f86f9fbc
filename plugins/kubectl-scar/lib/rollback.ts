// `kubectl scar rollback`: PUT back the SCAR config saved by the migration's record-config step, then run the
// sync jobs so Palette reads from the old SCAR again, and recreate the registry secret the migration deleted
// (kept in the state). Idempotent: when Palette already has the saved endpoint, nothing is PUT. Refuses to
// restore a SCAR config whose password Palette did not return (the old SCAR would be unusable) unless the
// password is given or --force says so.
import type { KubeClient } from "../../../shared/kube/index.ts";
import type { PaletteClient, ScarSpec } from "../../../shared/palette/client.ts";
import { registerSecret } from "../../../shared/runtime/redact.ts";
import { NAMESPACE, REGISTRY_SECRET, SPECMAN_ENDPOINT, SYNC_JOBS } from "./constants.ts";
import { ScarError } from "./errors.ts";
import { secretCopy, type StateStore } from "./state.ts";

export interface RollbackOptions {
  palette: PaletteClient;
  state: StateStore;
  dryRun?: boolean;
  /** run the sync jobs afterwards (default true) */
  sync?: boolean;
  /** the old SCAR password, when Palette did not return it on GET */
  scarPassword?: string;
  /** restore a config without its password (Palette did not return it, none given) */
  force?: boolean;
  /** the cluster, to recreate the deleted registry secret (only asked for when the state holds one) */
  kube?: () => KubeClient;
  log?: (line: string) => void;
  /** remove a stale lock (its holder no longer runs) before starting */
  breakLock?: boolean;
}

export interface RollbackResult {
  stateFile: string;
  endpoint?: string;
  /** the PUT was needed (false: Palette already had the saved endpoint) */
  restored: boolean;
  jobs: string[];
  /** the registry secret: recreated, replaced (it existed with other data), unchanged, or none saved */
  secret: "created" | "replaced" | "unchanged" | "none";
  dryRun: boolean;
}

/** Holds the state's lock (but for a dry run): a rollback never interleaves with a running migrate. */
export async function rollback(o: RollbackOptions): Promise<RollbackResult> {
  if (o.dryRun) return rollbackLocked(o);
  return o.state.withLock("kubectl scar rollback", { breakLock: o.breakLock, log: o.log }, () => rollbackLocked(o));
}

async function rollbackLocked(o: RollbackOptions): Promise<RollbackResult> {
  const log = o.log ?? (() => {});
  if (!(await o.state.exists())) throw new ScarError(`no migration state at ${o.state.file}`, "rollback needs the state written by `kubectl scar migrate` or `set-endpoint` (same --palette and --state-dir)");
  const state = await o.state.load(o.palette.url);
  const prev = state.previousScar;
  const saved = state.deletedSecret;
  if (!prev && !saved) throw new ScarError(`${o.state.file} holds no saved SCAR config`, "the migration stopped before it recorded the config, so Palette was not changed");
  const result: RollbackResult = { stateFile: o.state.file, endpoint: prev?.endpoint, restored: false, jobs: [], secret: "none", dryRun: !!o.dryRun };
  let spec: ScarSpec | undefined;
  let needPut = false;
  if (prev) {
    spec = { ...prev };
    if (o.scarPassword) {
      registerSecret(o.scarPassword);
      spec.password = o.scarPassword;
    } else if (spec.username && !spec.password) {
      if (!o.force) {
        throw new ScarError(
          `the saved SCAR config has username "${spec.username}" but no password (Palette did not return it): restoring it would leave Palette unable to read the old SCAR`,
          "give the old SCAR password with SCAR_PASSWORD or --scar-password-stdin, or restore it without one with --force",
        );
      }
      log(`warning: restoring username "${spec.username}" without a password (--force)`);
    }
    if (!spec.endpoint) throw new ScarError(`the saved SCAR config in ${o.state.file} has no endpoint`, "Palette had no SCAR configured before; nothing to restore");
    if (spec.endpoint === SPECMAN_ENDPOINT) log("warning: the saved config already pointed at Specman (Palette was migrated before this state was recorded)");
    const cur = await o.palette.getScarConfig();
    needPut = cur.endpoint !== spec.endpoint || (cur.username ?? "") !== (spec.username ?? "") || !!o.scarPassword;
    if (o.dryRun) {
      log(needPut ? `would PUT /v1/system/config/scar endpoint ${spec.endpoint} (now ${cur.endpoint ?? "(unset)"})` : `Palette already uses ${spec.endpoint}`);
      if (o.sync !== false) log(`would run ${SYNC_JOBS.join(", ")}`);
      result.restored = needPut;
    }
  } else log("Palette's SCAR config was never changed (the migration stopped before); restoring the deleted secret only");

  if (saved) {
    const ns = saved.metadata?.namespace ?? NAMESPACE;
    const name = saved.metadata?.name ?? REGISTRY_SECRET;
    if (!o.kube) throw new ScarError(`the state holds the deleted secret ${ns}/${name} but no cluster was given`, "give --kubeconfig/--context of the Palette cluster");
    const kube = o.kube();
    const cur = await kube.tryGet("v1", "Secret", name, { namespace: ns });
    const want = secretCopy(saved);
    const same = cur && JSON.stringify(cur.data ?? {}) === JSON.stringify(want.data ?? {}) && (cur.type ?? "") === (want.type ?? "");
    result.secret = !cur ? "created" : same ? "unchanged" : "replaced";
    if (o.dryRun) log(result.secret === "unchanged" ? `secret ${ns}/${name} already holds the saved data` : `would ${result.secret === "created" ? "recreate" : "replace"} secret ${ns}/${name} from ${o.state.file}`);
    else if (!cur) {
      await kube.create(want, { namespace: ns });
      log(`recreated secret ${ns}/${name} (${Object.keys(want.data ?? {}).length} keys) from ${o.state.file}`);
    } else if (!same) {
      await kube.update({ ...want, metadata: { ...want.metadata, resourceVersion: cur.metadata.resourceVersion } }, { namespace: ns });
      log(`replaced secret ${ns}/${name} with the saved copy`);
    } else log(`secret ${ns}/${name} already holds the saved data`);
  }
  if (o.dryRun) return result;

  if (spec) {
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
  }
  state.rolledBack = new Date().toISOString();
  // a new migration after a rollback goes through the whole procedure again (the secret included)
  delete state.steps["delete-secret"];
  delete state.steps["specman-sync"];
  delete state.steps["set-endpoint"];
  delete state.steps["sync-jobs"];
  delete state.steps.verify;
  delete state.jobs;
  await o.state.save(state);
  return result;
}
