// The ONE place that computes the CA list to trust when a CA file is given (--ca-file, SSL_CERT_FILE, a
// registry/Palette/ChartMuseum/chart-repository CA). Passing `ca` to Node's TLS (and Bun's fetch `tls.ca`)
// REPLACES the default trust store, so the list keeps the public roots and the CAs the user added with
// NODE_EXTRA_CA_CERTS (which `tls.rootCertificates` does not hold). Without them an unrelated SSL_CERT_FILE made
// a server trusted only through NODE_EXTRA_CA_CERTS fail with "unable to verify the first certificate".
import { rootCertificates } from "node:tls";
import { readFileSync } from "node:fs";

const extraCache = new Map<string, string>();

/** The PEM text of NODE_EXTRA_CA_CERTS ("" when unset or unreadable; the runtime itself warns then). */
export function nodeExtraCAs(env: Record<string, string | undefined> = process.env): string {
  const f = env.NODE_EXTRA_CA_CERTS;
  if (!f) return "";
  let pem = extraCache.get(f);
  if (pem === undefined) {
    try {
      pem = readFileSync(f, "utf8");
    } catch {
      pem = "";
    }
    extraCache.set(f, pem);
  }
  return pem;
}

/** Public roots + NODE_EXTRA_CA_CERTS + the given PEM bundle(s), for a TLS `ca` option. */
export function trustedCAs(...extra: (string | Uint8Array | undefined)[]): string[] {
  const out = [...rootCertificates];
  const node = nodeExtraCAs();
  if (node) out.push(node);
  for (const e of extra) {
    if (e === undefined) continue;
    const s = typeof e === "string" ? e : Buffer.from(e).toString("utf8");
    if (s) out.push(s);
  }
  return out;
}
