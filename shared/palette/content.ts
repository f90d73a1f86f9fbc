// Palette content API: what a set of cluster profiles needs in an air gap — the images and charts their packs
// declare with content tags (`pack.content.images` / `pack.content.charts` in each pack's values), as
// `palette content build --profiles` and `palette-edge build --cluster-profile-ids` collect them.
//
// Public API shapes (Palette API v1, docs.spectrocloud.com/api and the generated palette-sdk-typescript types):
//   GET /v1/clusterprofiles/{uid}   headers `ApiKey: <key>`, `ProjectUid: <project uid>`
//     → { metadata: { uid, name }, spec: { version?, published?: { packs: PackRef[] }, draft?: { packs } } }
//   PackRef: { name, tag, version?, type ("spectro"|"helm"|"manifest"|"oci"), layer ("os"|"k8s"|"cni"|"csi"|
//     "addon"|…), registryUid?, packUid?, digest?, values?: string (YAML) }
//   errors: v1Error { code, message, ref } with 401 (bad API key), 403, 404 (no such profile in the project)
// The content tags inside a pack's values:
//   pack:
//     content:
//       images:  [ { image: "registry/repo:tag" } | "registry/repo:tag" ]
//       charts:  [ { repo: "https://charts.example.com" | "oci://reg/path", name, version } ]
import { parse } from "yaml";
import { createTlsFetch, type TlsFetch } from "../runtime/tls-fetch.ts";
import { trustedCAs } from "../runtime/trust.ts";
import { registerSecret } from "../runtime/redact.ts";
import { PaletteAuthError, PaletteConnectionError, PaletteError } from "./client.ts";
import { readFileSync } from "node:fs";

export interface PalettePackRef {
  name: string;
  tag?: string;
  version?: string;
  type?: string;
  layer?: string;
  registryUid?: string;
  packUid?: string;
  digest?: string;
  values?: string;
}

export interface PaletteProfile {
  metadata: { uid: string; name?: string };
  spec?: { version?: string; published?: { packs?: PalettePackRef[] }; draft?: { packs?: PalettePackRef[] } };
}

export interface ContentClientOptions {
  /** https://api.spectrocloud.com (a trailing / or /v1 is dropped) */
  endpoint: string;
  apiKey: string;
  projectUid?: string;
  caFile?: string;
  insecure?: boolean;
  timeoutMs?: number;
}

export class PaletteContentClient {
  readonly base: string;
  #fetch: TlsFetch;
  #key: string;
  constructor(readonly opts: ContentClientOptions) {
    let u: URL;
    try {
      u = new URL(opts.endpoint.replace(/\/+$/, "").replace(/\/v1$/, "").replace(/^(?!https?:\/\/)/, "https://"));
    } catch {
      throw new PaletteError(`invalid Palette endpoint "${opts.endpoint}"`, "give it as https://HOST[:PORT], e.g. https://api.spectrocloud.com");
    }
    this.base = u.origin;
    if (!opts.apiKey) throw new PaletteAuthError("no Palette API key", "pipe it to --api-key-stdin, set PALETTE_API_KEY or use --api-key-file FILE");
    registerSecret(opts.apiKey);
    this.#key = opts.apiKey;
    let ca: string | undefined;
    if (opts.caFile) {
      try {
        ca = readFileSync(opts.caFile, "utf8");
      } catch (e) {
        throw new PaletteError(`cannot read the Palette CA file ${opts.caFile}: ${(e as Error).message}`, "check --palette-ca-file");
      }
    }
    this.#fetch = createTlsFetch({ ...(ca ? { ca: trustedCAs(ca).join("\n") } : {}), insecureSkipVerify: !!opts.insecure });
  }

  private async get<T>(path: string, what: string): Promise<T> {
    const headers: Record<string, string> = { ApiKey: this.#key, Accept: "application/json" };
    if (this.opts.projectUid) headers.ProjectUid = this.opts.projectUid;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), this.opts.timeoutMs ?? 60_000);
    let res: Response;
    try {
      res = await this.#fetch(`${this.base}${path}`, { headers, signal: ac.signal });
    } catch (e) {
      throw new PaletteConnectionError(`cannot reach the Palette API at ${this.base}: ${(e as Error).message}`, "check --palette-endpoint (and --palette-ca-file for a private CA)");
    } finally {
      clearTimeout(timer);
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    const msg = (body as { message?: string } | undefined)?.message;
    if (res.status === 401 || res.status === 403)
      throw new PaletteAuthError(`the Palette API at ${this.base} rejected the API key (HTTP ${res.status}${msg ? `: ${msg}` : ""})`, `check the key (--api-key-stdin, PALETTE_API_KEY, --api-key-file) and that it may read project ${this.opts.projectUid ?? "(none given: --project-id)"}`, res.status);
    if (res.status === 404) throw new PaletteError(`${what} not found at ${this.base}${this.opts.projectUid ? ` in project ${this.opts.projectUid}` : ""}`, "copy the ID from the profile's page URL in Palette (Profiles → the profile: the last URL segment) and check --project-id", 404);
    if (res.status < 200 || res.status > 299) throw new PaletteError(`${what}: the Palette API answered HTTP ${res.status}${msg ? `: ${msg}` : ""}`, undefined, res.status);
    if (body === undefined) throw new PaletteError(`${what}: the Palette API answered something that is not JSON`);
    return body as T;
  }

  /** GET /v1/clusterprofiles/{uid} */
  async getClusterProfile(uid: string): Promise<PaletteProfile> {
    if (!/^[A-Za-z0-9_-]+$/.test(uid)) throw new PaletteError(`cluster profile ID "${uid}" is not an ID`, "copy it from the profile's page URL in Palette (the last URL segment)");
    const p = await this.get<PaletteProfile>(`/v1/clusterprofiles/${encodeURIComponent(uid)}`, `cluster profile ${uid}`);
    if (!p?.metadata?.uid) throw new PaletteError(`cluster profile ${uid}: unexpected answer from the Palette API (no metadata.uid)`);
    return p;
  }
}

export interface ContentChart {
  repo: string;
  name: string;
  version: string;
}

export interface PackContent {
  profile: { uid: string; name: string };
  pack: PalettePackRef;
  images: string[];
  charts: ContentChart[];
  /** the pack has a pack.content section (content tags) */
  tagged: boolean;
  warnings: string[];
}

/** The packs of a profile: the published version, else the draft. */
export function profilePacks(p: PaletteProfile): PalettePackRef[] {
  return p.spec?.published?.packs ?? p.spec?.draft?.packs ?? [];
}

/** Read the content tags of one pack's values. Unresolved `{{ … }}` macros are warned about and skipped. */
export function packContent(profile: PaletteProfile, pack: PalettePackRef): PackContent {
  const where = `profile ${profile.metadata.name ?? profile.metadata.uid} pack ${pack.name}${pack.tag ? ` ${pack.tag}` : ""}`;
  const out: PackContent = { profile: { uid: profile.metadata.uid, name: profile.metadata.name ?? profile.metadata.uid }, pack, images: [], charts: [], tagged: false, warnings: [] };
  let values: any;
  try {
    values = pack.values ? parse(pack.values) : undefined;
  } catch (e) {
    out.warnings.push(`${where}: values are not valid YAML (${(e as Error).message.split("\n")[0]}); its content tags cannot be read`);
    return out;
  }
  const content = values?.pack?.content;
  if (!content || typeof content !== "object") return out;
  out.tagged = true;
  for (const [i, x] of (Array.isArray(content.images) ? content.images : []).entries()) {
    const ref = typeof x === "string" ? x : x?.image;
    if (typeof ref !== "string" || !ref.trim()) out.warnings.push(`${where}: pack.content.images[${i}] has no image`);
    else if (ref.includes("{{")) out.warnings.push(`${where}: pack.content.images[${i}] "${ref}" uses a Palette macro that only resolves on a cluster; skipped (add the resolved image with --image)`);
    else out.images.push(ref.trim());
  }
  for (const [i, c] of (Array.isArray(content.charts) ? content.charts : []).entries()) {
    const repo = c?.repo ?? c?.repoURL ?? c?.url;
    if (typeof repo !== "string" || typeof c?.name !== "string" || c?.version === undefined) out.warnings.push(`${where}: pack.content.charts[${i}] needs repo, name and version`);
    else if ([repo, c.name, String(c.version)].some((s) => s.includes("{{"))) out.warnings.push(`${where}: pack.content.charts[${i}] uses a Palette macro; skipped`);
    else out.charts.push({ repo, name: c.name, version: String(c.version) });
  }
  return out;
}
