// `kubectl violet show PKG [--all]`: violet's four lines (Name, Type, Arch, Version); --all adds Artifact and
// RelateImages. Structured output carries the whole metadata.
import { printable } from "../../../shared/runtime/redact.ts";
import type { PackageMetadata } from "./format.ts";

export function showText(m: PackageMetadata, all: boolean): string {
  // every field comes from the package file: one line each, control characters escaped
  const lines = [`Name: ${m.displayName || m.name}`, `Type: ${m.type}`, `Arch: [${m.architectures.join(" ")}]`, `Version: ${m.version}`].map(printable);
  if (all) {
    lines.push(printable(`Artifact: ${m.artifact.ref}`));
    lines.push(printable(`RelateImages: [${m.relatedImages.map((i) => i.ref).join(" ")}]`));
  }
  return lines.join("\n") + "\n";
}

/**
 * The package as `show`/`create -o json|yaml` report it (kind PackageInfo): where it is (the package file, or the
 * directory create made) and its metadata (versioned() replaces the metadata file's own apiVersion/kind).
 */
export function showData(m: PackageMetadata, where: { file: string } | { directory: string }): Record<string, unknown> {
  return { ...where, ...m };
}
