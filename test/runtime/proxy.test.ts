// Which proxy a URL goes through: Go's rules (golang.org/x/net/http/httpproxy, what kubectl, helm, skopeo and
// crane use). The cases are the ones of Go's own http/httpproxy/proxy_test.go (proxyForURLTests, UseProxyTests
// with its noProxy list, TestAllNoProxy, TestInvalidNoProxy), so the oracle is the real implementation's tests.
import { describe, expect, test } from "bun:test";
import { extractVerbosity } from "../../shared/cli/argv.ts";
import { proxyForUrl } from "../../shared/runtime/proxy.ts";
import { redact } from "../../shared/runtime/redact.ts";
import { runCli } from "../support/cli.ts";

const show = (u: URL | undefined) => (u ? `${u.protocol}//${u.host}` : "<nil>");

describe("Go's proxyForURLTests", () => {
  const cases: [Record<string, string>, string, string][] = [
    [{ HTTP_PROXY: "127.0.0.1:8080" }, "http://example.com", "http://127.0.0.1:8080"],
    [{ HTTP_PROXY: "cache.corp.example.com:1234" }, "http://example.com", "http://cache.corp.example.com:1234"],
    [{ HTTP_PROXY: "cache.corp.example.com" }, "http://example.com", "http://cache.corp.example.com"],
    [{ HTTP_PROXY: "localhost" }, "http://example.com", "http://localhost"],
    [{ HTTP_PROXY: "https://cache.corp.example.com" }, "http://example.com", "https://cache.corp.example.com"],
    [{ HTTP_PROXY: "http://127.0.0.1:8080" }, "http://example.com", "http://127.0.0.1:8080"],
    [{ HTTP_PROXY: "https://127.0.0.1:8080" }, "http://example.com", "https://127.0.0.1:8080"],
    [{ HTTP_PROXY: "http.proxy.tld", HTTPS_PROXY: "secure.proxy.tld" }, "http://insecure.tld/", "http://http.proxy.tld"],
    [{ HTTP_PROXY: "http.proxy.tld", HTTPS_PROXY: "secure.proxy.tld" }, "https://secure.tld/", "http://secure.proxy.tld"],
    [{ HTTP_PROXY: "http.proxy.tld", HTTPS_PROXY: "https://secure.proxy.tld" }, "https://secure.tld/", "https://secure.proxy.tld"],
    [{ HTTP_PROXY: "http.proxy.tld" }, "https://secure.tld/", "<nil>"],
    [{ HTTP_PROXY: "http.proxy.tld" }, "ftp://insecure.tld/", "<nil>"],
    [{}, "http://example.com", "<nil>"],
    [{ NO_PROXY: "example.com", HTTP_PROXY: "proxy" }, "http://example.com/", "<nil>"],
    [{ NO_PROXY: ".example.com", HTTP_PROXY: "proxy" }, "http://example.com/", "http://proxy"],
    [{ NO_PROXY: "ample.com", HTTP_PROXY: "proxy" }, "http://example.com/", "http://proxy"],
    [{ NO_PROXY: "example.com", HTTP_PROXY: "proxy" }, "http://foo.example.com/", "<nil>"],
    [{ NO_PROXY: ".foo.com", HTTP_PROXY: "proxy" }, "http://example.com/", "http://proxy"],
    [{ NO_PROXY: ".示例.com", HTTP_PROXY: "proxy" }, "http://www.示例.com", "<nil>"],
    [{ NO_PROXY: "xn--fsq092h.com", HTTP_PROXY: "proxy" }, "http://www.示例.com", "<nil>"],
    [{ NO_PROXY: "示例.com", HTTP_PROXY: "proxy" }, "http://www.xn--fsq092h.com", "<nil>"],
  ];
  for (const [env, url, want] of cases) {
    test(`${JSON.stringify(env)} ${url} → ${want}`, () => expect(show(proxyForUrl(new URL(url), env))).toBe(want));
  }
});

describe("Go's UseProxyTests (NO_PROXY entries: names, suffixes, wildcards, IPs, CIDRs, ports)", () => {
  const noProxy = "foobar.com, .barbaz.net, *.wildcard.io, 192.168.1.1, 192.168.1.2:81, 192.168.1.3:80, 10.0.0.0/30, 2001:db8::52:0:1, [2001:db8::52:0:2]:443, [2001:db8::52:0:3]:80, 2002:db8:a::45/64";
  const cases: [string, boolean][] = [
    ["localhost", false], ["127.0.0.1", false], ["127.0.0.2", false], ["[::1]", false], ["[::2]", true],
    ["192.168.1.1", false], ["192.168.1.2", true], ["192.168.1.3", false], ["192.168.1.4", true], ["10.0.0.2", false],
    ["[2001:db8::52:0:1]", false], ["[2001:db8::52:0:2]", true], ["[2001:db8::52:0:3]", false], ["[2002:db8:a::123]", false],
    ["[fe80::424b:c8be:1643:a1b6]", true],
    ["barbaz.net", true], ["www.barbaz.net", false], ["foobar.com", false], ["www.foobar.com", false], ["foofoobar.com", true],
    ["baz.com", true], ["localhost.net", true], ["local.localhost", true], ["barbarbaz.net", true], ["wildcard.io", true],
    ["nested.wildcard.io", false], ["awildcard.io", true],
  ];
  for (const [host, proxied] of cases) {
    test(`${host}:80 ${proxied ? "proxied" : "direct"}`, () => {
      expect(!!proxyForUrl(new URL(`http://${host}:80/`), { HTTP_PROXY: "http://proxy.example.org", NO_PROXY: noProxy })).toBe(proxied);
      // NO_PROXY=* (TestAllNoProxy): nothing proxied
      expect(proxyForUrl(new URL(`http://${host}:80/`), { HTTP_PROXY: "http://proxy.example.org", NO_PROXY: "*" })).toBeUndefined();
    });
  }
  test("a malformed entry is ignored (TestInvalidNoProxy); 10.0.0.0/30 ends at .3", () => {
    expect(!!proxyForUrl(new URL("http://example.com/"), { HTTP_PROXY: "proxy", NO_PROXY: ":1" })).toBe(true);
    expect(!!proxyForUrl(new URL("http://10.0.0.4/"), { HTTP_PROXY: "proxy", NO_PROXY: "10.0.0.0/30" })).toBe(true);
  });
});

describe("environment spellings", () => {
  test("upper case wins, an empty value counts as unset, lower case is read too", () => {
    const u = new URL("https://registry.example.com/v2/");
    expect(show(proxyForUrl(u, { HTTPS_PROXY: "http://upper:1", https_proxy: "http://lower:2" }))).toBe("http://upper:1");
    expect(show(proxyForUrl(u, { HTTPS_PROXY: "", https_proxy: "http://lower:2" }))).toBe("http://lower:2");
    expect(proxyForUrl(u, { HTTPS_PROXY: "http://p:1", no_proxy: "example.com" })).toBeUndefined();
    // a port in an entry must match the URL's (default 443 for https)
    expect(proxyForUrl(u, { HTTPS_PROXY: "http://p:1", NO_PROXY: "registry.example.com:443" })).toBeUndefined();
    expect(show(proxyForUrl(new URL("https://registry.example.com:5000/"), { HTTPS_PROXY: "http://p:1", NO_PROXY: "registry.example.com:443" }))).toBe("http://p:1");
  });
  test("a password in the proxy URL becomes a secret that redact() masks", () => {
    proxyForUrl(new URL("https://r.example.com/"), { HTTPS_PROXY: "http://bob:pr%40xy-Secr3t@proxy.corp:3128" });
    expect(redact("failed with pr@xy-Secr3t and pr%40xy-Secr3t")).not.toMatch(/Secr3t/);
  });
});

describe("kubectl's -v=N", () => {
  test("every pflag spelling, the last wins, -- ends flags", () => {
    expect(extractVerbosity(["copy", "-v=6", "a", "b"])).toEqual({ level: 6, rest: ["copy", "a", "b"] });
    expect(extractVerbosity(["-v", "7", "copy"])).toEqual({ level: 7, rest: ["copy"] });
    expect(extractVerbosity(["--v=4", "x", "-v8"])).toEqual({ level: 8, rest: ["x"] });
    expect(extractVerbosity(["--v", "2", "x"])).toEqual({ level: 2, rest: ["x"] });
    expect(extractVerbosity(["x", "--", "-v=6"])).toEqual({ level: undefined, rest: ["x", "--", "-v=6"] });
    // not a number: left to the command (gc's -v, addon-push's -v VERSION)
    expect(extractVerbosity(["-v", "1.2.3"])).toEqual({ level: undefined, rest: ["-v", "1.2.3"] });
    expect(extractVerbosity(["-v"])).toEqual({ level: undefined, rest: ["-v"] });
  });
  test("where -v is the plugin's own value flag, only --v counts", () => {
    expect(extractVerbosity(["-v", "2", "--v=6"], { shortV: false })).toEqual({ level: 6, rest: ["-v", "2"] });
  });
});

describe("every plugin accepts kubectl's verbosity flag", () => {
  for (const [plugin, flag] of [["kubectl-mirror", ["-v=6"]], ["kubectl-violet", ["-v", "6"]], ["kubectl-scar", ["--v=9"]], ["helm-addon-push", ["--v", "6"]]] as const) {
    test(`${plugin} ${flag.join(" ")}`, async () => {
      const r = await runCli(plugin, ["completion", "bash", ...flag]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("complete");
    });
  }
  test("unknown spellings stay errors; helm addon-push keeps -v for its version", async () => {
    const r = await runCli("kubectl-mirror", ["completion", "bash", "--vv=6"]);
    expect(r.code).toBe(2);
    const h = await runCli("helm-addon-push", ["completion", "bash", "-v", "6"]);
    expect(h.code).not.toBe(0); // `-v 6` is --version 6 there, which completion does not take
  });
});
