// The archive writers of scripts/package.ts, checked with independent readers: Info-ZIP (unzip/zipinfo),
// Python's zipfile (what external attributes say) and GNU tar. Windows .zip: deflate + store, Unix modes,
// data descriptors, a streamed multi-MB entry; tar.gz: modes, directories, sha256 file, reproducibility.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { archiveFiles, archiveFormat, archiveName, helmPluginYaml, writeArchive } from "../../scripts/package.ts";
import { crc32 } from "../../scripts/zip.ts";
import { run, tempDir } from "./support.ts";

let dir: string;
let big: string;
let bigBytes: Buffer;
const PATH = { PATH: process.env.PATH };
const hasPython = spawnSync("python3", ["-c", "import zipfile"]).status === 0;

beforeAll(() => {
  dir = tempDir("ka-ship-archives-");
  big = join(dir, "big.bin");
  bigBytes = Buffer.concat([randomBytes(3 << 20), Buffer.alloc(2 << 20, 7)]); // incompressible + compressible
  writeFileSync(big, bigBytes);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

test("archive names and formats: zip only for the kubectl plugins on Windows", () => {
  expect(archiveName("kubectl-violet", "1.2.3", "linux-x64")).toBe("kubectl-violet-1.2.3-linux-amd64.tar.gz");
  expect(archiveName("kubectl-violet", "1.2.3", "darwin-arm64")).toBe("kubectl-violet-1.2.3-darwin-arm64.tar.gz");
  expect(archiveName("kubectl-scar", "1.2.3", "windows-x64")).toBe("kubectl-scar-1.2.3-windows-amd64.zip");
  // Helm extracts only tar.gz; the name keeps Helm 3's "<name>-<digit>…" rule for the install dir
  expect(archiveName("helm-addon-push", "1.2.3", "windows-x64")).toBe("helm-addon-push-1.2.3-windows-amd64.tar.gz");
  expect(archiveFormat("helm-addon-push", "windows-x64")).toBe("tar.gz");
  const files = archiveFiles("helm-addon-push", "windows-x64", big, "1.2.3").map((f) => [f.name, f.mode.toString(8)]);
  // the plugin in a top-level folder (Helm 4 local installs) plus a plugin.yaml at the top (Helm 3) running its binary
  expect(files).toEqual([["plugin.yaml", "644"], ["LICENSE", "644"], ["helm-addon-push/plugin.yaml", "644"], ["helm-addon-push/bin/helm-addon-push.exe", "755"], ["helm-addon-push/LICENSE", "644"]]);
  expect(helmPluginYaml("1.2.3", { outer: true })).toContain("command: \"$HELM_PLUGIN_DIR\\\\helm-addon-push\\\\bin\\\\helm-addon-push.exe\"");
  expect(helmPluginYaml("1.2.3")).toContain("command: \"$HELM_PLUGIN_DIR\\\\bin\\\\helm-addon-push.exe\"");
  expect(archiveFiles("kubectl-mirror", "windows-x64", big, "1.2.3").map((f) => f.name)).toEqual(["kubectl-mirror.exe", "LICENSE"]);
  expect(helmPluginYaml("v9.8.7")).toMatch(/^version: "9\.8\.7"$/m);
});

describe("zip", () => {
  let zip: string;
  let result: { sha256: string; bytes: number };
  beforeAll(async () => {
    zip = join(dir, "t.zip");
    result = await writeArchive(zip, "zip", [
      { name: "kubectl-demo.exe", source: big, mode: 0o755 },
      { name: "docs/README.md", source: Buffer.from("# hello\n"), mode: 0o644 },
      { name: "empty", source: new Uint8Array(0), mode: 0o600 },
    ], { mtime: 1_700_000_000, level: 1 });
  });

  test("sha256 and size of what was written", () => {
    const bytes = readFileSync(zip);
    expect(result.sha256).toBe(sha(bytes));
    expect(result.bytes).toBe(bytes.length);
    expect(bytes.subarray(0, 4).toString("latin1")).toBe("PK\x03\x04"); // what krew sniffs
  });

  test("unzip -t: every CRC checks out", async () => {
    const r = await run("unzip", ["-t", zip], { env: PATH });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("No errors detected");
  });

  test("zipinfo: Unix modes, a directory entry, deflated entries", async () => {
    const r = await run("zipinfo", [zip], { env: PATH });
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n").filter((l) => /^[-d]r/.test(l));
    const byName = Object.fromEntries(lines.map((l) => [l.trim().split(/\s+/).pop(), l]));
    expect(byName["kubectl-demo.exe"]).toMatch(/^-rwxr-xr-x .* unx .* defN/);
    expect(byName["docs/"]).toMatch(/^drwxr-xr-x/);
    expect(byName["docs/README.md"]).toMatch(/^-rw-r--r--/);
    expect(byName["empty"]).toMatch(/^-rw-------/);
  });

  test.skipIf(!hasPython)("python zipfile reads the same bytes and external attributes", async () => {
    const py = `import zipfile,hashlib,sys,json
z=zipfile.ZipFile(sys.argv[1])
print(json.dumps({i.filename:[i.external_attr>>16,i.create_system,hashlib.sha256(z.read(i)).hexdigest(),i.date_time[0]] for i in z.infolist()}))`;
    const r = await run("python3", ["-c", py, zip], { env: { ...PATH, HOME: process.env.HOME, PYENV_ROOT: process.env.PYENV_ROOT } });
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info["kubectl-demo.exe"]).toEqual([0o100755, 3, sha(bigBytes), 2023]);
    expect(info["docs/README.md"]).toEqual([0o100644, 3, sha(Buffer.from("# hello\n")), 2023]);
    expect(info["docs/"][0]).toBe(0o040755);
  });

  test("crc32 matches zlib's for incremental input", () => {
    const a = Buffer.from("hello ");
    const b = Buffer.from("world");
    expect(crc32(b, crc32(a))).toBe(crc32(Buffer.concat([a, b])));
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926); // the CRC-32 check value
  });
});

describe("tar.gz", () => {
  test("GNU tar lists modes and content; same input and mtime → same bytes", async () => {
    const files = [
      { name: "bin/tool", source: big, mode: 0o755 },
      { name: "LICENSE", source: Buffer.from("license text\n"), mode: 0o644 },
    ];
    const a = await writeArchive(join(dir, "a.tar.gz"), "tar.gz", files, { mtime: 1_700_000_000, level: 1 });
    const b = await writeArchive(join(dir, "b.tar.gz"), "tar.gz", files, { mtime: 1_700_000_000, level: 1 });
    expect(a.sha256).toBe(b.sha256);
    expect(a.sha256).toBe(sha(readFileSync(join(dir, "a.tar.gz"))));
    const r = await run("tar", ["-tvzf", join(dir, "a.tar.gz"), "--utc"], { env: PATH });
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split("\n").map((l) => l.split(/\s+/));
    expect(rows.map((x) => [x[0], x[2], x[3], x[5]])).toEqual([
      ["drwxr-xr-x", "0", "2023-11-14", "bin/"],
      ["-rwxr-xr-x", String(bigBytes.length), "2023-11-14", "bin/tool"],
      ["-rw-r--r--", "13", "2023-11-14", "LICENSE"],
    ]);
    const x = await run("tar", ["-xzOf", join(dir, "a.tar.gz"), "bin/tool"], { env: PATH });
    expect(x.code).toBe(0);
  });

  test("a missing input file fails and leaves no archive behind", async () => {
    const out = join(dir, "broken.tar.gz");
    await expect(writeArchive(out, "tar.gz", [{ name: "x", source: join(dir, "does-not-exist"), mode: 0o644 }])).rejects.toThrow();
    expect(() => readFileSync(out)).toThrow();
  });
});
