import { describe, expect, test } from "bun:test";
import { formatReference, parseReference } from "../../shared/oci/reference.ts";

const D = "sha256:" + "a".repeat(64);

describe("parseReference", () => {
  test.each([
    ["nginx", "docker.io", "library/nginx", "latest", undefined],
    ["nginx:1.27", "docker.io", "library/nginx", "1.27", undefined],
    ["bitnami/redis:7", "docker.io", "bitnami/redis", "7", undefined],
    ["index.docker.io/library/nginx", "docker.io", "library/nginx", "latest", undefined],
    ["localhost/app", "localhost", "app", "latest", undefined],
    ["localhost:5000/a/b:c", "localhost:5000", "a/b", "c", undefined],
    ["127.0.0.1:5000/a:v1", "127.0.0.1:5000", "a", "v1", undefined],
    ["10.0.0.1/ns/app", "10.0.0.1", "ns/app", "latest", undefined],
    ["quay.io/org/app@" + D, "quay.io", "org/app", undefined, D],
    ["quay.io/org/app:v1@" + D, "quay.io", "org/app", "v1", D],
    ["oci://reg.local:8443/charts/nginx:1.0.0", "reg.local:8443", "charts/nginx", "1.0.0", undefined],
    ["Registry.Example.com/a", "Registry.Example.com", "a", "latest", undefined],
  ])("%s", (input, registry, repository, tag, digest) => {
    const r = parseReference(input);
    expect(r.kind).toBe("registry");
    if (r.kind !== "registry") return;
    expect([r.registry, r.repository, r.tag, r.digest]).toEqual([registry, repository, tag, digest]);
  });

  test("round trip formatting", () => {
    expect(formatReference(parseReference("nginx"))).toBe("docker.io/library/nginx:latest");
    expect(formatReference(parseReference("h:1/a/b:t@" + D))).toBe("h:1/a/b:t@" + D);
  });

  test.each([
    ["oci-layout:/tmp/dir", "oci-layout", "/tmp/dir", undefined, undefined],
    ["oci-layout:./dir:v1", "oci-layout", "./dir", "v1", undefined],
    ["oci-archive:/tmp/a.tar@" + D, "oci-archive", "/tmp/a.tar", undefined, D],
    ["oci-archive:a.tar.gz:1.0", "oci-archive", "a.tar.gz", "1.0", undefined],
  ])("%s", (input, kind, path, tag, digest) => {
    const r = parseReference(input);
    expect(r.kind).toBe(kind as any);
    if (r.kind === "registry") return;
    expect([r.path, r.tag, r.digest]).toEqual([path, tag, digest]);
  });

  test.each([
    ["", /empty/],
    ["[1::2::3]:5000/a", /bad IPv6 address/],
    ["[::g]:5000/a", /bad registry host/],
    ["::1:5000/a", /bad/],
    ["127.0.0.1:99999/a", /port 99999 .* out of range/],
    ["admin:pw@reg.io/a", /credentials do not belong/],
    ["reg/UPPER:tag", /bad repository/],
    ["a/b:tag with space", /bad/],
    ["a@sha256:123", /bad digest/],
    ["http://reg/a", /scheme/],
    ["reg.io/a:" + "x".repeat(129), /bad tag/],
    ["oci-layout:", /needs a path/],
  ])("rejects %s", (input, msg) => {
    expect(() => parseReference(input)).toThrow(msg);
  });

  test.each([
    ["[::1]:5000/x", "[::1]:5000", "x", "latest"],
    ["[fe80::1]/team/app:1.0", "[fe80::1]", "team/app", "1.0"],
    ["oci://[2001:db8::5]:443/a/b:v2", "[2001:db8::5]:443", "a/b", "v2"],
  ])("IPv6 registry %s", (input, registry, repository, tag) => {
    const r = parseReference(input);
    expect(r).toMatchObject({ kind: "registry", registry, repository, tag });
  });

  test("a password in a reference is not echoed in the error", () => {
    expect(() => parseReference("admin:S3cret-pw@reg.io/a")).toThrow(/^invalid reference "\*\*\*@reg\.io\/a"/);
  });
});
