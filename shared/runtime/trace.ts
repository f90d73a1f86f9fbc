// HTTP request tracing, like kubectl -v=6 and skopeo/crane --debug: one line per request and response on the
// sink the CLI sets (its logger, stderr) — method, URL, proxy, status, duration. Every transport reports here
// (the registry transport, token realms, chart repositories, ChartMuseum, Palette, Dex, login, Kubernetes).
// Secrets never appear: the URL loses its userinfo and every query value (presigned storage URLs carry their
// signature there, token realms the account), headers are not printed, and the sink (the logger) runs
// redact() over each line as well.
import { redactUrl } from "./redact.ts";

type Sink = (line: string) => void;

let sink: Sink | undefined;

/** Send one line per HTTP exchange to `s` (undefined: stop tracing). */
export function setHttpTrace(s: Sink | undefined): void {
  sink = s;
}

const noop = () => {};

/**
 * Note a request about to be sent; call the returned function once with the response status (or the error).
 * Free when tracing is off.
 */
export function traceHttp(method: string, url: string, via?: string): (status?: number, error?: unknown) => void {
  if (!sink) return noop;
  const started = performance.now();
  let reported = false;
  return (status, error) => {
    if (reported || !sink) return;
    reported = true;
    const ms = Math.round(performance.now() - started);
    const outcome = status ? String(status) : `failed: ${(error as Error)?.message ?? String(error)}`;
    sink(`http: ${method} ${redactUrl(url)}${via ? ` (via proxy ${via})` : ""} → ${outcome} (${ms} ms)`);
  };
}

/** A debug line about the exchanges (why an upload session was resumed or not) on the same sink; free when tracing is off. URLs in it must go through redactUrl. */
export function traceNote(line: string): void {
  sink?.(line);
}
