// Logger: consola writing everything to stderr (stdout carries data only), every line redacted.
import { createConsola, type ConsolaInstance, type LogObject } from "consola";
import { printableBlock, redact } from "../runtime/redact.ts";

let current: ConsolaInstance | undefined;

export interface LoggerOptions {
  debug?: boolean;
  quiet?: boolean;
}

function create(opts: LoggerOptions): ConsolaInstance {
  const level = opts.debug ? 4 : opts.quiet ? 1 : 3;
  return createConsola({
    level,
    stdout: process.stderr,
    stderr: process.stderr,
    formatOptions: { date: false, colors: !!process.stderr.isTTY && !process.env.NO_COLOR, compact: true },
    reporters: [
      {
        log(obj: LogObject) {
          const text = obj.args.map((a) => (typeof a === "string" ? a : a instanceof Error ? a.message : JSON.stringify(a))).join(" ");
          const prefix = obj.type === "warn" ? "warning: " : obj.type === "error" || obj.type === "fatal" ? "error: " : obj.type === "debug" || obj.type === "trace" ? "debug: " : "";
          // control characters from untrusted input (tags, names, server messages) never reach the terminal raw
          process.stderr.write(printableBlock(redact(prefix + text)) + "\n");
        },
      },
    ],
  });
}

/** Configure the process logger (called once by the entry after parsing --debug/--quiet). */
export function configureLogger(opts: LoggerOptions): ConsolaInstance {
  current = create(opts);
  return current;
}

export function logger(): ConsolaInstance {
  return (current ??= create({ debug: !!process.env.KUBE_AIRGAP_DEBUG }));
}
