// Verification of a migration: Palette's SCAR endpoint is Specman's, the tag is in the registry (ORAS-shaped),
// and every specman pod logged the tag as synced and persisted.
import type { KubeClient } from "../../../shared/kube/index.ts";
import type { AuthClient } from "../../../shared/oci/transport/auth.ts";
import type { PaletteClient } from "../../../shared/palette/client.ts";
import { inspectPushed, repositoryTags, targetReference, type Target } from "./artifact.ts";
import { NAMESPACE, SPECMAN_ENDPOINT } from "./constants.ts";
import { ScarError } from "./errors.ts";
import { specmanSync, waitForSpecman, type SpecmanSync } from "./specman.ts";

export interface VerifyResult {
  endpoint?: string;
  endpointOk: boolean;
  reference: string;
  tags: string[];
  tagPresent: boolean;
  digest?: string;
  orasShape?: boolean;
  specman: SpecmanSync;
  /** everything checked out (Specman included) */
  ok: boolean;
}

export interface VerifyOptions {
  palette: PaletteClient;
  client: AuthClient;
  target: Target;
  kube: KubeClient;
  namespace?: string;
  /** wait for Specman (default true) */
  wait: boolean;
  timeoutMs: number;
  intervalMs?: number;
  /** only log lines newer than this (sinceSeconds) */
  since?: Date;
  log?: (line: string) => void;
}

export async function verifyMigration(o: VerifyOptions): Promise<VerifyResult> {
  const reference = targetReference(o.target);
  const cfg = await o.palette.getScarConfig();
  const endpointOk = cfg.endpoint === SPECMAN_ENDPOINT;
  if (!endpointOk) throw new ScarError(`Palette's SCAR endpoint is ${cfg.endpoint ?? "(unset)"}, not ${SPECMAN_ENDPOINT}`, "run `kubectl scar set-endpoint` (or resume `kubectl scar migrate`)");
  const tags = await repositoryTags(o.target, o.client);
  const tagPresent = tags.includes(o.target.tag);
  if (!tagPresent) throw new ScarError(`tag ${o.target.tag} is not in ${reference.replace(/:[^:/]+$/, "")} (tags: ${tags.join(", ") || "none"})`, "push it with `kubectl scar push` (or resume `kubectl scar migrate`)");
  const pushed = await inspectPushed(o.target, o.client);
  if (pushed && !pushed.orasShape) o.log?.(`warning: ${reference} is not shaped like an ORAS 1.0.0 push; Specman may not read it`);
  const since = () => (o.since ? Math.max(1, Math.ceil((Date.now() - o.since.getTime()) / 1000)) : undefined);
  let specman: SpecmanSync;
  if (o.wait) {
    o.log?.(`waiting up to ${Math.round(o.timeoutMs / 1000)}s for Specman to sync ${o.target.tag} …`);
    specman = await waitForSpecman(o.kube, o.target.tag, { namespace: o.namespace ?? NAMESPACE, timeoutMs: o.timeoutMs, intervalMs: o.intervalMs, sinceSeconds: since });
  } else {
    specman = await specmanSync(o.kube, o.target.tag, { namespace: o.namespace ?? NAMESPACE, sinceSeconds: since() });
  }
  return { endpoint: cfg.endpoint, endpointOk, reference, tags, tagPresent, digest: pushed?.digest, orasShape: pushed?.orasShape, specman, ok: endpointOk && tagPresent && specman.synced };
}
