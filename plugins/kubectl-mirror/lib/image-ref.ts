// Container image references with Docker normalisation (docker.io, library/, :latest), as
// github.com/distribution/reference does it. Local to kubectl-mirror discovery: chart values and manifests
// hold registry references only (no oci-layout paths), and we need a strict "is this an image?" test.

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

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::\d+)?$/;

/** Parse and normalise: "nginx" → docker.io/library/nginx:latest. Throws InvalidImageError. */
export function parseImage(input: string): ImageRef {
  const s = input.trim();
  if (!s) throw new InvalidImageError(input, "empty");
  if (/\s/.test(s)) throw new InvalidImageError(input, "contains whitespace");
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new InvalidImageError(input, `bad digest "${digest}"`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new InvalidImageError(input, `bad tag "${tag}"`);
  }
  let registry = "docker.io";
  let repository = rest;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase()) {
      registry = first;
      repository = rest.slice(slash + 1);
    }
  }
  if (!HOST.test(registry)) throw new InvalidImageError(input, `bad registry host "${registry}"`);
  if (registry === "index.docker.io" || registry === "registry-1.docker.io") registry = "docker.io";
  if (registry === "docker.io" && !repository.includes("/")) repository = `library/${repository}`;
  if (!repository) throw new InvalidImageError(input, "no repository");
  for (const c of repository.split("/")) {
    if (!COMPONENT.test(c)) throw new InvalidImageError(input, `bad repository path component "${c}"`);
  }
  if (registry.length + 1 + repository.length > 255) throw new InvalidImageError(input, "name longer than 255 characters");
  if (!tag && !digest) tag = "latest";
  return { registry, repository, tag, digest };
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
