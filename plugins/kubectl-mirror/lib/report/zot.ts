// PaletteAI's internal Zot registry: after a sync/push into it, the values its docs ask users to patch into the
// Project VariableSet `mural-variables` (seed 004: zot-cert-secret, zot-auth-secret, internal-zot-url).
import { createClient, type RegistryOptions } from "../../../../shared/oci/client.ts";
import { apiHost } from "../../../../shared/oci/reference.ts";

export interface MuralVariables {
  "internal-zot-url": string;
  "zot-auth-secret": string;
  "zot-cert-secret": string;
}

/** "10.10.233.0:30003/spectro-content" → internal-zot-url 10.10.233.0:30003, zot-auth-secret 10-10-233-0-30003-pull-secret. */
export function muralVariables(dest: string): MuralVariables {
  const host = dest.replace(/^[a-z]+:\/\//i, "").split("/")[0]!;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
  const vip = (m?.[1] ?? host).replace(/^\[|\]$/g, "");
  const port = m?.[2];
  const dashed = vip.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  return {
    "internal-zot-url": host,
    "zot-auth-secret": `${dashed}${port ? `-${port}` : ""}-pull-secret`,
    "zot-cert-secret": "zot-ca",
  };
}

/** The `kubectl patch variableset mural-variables` command of the seed, with these values. */
export function muralPatchCommand(v: MuralVariables, namespace = "<project-namespace>"): string {
  const vars = (["zot-cert-secret", "zot-auth-secret", "internal-zot-url"] as const).map((name) => ({ name, variableType: "string", value: { string: v[name] } }));
  return `kubectl patch variableset mural-variables --namespace ${namespace} --type=merge --patch '${JSON.stringify({ spec: { variables: vars } })}'`;
}

export function muralText(v: MuralVariables): string {
  return [
    "",
    "MURAL-VARIABLES (PaletteAI: patch the Project VariableSet so deployments default to this Zot)",
    ...Object.entries(v).map(([k, val]) => `  ${k.padEnd(17)} ${val}`),
    `  ${muralPatchCommand(v)}`,
    "",
  ].join("\n");
}

/** Does the registry announce itself as Zot (GET /v2/_zot/ext/discover answers 200)? Errors → false. */
export async function isZot(dest: string, registry: RegistryOptions): Promise<boolean> {
  const host = apiHost(dest.replace(/^[a-z]+:\/\//i, "").split("/")[0]!);
  const client = createClient({ ...registry, retries: 0 });
  try {
    const res = await client.request({ method: "GET", url: `${client.transport.baseUrl(host)}/v2/_zot/ext/discover`, host, scopes: [] });
    await res.drain();
    return res.status === 200;
  } catch {
    return false;
  } finally {
    client.transport.close();
  }
}
