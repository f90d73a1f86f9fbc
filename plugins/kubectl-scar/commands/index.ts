// Lazy command map: each command's module (and its heavy dependencies) loads only when it runs.
import type { CommandDef } from "citty";

type Lazy = () => Promise<CommandDef<any>>;

export const commands: Record<string, Lazy> = {
  migrate: () => import("./migrate.ts").then((m) => m.default),
  package: () => import("./package.ts").then((m) => m.default),
  push: () => import("./push.ts").then((m) => m.default),
  "set-endpoint": () => import("./set-endpoint.ts").then((m) => m.default),
  status: () => import("./status.ts").then((m) => m.default),
  verify: () => import("./verify.ts").then((m) => m.default),
  rollback: () => import("./rollback.ts").then((m) => m.default),
};
