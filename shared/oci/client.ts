// Building a registry client from options, and opening stores from user references.
import { compressionForName } from "./compression.ts";
import { OciArchiveReader, OciArchiveWriter } from "./archive.ts";
import { OciError } from "./errors.ts";
import { OciLayoutStore } from "./layout.ts";
import { formatReference, parseReference, type Reference } from "./reference.ts";
import { RegistryRepository } from "./registry.ts";
import type { Store } from "./store.ts";
import { AuthClient } from "./transport/auth.ts";
import { chainCredentials, dockerConfigCredentials, envCredentials, type CredentialProvider } from "./transport/credentials.ts";
import { HttpTransport, type HostConfig, type TransportOptions } from "./transport/http.ts";
import { readFileSync } from "node:fs";

export interface RegistryOptions {
  /** true: every registry over HTTP; a list: only these hosts */
  plainHttp?: boolean | string[];
  /** true: skip TLS verification for every registry; a list: only these hosts */
  insecure?: boolean | string[];
  /** extra CA files; with a host, only for that registry */
  caFiles?: { host?: string; file: string }[];
  /** credential lookup; default: REGISTRY_USERNAME/PASSWORD env, then docker config.json */
  credentials?: CredentialProvider;
  /** docker config.json to read (default $DOCKER_CONFIG/config.json) */
  registryConfig?: string;
  timeoutMs?: number;
  retries?: number;
  backoffMs?: number;
  maxSocketsPerHost?: number;
  /** PATCH chunk size for uploads (0: monolithic) */
  chunkSize?: number;
  onRetry?: TransportOptions["onRetry"];
}

function hostIn(list: boolean | string[] | undefined, host: string): boolean {
  if (list === true) return true;
  if (!list) return false;
  const bare = host.replace(/:\d+$/, "");
  return list.some((h) => h === host || h === bare);
}

export function hostConfigFor(opts: RegistryOptions): (host: string) => HostConfig {
  const cache = new Map<string, HostConfig>();
  return (host) => {
    let c = cache.get(host);
    if (!c) {
      const cas = (opts.caFiles ?? []).filter((f) => !f.host || f.host === host || f.host === host.replace(/:\d+$/, ""));
      let ca: string | undefined;
      if (cas.length) {
        ca = cas
          .map((f) => {
            try {
              return readFileSync(f.file, "utf8");
            } catch (e) {
              throw new OciError(`cannot read CA file ${f.file}: ${(e as Error).message}`, "BAD_CA", "check the --ca-file path");
            }
          })
          .join("\n");
      }
      c = { plainHttp: hostIn(opts.plainHttp, host), insecure: hostIn(opts.insecure, host), ca };
      cache.set(host, c);
    }
    return c;
  };
}

export function createClient(opts: RegistryOptions = {}): AuthClient {
  const transport = new HttpTransport({
    hostConfig: hostConfigFor(opts),
    timeoutMs: opts.timeoutMs,
    retries: opts.retries,
    backoffMs: opts.backoffMs,
    maxSocketsPerHost: opts.maxSocketsPerHost,
    userAgent: "kube-airgap",
    onRetry: opts.onRetry,
  });
  const creds = opts.credentials ?? chainCredentials(envCredentials(), dockerConfigCredentials(opts.registryConfig));
  return new AuthClient(transport, creds);
}

export interface Opened {
  store: Store;
  ref: Reference;
  /** tag or digest to resolve in the store */
  reference: string;
}

/** Open a reference for reading. */
export async function openSource(input: string | Reference, client: AuthClient, opts: RegistryOptions = {}): Promise<Opened> {
  const ref = typeof input === "string" ? parseReference(input) : input;
  let store: Store;
  if (ref.kind === "registry") store = RegistryRepository.fromReference(client, ref, { chunkSize: opts.chunkSize });
  else if (ref.kind === "oci-layout") store = await OciLayoutStore.open(ref.path);
  else store = await OciArchiveReader.open(ref.path);
  return { store, ref, reference: ref.digest ?? ref.tag ?? "latest" };
}

/** Open a reference for writing (layouts are created; archives are written to a temp name then renamed). */
export async function openTarget(input: string | Reference, client: AuthClient, opts: RegistryOptions & { gzip?: boolean } = {}): Promise<Opened & { tags: string[] }> {
  const ref = typeof input === "string" ? parseReference(input) : input;
  let store: Store;
  if (ref.kind === "registry") store = RegistryRepository.fromReference(client, ref, { chunkSize: opts.chunkSize });
  else if (ref.kind === "oci-layout") store = await OciLayoutStore.create(ref.path);
  else store = new OciArchiveWriter(ref.path, { compression: opts.gzip ? "gzip" : compressionForName(ref.path) });
  if (ref.digest && ref.tag) throw new OciError(`target ${formatReference(ref)}: give a tag or a digest, not both`, "INVALID_REFERENCE");
  return { store, ref, reference: ref.digest ?? ref.tag ?? "latest", tags: ref.tag ? [ref.tag] : [] };
}
