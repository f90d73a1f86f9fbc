// Issue 12 points 4 and 5: what we print from untrusted input cannot drive the terminal (escape sequences,
// fake lines), and secrets carried in URLs (presigned storage redirects, user:password@ in a reference) never
// appear in errors, logs or -o json.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:http";
import { request } from "node:https";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { runCli } from "../support/cli.ts";
import { file, image, indexJson, mirror, OCI_LAYOUT, regFlags, tagDigest, writeArchive } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "ka-outsafe-"));
let reg: TestRegistry; // realistic destination: TLS + htpasswd
let origin: TestRegistry; // the source (TLS + htpasswd) behind a plain-HTTP "CDN" front that redirects blobs to presigned storage URLs
/** what the presigned storage host received: it must never see the registry's credentials */
const storageAuth: (string | undefined)[] = [];
let front: Server;
let storage: Server;
let frontHost = "";
const SIG = "f00dfacecafe0123456789abcdef0123456789abcdef0123456789abcdefbeef";
const CRED = "AKIAIOSFODNN7EXAMPLE";

function listen(s: Server): Promise<number> {
  return new Promise((r) => s.listen(0, "127.0.0.1", () => r((s.address() as AddressInfo).port)));
}

beforeAll(async () => {
  [reg, origin] = await Promise.all([startRegistry({ auth: "htpasswd", tls: true }), startRegistry()]);
  // S3-like storage: refuses the presigned request and echoes it in its error body, as S3 does
  storage = createServer((req, res) => {
    storageAuth.push(req.headers.authorization);
    res.writeHead(500, { "content-type": "application/xml" });
    res.end(`<Error><Code>InternalError</Code><Message>We encountered an internal error</Message><Resource>${req.url}</Resource></Error>`);
  });
  const storagePort = await listen(storage);
  front = createServer((req, res) => {
    if (req.method === "GET" && /\/blobs\/sha256:/.test(req.url ?? "")) {
      res.writeHead(307, { location: `http://127.0.0.1:${storagePort}/bucket/blob?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${CRED}%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=${SIG}` });
      return res.end();
    }
    const up = request(`${origin.url}${req.url}`, { method: req.method, headers: { ...req.headers, host: origin.host }, ca: readFileSync(origin.caFile!, "utf8") }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  frontHost = `127.0.0.1:${await listen(front)}`;
  // an image on the origin, pushed with our own copy from an archive
  const img = image([Buffer.alloc(4000, 7)]);
  const a = writeArchive(tmp, "src.tar", [file("oci-layout", OCI_LAYOUT), file("index.json", indexJson([{ img, tag: "v1" }])), ...img.blobs]);
  const r = await runCli("kubectl-mirror", ["copy", `oci-archive:${a}:v1`, `${origin.host}/app/img:v1`, "--ca-file", `${origin.host}=${origin.caFile}`, "-u", origin.username, "--password-stdin"], { stdin: origin.password + "\n" });
  expect(r.code).toBe(0);
}, 60_000);
afterAll(async () => {
  front?.close();
  storage?.close();
  await Promise.all([reg.stop(), origin.stop()]);
  rmSync(tmp, { recursive: true, force: true });
});

/** copy from the front: its credentials by --src-username/--src-password-stdin, the destination's by regFlags */
const fromFront = (args: string[]) => runCli("kubectl-mirror", [...args, "--src-username", origin.username, "--src-password-stdin", ...regFlags(reg)], { stdin: origin.password + "\n", env: { DOCKER_CONFIG: "/nonexistent", REGISTRY_USERNAME: undefined, REGISTRY_PASSWORD: undefined } });

describe("secrets in URLs (point 5)", () => {
  test("a blob redirected to a presigned URL: no signature or credential in errors or -o json", async () => {
    // the source's credentials go to the front (its host) only, never along the redirect to the storage host
    const r = await fromFront(["copy", `${frontHost}/app/img:v1`, `${reg.host}/safe/img:v1`, "--plain-http-host", frontHost, "--retries", "0", "-o", "json", "--debug"]);
    expect(r.code).not.toBe(0);
    expect(storageAuth.length).toBeGreaterThan(0); // the redirect was followed…
    expect(storageAuth.filter(Boolean)).toEqual([]); // …without an Authorization header
    const all = r.stdout + r.stderr;
    expect(all).not.toContain(origin.password);
    expect(all).toMatch(/HTTP 500|InternalError/); // the failure is reported…
    expect(all).not.toContain(SIG); // …without the signature
    expect(all).not.toContain(CRED);
    expect(await tagDigest(reg, "safe/img", "v1")).toBeUndefined();
  });

  test("a password typed into a reference is not echoed", async () => {
    const r = await fromFront(["copy", `${frontHost}/app/img:v1`, `admin:Hunter2-Secret@${reg.host}/safe/img:v1`, "--plain-http-host", frontHost, "-o", "json"]);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).not.toContain("Hunter2-Secret");
    expect(r.stderr).toMatch(/credentials do not belong in an image reference/);
  });
});

describe("terminal injection (point 4)", () => {
  const evilTag = "v1\x1b[2J\x1b]0;owned\x07\nerror: FAKE LINE";
  test("a tag with ESC and a newline in an archive is escaped when listed in an error", async () => {
    const img = image([Buffer.alloc(3000, 5)]);
    const a = writeArchive(tmp, "evil.tar", [file("oci-layout", OCI_LAYOUT), file("index.json", indexJson([{ img, tag: evilTag }])), ...img.blobs]);
    const r = await mirror(reg, ["copy", `oci-archive:${a}:nope`, `${reg.host}/esc/img:v1`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/tags there: v1\\e\[2J/);
    expect(r.stderr).not.toContain("\x1b");
    expect(r.stderr).not.toContain("\x07");
    expect(r.stderr.split("\n").filter((l) => l.startsWith("error:")).length).toBe(1);
  });

  test("a tag with control characters copied from an archive is escaped in the progress lines", async () => {
    const img = image([Buffer.alloc(3000, 6)]);
    const a = writeArchive(tmp, "evil2.tar", [file("oci-layout", OCI_LAYOUT), file("index.json", indexJson([{ img, tag: "example.com/app:v1\x1b[31mRED\rcopied  fake" }])), ...img.blobs]);
    const r = await mirror(reg, ["push", a, "--dest", `${reg.host}/esc2`]);
    expect(r.stdout + r.stderr).not.toContain("\x1b");
    expect(r.stdout + r.stderr).not.toContain("\r");
  });

  test("violet show escapes a package display name with ESC and newlines", async () => {
    const meta = `apiVersion: violet.kube-airgap.io/v1\nkind: Package\ntype: chart\nname: app\ndisplayName: "App\\e[2J\\e]0;owned\\a\\nType: FAKE"\nversion: 1.0.0\nartifact:\n  ref: example.com/charts/app:1.0.0\n  tag: 1.0.0\n`;
    const img = image([Buffer.alloc(100, 1)]);
    const pkg = writeArchive(tmp, "esc.tgz", [file("violet-package.yaml", meta), file("oci-layout", OCI_LAYOUT), file("index.json", indexJson([{ img, tag: "v1" }])), ...img.blobs]);
    const r = await runCli("kubectl-violet", ["show", pkg]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("\x1b");
    expect(r.stdout).not.toContain("\x07");
    expect(r.stdout.split("\n").filter((l) => l.startsWith("Type:"))).toEqual(["Type: chart"]);
    expect(r.stdout).toContain("Name: App\\e[2J");
    // structured output keeps the exact value, JSON-escaped
    const j = await runCli("kubectl-violet", ["show", pkg, "-o", "json"]);
    expect(JSON.parse(j.stdout).displayName).toBe("App\x1b[2J\x1b]0;owned\x07\nType: FAKE");
    expect(j.stdout).not.toContain("\x1b");
  });
});

describe("the helpers behind it", () => {
  const { printable, printableBlock, redactUrl, redactReference, redact } = require("../../shared/runtime/redact.ts");
  test("printable escapes every control character; printableBlock keeps newlines and tabs", () => {
    expect(printable("a\x1b[2Jb\nc\rd\x07e\x9bf\tg")).toBe("a\\e[2Jb\\nc\\rd\\x07e\\x9bf\\tg");
    expect(printableBlock("line1\n\tline2\x1b]0;t\x07")).toBe("line1\n\tline2\\e]0;t\\x07");
  });
  test("redactUrl drops userinfo and query values; redactReference drops user:password@", () => {
    expect(redactUrl("https://u:p@s3.example.com/b/k?X-Amz-Signature=abc&X-Amz-Credential=AKIA")).toBe("https://s3.example.com/b/k?X-Amz-Signature=***&X-Amz-Credential=***");
    expect(redactReference("admin:pw@reg.io/a:1")).toBe("***@reg.io/a:1");
    expect(redactReference("reg.io/a@sha256:" + "a".repeat(64))).toBe("reg.io/a@sha256:" + "a".repeat(64));
    expect(redact("GET https://x/y?digest=sha256:1&X-Amz-Signature=deadbeef1234 failed")).toBe("GET https://x/y?digest=sha256:1&X-Amz-Signature=*** failed");
  });
});
