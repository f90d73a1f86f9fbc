// The one small contract every place content lives behind: a registry repository, an OCI layout
// directory, an OCI archive. Manifests are small and handled as bytes; blobs are streams.
import type { Readable } from "node:stream";
import type { Descriptor } from "./types.ts";

export interface Store {
  /** for messages: host/repo, oci-layout:dir, oci-archive:file */
  readonly name: string;
  /** identity of the storage (same id + same digest = same content); used for de-duplication */
  readonly id: string;
  /** tag or digest → descriptor of the root manifest/index */
  resolve(tagOrDigest: string): Promise<Descriptor>;
  /** exact manifest bytes, verified against desc.digest */
  fetchManifest(desc: Descriptor): Promise<Uint8Array>;
  /** verified blob stream (size and digest checked at its end; `verify: false` lets a store skip the digest) */
  fetchBlob(desc: Descriptor, opts?: { verify?: boolean }): Promise<Readable>;
  exists(desc: Descriptor): Promise<boolean>;
  /**
   * the blob's bytes from `offset` to its end, for an upload that continues where an earlier one stopped (size
   * checked; the digest is the receiver's to check, it covers the whole blob). Only stores with random access.
   */
  fetchBlobFrom?(desc: Descriptor, offset: number): Promise<Readable>;
  /** store a blob; `open` may be called again when a retry needs the content once more */
  pushBlob(desc: Descriptor, open: () => Promise<Readable>, opts?: PushOptions): Promise<void>;
  /** store a manifest by digest; with tags, also point those tags at it (only after its children exist) */
  pushManifest(desc: Descriptor, bytes: Uint8Array, tags?: string[]): Promise<void>;
  /** point a tag at an existing manifest */
  tag(desc: Descriptor, bytes: Uint8Array, tag: string): Promise<void>;
  /** manifests whose subject is desc (OCI referrers; may be empty) */
  referrers?(desc: Descriptor): Promise<Descriptor[]>;
  /** try to mount a blob from another repository of the same registry; true when it is now present */
  mountFrom?(desc: Descriptor, source: Store): Promise<boolean>;
  /** list tags, when the store can */
  tags?(): Promise<string[]>;
  /** finish writing (archives) */
  close?(): Promise<void>;
  /** archive writers: receive the whole graph (all manifests and small blobs) before the first big blob */
  prepare?(plan: Plan): Promise<void>;
}

/** How an upload may continue one an earlier run left (registries; see RegistryRepository.resumeUpload). */
export interface PushOptions {
  /**
   * The blob's bytes from `offset` to its end (their size is checked, their digest cannot be: the registry checks
   * the whole blob's at the closing PUT). Given, an upload session an earlier run left can be continued.
   */
  openAt?: (offset: number) => Promise<Readable>;
  /**
   * the source is a download that may stall: PATCHes streamed without a length, each ended when the source pauses,
   * so a run stopped while it waits leaves a session the registry kept (else one PATCH with Content-Length and
   * Content-Range: a local source keeps the registry busy, a pause is not expected)
   */
  download?: boolean;
  /** after a resumed upload committed: how many bytes it did not send again */
  onResumed?: (bytes: number) => void;
}

export interface PlannedNode {
  desc: Descriptor;
  /** manifest bytes (manifests only) */
  bytes?: Uint8Array;
}

export interface Plan {
  /** roots with the tags they get in this store */
  roots: { desc: Descriptor; bytes: Uint8Array; tags: string[] }[];
  /** all manifests in the graph (children first) */
  manifests: PlannedNode[];
  /** all blobs in the graph (configs first, then layers) */
  blobs: Descriptor[];
  /** small blobs (configs) with their content */
  smallBlobs: Map<string, Uint8Array>;
}
