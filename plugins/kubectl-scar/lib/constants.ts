// Fixed names of the SCAR → OCI migration (Palette docs "Migrate Customer-Managed SCAR to OCI Registry").
export const NAMESPACE = "hubble-system";
export const REGISTRY_SECRET = "spectro-manifest-registry-secrets";
export const SPECMAN_ENDPOINT = "https://specman-service.hubble-system.svc.cluster.local:8443";
export const SYNC_JOBS = ["syncCloudInstanceTypesData", "syncCloudStorageTypesData"] as const;
export const DEFAULT_BASE_PATH = "spectro-packs";
export const DEFAULT_TAG = "0.0.0";
/** repository below the base path that Specman reads */
export const MANIFEST_REPO = "spectro-manifests/manifest";
export const ARCHIVE_NAME = "manifests.tgz";
export const SPECMAN_POD_PREFIX = "specman-";

/** <base-path>/spectro-manifests/manifest (base path may be empty) */
export function manifestRepository(basePath: string): string {
  const b = basePath.replace(/^\/+|\/+$/g, "");
  return b ? `${b}/${MANIFEST_REPO}` : MANIFEST_REPO;
}
/** deadline of each Palette, registry and Kubernetes API request unless --request-timeout says otherwise */
export const DEFAULT_REQUEST_TIMEOUT = "60s";

/** The documented UI steps 6–8 (system console), for when they cannot be done through the API. */
export function spectroManifestsInstruction(registry: string): string {
  return `in the Palette system console (https://<palette>/system): Administration → Pack Registries → ⋮ at the end of the OCI registry row for ${registry} → Edit → tick "Contains Spectro Manifests" → Validate → Confirm`;
}
