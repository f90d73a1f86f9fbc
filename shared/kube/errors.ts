// Typed errors of shared/kube. Each has a one-line message naming what failed and, where useful, a `hint`
// the CLI prints after it. Only the entry turns them into exit codes (`exitCode`).

/** The kubeconfig (or a flag that selects from it) is missing, unreadable or inconsistent. */
export class KubeConfigError extends Error {
  override name = "KubeConfigError";
  exitCode = 1;
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

/** An exec credential plugin failed or returned something unusable. */
export class ExecCredentialError extends KubeConfigError {
  override name = "ExecCredentialError";
}

/** The API server could not be reached (DNS, refused, TLS verification, timeout). */
export class KubeConnectionError extends Error {
  override name = "KubeConnectionError";
  exitCode = 1;
  constructor(message: string, public hint?: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A Kubernetes `Status` object returned by the API server (4xx/5xx). */
export interface KubeStatus {
  kind?: "Status";
  apiVersion?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; group?: string; kind?: string; causes?: { reason?: string; message?: string; field?: string }[]; retryAfterSeconds?: number };
}

/** What we were doing when the server answered with an error (used in the message). */
export interface KubeRequestContext {
  /** get | list | create | update | patch | delete | watch | logs | … */
  verb: string;
  /** plural resource, e.g. "artifacts.app.alauda.io" or "pods/log" */
  resource?: string;
  name?: string;
  namespace?: string;
  /** API server URL, for connection errors */
  server?: string;
}

/**
 * A non-2xx answer from the API server. `status` is the HTTP status; `reason` the Status reason
 * (NotFound, Forbidden, Conflict, AlreadyExists, Invalid, Unauthorized, …).
 */
export class KubeApiError extends Error {
  override name = "KubeApiError";
  exitCode = 1;
  hint?: string;
  readonly reason: string;
  readonly body: KubeStatus | undefined;
  constructor(
    public readonly status: number,
    public readonly context: KubeRequestContext,
    body: KubeStatus | string | undefined,
  ) {
    const st = typeof body === "object" ? body : undefined;
    const reason = st?.reason || reasonForStatus(status);
    super(KubeApiError.describe(status, reason, context, st?.message ?? (typeof body === "string" ? body.slice(0, 300) : undefined)));
    this.reason = reason;
    this.body = st;
    if (status === 401) this.hint = "the credentials in your kubeconfig were rejected; log in again or check --user/--context";
    if (status === 403) this.hint = "ask a cluster admin for this permission, or use another --context/--user";
  }

  static describe(status: number, reason: string, c: KubeRequestContext, serverMessage?: string): string {
    const what = `${c.resource ?? "resource"}${c.name ? ` "${c.name}"` : ""}`;
    const where = c.namespace ? ` in namespace "${c.namespace}"` : "";
    let head: string;
    switch (status) {
      case 401:
        head = `unauthorized: the server rejected the credentials (${c.verb} ${what}${where})`;
        break;
      case 403:
        head = `forbidden: not allowed to ${c.verb} ${what}${where}`;
        break;
      case 404:
        head = c.name ? `not found: ${what}${where}` : `not found: ${what}${where} (is the API/CRD installed?)`;
        break;
      case 409:
        head = reason === "AlreadyExists" ? `already exists: ${what}${where}` : `conflict: ${what}${where} was modified concurrently (${c.verb})`;
        break;
      case 415:
        head = `unsupported patch/media type for ${what}${where} (${c.verb})`;
        break;
      case 422:
        head = `invalid ${what}${where} (${c.verb})`;
        break;
      default:
        head = `${c.verb} ${what}${where} failed: HTTP ${status} ${reason}`;
    }
    const msg = serverMessage?.replace(/\s+/g, " ").trim();
    return msg ? `${head}: ${msg}` : head;
  }

  get isNotFound(): boolean {
    return this.status === 404;
  }
  get isConflict(): boolean {
    return this.status === 409 && this.reason !== "AlreadyExists";
  }
  get isAlreadyExists(): boolean {
    return this.status === 409 && this.reason === "AlreadyExists";
  }
  get isForbidden(): boolean {
    return this.status === 403;
  }
}

/** A wait ran out of time. */
export class KubeTimeoutError extends Error {
  override name = "KubeTimeoutError";
  exitCode = 1;
  constructor(message: string, public hint?: string) {
    super(message);
  }
}

export function reasonForStatus(status: number): string {
  return (
    ({ 400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Gone", 415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout" } as Record<number, string>)[status] ?? "Unknown"
  );
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 404;
}
