import { describe, expect, it } from "vitest";
import { InvalidReferenceError } from "../src/errors.js";
import { formatReference, isLoopbackRegistry, parseReference } from "../src/reference.js";
import { parseRemapRules, remapReference } from "../src/remap.js";

describe("parseReference", () => {
  it.each([
    ["redis", "docker.io/library/redis"],
    ["redis:7.2.4", "docker.io/library/redis:7.2.4"],
    ["prom/prometheus:v2.55.1", "docker.io/prom/prometheus:v2.55.1"],
    ["index.docker.io/library/nginx:1.27", "docker.io/library/nginx:1.27"],
    ["quay.io/minio/minio:RELEASE.2025-04-22T22-12-26Z", "quay.io/minio/minio:RELEASE.2025-04-22T22-12-26Z"],
    ["localhost/app:1", "localhost/app:1"],
    ["127.0.0.1:5101/docker.io/library/redis:7.0.15", "127.0.0.1:5101/docker.io/library/redis:7.0.15"],
    [`redis@sha256:${"a".repeat(64)}`, `docker.io/library/redis@sha256:${"a".repeat(64)}`],
    [`r.example.com:5000/a/b:t@sha256:${"b".repeat(64)}`, `r.example.com:5000/a/b:t@sha256:${"b".repeat(64)}`],
  ])("normalises %s", (input, expected) => {
    expect(formatReference(parseReference(input))).toBe(expected);
  });

  it("splits registry, repository, tag and digest", () => {
    expect(parseReference("127.0.0.1:5102/docker.io/library/redis:7")).toEqual({
      registry: "127.0.0.1:5102",
      repository: "docker.io/library/redis",
      tag: "7",
      digest: undefined,
    });
  });

  it.each([
    ["", "it is empty"],
    ["Redis", "must be lowercase"],
    ["redis:", "tag"],
    ["redis@sha256:abc", "is not sha256:<64 lowercase hex>"],
    ["a//b", "empty component"],
    ["redis:bad tag", "whitespace"],
    ["-redis", "is not valid"],
    ["example.com:99999999/a", "registry"],
  ])("rejects %j quoting the input (%s)", (input, what) => {
    let error: unknown;
    try {
      parseReference(input);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidReferenceError);
    expect((error as Error).message).toContain(JSON.stringify(input));
    expect((error as Error).message).toContain(what);
  });

  it("knows loopback registries (plain HTTP by default)", () => {
    expect(isLoopbackRegistry("127.0.0.1:5101")).toBe(true);
    expect(isLoopbackRegistry("localhost:5000")).toBe(true);
    expect(isLoopbackRegistry("registry.example.com")).toBe(false);
    expect(isLoopbackRegistry("docker.io")).toBe(false);
  });
});

describe("remap", () => {
  const rules = parseRemapRules([
    "docker.io=127.0.0.1:5101/docker.io",
    "quay.io/minio=127.0.0.1:5101/quay.io/minio,quay.io=q.example.com",
  ]);

  it("maps a registry to a path in another, keeping the origin path", () => {
    expect(formatReference(remapReference(parseReference("redis:7"), rules))).toBe(
      "127.0.0.1:5101/docker.io/library/redis:7",
    );
  });

  it("prefers the longest prefix and keeps digests", () => {
    const digest = `sha256:${"c".repeat(64)}`;
    expect(formatReference(remapReference(parseReference(`quay.io/minio/minio@${digest}`), rules))).toBe(
      `127.0.0.1:5101/quay.io/minio/minio@${digest}`,
    );
    expect(formatReference(remapReference(parseReference("quay.io/other/x:1"), rules))).toBe("q.example.com/other/x:1");
  });

  it("leaves unmatched references alone and does not match partial components", () => {
    expect(formatReference(remapReference(parseReference("ghcr.io/a/b:1"), rules))).toBe("ghcr.io/a/b:1");
    expect(formatReference(remapReference(parseReference("quay.io/minioo/x:1"), rules))).toBe(
      "q.example.com/minioo/x:1",
    );
  });

  it("rejects malformed rules", () => {
    expect(() => parseRemapRules(["docker.io"])).toThrow(/invalid remap rule "docker.io"/);
    expect(() => parseRemapRules(["=x"])).toThrow(InvalidReferenceError);
  });
});
