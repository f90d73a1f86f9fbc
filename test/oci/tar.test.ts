import { describe, expect, test } from "bun:test";
import { PassThrough, Readable } from "node:stream";
import { readTar, safeEntryPath, TarWriter } from "../../shared/tar/stream.ts";
import { rawHeader } from "../support/tar-fixtures.ts";

async function build(entries: { name: string; data?: Buffer; dir?: boolean }[]): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c) => chunks.push(c));
  const w = new TarWriter(out);
  for (const e of entries) e.dir ? await w.addDirectory(e.name) : await w.addFile(e.name, e.data!.length, e.data!);
  await w.finish();
  out.end();
  return Buffer.concat(chunks);
}

describe("streaming tar", () => {
  test("writes and reads files, long names and offsets; GNU tar agrees", async () => {
    const long = "blobs/sha256/" + "f".repeat(64) + "/and/a/much/longer/path/that/needs/a/prefix/or/pax/" + "x".repeat(120);
    const data = Buffer.alloc(70_000, 7);
    const tar = await build([{ name: "oci-layout", data: Buffer.from("{}") }, { name: "blobs", dir: true }, { name: long, data }]);
    const names: string[] = [];
    for await (const e of readTar(Readable.from([tar]))) {
      names.push(e.header.name);
      if (e.header.name === long) {
        const b = await e.bytes();
        expect(b.equals(data)).toBe(true);
        expect(tar.subarray(e.offset, e.offset + 5).equals(data.subarray(0, 5))).toBe(true);
      }
    }
    expect(names).toEqual(["oci-layout", "blobs/", long]);
    const { execFileSync } = await import("node:child_process");
    const listed = execFileSync("tar", ["-tf", "-"], { input: tar }).toString().trim().split("\n");
    expect(listed).toEqual(["oci-layout", "blobs/", long]);
  });

  test("unread bodies are skipped; a truncated archive fails", async () => {
    const tar = await build([{ name: "a", data: Buffer.alloc(5000, 1) }, { name: "b", data: Buffer.from("bee") }]);
    const seen: string[] = [];
    for await (const e of readTar(Readable.from([tar]))) if (e.header.name === "b") seen.push((await e.bytes()).toString());
    expect(seen).toEqual(["bee"]);
    const cut = tar.subarray(0, 512 + 1000);
    await expect((async () => { for await (const e of readTar(Readable.from([cut]))) await e.bytes(); })()).rejects.toThrow(/truncated/);
  });

  test("rejects garbage and oversized PAX headers", async () => {
    await expect((async () => { for await (const _ of readTar(Readable.from([Buffer.alloc(512, 65)]))) {} })()).rejects.toThrow(/checksum/);
    const pax = rawHeader("PaxHeader", 2 << 20, "x");
    await expect((async () => { for await (const _ of readTar(Readable.from([pax, Buffer.alloc(1024)]))) {} })()).rejects.toThrow(/too large/);
  });

  test("symlink entries are reported with their target", async () => {
    const tar = Buffer.concat([rawHeader("evil", 0, "2", "/etc/passwd"), Buffer.alloc(1024)]);
    const hs = [];
    for await (const e of readTar(Readable.from([tar]))) hs.push(e.header);
    expect(hs[0]).toMatchObject({ type: "symlink", linkname: "/etc/passwd" });
  });

  test.each(["../x", "a/../../x", "/etc/passwd", "C:/x", "a\0b"])("safeEntryPath refuses %p", (p) => {
    expect(() => safeEntryPath(p)).toThrow(/refusing/);
  });
  test("safeEntryPath normalises", () => {
    expect(safeEntryPath("./a//b/./c")).toBe("a/b/c");
  });
});

