// Steps 6–8 of the document: tick "Contains Spectro Manifests" on the OCI pack registry that holds the manifests
// (system console → Administration → Pack Registries → Edit). Done through the Palette API when it is safe:
//   GET /v1/registries/oci/summary → the registry whose endpoint is --registry (and base content path --base-path)
//   GET /v1/registries/oci/{uid}/{basic|ecr} → spec.containsSpectroManifest already true? done
//   PUT the same object with containsSpectroManifest: true (204), GET again to confirm.
// When it is not (the API is refused, no or several matching registries, or Palette masks the registry password
// so a PUT of what GET returned would erase it), the step stops with the exact console instruction; after the
// user ticked the box, the same command resumes (the summary then shows it ticked, or --spectro-manifests-set).
import { PaletteError, type PaletteClient } from "../../../shared/palette/client.ts";
import { getOciRegistry, listOciRegistries, putOciRegistry, type OciRegistrySummary } from "../../../shared/palette/registries.ts";
import type { Target } from "./artifact.ts";
import { manifestRepository, spectroManifestsInstruction } from "./constants.ts";
import { ScarError } from "./errors.ts";

export interface ManifestsFlagResult {
  /** set: ticked now through the API; already: was ticked; planned: dry run would tick it; manual: the user has to */
  status: "set" | "already" | "planned" | "manual";
  uid?: string;
  name?: string;
  kind?: string;
  /** why it has to be done in the console (status manual) */
  reason?: string;
  /** the instruction for the console (status manual) */
  instruction?: string;
}

function hostOf(endpoint: string | undefined): string {
  return (endpoint ?? "").trim().replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "").replace(/:443$/, "").toLowerCase();
}

const trimPath = (p: string | undefined) => (p ?? "").replace(/^\/+|\/+$/g, "");

/** Find the registry, tick the box if needed. Never throws for "cannot do it through the API": returns status manual. */
export async function markSpectroManifests(palette: PaletteClient, t: Target, opts: { dryRun?: boolean; registryName?: string } = {}): Promise<ManifestsFlagResult> {
  const want = hostOf(t.registry);
  const label = opts.registryName ? `"${opts.registryName}"` : t.registry;
  const manual = (reason: string, r?: Partial<ManifestsFlagResult>): ManifestsFlagResult => ({ ...r, status: "manual", reason, instruction: spectroManifestsInstruction(label) });
  let list: OciRegistrySummary[];
  try {
    list = await listOciRegistries(palette);
  } catch (e) {
    if (e instanceof PaletteError && e.status && [403, 404, 405, 501].includes(e.status)) return manual(`Palette did not list its OCI registries (${e.message})`);
    throw e;
  }
  let cands = opts.registryName ? list.filter((r) => r.name === opts.registryName) : list.filter((r) => hostOf(r.endpoint) === want);
  if (!cands.length) return manual(opts.registryName ? `Palette has no OCI registry named "${opts.registryName}"` : `Palette has no OCI pack registry with endpoint ${t.registry} (registries: ${list.map((r) => `${r.name} ${r.endpoint ?? ""}`.trim()).join(", ") || "none"})`);
  const full = [];
  for (const c of cands) full.push({ c, o: await getOciRegistry(palette, c.uid, c.kind) });
  if (full.length > 1) {
    const byPath = full.filter((f) => trimPath(f.o.spec?.baseContentPath) === trimPath(t.basePath));
    if (byPath.length === 1) full.splice(0, full.length, byPath[0]!);
  }
  if (full.length > 1) return manual(`several OCI registries in Palette use ${t.registry}: ${full.map((f) => f.c.name).join(", ")}; name the one with --pack-registry NAME`);
  const { c, o } = full[0]!;
  const ids = { uid: c.uid, name: c.name, kind: c.kind };
  if (trimPath(o.spec?.baseContentPath) !== trimPath(t.basePath)) {
    throw new ScarError(`Palette's OCI registry "${c.name}" has base content path "${o.spec?.baseContentPath ?? ""}", but the manifests were pushed below "${t.basePath}" (${manifestRepository(t.basePath)})`, `give --base-path ${trimPath(o.spec?.baseContentPath) || '""'} so Specman finds them`);
  }
  if (o.spec?.containsSpectroManifest === true) return { ...ids, status: "already" };
  const auth = o.spec?.auth;
  if (auth && auth.username && !auth.password && (auth.type ?? "basic") === "basic") {
    return manual(`Palette did not return the password of registry "${c.name}", so saving the registry through the API would erase it`, ids);
  }
  const creds = o.spec?.credentials as { credentialType?: string; accessKey?: string; secretKey?: string } | undefined;
  if (c.kind === "ecr" && creds?.accessKey && !creds.secretKey) {
    return manual(`Palette did not return the secret key of ECR registry "${c.name}", so saving the registry through the API would erase it`, ids);
  }
  if (opts.dryRun) return { ...ids, status: "planned" };
  if (!o.spec || !o.metadata) return manual(`GET of registry "${c.name}" returned no spec`, ids);
  try {
    await putOciRegistry(palette, c.uid, c.kind, { ...o, spec: { ...o.spec, containsSpectroManifest: true } });
  } catch (e) {
    if (e instanceof PaletteError && e.status && [400, 403, 404, 405, 422, 501].includes(e.status)) return manual(`Palette refused the registry update (${e.message})`, ids);
    throw e;
  }
  const after = await getOciRegistry(palette, c.uid, c.kind);
  if (after.spec?.containsSpectroManifest !== true) return manual(`Palette accepted the update of registry "${c.name}" but still reports "Contains Spectro Manifests" unticked`, ids);
  return { ...ids, status: "set" };
}
