// Lazy command map: each command's module (and its heavy dependencies) loads only when it runs.
import type { CommandDef } from "citty";

type Lazy = () => Promise<CommandDef<any>>;

export const commands: Record<string, Lazy> = {
  copy: () => import("./copy.ts").then((m) => m.default),
  images: () => import("./images.ts").then((m) => m.default),
  sync: () => import("./sync.ts").then((m) => m.default),
  export: () => import("./export.ts").then((m) => m.default),
  "export-pack": () => import("./export-pack.ts").then((m) => m.default),
  push: () => import("./push.ts").then((m) => m.default),
  verify: () => import("./verify.ts").then((m) => m.default),
  login: () => import("./login.ts").then((m) => m.default),
  logout: () => import("./logout.ts").then((m) => m.default),
  "copy-ca": () => import("./copy-ca.ts").then((m) => m.default),
};
