// `kubectl scar status`: the current SCAR endpoint, the tags in the manifest repository, Specman's sync state
// and the local migration state. Each part is gathered on its own; a part that fails carries its error.
import type { KubeClient } from "../../../shared/kube/index.ts";
import type { AuthClient } from "../../../shared/oci/transport/auth.ts";
import type { PaletteClient } from "../../../shared/palette/client.ts";
import { inspectPushed, repositoryTags, targetReference, type Target } from "./artifact.ts";
import { NAMESPACE, SPECMAN_ENDPOINT } from "./constants.ts";
import { specmanSync, type SpecmanSync } from "./specman.ts";
import { describeHolder, holderState, readLock, type LockState } from "./lock.ts";
import { STEPS, type StateStore } from "./state.ts";

export interface Status {
  palette?: { url: string; endpoint?: string; migrated?: boolean; error?: string };
  registry?: { repository: string; tags?: string[]; tag: string; tagPresent?: boolean; digest?: string; orasShape?: boolean; error?: string };
  specman?: (SpecmanSync & { error?: undefined }) | { error: string };
  state?: { file: string; exists: boolean; done: string[]; rolledBack?: string; previousEndpoint?: string; /** namespace/name (keys) of the deleted secret kept for rollback; never its data */ savedSecret?: string; /** the operation holding the state's lock: running, stale (its pid is gone) or unknown (another host) */ lock?: { holder: string; state: LockState }; error?: string };
  /** some part could not be read */
  errors: number;
}

const keys = (n: number) => `${n} key${n === 1 ? "" : "s"}`;
const msg = (e: unknown) => `${(e as Error)?.message ?? e}${(e as { hint?: string })?.hint ? ` (${(e as { hint?: string }).hint})` : ""}`;

export async function status(o: { palette?: PaletteClient; client?: AuthClient; target: Target; kube?: KubeClient; namespace?: string; state?: StateStore }): Promise<Status> {
  const out = {} as Status;
  let errors = 0;
  const fail = (e: unknown) => {
    errors++;
    return msg(e);
  };
  if (o.palette) {
    try {
      const cfg = await o.palette.getScarConfig();
      out.palette = { url: o.palette.url, endpoint: cfg.endpoint, migrated: cfg.endpoint === SPECMAN_ENDPOINT };
    } catch (e) {
      out.palette = { url: o.palette.url, error: fail(e) };
    }
  }
  if (o.client) {
    const repository = targetReference(o.target).replace(/:[^:/]+$/, "");
    try {
      const tags = await repositoryTags(o.target, o.client);
      const p = tags.includes(o.target.tag) ? await inspectPushed(o.target, o.client) : undefined;
      out.registry = { repository, tags, tag: o.target.tag, tagPresent: tags.includes(o.target.tag), digest: p?.digest, orasShape: p?.orasShape };
    } catch (e) {
      out.registry = { repository, tag: o.target.tag, error: fail(e) };
    }
  }
  if (o.kube) {
    try {
      out.specman = await specmanSync(o.kube, o.target.tag, { namespace: o.namespace ?? NAMESPACE });
    } catch (e) {
      out.specman = { error: fail(e) };
    }
  }
  if (o.state) {
    try {
      const exists = await o.state.exists();
      const s = exists ? await o.state.load("") : undefined;
      out.state = { file: o.state.file, exists, done: s ? STEPS.filter((x) => s.steps[x]?.done) : [], rolledBack: s?.rolledBack, previousEndpoint: s?.previousScar?.endpoint, savedSecret: s?.deletedSecret ? `${s.deletedSecret.metadata?.namespace}/${s.deletedSecret.metadata?.name} (${keys(Object.keys((s.deletedSecret as { data?: object }).data ?? {}).length)})` : undefined };
      const holder = await readLock(`${o.state.file}.lock`);
      if (holder) out.state.lock = { holder: describeHolder(holder), state: holderState(holder) };
    } catch (e) {
      out.state = { file: o.state.file, exists: true, done: [], error: fail(e) };
    }
  }
  out.errors = errors;
  return out;
}
