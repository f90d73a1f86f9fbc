// A small reader for chart archives (.tgz): gunzip + ustar/pax/gnu headers, regular files and directories
// only. Chart archives are small (Helm itself caps them), so the archive is read whole, but the expanded
// size is capped so a hostile archive cannot fill memory or disk. Not for image layers.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, normalize } from "node:path";
import { gunzipSync } from "node:zlib";
import { createLimit } from "../runtime/limit.ts";

/** Helm refuses charts above 20 MiB compressed; we allow generous room for the expanded files. */
export const MAX_CHART_EXPANDED = 256 * 1024 * 1024;

export class ChartArchiveError extends Error {
  override name = "ChartArchiveError";
}

export interface TarEntry {
  name: string;
  type: "file" | "directory" | "other";
  data: Uint8Array;
  /** modification time, seconds since the epoch */
  mtime?: number;
}

function str(buf: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && buf[end] !== 0) end++;
  return new TextDecoder().decode(buf.subarray(off, end));
}

function num(buf: Uint8Array, off: number, len: number): number {
  if (buf[off]! & 0x80) {
    // base-256 (GNU) for large values
    let v = 0;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + buf[i]!;
    return v;
  }
  const s = str(buf, off, len).trim();
  return s ? parseInt(s, 8) : 0;
}

function pax(data: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const text = new TextDecoder().decode(data);
  let i = 0;
  while (i < text.length) {
    const sp = text.indexOf(" ", i);
    if (sp < 0) break;
    const len = parseInt(text.slice(i, sp), 10);
    if (!len) break;
    const rec = text.slice(sp + 1, i + len - 1);
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Parse an uncompressed tar buffer into entries. */
export function parseTar(buf: Uint8Array, label = "archive"): TarEntry[] {
  const entries: TarEntry[] = [];
  let off = 0;
  let longName: string | undefined;
  let paxHdr: Record<string, string> = {};
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const size = num(h, 124, 12);
    const type = String.fromCharCode(h[156] || 48);
    const dataStart = off + 512;
    if (dataStart + size > buf.length) throw new ChartArchiveError(`${label}: truncated tar archive`);
    const data = buf.subarray(dataStart, dataStart + size);
    off = dataStart + Math.ceil(size / 512) * 512;
    if (type === "x") {
      paxHdr = pax(data);
      continue;
    }
    if (type === "g") continue;
    if (type === "L") {
      longName = str(data, 0, data.length);
      continue;
    }
    let name = str(h, 0, 100);
    const magic = str(h, 257, 6);
    if (magic.startsWith("ustar")) {
      const prefix = str(h, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    if (longName) name = longName;
    if (paxHdr.path) name = paxHdr.path;
    longName = undefined;
    paxHdr = {};
    const kind = type === "0" || type === "\0" || type === "7" ? "file" : type === "5" ? "directory" : "other";
    entries.push({ name, type: kind, data, mtime: num(h, 136, 12) });
  }
  return entries;
}

/** Read a .tgz (or plain .tar) chart archive into entries. */
export async function readChartArchive(file: string): Promise<TarEntry[]> {
  return tarEntries(await readFile(file), file);
}

function tarEntries(raw: Uint8Array, file: string): TarEntry[] {
  let tar: Uint8Array;
  if (raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      tar = gunzipSync(raw, { maxOutputLength: MAX_CHART_EXPANDED });
    } catch (e) {
      throw new ChartArchiveError(`${file}: not a valid gzip chart archive (${(e as Error).message})`);
    }
  } else {
    tar = raw;
  }
  return parseTar(tar, file);
}

/** Safe relative path inside the target dir, or undefined for absolute/.. paths. */
function safeRel(name: string): string | undefined {
  const n = normalize(name.replace(/\\/g, "/")).replace(/^(\.\/)+/, "");
  if (!n || n === "." || n.startsWith("/") || n.split(/[\\/]/).includes("..") || /^[A-Za-z]:/.test(n)) return undefined;
  return n;
}

/** A chart archive read whole: its bytes, its entries and the one top-level folder holding Chart.yaml. */
export interface ChartArchiveContents {
  file: string;
  /** the archive's bytes as stored (hash them for its digest) */
  raw: Uint8Array;
  entries: TarEntry[];
  /** the top-level folder holding Chart.yaml */
  top: string;
}

/**
 * Read a chart archive and check it as extraction does (no path escaping the folder, exactly one top-level folder
 * with Chart.yaml), without writing anything.
 */
export async function openChartArchive(file: string): Promise<ChartArchiveContents> {
  const raw = await readFile(file);
  const entries = tarEntries(raw, file);
  const rels = entries.map((e) => {
    const rel = safeRel(e.name);
    if (!rel) throw new ChartArchiveError(`${file}: unsafe path "${e.name}" in chart archive`);
    return rel.replace(/\\/g, "/");
  });
  const tops = new Set(rels.map((r, i) => (entries[i]!.type === "other" ? undefined : r.split("/")[0]!)).filter((t): t is string => t !== undefined));
  const withChart = [...tops].filter((t) => rels.includes(`${t}/Chart.yaml`));
  if (withChart.length !== 1) throw new ChartArchiveError(`${file}: not a Helm chart archive (expected one top-level folder with Chart.yaml)`);
  return { file, raw, entries, top: withChart[0]! };
}

/** The entry of `<top>/<rel>` (the last one when repeated: extraction writes them in order). */
export function chartArchiveEntry(c: ChartArchiveContents, rel: string): TarEntry | undefined {
  const want = `${c.top}/${rel}`;
  return c.entries.findLast((e) => e.type === "file" && safeRel(e.name)?.replace(/\\/g, "/") === want);
}

/**
 * Extract a chart archive into `dest` and return the chart's top-level directory (archives hold one
 * `<chart>/` folder). Entries escaping the folder and links are skipped.
 */
export async function extractChartArchive(file: string, dest: string): Promise<string> {
  return extractChartContents(await openChartArchive(file), dest);
}

/** extractChartArchive of an archive already read (openChartArchive). */
export async function extractChartContents(c: ChartArchiveContents, dest: string): Promise<string> {
  // every path was checked when reading; each directory is made once and the files written a few at a time (a
  // chart like kube-prometheus-stack has 300 entries: one mkdir and one write after the other took ~130 ms)
  const dirs = new Set<string>();
  const files = new Map<string, Uint8Array>(); // target → bytes (an entry repeated later wins, as when written in order)
  for (const e of c.entries) {
    if (e.type === "other") continue;
    const target = join(dest, safeRel(e.name)!);
    if (e.type === "directory") dirs.add(target);
    else {
      dirs.add(dirname(target));
      files.set(target, e.data);
    }
  }
  // parents before children (a sorted list puts "a" before "a/b"); recursive mkdir makes any missing parent anyway
  for (const d of [...dirs].sort()) await mkdir(d, { recursive: true });
  const limit = createLimit(16);
  await Promise.all([...files].map(([target, data]) => limit(() => writeFile(target, data))));
  return join(dest, c.top);
}
