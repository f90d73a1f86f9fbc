// The platform's own image registry, where images go without --dest-repo (as violet does): ProductBase `base`
// spec.registry.address on the global cluster, credentials from Secret cpaas-system/registry-admin
// (reference/violet.md §1.1: the lookup upgrade.sh documents).
import { KubeApiError, type KubeClient, type KubeObject } from "../../../shared/kube/index.ts";
import { registerSecret } from "../../../shared/runtime/redact.ts";
import { authsCredential, type DockerConfig } from "../../../shared/oci/index.ts";
import { NAMESPACE } from "./clusters.ts";
import { PlatformError, refuseIpv6 } from "./platform.ts";

export const PRODUCT_BASE_GROUP = "product.alauda.io";
export const PRODUCT_BASE_VERSIONS = ["product.alauda.io/v1alpha2", "product.alauda.io/v1alpha1"];
export const REGISTRY_SECRET = "registry-admin";

export interface PlatformRegistry {
  address: string;
  username?: string;
  password?: string;
  /** where it was found, for messages */
  source: string;
}

/**
 * ProductBase `base`, at the versions the cluster serves (API discovery, preferred first), then the ones we know.
 * Returns what was tried and what is served, for the error when it is not found.
 */
async function productBase(global: KubeClient): Promise<{ obj?: KubeObject; tried: string[]; served?: string[] }> {
  let served: string[] | undefined;
  try {
    const list = await global.requestJson<{ groups?: { name: string; preferredVersion?: { groupVersion: string }; versions?: { groupVersion: string }[] }[] }>("GET", "/apis");
    const g = list.groups?.find((x) => x.name === PRODUCT_BASE_GROUP);
    served = g ? [...new Set([g.preferredVersion?.groupVersion, ...(g.versions ?? []).map((v) => v.groupVersion)].filter((v): v is string => !!v))] : [];
  } catch (e) {
    if (!(e instanceof KubeApiError) || e.status === 401) throw e;
  }
  const tried: string[] = [];
  for (const v of [...new Set([...(served ?? []), ...PRODUCT_BASE_VERSIONS])]) {
    tried.push(v);
    try {
      const o = await global.tryGet(v, "ProductBase", "base");
      if (o) return { obj: o, tried, served };
    } catch (e) {
      if (!(e instanceof KubeApiError && e.status === 404)) throw e;
    }
  }
  return { tried, served };
}

/** Find the platform registry; `withCredentials` also reads the registry-admin Secret. */
export async function platformRegistry(global: KubeClient, withCredentials: boolean): Promise<PlatformRegistry> {
  const found = await productBase(global);
  const pb = found.obj;
  const looked = `ProductBase base (${pb?.apiVersion ?? "productbases.product.alauda.io"}) on the global cluster`;
  if (!pb) {
    const serves = found.served === undefined ? "API discovery (GET /apis) could not be read" : found.served.length ? `the cluster serves ${found.served.join(", ")}` : `the cluster serves no ${PRODUCT_BASE_GROUP} API`;
    throw new PlatformError(`no --dest-repo and the platform registry cannot be found: ProductBase base not found on the global cluster (tried ${found.tried.join(", ")}; ${serves})`, "pass --dest-repo HOST[:PORT] with --username/--password-stdin or --no-auth");
  }
  const raw = pb.spec?.registry?.address;
  if (typeof raw !== "string" || !raw.trim()) throw new PlatformError(`no --dest-repo and the platform registry cannot be found: ${looked} has no spec.registry.address`, "pass --dest-repo HOST[:PORT] with --username/--password-stdin or --no-auth");
  const address = raw.trim().replace(/^[a-z]+:\/\//i, "").replace(/\/+$/, "");
  refuseIpv6(`the platform registry (ProductBase base spec.registry.address)`, address);
  const r: PlatformRegistry = { address, source: looked };
  if (!withCredentials) return r;
  let secret: KubeObject | undefined;
  try {
    secret = await global.tryGet("v1", "Secret", REGISTRY_SECRET, { namespace: NAMESPACE });
  } catch (e) {
    if (e instanceof KubeApiError && e.status === 403) throw new PlatformError(`cannot read Secret ${NAMESPACE}/${REGISTRY_SECRET} (the platform registry's credentials): forbidden`, "pass --username/--password-stdin or --no-auth for the registry");
    throw e;
  }
  if (!secret) throw new PlatformError(`the platform registry ${address} has no credentials: Secret ${NAMESPACE}/${REGISTRY_SECRET} not found on the global cluster`, "pass --username/--password-stdin or --no-auth for the registry");
  const dec = (v?: string) => (v ? Buffer.from(v, "base64").toString("utf8") : undefined);
  let username = dec(secret.data?.username);
  let password = dec(secret.data?.password);
  const dcj = dec(secret.data?.[".dockerconfigjson"]);
  if ((!username || !password) && dcj) {
    try {
      // only the entry stored for the platform registry's own host: an entry for another host is never sent to it
      const c = authsCredential(JSON.parse(dcj) as DockerConfig, address);
      if (c?.username && c.password) ({ username, password } = c);
    } catch {}
  }
  if (!username || !password) throw new PlatformError(`Secret ${NAMESPACE}/${REGISTRY_SECRET} has no username/password for ${address}`, "pass --username/--password-stdin or --no-auth for the registry");
  registerSecret(password);
  return { ...r, username, password };
}
