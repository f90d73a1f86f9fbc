// Platform cluster routing (violet): the platform proxies each cluster's kube-apiserver at
// `<platform>/kubernetes/<cluster>`. From a kubeconfig whose server is such an address we can reach any other
// cluster of the same platform with the same credentials; or the user passes --platform-address/--platform-token.
import type { ResolvedKubeConfig } from "./config.ts";
import { KubeConfigError } from "./errors.ts";

export interface PlatformServer {
  /** platform base URL, e.g. https://acp.example.com (may include a path prefix) */
  platform: string;
  /** cluster name, e.g. "global" */
  cluster: string;
}

/** Split `https://acp.example.com/kubernetes/global[/]` into platform and cluster; undefined if not that shape. */
export function parsePlatformServer(server: string): PlatformServer | undefined {
  let u: URL;
  try {
    u = new URL(server);
  } catch {
    return undefined;
  }
  const m = /^(.*)\/kubernetes\/([^/]+)\/?$/.exec(u.pathname);
  if (!m) return undefined;
  const platform = `${u.protocol}//${u.host}${m[1]}`;
  return { platform, cluster: decodeURIComponent(m[2]!) };
}

/** The API server address of `cluster` on the same platform as `server`. */
export function platformServerFor(server: string, cluster: string): string {
  if (!cluster || cluster.includes("/")) throw new KubeConfigError(`invalid cluster name ${JSON.stringify(cluster)}`);
  const p = parsePlatformServer(server);
  if (!p) {
    throw new KubeConfigError(
      `cannot reach cluster "${cluster}": the current server ${server} is not a platform address (<platform>/kubernetes/<cluster>)`,
      "pass --platform-address and --platform-token, or use a kubeconfig made for the platform",
    );
  }
  return `${p.platform}/kubernetes/${encodeURIComponent(cluster)}`;
}

/** The same connection (credentials, TLS, namespace) pointed at another cluster of the platform. */
export function configForCluster(cfg: ResolvedKubeConfig, cluster: string): ResolvedKubeConfig {
  return { ...cfg, server: platformServerFor(cfg.server, cluster), clusterName: cluster };
}
