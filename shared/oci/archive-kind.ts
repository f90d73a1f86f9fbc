// What a file given as an OCI archive really is, for a one-line error that names it and says what to run instead:
// a Helm chart .tgz, a docker-save tar (manifest.json + repositories), a Palette pack, a violet package, some other
// tar, or no tar at all (zip, JSON, text, gzip of something else). Only the first entries are read.
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { Readable } from "node:stream";
import { createDecompressor, detectCompression, type Compression } from "./compression.ts";
import { OciError } from "./errors.ts";
import { readTar } from "../tar/stream.ts";

const MAX_ENTRIES = 200;

export interface ArchiveKind {
  kind: "oci" | "unknown" | "helm-chart" | "docker-save" | "palette-pack" | "violet-package" | "tar" | "not-tar";
  compression: Compression;
  /** for messages: "a Helm chart (app/Chart.yaml)", "a zip file", … */
  looksLike: string;
  /** what to run instead */
  instead?: string;
}

async function head(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, "r");
  try {
    const b = Buffer.alloc(n);
    const { bytesRead } = await fh.read(b, 0, n, 0);
    return b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

function notTar(b: Buffer, compression: Compression): string {
  const inner = compression === "none" ? "" : `${compression}-compressed data, but `;
  if (b.length === 0) return `${inner}an empty file`;
  if (b.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]))) return `${inner}a zip file`;
  const text = b.subarray(0, 512).toString("utf8");
  if (/^\s*[{[]/.test(text)) return `${inner}a JSON file`;
  if (/^(apiVersion|kind|[a-zA-Z_-]+):/m.test(text) && !/\uFFFD/.test(text)) return `${inner}a YAML/text file`;
  if (/^[\x09\x0a\x0d\x20-\x7e]*$/.test(text)) return `${inner}a text file`;
  return `${inner}not a tar archive`;
}

/** Sniff a file given where an OCI archive was expected. */
export async function archiveKind(path: string, files: string[] = [path]): Promise<ArchiveKind> {
  const compression = await detectCompression(files[0]!);
  async function* bytes() {
    for (const f of files) for await (const c of createReadStream(f, { highWaterMark: 1 << 16 })) yield c as Buffer;
  }
  const names: string[] = [];
  try {
    let src: AsyncIterable<Uint8Array> = bytes();
    if (compression !== "none") src = Readable.from(src).pipe(createDecompressor(compression, path));
    for await (const e of readTar(src)) {
      names.push(e.header.name.replace(/^\.\//, ""));
      if (names.length >= MAX_ENTRIES) break;
    }
  } catch (e) {
    // a tar the reader refuses for another reason (an oversized PAX header, …): its own error says it best
    if (!names.length && !/checksum|partial header|unexpected end|incorrect header|invalid|unknown compression|zstd/i.test((e as Error).message ?? "")) return { kind: "unknown", compression, looksLike: "an unreadable tar" };
    if (!names.length) {
      let first = await head(files[0]!, 512);
      if (compression !== "none") {
        const chunks: Buffer[] = [];
        try {
          const z = Readable.from(bytes()).pipe(createDecompressor(compression, path));
          for await (const c of z) {
            chunks.push(c as Buffer);
            if (Buffer.concat(chunks).length >= 512) break;
          }
        } catch {}
        first = Buffer.concat(chunks);
      }
      return { kind: "not-tar", compression, looksLike: notTar(first, compression) };
    }
  }
  const has = (re: RegExp) => names.find((n) => re.test(n));
  if (has(/^oci-layout$/)) return { kind: "oci", compression, looksLike: "an OCI archive" };
  const chart = has(/^[^/]+\/Chart\.yaml$/);
  if (chart) {
    return { kind: "helm-chart", compression, looksLike: `a Helm chart (${chart})`, instead: "push it with `helm addon-push CHART.tgz oci://REGISTRY/charts`, or mirror it with its images: `kubectl mirror sync CHART.tgz --dest REGISTRY` / `kubectl mirror export CHART.tgz -O bundle.tar`" };
  }
  if (has(/^manifest\.json$/) && (has(/^repositories$/) || has(/\/layer\.tar$/))) {
    return { kind: "docker-save", compression, looksLike: "a docker-save tar (manifest.json + repositories)", instead: "convert it first: `skopeo copy docker-archive:FILE oci-archive:FILE.oci.tar` (or `docker load -i FILE` and push the image), then use the OCI archive" };
  }
  if (has(/(^|\/)pack\.json$/)) return { kind: "palette-pack", compression, looksLike: "a Palette pack tarball (pack.json)", instead: "`kubectl mirror export-pack PACK.tgz -O bundle.tar`, then `kubectl mirror push bundle.tar`" };
  if (has(/(^|\/)violet-package\.yaml$|^manifest\.yaml$/)) return { kind: "violet-package", compression, looksLike: "a violet package", instead: "`kubectl violet push PACKAGE`" };
  const shown = names.filter((n) => !n.endsWith("/")).slice(0, 3).join(", ") || names.slice(0, 3).join(", ");
  return { kind: "tar", compression, looksLike: `a tar archive without oci-layout and index.json (first entries: ${shown || "none"})` };
}

/**
 * The error for a file that failed to open as an OCI archive: what it looks like and what to run instead. Undefined
 * when it is an OCI archive after all (the original error — truncation, corruption — is the right one then).
 */
export async function notAnOciArchive(path: string, files?: string[]): Promise<OciError | undefined> {
  let k: ArchiveKind;
  try {
    k = await archiveKind(path, files);
  } catch {
    return undefined;
  }
  if (k.kind === "oci" || k.kind === "unknown") return undefined;
  return new OciError(`${path} is not an OCI archive: it is ${k.looksLike}`, "BAD_ARCHIVE", k.instead ?? "give an archive written by `kubectl mirror export`, `kubectl mirror copy … oci-archive:FILE` or `skopeo copy … oci-archive:FILE`");
}
