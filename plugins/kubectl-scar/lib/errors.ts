// Typed errors of kubectl-scar (one line, naming the thing and what to do).
export class ScarError extends Error {
  override name = "ScarError";
  exitCode = 1;
  constructor(
    message: string,
    public hint?: string,
  ) {
    super(message);
  }
}
