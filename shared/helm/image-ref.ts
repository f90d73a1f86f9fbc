// Container image references for discovery: the OCI core's Docker normalisation (docker.io, library/,
// :latest) plus a strict "is this an image?" test for strings found in charts (no templates, no
// oci-layout paths, no URLs).
import { parseRegistryReference } from "../oci/reference.ts";

export interface ImageRef {
  /** registry host[:port], "docker.io" for Docker Hub */
  registry: string;
  /** repository path without the host, e.g. "library/nginx" */
  repository: string;
  tag?: string;
  digest?: string;
}

export class InvalidImageError extends Error {
  override name = "InvalidImageError";
  constructor(public input: string, reason: string) {
    super(`invalid image reference "${input}": ${reason}`);
  }
}

/** Parse and normalise: "nginx" → docker.io/library/nginx:latest. Throws InvalidImageError. */
export function parseImage(input: string): ImageRef {
  const s = input.trim();
  if (!s) throw new InvalidImageError(input, "empty");
  if (/\s/.test(s)) throw new InvalidImageError(input, "contains whitespace");
  if (/^[a-z]+:\/\//i.test(s) || /^oci-(layout|archive):/.test(s)) throw new InvalidImageError(input, "not a registry reference");
  try {
    const r = parseRegistryReference(s);
    return { registry: r.registry, repository: r.repository, tag: r.tag, digest: r.digest };
  } catch (e) {
    throw new InvalidImageError(input, (e as Error).message);
  }
}

export function formatImage(ref: ImageRef): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}

/** The fully qualified form: "busybox" → "docker.io/library/busybox:latest". Throws InvalidImageError. */
export function normalizeImage(input: string): string {
  return formatImage(parseImage(input));
}

/** registry/repository without tag or digest. */
export function repositoryOf(ref: ImageRef): string {
  return `${ref.registry}/${ref.repository}`;
}

/** Normalised form, or undefined when the string is not an image reference (templates, empty, garbage). */
export function tryNormalizeImage(input: unknown): string | undefined {
  if (typeof input !== "string") return undefined;
  const s = input.trim();
  if (!s || s.includes("{{") || s.includes("${") || s.includes("$(")) return undefined;
  try {
    return normalizeImage(s);
  } catch {
    return undefined;
  }
}
