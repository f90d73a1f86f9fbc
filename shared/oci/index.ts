// Public surface of the OCI core (re-exports only).
export * from "./types.ts";
export * from "./media-types.ts";
export * from "./errors.ts";
export * from "./digest.ts";
export * from "./reference.ts";
export * from "./platform.ts";
export type { Store, Plan } from "./store.ts";
export { RegistryRepository, catalog, referrersTag } from "./registry.ts";
export { OciLayoutStore } from "./layout.ts";
export { OciArchiveReader, OciArchiveWriter } from "./archive.ts";
export { CopyEngine, copy, type CopyJob, type CopyOptions, type CopyResult, type CopyEvent } from "./copy.ts";
export { createClient, openSource, openTarget, type RegistryOptions } from "./client.ts";
export { pushArtifact, pushArtifactTo, type ArtifactSpec, type ArtifactLayer } from "./artifact.ts";
export { AuthClient, parseChallenge } from "./transport/auth.ts";
export * from "./transport/credentials.ts";
export { HttpTransport } from "./transport/http.ts";
