// Which cluster is which: the current context is a cluster of the platform (its name comes from a
// `<platform>/kubernetes/<name>` server, else it is taken to be "global", violet's default). Other clusters are
// reached through the platform proxy with the same credentials.
import { parsePlatformServer, type KubeClient } from "../../../shared/kube/index.ts";

export const GLOBAL = "global";
export const NAMESPACE = "cpaas-system";

export class Clusters {
  readonly current: string;
  #clients = new Map<string, KubeClient>();
  constructor(readonly kube: KubeClient) {
    this.current = parsePlatformServer(kube.server)?.cluster ?? GLOBAL;
    this.#clients.set(this.current, kube);
  }
  client(cluster: string): KubeClient {
    let c = this.#clients.get(cluster);
    if (!c) this.#clients.set(cluster, (c = this.kube.forCluster(cluster)));
    return c;
  }
  get global(): KubeClient {
    return this.client(GLOBAL);
  }
}

/** A label value Kubernetes accepts (63 chars, alphanumerics at both ends), or undefined. */
export function labelValue(v: string | undefined): string | undefined {
  if (!v) return undefined;
  return /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v) && v.length <= 63 ? v : undefined;
}
