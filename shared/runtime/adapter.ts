// The one runtime adapter: the only place that asks which runtime runs us (Bun, Deno, Node) or reaches for one
// runtime's own API. Everything else is runtime-neutral (Web streams, fetch, node: built-ins) and asks here;
// test/cli/architecture.test.ts holds every other file to that.
type RuntimeGlobals = {
  Bun?: { gc?: (sync: boolean) => void; YAML?: { parse(text: string): unknown } };
  Deno?: unknown;
  gc?: () => void;
};
const g = globalThis as RuntimeGlobals;

export type RuntimeName = "bun" | "deno" | "node";

/** The runtime this process runs on. */
export const runtimeName: RuntimeName = g.Deno !== undefined ? "deno" : g.Bun !== undefined ? "bun" : "node";

/** A full, synchronous garbage collection where the runtime offers one (Bun.gc; Node with --expose-gc). */
export const collectGarbage: (() => void) | undefined = g.Bun?.gc ? () => g.Bun!.gc!(true) : typeof g.gc === "function" ? () => g.gc!() : undefined;

/** The runtime's native YAML reader (Bun.YAML), where there is one. */
export const nativeYamlParse: ((text: string) => unknown) | undefined = g.Bun?.YAML ? (text) => g.Bun!.YAML!.parse(text) : undefined;
