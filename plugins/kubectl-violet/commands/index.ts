// Lazy command map: each command's module (and its heavy dependencies) loads only when it runs.
import type { CommandDef } from "citty";

type Lazy = () => Promise<CommandDef<any>>;

export const commands: Record<string, Lazy> = {
  create: () => import("./create.ts").then((m) => m.default),
  package: () => import("./package.ts").then((m) => m.default),
  show: () => import("./show.ts").then((m) => m.default),
  verify: () => import("./verify.ts").then((m) => m.default),
  push: () => import("./push.ts").then((m) => m.default),
  list: () => import("./list.ts").then((m) => m.default),
  gc: () => import("./gc.ts").then((m) => m.default),
  whoami: () => import("./whoami.ts").then((m) => m.default),
};
