// kubectl mirror inspect ARCHIVE|oci-layout:DIR|REFERENCE — what a bundle carries, without a registry and without
// extracting it (zarf package inspect, hauler store info); for a registry reference its manifest and config
// (skopeo inspect, crane manifest/config).
import { logger } from "../../../shared/cli/logger.ts";
import { defineCommand, type CommandMeta } from "citty";
import { keyArgs, logTrust, verifyKeysFromArgs } from "../lib/inputs/sign-args.ts";
import { archiveFileTrust } from "../lib/transfer/archive-sign.ts";
import { METADATA_FILE } from "../lib/transfer/archive.ts";
import { outputArgs, registryArgs } from "../../../shared/cli/args.ts";
import { UsageError } from "../../../shared/cli/errors.ts";
import { printData, table, versioned } from "../../../shared/cli/output.ts";
import { humanBytes } from "../../../shared/cli/progress.ts";
import { registryOptionsFromArgs } from "../../../shared/cli/registry.ts";
import { createClient, openSource } from "../../../shared/oci/client.ts";
import { formatReference, parseReference, type Reference } from "../../../shared/oci/reference.ts";
import { inspectLocal, inspectReference, type InspectReport, type ReferenceReport } from "../lib/report/inspect.ts";

export const DESCRIPTION = "Show what an archive (or its split parts), an OCI layout or a registry image holds: charts, packs, images with digests, platforms, sizes and signatures, and who exported it";

function archiveText(r: InspectReport): string {
  const lines: string[] = [];
  const c = r.created;
  lines.push(`${r.type === "oci-layout" ? "OCI layout" : "Archive"}: ${r.source}${r.compression && r.compression !== "none" ? ` (${r.compression})` : ""}${r.fileSize !== undefined ? `, ${humanBytes(r.fileSize)}` : ""}${r.parts ? ` in ${r.parts.length} parts` : ""}`);
  if (c) {
    lines.push(`Created: ${[c.at, c.by, c.user && `by ${c.user}${c.host ? `@${c.host}` : ""}`, c.version].filter(Boolean).join(", ")}`);
    if (c.args?.length) lines.push(`Flags: ${c.args.join(" ")}`);
    if (c.platforms?.length) lines.push(`Platforms: ${c.platforms.join(", ")}`);
    if (c.incremental) lines.push(`Incremental: left out ${c.incremental.blobsSkipped} blob(s) of ${c.incremental.existing.join(", ")}`);
  }
  if (r.parts) lines.push(`Parts: ${r.parts.map((p) => `${p.file} (${humanBytes(p.size)})`).join(", ")}`);
  lines.push("");
  if (r.artifacts.length) {
    lines.push(table(["kind", "name", "version", "path", "images", "size"], r.artifacts.map((a) => [a.kind, a.name, a.version, a.ref, a.images, a.size !== undefined ? humanBytes(a.size) : "missing"])));
  }
  if (r.images.length) {
    lines.push(table(["image", "digest", "platforms", "size", "signatures"], r.images.map((i) => [i.image, i.digest.slice(0, 19), i.platforms.join(",") || "-", humanBytes(i.size), i.referrers.length ? i.referrers.map((x) => x.tag?.replace(/^sha256-[a-f0-9]+\./, ".") ?? x.artifactType ?? x.digest.slice(0, 19)).join(",") : "-"])));
  }
  if (r.other.length) lines.push(table(["other root", "digest", "media type"], r.other.map((o) => [o.ref ?? "(untagged)", o.digest.slice(0, 19), o.mediaType])));
  const t = r.totals;
  lines.push(`Total: ${t.charts} chart(s), ${t.packs} pack(s), ${t.images} image(s), ${t.referrers} signature(s)/referrer(s); ${t.blobs} blobs, ${humanBytes(t.bytes)}`);
  return lines.join("\n") + "\n";
}

function referenceText(r: ReferenceReport): string {
  const lines = [`Reference: ${r.reference}`, `Digest: ${r.digest}`, `Media type: ${r.mediaType}`, `Platforms: ${r.platforms.join(", ") || "-"}`, `Size: ${humanBytes(r.size)}`];
  if (r.manifests) lines.push("", table(["platform", "digest", "media type", "size"], r.manifests.map((m) => [m.platform ?? "-", m.digest, m.mediaType, m.size])).trimEnd());
  if (r.config) lines.push(`Config: ${r.config.digest} (${r.config.mediaType})`);
  if (r.layers?.length) lines.push("", table(["layer", "media type", "size"], r.layers.map((l) => [l.digest, l.mediaType, humanBytes(l.size)])).trimEnd());
  if (r.referrers.length) lines.push("", table(["referrer", "artifact type", "tag"], r.referrers.map((x) => [x.digest, x.artifactType ?? "", x.tag ?? ""])).trimEnd());
  return lines.join("\n") + "\n";
}

export default defineCommand({
  meta: {
    name: "inspect",
    description: DESCRIPTION,
    notes: [
      "CREDENTIALS (only for a REFERENCE in a registry; the first that applies wins; archives and layouts need none):",
      "  --username + --password-stdin (or --password, visible to other users): the registry of REFERENCE only",
      "  stored credentials for that host: docker config.json auths and credential helpers (--registry-config)",
      "  nothing: anonymous access",
    ],
    examples: [
      "kubectl mirror inspect bundle.tar.zst                       # charts, packs, images, who exported it",
      "kubectl mirror inspect big.tar.parts -o json                # a split archive, read across its parts",
      "kubectl mirror inspect oci-layout:./store",
      "kubectl mirror inspect bundle.tar.zst --key key.pub           # is it signed by key.pub and intact?",
      "kubectl mirror inspect quay.io/org/app:v1                   # manifest, platforms, config, layers, referrers",
      "kubectl mirror inspect quay.io/org/app:v1 --raw             # the manifest bytes (skopeo inspect --raw)",
      "kubectl mirror inspect quay.io/org/app@sha256:… --config    # the image config (crane config)",
      "kubectl mirror inspect oci-archive:app.tar:docker.io/library/busybox:1.36",
    ],
  } as CommandMeta,
  args: {
    source: { type: "positional", required: true, description: "Archive (.tar, .tar.gz, .tar.zst, NAME.parts of a split one), oci-layout:DIR, or an image reference (host/repo:tag, oci-archive:FILE:TAG, oci-layout:DIR:TAG)", valueHint: "ARCHIVE|REFERENCE" },
    raw: { type: "boolean", description: "Print the manifest exactly as stored (of an archive or layout: its index.json)" },
    config: { type: "boolean", description: "Print the image config exactly as stored (single-platform image references)" },
    ...keyArgs,
    ...outputArgs,
    ...registryArgs,
  },
  async run({ args, rawArgs }) {
    const src = String(args.source ?? "");
    if (!src) throw new UsageError("nothing to inspect", "kubectl mirror inspect ARCHIVE|oci-layout:DIR|REFERENCE");
    if (args.raw && args.config) throw new UsageError("--raw and --config: give one");
    if ((args.raw || args.config) && args.output) throw new UsageError(`--${args.raw ? "raw" : "config"} prints the stored bytes: -o does not apply`);
    const local = await localTarget(src);
    if (local) {
      if (args.config) throw new UsageError("--config needs an image reference", `e.g. oci-archive:${local}:TAG or oci-layout:DIR:TAG`);
      const keys = await verifyKeysFromArgs(rawArgs);
      const { report, rawIndex } = await inspectLocal(src);
      if (args.raw) {
        process.stdout.write(rawIndex);
        return;
      }
      // what the signature says (with --key: checked whole, blobs included; a failure is the command's error)
      // without --key a disagreement is shown as a warning (inspect is for looking), with --key it is the error
      const trust = src.startsWith("oci-layout:")
        ? undefined
        : await archiveFileTrust(src.replace(/^oci-archive:/, ""), keys, METADATA_FILE).catch((e) => {
            if (keys) throw e;
            logger().warn((e as Error).message);
            return undefined;
          });
      if (trust) logTrust([trust]);
      printData(versioned("ArchiveInspection", trust ? { ...report, signature: trust } : report), args.output as string | undefined, () => archiveText(report) + (trust ? `Signature: ${trust.signature}${trust.signer ? ` (key ${trust.signer.slice(0, 16)}…, ${trust.format})` : ""}\n` : ""));
      return;
    }
    let ref;
    try {
      ref = parseReference(src);
    } catch (e) {
      throw new UsageError(`${src}: not an archive, oci-layout:DIR or image reference (${(e as Error).message})`, "check the path or the reference");
    }
    ref = await localRefName(ref, src);
    const registry = await registryOptionsFromArgs(args, rawArgs, { source: ref.kind === "registry" ? [ref.registry] : [] });
    const client = createClient(registry);
    const opened = await openSource(ref, client, registry);
    try {
      const raw = args.raw ? "manifest" : args.config ? "config" : undefined;
      const r = await inspectReference(opened.store, opened.reference, formatReference(ref), raw);
      if (raw) {
        process.stdout.write(r.raw!);
        return;
      }
      printData(versioned("ImageInspection", r.report), args.output as string | undefined, () => referenceText(r.report));
    } finally {
      await opened.store.close?.();
      client.transport.close();
    }
  },
});

/**
 * oci-archive:FILE:REF where REF is an image reference with its own colon (the ref names export writes:
 * docker.io/library/busybox:1.36): the path is the longest existing prefix, the rest is the ref name (skopeo's rule).
 */
async function localRefName(ref: Reference, src: string): Promise<Reference> {
  if (ref.kind === "registry") return ref;
  const { existsSync } = await import("node:fs");
  if (existsSync(ref.path)) return ref;
  const rest = src.slice(ref.kind.length + 1);
  for (let i = rest.indexOf(":"); i > 0; i = rest.indexOf(":", i + 1)) {
    if (existsSync(rest.slice(0, i))) return { kind: ref.kind, path: rest.slice(0, i), tag: rest.slice(i + 1) };
  }
  return ref;
}

/** The archive or layout to inspect as a whole (no tag), or undefined for an image reference. */
async function localTarget(src: string): Promise<string | undefined> {
  const { existsSync } = await import("node:fs");
  if (src.startsWith("oci-layout:")) return src.slice("oci-layout:".length).includes(":") && !existsSync(src.slice("oci-layout:".length)) ? undefined : src;
  if (src.startsWith("oci-archive:")) {
    const p = src.slice("oci-archive:".length);
    return existsSync(p) || existsSync(`${p.replace(/\.part\d{3}$|\.parts$/, "")}.parts`) ? p : undefined;
  }
  if (existsSync(src) || existsSync(`${src.replace(/\.part\d{3}$|\.parts$/, "")}.parts`)) return src;
  // a path-like argument that does not exist: an archive the user misspelled, not a registry reference
  if (/\.(tar|tgz|gz|zst|tzst|parts|part\d{3})$/.test(src) || src.startsWith("./") || src.startsWith("/")) return src;
  return undefined;
}
