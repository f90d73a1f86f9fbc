// The architecture rules, checked on the source: dependencies point plugins → shared; shared/oci never imports
// cli or kube; no plugin imports another; Bun.*/Deno.* only in the one runtime adapter; no console logging in
// library code (stdout is data; logs go through the stderr logger).
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, dirname, resolve } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
const ADAPTER = "shared/runtime/adapter.ts";

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((n) => {
    const p = join(dir, n);
    return statSync(join(ROOT, p)).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const sources = [...files("shared"), ...files("plugins")];
const importsOf = (file: string) =>
  [...readFileSync(join(ROOT, file), "utf8").matchAll(/^\s*(?:import|export)\b[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/gm)]
    .map((m) => m[1] ?? m[2]!)
    .filter((s) => s.startsWith("."))
    .map((s) => relative(ROOT, resolve(join(ROOT, dirname(file)), s)));

describe("architecture", () => {
  test("the sources and their imports are found", () => {
    expect(sources.length).toBeGreaterThan(50);
    expect(importsOf("plugins/kubectl-mirror/lib/transfer/copy.ts")).toContain("shared/oci/copy.ts");
    expect(importsOf("plugins/kubectl-mirror/commands/index.ts")).toContain("plugins/kubectl-mirror/commands/copy.ts");
  });

  test("shared never imports plugins; shared/oci never imports shared/cli or shared/kube", () => {
    const bad = sources.filter((f) => f.startsWith("shared/")).flatMap((f) => importsOf(f).filter((i) => i.startsWith("plugins/") || (f.startsWith("shared/oci/") && /^shared\/(cli|kube)\//.test(i))).map((i) => `${f} → ${i}`));
    expect(bad).toEqual([]);
  });

  test("no plugin imports another plugin", () => {
    const bad = sources.filter((f) => f.startsWith("plugins/")).flatMap((f) => {
      const own = f.split("/").slice(0, 2).join("/");
      return importsOf(f).filter((i) => i.startsWith("plugins/") && !i.startsWith(own + "/")).map((i) => `${f} → ${i}`);
    });
    expect(bad).toEqual([]);
  });

  test(`Bun.* and Deno.* only in ${ADAPTER}`, () => {
    // Bun.x, Bun?.x, (globalThis as …).Bun, { Bun?: … } — a lookup through globalThis is still a runtime's API
    const bad = sources.filter((f) => f !== ADAPTER && /\b(Bun|Deno)\??\.[a-zA-Z]|\)\.(Bun|Deno)\b|\b(Bun|Deno)\?:/.test(readFileSync(join(ROOT, f), "utf8").replace(/\/\/.*$/gm, "").replace(/\/\*[\s\S]*?\*\//g, "")));
    expect(bad).toEqual([]);
  });

  test("a plugin's lib/ stays within a screenful of files per folder (grouped by stage once it grows)", () => {
    const crowded = readdirSync(join(ROOT, "plugins")).flatMap((p) => {
      const lib = join("plugins", p, "lib");
      const dirs = (() => {
        try {
          return [lib, ...files(lib).map((f) => dirname(f))];
        } catch {
          return [];
        }
      })();
      return [...new Set(dirs)].map((d) => [d, readdirSync(join(ROOT, d)).filter((n) => n.endsWith(".ts")).length] as const).filter(([, n]) => n > 20);
    });
    expect(crowded).toEqual([]);
  });

  test("no console.* in shared/ and plugins/ (data on stdout via printers, logs via the stderr logger)", () => {
    const bad = sources.filter((f) => /\bconsole\.(log|info|warn|error|debug)\(/.test(readFileSync(join(ROOT, f), "utf8").replace(/\/\/.*$/gm, "")));
    expect(bad).toEqual([]);
  });
});
