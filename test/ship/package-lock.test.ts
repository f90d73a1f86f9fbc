// package-lock.json must stay in step with package.json, or `npm install` on a fresh clone rewrites the lock (issue 24.7:
// nanotar was a devDependency in package.json and a dependency in the lock). The lock's root entry lists exactly
// package.json's dependencies and devDependencies, with the same specs, and a package only a devDependency brings is
// marked dev in the lock (npm's own marking, which `npm ci --omit=dev` relies on).
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8"));

describe("package-lock.json in step with package.json", () => {
  test("the lock's root entry lists exactly package.json's dependencies and devDependencies", () => {
    const root = lock.packages[""];
    expect(root.name).toBe(pkg.name);
    expect(root.version).toBe(pkg.version);
    expect(root.dependencies ?? {}).toEqual(pkg.dependencies ?? {});
    expect(root.devDependencies ?? {}).toEqual(pkg.devDependencies ?? {});
  });

  test("direct dependencies are production entries, devDependencies are dev entries", () => {
    for (const name of Object.keys(pkg.dependencies ?? {})) {
      const entry = lock.packages[`node_modules/${name}`];
      expect({ name, locked: !!entry, dev: entry?.dev ?? false }).toEqual({ name, locked: true, dev: false });
    }
    for (const name of Object.keys(pkg.devDependencies ?? {})) {
      const entry = lock.packages[`node_modules/${name}`];
      expect({ name, locked: !!entry, dev: entry?.dev ?? false }).toEqual({ name, locked: true, dev: true });
    }
  });

  test("no floating spec (a dist-tag like latest changes the lock whenever the tag moves)", () => {
    const all = { ...pkg.dependencies, ...pkg.devDependencies } as Record<string, string>;
    for (const [name, spec] of Object.entries(all)) expect({ name, spec, tag: /^[a-z]/i.test(spec) }).toEqual({ name, spec, tag: false });
  });
});
