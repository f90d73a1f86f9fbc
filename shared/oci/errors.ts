// Typed errors of the OCI core. Messages are one line, name the reference/registry and say what to do.
// URLs and references in messages never carry credentials (userinfo, presigned query strings).
import { redactReference, redactUrl } from "../runtime/redact.ts";
export class OciError extends Error {
  override name = "OciError";
  constructor(
    message: string,
    public code: string,
    public hint?: string,
  ) {
    super(message);
  }
}

export class InvalidReferenceError extends OciError {
  override name = "InvalidReferenceError";
  constructor(ref: string, why: string) {
    super(`invalid reference "${redactReference(ref)}": ${why}`, "INVALID_REFERENCE");
  }
}

export class NotFoundError extends OciError {
  override name = "NotFoundError";
  constructor(what: string, hint?: string) {
    super(`${what} not found`, "NOT_FOUND", hint);
  }
}

export class UnauthorizedError extends OciError {
  override name = "UnauthorizedError";
  readonly host: string;
  /** the refusal holds for every repository of the host (Basic auth, or credentials refused by the token
   *  service): nothing more is attempted against it in this run */
  hostWide = false;
  constructor(host: string, detail = "") {
    super(`authentication to ${host} failed${detail ? `: ${detail}` : ""}`, "UNAUTHORIZED", "check the username/password, or the registry's entry in docker config.json");
    this.host = host;
  }
}

export class DeniedError extends OciError {
  override name = "DeniedError";
  constructor(host: string, what: string) {
    super(`access to ${what} on ${host} denied`, "DENIED", "the credentials lack permission for this repository (pull/push)");
  }
}

export class DigestMismatchError extends OciError {
  override name = "DigestMismatchError";
  constructor(what: string, expected: string, actual: string) {
    super(`${what}: content digest ${actual} does not match expected ${expected}`, "DIGEST_MISMATCH", "the content was corrupted in transit or at the source; nothing was written");
  }
}

export class SizeMismatchError extends OciError {
  override name = "SizeMismatchError";
  constructor(what: string, expected: number, actual: number) {
    super(`${what}: got ${actual} bytes, expected ${expected}`, "SIZE_MISMATCH", "the transfer was truncated or the source is corrupt; nothing was written");
  }
}

/** An error response from a registry ({"errors":[{code,message}]}). */
export class RegistryError extends OciError {
  override name = "RegistryError";
  constructor(
    public status: number,
    public method: string,
    public url: string,
    public errors: { code: string; message?: string; detail?: unknown }[],
  ) {
    const first = errors[0];
    const what = first ? `${first.code}${first.message ? `: ${first.message}` : ""}` : `HTTP ${status}`;
    super(`${method} ${redactUrl(url)} failed: ${what} (HTTP ${status})`, first?.code ?? `HTTP_${status}`);
  }
}

/** Network-level failure after retries: connection refused, reset, TLS errors, timeouts. */
export class TransportError extends OciError {
  override name = "TransportError";
  /** set when the whole host is unusable (refused, unknown, TLS failure): the run stops using it */
  host?: string;
  constructor(message: string, hint?: string) {
    super(message, "TRANSPORT", hint);
  }
}

/** The registry host an error condemns for the rest of a run (refused credentials, unreachable, bad TLS), if any. */
export function failedHost(err: unknown): string | undefined {
  if (err instanceof UnauthorizedError) return err.hostWide ? err.host : undefined;
  if (err instanceof TransportError) return err.host;
  return undefined;
}

export class UnsupportedError extends OciError {
  override name = "UnsupportedError";
  constructor(message: string) {
    super(message, "UNSUPPORTED");
  }
}
