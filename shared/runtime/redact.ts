// One process-wide list of secrets (passwords, tokens, keys) that must never be printed.
// Everything that writes text for a human (logger, error formatter) passes it through redact().
const secrets = new Set<string>();

/** Remember a secret so that redact() masks it wherever it appears. Short values are ignored (too many false hits). */
export function registerSecret(value: string | undefined | null): void {
  if (!value || value.length < 4) return;
  secrets.add(value);
  // base64 forms show up in Authorization headers and docker config.json
  try {
    secrets.add(Buffer.from(value).toString("base64"));
  } catch {}
}

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join("***");
  // generic patterns: Authorization headers, bearer tokens, basic credentials, password fields in JSON
  out = out.replace(/(authorization["']?\s*[:=]\s*["']?)(basic|bearer)\s+[A-Za-z0-9._~+/=-]+/gi, "$1$2 ***");
  out = out.replace(/("(?:password|token|access_token|refresh_token|identitytoken|auth|secret)"\s*:\s*)"[^"]*"/gi, '$1"***"');
  return out;
}

/** Test helper: forget every registered secret. */
export function clearSecrets(): void {
  secrets.clear();
}
