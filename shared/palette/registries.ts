// Palette OCI pack registries (the "Contains Spectro Manifests" box of Administration → Pack Registries → Edit).
// Kept apart from client.ts: only the calls the SCAR migration needs, on top of PaletteClient.request().
//
// API (Palette APIs 4.7/4.8 OpenAPI, as published in palette-sdk-typescript / palette-sdk-go, and the routes the
// terraform provider's mock serves):
//   GET /v1/registries/oci/summary          → { items: [{ metadata: {uid,name}, spec: {endpoint, registryType
//                                              ("basic"|"ecr"), containsSpectroManifest, scope, …} }] }
//   GET /v1/registries/oci/{uid}/basic|ecr  → { metadata, spec: { endpoint, baseContentPath, auth, containsSpectroManifest, … } }
//   PUT /v1/registries/oci/{uid}/basic|ecr  → 204 (the whole object: GET, change one field, PUT back)
import { expectStatus, PaletteError, type PaletteClient } from "./client.ts";
import { registerSecret } from "../runtime/redact.ts";

export const OCI_REGISTRIES_SUMMARY_PATH = "/v1/registries/oci/summary";

export interface OciRegistrySummary {
  uid: string;
  name: string;
  /** "basic" | "ecr" (registryType) */
  kind: string;
  endpoint?: string;
  scope?: string;
  containsSpectroManifest?: boolean;
}

export interface OciRegistryObject {
  metadata?: { uid?: string; name?: string; [k: string]: unknown };
  spec?: { endpoint?: string; baseContentPath?: string; containsSpectroManifest?: boolean; auth?: { type?: string; username?: string; password?: string; [k: string]: unknown }; [k: string]: unknown };
  [k: string]: unknown;
}

export function ociRegistryPath(uid: string, kind: string): string {
  return `/v1/registries/oci/${encodeURIComponent(uid)}/${kind === "ecr" ? "ecr" : "basic"}`;
}

function json<T>(body: string, what: string, url: string): T {
  try {
    return JSON.parse(body) as T;
  } catch {
    throw new PaletteError(`${what} at ${url} returned no JSON`, "is --palette the Palette API address?");
  }
}

/** GET /v1/registries/oci/summary */
export async function listOciRegistries(p: PaletteClient): Promise<OciRegistrySummary[]> {
  const res = await p.request("GET", OCI_REGISTRIES_SUMMARY_PATH);
  expectStatus(res, [200], "GET", OCI_REGISTRIES_SUMMARY_PATH, p.url);
  const j = json<{ items?: { metadata?: { uid?: string; name?: string }; spec?: { endpoint?: string; registryType?: string; scope?: string; containsSpectroManifest?: boolean } }[] }>(res.body, `GET ${OCI_REGISTRIES_SUMMARY_PATH}`, p.url);
  return (j.items ?? []).filter((i) => i.metadata?.uid).map((i) => ({
    uid: i.metadata!.uid!,
    name: i.metadata?.name ?? "",
    kind: i.spec?.registryType ?? "basic",
    endpoint: i.spec?.endpoint,
    scope: i.spec?.scope,
    containsSpectroManifest: i.spec?.containsSpectroManifest,
  }));
}

/** GET /v1/registries/oci/{uid}/{basic|ecr} */
export async function getOciRegistry(p: PaletteClient, uid: string, kind: string): Promise<OciRegistryObject> {
  const path = ociRegistryPath(uid, kind);
  const res = await p.request("GET", path);
  expectStatus(res, [200], "GET", path, p.url);
  const o = json<OciRegistryObject>(res.body, `GET ${path}`, p.url);
  const pw = o.spec?.auth?.password;
  if (typeof pw === "string" && pw) registerSecret(pw);
  return o;
}

/** PUT /v1/registries/oci/{uid}/{basic|ecr} (Palette answers 204) */
export async function putOciRegistry(p: PaletteClient, uid: string, kind: string, obj: OciRegistryObject): Promise<void> {
  const path = ociRegistryPath(uid, kind);
  const res = await p.request("PUT", path, obj);
  expectStatus(res, [204, 200], "PUT", path, p.url);
}
