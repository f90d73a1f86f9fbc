// Platform strings (os/arch[/variant]) and matching against index entries.
import type { Platform } from "./types.ts";

export function parsePlatform(s: string): Platform {
  const [os, architecture, variant] = s.split("/");
  if (!os || !architecture) throw new Error(`bad platform "${s}" (expected os/arch[/variant], e.g. linux/amd64)`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

export function formatPlatform(p: Platform | undefined): string {
  return p ? `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}` : "";
}

/** A wanted platform matches when os and arch are equal and the variant (if wanted) too. "all" matches all. */
export function platformMatches(have: Platform | undefined, want: Platform[]): boolean {
  if (!have) return true; // entries without a platform (attestations, artifacts) are kept
  if (have.os === "unknown" && have.architecture === "unknown") return true; // buildkit attestation manifests
  return want.some((w) => w.os === have.os && w.architecture === have.architecture && (!w.variant || w.variant === have.variant || (w.architecture === "arm64" && w.variant === "v8" && !have.variant)));
}
