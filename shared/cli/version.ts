// Version and commit, injected at build time with --define (see scripts/); "dev" when run from source.
declare const KUBE_AIRGAP_VERSION: string | undefined;
declare const KUBE_AIRGAP_COMMIT: string | undefined;

export const version: string = typeof KUBE_AIRGAP_VERSION === "string" ? KUBE_AIRGAP_VERSION : "0.1.0-dev";
export const commit: string = typeof KUBE_AIRGAP_COMMIT === "string" ? KUBE_AIRGAP_COMMIT : "unknown";
export const versionString = `${version} (commit ${commit})`;
