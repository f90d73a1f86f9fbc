// `kubectl scar migrate`, in the document's order: preflight (nothing changes) → plan → delete the registry secret
// (a copy is kept in the state for rollback) → archive → push (ORAS 1.0.0 shape) → tick "Contains Spectro
// Manifests" on the pack registry → wait until Specman persisted the tag → only then record the SCAR config, PUT
// the Specman endpoint, run the sync jobs and verify. If Specman does not persist the tag in time, the run stops
// with Palette's SCAR config unchanged.
// Each step is idempotent and recorded in the state file after it succeeds, so a re-run after a failure
// resumes where it stopped and a re-run after success changes nothing.
import { realpath } from "node:fs/promises";
import { basename, resolve, sep } from "node:path";
import type { KubeClient } from "../../../shared/kube/index.ts";
import { createClient, type RegistryOptions } from "../../../shared/oci/client.ts";
import type { AuthClient } from "../../../shared/oci/transport/auth.ts";
import type { PaletteClient, ScarSpec } from "../../../shared/palette/client.ts";
import { describeHolder, holderState, readLock } from "./lock.ts";
import { inspectPushed, probePush, pushManifests, targetReference, type Target } from "./artifact.ts";
import { manifestRepository, NAMESPACE, REGISTRY_SECRET, SPECMAN_ENDPOINT, SYNC_JOBS } from "./constants.ts";
import { ScarError } from "./errors.ts";
import { checkManifestsDir, fileDigest, packageManifests, treeFingerprint } from "./package.ts";
import { markSpectroManifests, type ManifestsFlagResult } from "./manifests-flag.ts";
import { specmanPods, waitForSpecman, specmanSync } from "./specman.ts";
import { isDone, markDone, registerSecretData, secretCopy, STEPS, type MigrationState, type StateStore, type StepName } from "./state.ts";
import { verifyMigration, type VerifyResult } from "./verify.ts";

export type StepStatus = "done" | "unchanged" | "planned" | "failed" | "pending" | "not-run";

export interface StepReport {
  step: StepName;
  status: StepStatus;
  detail: string;
}

export interface MigrateOptions {
  dir: string;
  target: Target;
  registry: RegistryOptions;
  palette: PaletteClient;
  kube: KubeClient;
  namespace?: string;
  state: StateStore;
  dryRun?: boolean;
  /** wait for Specman in the verify step (default true) */
  wait?: boolean;
  timeoutMs?: number;
  /** pause between the endpoint PUT and the sync jobs (the documented script sleeps 60 s) */
  syncDelayMs?: number;
  pollIntervalMs?: number;
  /** progress lines (stderr) */
  log?: (line: string) => void;
  /** AuthClient to reuse (tests) */
  client?: AuthClient;
  /** name of Palette's OCI pack registry to tick (default: the one whose endpoint is the target registry) */
  packRegistry?: string;
  /** the user ticked "Contains Spectro Manifests" in the console: do not look for the box through the API */
  manifestsSet?: boolean;
  /** remove a stale lock (its holder no longer runs) before starting */
  breakLock?: boolean;
}

export interface MigrateResult {
  stateFile: string;
  reference: string;
  dryRun: boolean;
  steps: StepReport[];
  digest?: string;
  verify?: VerifyResult;
}

/** A step failed; `done` lists what is complete (recorded in the state file). */
export class MigrationError extends ScarError {
  override name = "MigrationError";
  constructor(
    public step: StepName,
    public done: StepName[],
    public override cause: unknown,
    public result: MigrateResult,
    /** the deleted registry secret is kept in the state file (rollback recreates it) */
    public secretSaved = false,
  ) {
    super(`migration stopped at step "${step}": ${(cause as Error)?.message ?? String(cause)}`, (cause as { hint?: string })?.hint);
  }
}

interface Facts {
  namespaceOk: boolean;
  secretPresent: boolean;
  specmanPods: number;
  files: number;
  currentScar?: ScarSpec;
  pushedLayer?: string;
  manifestsFlag?: ManifestsFlagResult;
}

/** Run every preflight check (no changes anywhere) and collect all problems at once. */
export async function preflight(o: MigrateOptions, client: AuthClient, state: MigrationState): Promise<Facts> {
  const problems: string[] = [];
  const ns = o.namespace ?? NAMESPACE;
  const facts: Facts = { namespaceOk: false, secretPresent: false, specmanPods: 0, files: 0 };
  const note = (what: string, e: unknown) => problems.push(`${what}: ${(e as Error)?.message ?? e}${(e as { hint?: string })?.hint ? ` (${(e as { hint?: string }).hint})` : ""}`);

  // state dir must not be served by the SCAR file server
  try {
    const root = await realpath(o.dir);
    const st = resolve(o.state.dir);
    if (st === root || st.startsWith(root + sep)) problems.push(`state: --state-dir ${o.state.dir} is inside the manifests directory (the file server would serve it); choose another --state-dir`);
  } catch {}
  // 1. cluster
  try {
    const nsObj = await o.kube.tryGet("v1", "Namespace", ns);
    if (!nsObj) problems.push(`cluster: namespace ${ns} does not exist on ${o.kube.server} (is this the Palette management cluster? check --context)`);
    else {
      facts.namespaceOk = true;
      facts.secretPresent = !!(await o.kube.tryGet("v1", "Secret", REGISTRY_SECRET, { namespace: ns }));
      // may we delete it? (server-side dry run: nothing changes)
      await o.kube.delete("v1", "Secret", REGISTRY_SECRET, { namespace: ns, dryRun: true, ignoreNotFound: true });
      facts.specmanPods = (await specmanPods(o.kube, ns)).length;
      if (!facts.specmanPods) o.log?.(`warning: no specman-* pods in ${ns}: Specman ships with Palette 4.5.15 and later; verification will wait for it`);
    }
  } catch (e) {
    note("cluster", e);
  }
  // 2. manifests dir
  try {
    facts.files = (await checkManifestsDir(o.dir)).files;
  } catch (e) {
    note("manifests", e);
  }
  // 3. registry: reachable, credentials valid, push permission
  try {
    await probePush(o.target, client);
    facts.pushedLayer = (await inspectPushed(o.target, client).catch(() => undefined))?.layerDigest;
  } catch (e) {
    note(`registry ${o.target.registry}`, e);
  }
  // 4. Palette: reachable, login works, current SCAR config readable
  try {
    facts.currentScar = await o.palette.check();
    if (!o.manifestsSet && !isDone(state, "spectro-manifests")) facts.manifestsFlag = await markSpectroManifests(o.palette, o.target, { dryRun: true, registryName: o.packRegistry });
  } catch (e) {
    note(`palette ${o.palette.url}`, e);
  }
  if (problems.length) throw new ScarError(`preflight failed (nothing was changed): ${problems.join("; ")}`);
  return facts;
}

function plan(o: MigrateOptions, s: MigrationState, f: Facts, archive: string): StepReport[] {
  const ns = o.namespace ?? NAMESPACE;
  const ref = targetReference(o.target);
  const prev = s.previousScar;
  const cur = f.currentScar?.endpoint ?? "(unset)";
  const p = (step: StepName, done: boolean, detail: string): StepReport => ({ step, status: done ? "unchanged" : "planned", detail });
  const jobsLeft = SYNC_JOBS.filter((j) => !s.jobs?.[j]);
  return [
    { step: "preflight", status: "done", detail: `cluster ok (${plural(f.specmanPods, "specman pod")}), ${plural(f.files, "file")}, push to ${o.target.registry} allowed, Palette login ok` },
    p("delete-secret", isDone(s, "delete-secret"), isDone(s, "delete-secret") ? `already deleted (${s.steps["delete-secret"]!.at})` : f.secretPresent ? `delete secret ${ns}/${REGISTRY_SECRET}` : `secret ${ns}/${REGISTRY_SECRET} is absent (nothing to delete)`),
    p("package", false, `archive ${o.dir} (${plural(f.files, "file")}) into ${archive} (reused when the tree is unchanged)`),
    p("push", false, `push ${basename(archive)} to ${ref} as ORAS 1.0.0 would (skipped when the tag already holds the same archive${f.pushedLayer ? `; the tag now holds archive ${f.pushedLayer.slice(0, 19)}` : ""})`),
    p(
      "spectro-manifests",
      isDone(s, "spectro-manifests") || f.manifestsFlag?.status === "already",
      isDone(s, "spectro-manifests") || o.manifestsSet
        ? `"Contains Spectro Manifests" is ticked${s.spectroManifests?.name ? ` on registry "${s.spectroManifests.name}"` : ""}`
        : f.manifestsFlag?.status === "already"
          ? `"Contains Spectro Manifests" is already ticked on registry "${f.manifestsFlag.name}"`
          : f.manifestsFlag?.status === "planned"
            ? `tick "Contains Spectro Manifests" on registry "${f.manifestsFlag.name}" (PUT /v1/registries/oci/${f.manifestsFlag.uid}/${f.manifestsFlag.kind})`
            : `stop here for you to tick "Contains Spectro Manifests" in the system console (${f.manifestsFlag?.reason ?? "not possible through the API"})`,
    ),
    p("specman-sync", false, o.wait === false ? `check once that every specman pod persisted ${o.target.tag} (Palette stays unchanged if not)` : `wait up to ${Math.round((o.timeoutMs ?? 600_000) / 1000)}s for every specman pod to persist ${o.target.tag} (Palette stays unchanged if not)`),
    p("record-config", !!prev, prev ? `previous SCAR config saved earlier (endpoint ${prev.endpoint ?? "(unset)"})` : `save the current SCAR config (endpoint ${cur}) to ${o.state.file}`),
    p("set-endpoint", f.currentScar?.endpoint === SPECMAN_ENDPOINT, f.currentScar?.endpoint === SPECMAN_ENDPOINT ? `SCAR endpoint is already ${SPECMAN_ENDPOINT}` : `PUT /v1/system/config/scar endpoint ${SPECMAN_ENDPOINT} (was ${cur})`),
    p("sync-jobs", jobsLeft.length === 0, jobsLeft.length ? `run ${jobsLeft.join(", ")}` : "both sync jobs already ran"),
    p("verify", false, "check the endpoint (GET /v1/system/config/scar), the tag and Specman's logs"),
  ];
}

export function archivePath(store: StateStore): string {
  return store.file.replace(/\.json$/, "") + ".manifests.tgz";
}

/** One operation per Palette: everything but a dry run holds the state's lock (read, steps, writes). */
export async function migrate(o: MigrateOptions): Promise<MigrateResult> {
  if (o.dryRun) {
    const holder = await readLock(`${o.state.file}.lock`).catch(() => undefined);
    if (holder) o.log?.(`note: ${describeHolder(holder)} holds the lock on this Palette's state (${holderState(holder)}); the plan may change when it ends`);
    return migrateLocked(o);
  }
  return o.state.withLock("kubectl scar migrate", { breakLock: o.breakLock, log: o.log }, () => migrateLocked(o));
}

async function migrateLocked(o: MigrateOptions): Promise<MigrateResult> {
  const log = o.log ?? (() => {});
  const client = o.client ?? createClient(o.registry);
  const ns = o.namespace ?? NAMESPACE;
  const state = await o.state.load(o.palette.url);
  const reference = targetReference(o.target);
  const archive = archivePath(o.state);
  const result: MigrateResult = { stateFile: o.state.file, reference, dryRun: !!o.dryRun, steps: [] };
  if (state.rolledBack && !o.dryRun) log(`note: this migration was rolled back at ${state.rolledBack}; migrating again`);

  const facts = await preflight(o, client, state);
  const planned = plan(o, state, facts, archive);
  log(o.dryRun ? "plan (dry run):" : "plan:");
  for (const s of planned) log(`${s.status === "unchanged" ? "  ok   " : s.status === "done" ? "  ok   " : "  plan "} ${s.step.padEnd(17)} ${s.detail}`);
  if (o.dryRun) {
    result.steps = planned;
    return result;
  }
  const report = new Map<StepName, StepReport>(planned.map((s) => [s.step, { ...s, status: s.step === "preflight" ? "done" : "not-run" }]));
  log("run:");
  const set = (step: StepName, status: StepStatus, detail: string) => {
    report.set(step, { step, status, detail });
    log(`${status === "failed" ? "  FAIL " : status === "pending" ? "  wait " : "  ok   "} ${step.padEnd(17)} ${detail}`);
  };
  const save = () => o.state.save(state);
  state.palette = o.palette.url;
  state.registry = o.target.registry;
  state.reference = reference;
  state.manifestsDir = resolve(o.dir);
  delete state.rolledBack;
  markDone(state, "preflight");
  await save();

  let current: StepName = "delete-secret";
  let endpointPutAt: number | undefined;
  try {
    // 2. delete the registry secret (absent is fine)
    current = "delete-secret";
    if (isDone(state, "delete-secret")) set(current, "unchanged", `already deleted at ${state.steps["delete-secret"]!.at}`);
    else {
      // keep a copy first (state file, mode 0600): rollback recreates it
      const existing = await o.kube.tryGet("v1", "Secret", REGISTRY_SECRET, { namespace: ns });
      if (existing) {
        registerSecretData(existing);
        state.deletedSecret = secretCopy(existing);
        await save();
      }
      const deleted = await o.kube.delete("v1", "Secret", REGISTRY_SECRET, { namespace: ns, ignoreNotFound: true });
      markDone(state, current, { deleted });
      await save();
      set(current, "done", deleted ? `deleted secret ${ns}/${REGISTRY_SECRET}` : `secret ${ns}/${REGISTRY_SECRET} was absent`);
    }

    // 3. archive
    current = "package";
    const fp = await treeFingerprint(o.dir);
    let reuse = false;
    if (state.archive && state.archive.fingerprint === fp && state.archive.file === archive) {
      const d = await fileDigest(archive).catch(() => undefined);
      reuse = d?.digest === state.archive.digest;
    }
    if (reuse) set(current, "unchanged", `${archive} is up to date (${state.archive!.digest.slice(0, 19)})`);
    else {
      const pk = await packageManifests(o.dir, archive);
      for (const sk of pk.skipped) log(`warning: skipped ${sk} (not a regular file, directory or symbolic link)`);
      for (const l of pk.outsideLinks) log(`warning: symbolic link ${l} points outside ${o.dir}: stored as a link, its target is not in the archive`);
      state.archive = { file: pk.file, digest: pk.digest, size: pk.size, fingerprint: pk.fingerprint };
      markDone(state, current, { digest: pk.digest });
      await save();
      set(current, "done", `${plural(pk.files, "file")} → ${pk.file} (${pk.size} bytes, ${pk.digest.slice(0, 19)})`);
    }

    // 4. push
    current = "push";
    const pushed = await pushManifests(archive, o.target, { registry: o.registry, client });
    // `at` bounds the Specman log lines that count: this push's time; kept from an earlier run; unknown (all lines)
    // when the registry already held this archive before this state knew of it (Specman may have persisted it long ago)
    state.pushed = { reference, digest: pushed.digest, layerDigest: pushed.layerDigest, created: pushed.created, at: pushed.pushed ? new Date().toISOString() : state.pushed?.reference === reference ? state.pushed.at : undefined };
    result.digest = pushed.digest;
    if (pushed.pushed) {
      // new content: Palette has to sync again
      delete state.steps["specman-sync"];
      delete state.steps["sync-jobs"];
      delete state.steps.verify;
      delete state.jobs;
    }
    markDone(state, current, { digest: pushed.digest });
    await save();
    set(current, pushed.pushed ? "done" : "unchanged", pushed.pushed ? `${reference} → ${pushed.digest}` : `${reference} already holds this archive (${pushed.digest.slice(0, 19)})`);

    // 5. tick "Contains Spectro Manifests" on the pack registry (document steps 6–8)
    current = "spectro-manifests";
    if (isDone(state, current)) set(current, "unchanged", `"Contains Spectro Manifests" is ticked${state.spectroManifests?.name ? ` on registry "${state.spectroManifests.name}"` : ""}`);
    else if (o.manifestsSet) {
      state.spectroManifests = { via: "manual", name: o.packRegistry };
      markDone(state, current, { via: "manual" });
      await save();
      set(current, "done", `ticked in the system console (--spectro-manifests-set)`);
    } else {
      const r = await markSpectroManifests(o.palette, o.target, { registryName: o.packRegistry });
      if (r.status === "manual") {
        throw new ScarError(`"Contains Spectro Manifests" could not be ticked through the Palette API: ${r.reason}`, `${r.instruction}; then run the same command again to resume (add --spectro-manifests-set if Palette cannot show the box through its API). Palette's SCAR config was not changed`);
      }
      state.spectroManifests = { uid: r.uid, name: r.name, kind: r.kind, via: r.status === "set" ? "api" : "already", previous: r.status === "set" ? false : true };
      markDone(state, current, { via: state.spectroManifests.via });
      await save();
      set(current, r.status === "set" ? "done" : "unchanged", r.status === "set" ? `ticked "Contains Spectro Manifests" on registry "${r.name}" (PUT /v1/registries/oci/${r.uid}/${r.kind})` : `"Contains Spectro Manifests" was already ticked on registry "${r.name}"`);
    }

    // 6. Specman persisted the tag (document step 9) — BEFORE Palette is pointed at it
    current = "specman-sync";
    // Specman may sync on its own once the tag is there: only log lines since the push count (a minute of slack)
    const since = () => (state.pushed?.at ? Math.max(1, Math.ceil((Date.now() - Date.parse(state.pushed.at) + 60_000) / 1000)) : undefined);
    if (isDone(state, current)) set(current, "unchanged", `Specman persisted ${o.target.tag} at ${state.steps[current]!.at}`);
    else {
      const hint = `Palette's SCAR config was NOT changed. Check: \`kubectl logs -n ${ns} specman-0\` (errors pulling ${reference}?); that Palette's OCI registry for ${o.target.registry} has "Contains Spectro Manifests" ticked and base content path "${o.target.basePath}" (Specman reads ${manifestRepository(o.target.basePath)}); that Specman can reach and log in to ${o.target.registry}. Then run the same command again (it resumes here), with a longer --timeout if Specman is just slow`;
      let sync;
      if (o.wait === false) {
        sync = await specmanSync(o.kube, o.target.tag, { namespace: ns, sinceSeconds: since() });
        if (!sync.synced) throw new ScarError(`Specman has not persisted ${o.target.tag} yet (--no-wait: checked once): ${sync.pods.map((p) => `${p.pod}${p.lastError ? ` (last error: ${p.lastError})` : ""}`).join(", ") || `no specman pods in ${ns}`}`, hint);
      } else {
        log(`  wait  ${"specman-sync".padEnd(17)} up to ${Math.round((o.timeoutMs ?? 600_000) / 1000)}s for Specman to persist ${o.target.tag} …`);
        sync = await waitForSpecman(o.kube, o.target.tag, { namespace: ns, timeoutMs: o.timeoutMs ?? 600_000, intervalMs: o.pollIntervalMs, sinceSeconds: since, hint });
      }
      markDone(state, current, { pods: sync.pods.map((p) => p.pod) });
      await save();
      set(current, "done", `persisted ${o.target.tag}: ${sync.pods.map((p) => p.pod).join(", ")}`);
    }

    // 7. record the current SCAR config (once: never overwrite what rollback restores)
    current = "record-config";
    if (state.previousScar) set(current, "unchanged", `previous config kept in ${o.state.file}`);
    else {
      const cur = await o.palette.getScarConfig();
      if (cur.endpoint === SPECMAN_ENDPOINT) log(`warning: Palette already points at Specman; rollback would restore that same endpoint`);
      state.previousScar = cur;
      markDone(state, current);
      await save();
      set(current, "done", `saved endpoint ${cur.endpoint ?? "(unset)"} to ${o.state.file}`);
    }

    // 8. point Palette at Specman (document steps 10–12)
    current = "set-endpoint";
    const now = await o.palette.getScarConfig();
    if (now.endpoint === SPECMAN_ENDPOINT && !now.username && !now.password) {
      // a run killed after its PUT: the sync jobs still wait the full delay, counted from the recorded PUT, or
      // from now when the PUT's time was never recorded (killed between the PUT and the state write)
      const putAt = Date.parse(String(state.steps[current]?.putAt ?? ""));
      endpointPutAt = Number.isFinite(putAt) ? putAt : Date.now();
      markDone(state, current);
      await save();
      set(current, "unchanged", `endpoint is already ${SPECMAN_ENDPOINT}`);
    } else {
      await o.palette.putScarConfig({ endpoint: SPECMAN_ENDPOINT, password: "", username: "" });
      endpointPutAt = Date.now();
      markDone(state, current, { putAt: new Date(endpointPutAt).toISOString() });
      await save();
      set(current, "done", `endpoint set to ${SPECMAN_ENDPOINT} (204)`);
    }

    // 9. sync jobs
    current = "sync-jobs";
    state.jobs ??= {};
    const ran: string[] = [];
    for (const job of SYNC_JOBS) {
      if (state.jobs[job]) continue;
      if (endpointPutAt && o.syncDelayMs && !ran.length) {
        const wait = endpointPutAt + o.syncDelayMs - Date.now();
        if (wait > 0) {
          log(`waiting ${Math.round(wait / 1000)}s for Palette to take the new endpoint …`);
          await new Promise((r) => setTimeout(r, wait));
        }
      }
      await o.palette.runJob(job);
      state.jobs[job] = new Date().toISOString();
      ran.push(job);
      await save();
    }
    markDone(state, current);
    await save();
    set(current, ran.length ? "done" : "unchanged", ran.length ? `ran ${ran.join(", ")} (204)` : "both sync jobs already ran");

    // 10. verify (the document's validation: GET /v1/system/config/scar; plus the tag and Specman's logs)
    current = "verify";
    const sinceDate = state.pushed?.at ? new Date(Date.parse(state.pushed.at) - 60_000) : undefined;
    const v = await verifyMigration({ palette: o.palette, client, target: o.target, kube: o.kube, namespace: ns, wait: o.wait !== false, timeoutMs: o.timeoutMs ?? 600_000, intervalMs: o.pollIntervalMs, since: sinceDate, log });
    result.verify = v;
    if (v.ok) {
      markDone(state, current);
      await save();
      set(current, "done", `endpoint ok, ${o.target.tag} in the registry, persisted by ${v.specman.pods.map((p) => p.pod).join(", ")}`);
    } else {
      const waiting = v.specman.pods.filter((p) => !p.persisted).map((p) => p.pod);
      set(current, "pending", `endpoint ok, ${o.target.tag} in the registry; Specman has not persisted it yet${waiting.length ? ` (${waiting.join(", ")})` : " (no specman pods)"}; check later with \`kubectl scar verify\``);
    }
  } catch (e) {
    set(current, "failed", (e as Error)?.message ?? String(e));
    result.steps = STEPS.map((s) => report.get(s)!);
    const done = STEPS.filter((s) => isDone(state, s));
    throw new MigrationError(current, done, e, result, !!state.deletedSecret && isDone(state, "delete-secret"));
  }
  result.steps = STEPS.map((s) => report.get(s)!);
  return result;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
