// Raw tar building blocks for hostile-archive tests.

/** a raw ustar header block with a valid checksum */
export function rawHeader(name: string, size: number, type: string, linkname = ""): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0);
  b.write("0000644\0", 100);
  b.write("0000000\0", 108);
  b.write("0000000\0", 116);
  b.write(size.toString(8).padStart(11, "0") + "\0", 124);
  b.write("00000000000\0", 136);
  b.write("        ", 148);
  b.write(type, 156);
  b.write(linkname, 157);
  b.write("ustar\0", 257);
  b.write("00", 263);
  let s = 0;
  for (const x of b) s += x;
  b.write(s.toString(8).padStart(6, "0") + "\0 ", 148);
  return b;
}

