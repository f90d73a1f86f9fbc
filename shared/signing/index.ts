// Signature and checksum verification for downloaded artifacts (packages, charts, archives): detached OpenPGP
// signatures and sha256sum-style checksum files, streamed in constant memory.
export * from "./checksum.ts";
export * from "./gpg.ts";
export * from "./verify.ts";
