// Self-tests of test/support/token-server.ts: GET (Basic/anonymous) and POST (OAuth2 password/refresh)
// token flows, grants, and that the real docker-registry accepts (and expires) what it signs.
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { createPublicKey, verify, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { parseScope, startTokenServer, type TokenServer } from "../support/token-server.ts";

// bunfig's [test] timeout is not applied by this bun; these tests run real registries/skopeo/helm.
setDefaultTimeout(60_000);

const decode = (jwt: string) => {
  const [h, c] = jwt.split(".");
  return { header: JSON.parse(Buffer.from(h!, "base64url").toString()), claims: JSON.parse(Buffer.from(c!, "base64url").toString()) };
};
const basic = (u: string, p: string) => ({ authorization: `Basic ${btoa(`${u}:${p}`)}` });

describe("token server on its own", () => {
  let ts: TokenServer;
  beforeAll(async () => {
    ts = await startTokenServer({
      users: { reader: "rpw", writer: "wpw", scoped: "spw" },
      grants: { scoped: { "team/*": ["pull", "push"], "other/app": ["pull"] } },
      anonymous: { "public/*": ["pull"] },
      expiresIn: 120,
    });
  });
  afterAll(() => ts.stop());

  const get = (scopes: string[], headers: Record<string, string> = {}, service = ts.service) => {
    const q = new URLSearchParams({ service });
    for (const s of scopes) q.append("scope", s);
    return fetch(`${ts.realm}?${q}`, { headers });
  };
  const post = (form: Record<string, string>) =>
    fetch(ts.realm, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(form) });

  test("GET with Basic: token == access_token, RS256 signature verifies with the cert in x5c, claims are right", async () => {
    const r = await get(["repository:team/app:pull,push"], basic("writer", "wpw"));
    expect(r.status).toBe(200);
    const body = await r.json();
    expect(body.token).toBe(body.access_token);
    expect(body.expires_in).toBe(120);
    expect(typeof body.issued_at).toBe("string");
    const { header, claims } = decode(body.token);
    expect(header.alg).toBe("RS256");
    const cert = new X509Certificate(Buffer.from(header.x5c[0], "base64"));
    expect(cert.raw.equals(new X509Certificate(readFileSync(ts.certFile)).raw)).toBe(true);
    const [h, c, sig] = body.token.split(".");
    expect(verify("sha256", Buffer.from(`${h}.${c}`), createPublicKey(cert.publicKey.export({ type: "spki", format: "pem" })), Buffer.from(sig, "base64url"))).toBe(true);
    expect(claims).toMatchObject({ iss: ts.issuer, aud: ts.service, sub: "writer", access: [{ type: "repository", name: "team/app", actions: ["pull", "push"] }] });
    expect(claims.exp - claims.iat).toBe(120);
  });

  test("grants are intersected with the request: reader gets pull only; repo globs apply", async () => {
    const r = await (await get(["repository:team/app:pull,push", "repository:team/app:delete"], basic("reader", "rpw"))).json();
    expect(decode(r.token).claims.access).toEqual([{ type: "repository", name: "team/app", actions: ["pull"] }]);
    const s = await (await get(["repository:team/x:pull,push", "repository:other/app:pull,push", "repository:nope/y:pull"], basic("scoped", "spw"))).json();
    expect(decode(s.token).claims.access).toEqual([
      { type: "repository", name: "team/x", actions: ["pull", "push"] },
      { type: "repository", name: "other/app", actions: ["pull"] },
      { type: "repository", name: "nope/y", actions: [] },
    ]);
  });

  test("anonymous gets the anonymous grant; wrong password and wrong service are refused; calls are logged", async () => {
    const a = await (await get(["repository:public/img:pull,push", "repository:team/app:pull"])).json();
    expect(decode(a.token).claims.access).toEqual([
      { type: "repository", name: "public/img", actions: ["pull"] },
      { type: "repository", name: "team/app", actions: [] },
    ]);
    expect(decode(a.token).claims.sub).toBe("");
    expect((await get([], basic("writer", "bad"))).status).toBe(401);
    expect((await get([], basic("ghost", "x"))).status).toBe(401);
    expect((await get([], basic("writer", "wpw"), "other-service")).status).toBe(400);
    const last = ts.calls.slice(-4);
    expect(last.map((c) => [c.grantType, c.user, c.status])).toEqual([
      ["anonymous", undefined, 200],
      ["basic", "writer", 401],
      ["basic", "ghost", 401],
      ["", undefined, 400],
    ]);
  });

  test("POST password grant; access_type=offline returns a refresh token that a refresh grant accepts", async () => {
    const noRefresh = await (await post({ grant_type: "password", username: "writer", password: "wpw", service: ts.service, client_id: "t", scope: "repository:team/a:pull" })).json();
    expect(noRefresh.refresh_token).toBeUndefined();
    expect(noRefresh.scope).toBe("repository:team/a:pull");
    expect(noRefresh.token_type).toBe("Bearer");

    const r = await post({ grant_type: "password", username: "writer", password: "wpw", service: ts.service, client_id: "kube-airgap", access_type: "offline", scope: "repository:team/a:pull,push repository:team/b:pull" });
    expect(r.status).toBe(200);
    const body = await r.json();
    expect(typeof body.refresh_token).toBe("string");
    expect(body.scope).toBe("repository:team/a:pull,push repository:team/b:pull");
    expect(decode(body.access_token).claims.access).toHaveLength(2);

    const rr = await (await post({ grant_type: "refresh_token", refresh_token: body.refresh_token, service: ts.service, client_id: "kube-airgap", scope: "repository:team/c:push" })).json();
    expect(rr.refresh_token).toBe(body.refresh_token);
    expect(decode(rr.access_token).claims).toMatchObject({ sub: "writer", access: [{ name: "team/c", actions: ["push"] }] });
    expect(ts.calls.at(-1)).toMatchObject({ method: "POST", grantType: "refresh_token", user: "writer", clientId: "kube-airgap", status: 200 });

    ts.revokeRefreshTokens();
    expect((await post({ grant_type: "refresh_token", refresh_token: body.refresh_token, service: ts.service })).status).toBe(401);
    expect((await post({ grant_type: "password", username: "writer", password: "no", service: ts.service })).status).toBe(401);
    expect((await post({ grant_type: "password", username: "writer", service: ts.service })).status).toBe(400);
    expect((await post({ grant_type: "client_credentials", service: ts.service })).status).toBe(400);
  });

  test("parseScope", () => {
    expect(parseScope("repository:a/b:pull,push")).toEqual({ type: "repository", name: "a/b", actions: ["pull", "push"] });
    expect(parseScope("registry:catalog:*")).toEqual({ type: "registry", name: "catalog", actions: ["*"] });
    expect(parseScope("garbage")).toBeUndefined();
  });
});

describe("tokens against the real registry", () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: "token", tls: false, tokenExpiresIn: 2, strictExpiry: true });
  });
  afterAll(() => reg.stop());

  test("a minted pull token opens the repo; a token for another repo or without push does not", async () => {
    const ts = reg.tokenServer!;
    const ok = ts.mint("reader", [{ type: "repository", name: "x/y", actions: ["pull"] }], 300);
    const r = await fetch(`${reg.url}/v2/x/y/tags/list`, { headers: { authorization: `Bearer ${ok}` } });
    expect(r.status).toBe(404); // authorised; repo simply does not exist
    expect((await r.json()).errors[0].code).toBe("NAME_UNKNOWN");
    const other = ts.mint("reader", [{ type: "repository", name: "x/z", actions: ["pull"] }], 300);
    const denied = await fetch(`${reg.url}/v2/x/y/tags/list`, { headers: { authorization: `Bearer ${other}` } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get("www-authenticate")).toContain('scope="repository:x/y:pull"');
    expect(denied.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    const upload = await fetch(`${reg.url}/v2/x/y/blobs/uploads/`, { method: "POST", headers: { authorization: `Bearer ${ok}` } });
    expect(upload.status).toBe(401);
    const push = ts.mint("writer", [{ type: "repository", name: "x/y", actions: ["pull", "push"] }], 300);
    expect((await fetch(`${reg.url}/v2/x/y/blobs/uploads/`, { method: "POST", headers: { authorization: `Bearer ${push}` } })).status).toBe(202);
    // a token signed by a different key is refused
    const stranger = await startTokenServer({ service: ts.service, issuer: ts.issuer });
    try {
      const forged = stranger.mint("admin", [{ type: "repository", name: "x/y", actions: ["pull"] }]);
      expect((await fetch(`${reg.url}/v2/x/y/tags/list`, { headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);
    } finally {
      await stranger.stop();
    }
  });

  test("strictExpiry: the registry refuses the token once expires_in has passed (so clients must re-auth)", async () => {
    const ts = reg.tokenServer!;
    const body = await (await fetch(`${ts.realm}?service=${ts.service}&scope=repository:x/y:pull`, { headers: basic("reader", reg.users.reader!) })).json();
    expect(body.expires_in).toBe(2);
    const use = () => fetch(`${reg.url}/v2/x/y/tags/list`, { headers: { authorization: `Bearer ${body.token}` } }).then((r) => r.status);
    expect(await use()).toBe(404);
    await Bun.sleep(3100);
    expect(await use()).toBe(401);
  });
});
