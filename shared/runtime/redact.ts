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
  return redactUrlsIn(out);
}

/** Test helper: forget every registered secret. */
export function clearSecrets(): void {
  secrets.clear();
}

// ------------------------------------------------------------------ URLs carrying secrets

/** Query parameters whose values are credentials (presigned S3/GCS/Azure URLs, tokens in query strings). */
const SECRET_PARAMS = /^(x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|signature|sig|skoid|sktid|token|access_token|code|key|policy|awsaccesskeyid)$/i;

/**
 * A URL safe to print: userinfo (user:password@) dropped, the values of query parameters masked (presigned
 * storage URLs carry their signature there). Anything that is not a URL is returned as is.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url;
  }
  if (u.username || u.password) {
    u.username = "";
    u.password = "";
  }
  if (u.search) {
    const kept: string[] = [];
    for (const [k] of u.searchParams) kept.push(`${k}=***`);
    return `${u.origin}${u.pathname}?${kept.join("&")}${u.hash}`;
  }
  return u.toString();
}

/** Mask userinfo and secret query parameters wherever a URL appears in free text. */
function redactUrlsIn(text: string): string {
  let out = text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@"'<>]+@/gi, "$1***@");
  out = out.replace(/(^|[?&\s>;])([A-Za-z0-9_.-]+)=([^&\s"'<>]*)/g, (m, sep: string, k: string) => (SECRET_PARAMS.test(k) ? `${sep}${k}=***` : m));
  return out;
}

/** A reference as typed, without credentials someone put in it (user:password@host/repo). */
export function redactReference(ref: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(ref)?.[0] ?? "";
  const rest = ref.slice(scheme.length);
  const slash = rest.indexOf("/");
  const head = slash < 0 ? rest : rest.slice(0, slash);
  const at = head.lastIndexOf("@");
  if (at < 0 || (slash < 0 && !head.slice(0, at).includes(":"))) return ref;
  return `${scheme}***@${rest.slice(at + 1)}`;
}

// ------------------------------------------------------------------ terminal safety

// C0 controls, DEL and C1 controls (ESC sequences, CSI, OSC, bells, backspaces…)
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

function escapeChar(c: string): string {
  if (c === "\n") return "\\n";
  if (c === "\r") return "\\r";
  if (c === "\t") return "\\t";
  if (c === "\u001b") return "\\e";
  return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
}

/**
 * Text from untrusted input (tags, annotations, package names, server messages) made safe for a terminal on
 * one line: every control character (ESC, CR, newline, backspace, bell, C1) shown as an escape.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, escapeChar);
}

/** The same for multi-line text our own code lays out: newlines and tabs kept, every other control escaped. */
export function printableBlock(text: string): string {
  return text.replace(CONTROL_BUT_LINES, escapeChar);
}
