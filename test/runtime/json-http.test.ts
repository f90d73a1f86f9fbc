// One HTTP stack on the packages the project chose (issue 15 points 8 and 10): the JSON clients (Kubernetes,
// Palette, ChartMuseum's API, registry token endpoints) use ofetch over the one TLS-aware fetch; the hand-written
// node:http client of Palette is gone; nanotar is a test-only dependency; no comment points at files that are not
// in the repository. Plus the adapter's behaviour: repeated headers survive, TLS material applies, transport
// errors come out unwrapped, statuses are returned for the clients to map.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { join } from "node:path";
import { fetchCause, jsonFetch } from "../../shared/runtime/json-http.ts";
import { createTlsFetch } from "../../shared/runtime/tls-fetch.ts";
import { createCA, type TestCA } from "../support/pki.ts";
import { ROOT } from "../support/cli.ts";

const read = (f: string) => readFileSync(join(ROOT, f), "utf8");

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir))) {
    const rel = join(dir, e);
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...files(rel));
    else if (/\.(ts|sh|md|yaml|tmpl)$/.test(e)) out.push(rel);
  }
  return out;
}

describe("the JSON clients", () => {
  test.each(["shared/kube/client.ts", "shared/palette/client.ts", "shared/chartmuseum/http.ts", "shared/oci/transport/auth.ts"])("%s uses ofetch through shared/runtime/json-http.ts", (f) => {
    const src = read(f);
    expect(src).toMatch(/from "ofetch"/);
    expect(src).toMatch(/jsonFetch\(/);
  });

  test("the hand-written clients are gone: Palette has no node:http(s), kube sends nothing around ofetch, tokens skip the blob transport", () => {
    const palette = read("shared/palette/client.ts");
    expect(palette).not.toMatch(/^import (?!type )[^\n]*from "node:https?"/m);
    expect(palette).not.toMatch(/\.request\(url/);
    const kube = read("shared/kube/client.ts");
    expect(kube).not.toMatch(/cred\.fetch\(/);
    const auth = read("shared/oci/transport/auth.ts");
    expect(auth.slice(auth.indexOf("private async fetchToken"))).not.toMatch(/this\.transport\.request/);
  });

  test("nanotar is a dev dependency used by tests only", () => {
    const pkg = JSON.parse(read("package.json"));
    expect(pkg.dependencies.nanotar).toBeUndefined();
    expect(pkg.devDependencies.nanotar).toBe("0.3.0");
    expect(pkg.dependencies.ofetch).toBeDefined();
    for (const f of [...files("shared"), ...files("plugins"), ...files("scripts")]) expect({ f, imports: /from "nanotar"/.test(read(f)) }).toEqual({ f, imports: false });
    expect(read("shared/tar/stream.ts")).toMatch(/nanotar \(a dev\s*\n?\/?\/? ?dependency\) buffers whole archives and is used only by tests/);
  });

  test("no pointer to reference/distribution.md (not in the repository)", () => {
    for (const f of [...files("shared"), ...files("plugins"), ...files("scripts"), ...files("test"), ...files("docs"), "README.md"]) {
      if (f === "test/runtime/json-http.test.ts") continue;
      expect({ f, stale: /reference\/distribution\.md/.test(read(f)) }).toEqual({ f, stale: false });
    }
  });
});

describe("jsonFetch over the TLS-aware fetch", () => {
  let server: Server;
  let tlsServer: Server;
  let url: string;
  let tlsUrl: string;
  let ca: TestCA;
  const seen: string[][] = [];
  beforeAll(async () => {
    const handler = (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => {
      seen.push(req.rawHeaders);
      if (req.url === "/missing") {
        res.writeHead(404, { "content-type": "application/json" });
        return res.end(JSON.stringify({ kind: "Status", reason: "NotFound" }));
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: true, path: req.url }));
    };
    server = createServer(handler);
    ca = createCA();
    const cert = ca.server("json");
    tlsServer = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, handler);
    await Promise.all([new Promise<void>((r) => server.listen(0, "127.0.0.1", r)), new Promise<void>((r) => tlsServer.listen(0, "127.0.0.1", r))]);
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    tlsUrl = `https://127.0.0.1:${(tlsServer.address() as { port: number }).port}`;
  });
  afterAll(() => {
    server?.close();
    tlsServer?.close();
  });

  test("parses JSON; a 404 is returned, not thrown; transport headers keep repeated values as separate lines", async () => {
    const api = jsonFetch({ resolve: async () => ({ fetch: createTlsFetch(), headers: [["Impersonate-Group", "a"], ["Impersonate-Group", "b"]] }) }, { baseURL: url });
    const ok = await api.raw("/x", { headers: { accept: "application/json" } });
    expect(ok._data).toEqual({ ok: true, path: "/x" });
    const raw = seen[seen.length - 1]!;
    const groups = raw.filter((_, i) => i % 2 === 0 && raw[i]!.toLowerCase() === "impersonate-group").length;
    expect(groups).toBe(2);
    const missing = await api.raw("/missing");
    expect(missing.status).toBe(404);
    expect(missing._data).toEqual({ kind: "Status", reason: "NotFound" });
  });

  test("TLS: the private CA is trusted only when given; connection errors come out as the transport's error", async () => {
    const trusted = jsonFetch(createTlsFetch({ ca: ca.certPem }));
    expect((await trusted(`${tlsUrl}/y`)).ok).toBe(true);
    const untrusted = jsonFetch(createTlsFetch());
    const err = fetchCause(await untrusted(`${tlsUrl}/y`).catch((e) => e)) as { code?: string; message?: string };
    expect(String(err.code) + String(err.message)).toMatch(/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|certificate/i);
    const refused = fetchCause(await jsonFetch(createTlsFetch())("http://127.0.0.1:1/").catch((e) => e)) as { code?: string };
    expect(String(refused.code)).toMatch(/ECONNREFUSED|ConnectionRefused/);
  });
});
