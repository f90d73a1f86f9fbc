// Errors for the command layer. Library code throws its own typed errors; the entry maps any error to
// one line on stderr and an exit code (see main.ts).
import { printable } from "../runtime/redact.ts";

export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    /** process exit code */
    public exitCode = 1,
    /** what the user can do about it, printed after the message */
    public hint?: string,
  ) {
    super(message);
  }
}

/** Wrong flags or arguments: exit code 2, like most CLIs. */
export class UsageError extends CliError {
  override name = "UsageError";
  constructor(message: string, hint?: string) {
    super(message, 2, hint);
  }
}

/** Errors may carry a hint and an exit code; anything else is exit 1. */
export function exitCodeOf(err: unknown): number {
  if (err && typeof err === "object" && "exitCode" in err && typeof (err as any).exitCode === "number") return (err as any).exitCode;
  return 1;
}

/** One line: the message, then the hint if any. Stack traces only under --debug (printed separately). */
export function formatError(err: unknown): string {
  if (err instanceof Error) {
    const hint = (err as any).hint as string | undefined;
    const msg = err.message.replace(/\s*\n\s*/g, " ").trim();
    return printable(hint ? `${msg} (${hint})` : msg);
  }
  return printable(String(err));
}
