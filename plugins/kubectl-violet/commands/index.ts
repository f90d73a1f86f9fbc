// Lazy command map: each command's module (and its heavy dependencies) loads only when it runs.
import type { CommandDef } from "citty";

type Lazy = () => Promise<CommandDef<any>>;

export const commands: Record<string, Lazy> = {
  whoami: () => import("./whoami.ts").then((m) => m.default),
};
