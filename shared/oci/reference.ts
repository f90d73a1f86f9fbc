// Image references: Docker normalisation (nginx → docker.io/library/nginx:latest), host:port, localhost, IPv4, [IPv6],
// tag, digest, tag+digest; and the pseudo-references oci-layout:<dir>[:tag|@digest], oci-archive:<file>[:tag|@digest].
import { isIPv6 } from "node:net";
import { validateDigest } from "./digest.ts";
import { InvalidReferenceError } from "./errors.ts";

export const DOCKER_HUB = "docker.io";

export interface RegistryReference {
  kind: "registry";
  registry: string; // host[:port], normalised (index.docker.io → docker.io)
  repository: string; // path, normalised (nginx → library/nginx on Docker Hub)
  tag?: string;
  digest?: string;
}

export interface LocalReference {
  kind: "oci-layout" | "oci-archive";
  path: string;
  tag?: string;
  digest?: string;
}

export type Reference = RegistryReference | LocalReference;

const TAG = /^[\w][\w.-]{0,127}$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const HOST = /^(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?$/;

/** Split "name[:tag][@digest]" at the tag/digest, taking care of host ports. */
function splitTagDigest(s: string, whole: string): { name: string; tag?: string; digest?: string } {
  let name = s;
  let digest: string | undefined;
  const at = name.indexOf("@");
  if (at >= 0) {
    digest = name.slice(at + 1);
    name = name.slice(0, at);
    try {
      validateDigest(digest);
    } catch {
      throw new InvalidReferenceError(whole, `bad digest "${digest}" (expected sha256:<64 hex>)`);
    }
  }
  let tag: string | undefined;
  const colon = name.lastIndexOf(":");
  if (colon > name.lastIndexOf("/")) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
    if (!TAG.test(tag)) throw new InvalidReferenceError(whole, `bad tag "${tag}" (letters, digits, _ . -; at most 128)`);
  }
  return { name, tag, digest };
}

/** Parse any reference users may type. Registry references are normalised the Docker way. */
export function parseReference(input: string): Reference {
  const s = input.trim();
  if (!s) throw new InvalidReferenceError(input, "empty reference");
  for (const kind of ["oci-layout", "oci-archive"] as const) {
    if (s.startsWith(`${kind}:`)) return parseLocal(kind, s.slice(kind.length + 1), input);
  }
  if (s.startsWith("oci://")) return parseRegistryReference(s.slice(6));
  if (/^[a-z]+:\/\//i.test(s)) throw new InvalidReferenceError(input, `unsupported scheme (use host/repo:tag, oci://, oci-layout: or oci-archive:)`);
  return parseRegistryReference(s);
}

function parseLocal(kind: LocalReference["kind"], rest: string, whole: string): LocalReference {
  if (!rest) throw new InvalidReferenceError(whole, `${kind} needs a path`);
  let path = rest;
  let digest: string | undefined;
  let tag: string | undefined;
  const at = path.lastIndexOf("@");
  if (at > 0 && /^[a-z0-9]+:[a-f0-9]+$/.test(path.slice(at + 1))) {
    digest = path.slice(at + 1);
    path = path.slice(0, at);
    try {
      validateDigest(digest);
    } catch {
      throw new InvalidReferenceError(whole, `bad digest "${digest}"`);
    }
  }
  // ":tag" suffix: only when what follows the last colon is a valid tag and not part of a Windows drive
  const colon = path.lastIndexOf(":");
  if (colon > 1 && !path.slice(colon + 1).includes("/") && TAG.test(path.slice(colon + 1))) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
  }
  return { kind, path, tag, digest };
}

export function parseRegistryReference(s: string, whole = s): RegistryReference {
  const head = s.split("/")[0]!;
  if (s.includes("/") && head.includes("@")) throw new InvalidReferenceError(whole, "credentials do not belong in an image reference; give them with -u/--password-stdin, docker login or `kubectl mirror login`");
  const { name, tag, digest } = splitTagDigest(s, whole);
  const slash = name.indexOf("/");
  let registry = DOCKER_HUB;
  let repository = name;
  if (slash >= 0) {
    const first = name.slice(0, slash);
    if (first === "localhost" || first.includes(".") || first.includes(":") || first !== first.toLowerCase()) {
      registry = first;
      repository = name.slice(slash + 1);
    }
  }
  if (!HOST.test(registry)) throw new InvalidReferenceError(whole, `bad registry host "${registry}"${/^[0-9a-fA-F]*:[0-9a-fA-F]*:/.test(registry) ? " (write IPv6 addresses in brackets: [::1]:5000/repo)" : ""}`);
  // IPv6 literals in brackets, like skopeo, crane and containerd: [::1]:5000/repo
  const v6 = /^\[([^\]]+)\]/.exec(registry)?.[1];
  if (v6 !== undefined && !isIPv6(v6)) throw new InvalidReferenceError(whole, `bad IPv6 address "${v6}"`);
  const port = /:(\d+)$/.exec(registry)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) throw new InvalidReferenceError(whole, `port ${port} of "${registry}" is out of range (1-65535)`);
  if (registry === "index.docker.io" || registry === "registry-1.docker.io") registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes("/")) repository = `library/${repository}`;
  if (!repository) throw new InvalidReferenceError(whole, "missing repository name");
  for (const part of repository.split("/")) {
    if (!PATH_COMPONENT.test(part)) throw new InvalidReferenceError(whole, `bad repository path component "${part}" (lowercase letters, digits, separators . _ __ -)`);
  }
  if (repository.length > 255) throw new InvalidReferenceError(whole, "repository name longer than 255 characters");
  return { kind: "registry", registry, repository, tag: tag ?? (digest ? undefined : "latest"), digest };
}

/** host/repo[:tag][@digest] */
export function formatReference(r: Reference): string {
  const suffix = `${r.tag ? `:${r.tag}` : ""}${r.digest ? `@${r.digest}` : ""}`;
  if (r.kind === "registry") return `${r.registry}/${r.repository}${suffix}`;
  return `${r.kind}:${r.path}${suffix}`;
}

/** host/repo */
export function repositoryName(r: RegistryReference): string {
  return `${r.registry}/${r.repository}`;
}

/** The API host for a registry name (Docker Hub's API lives on registry-1.docker.io). */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? "registry-1.docker.io" : registry;
}

/** Loopback registries (localhost, 127.x) — used for friendlier defaults and messages. */
export function isLoopback(registry: string): boolean {
  const host = registry.replace(/:\d+$/, "");
  return host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
