import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Credential, dockerConfigCredentials, envCredentials, parseChallenge } from "../src/auth.js";
import { MediaType, parseManifest } from "../src/descriptor.js";
import { LockFileError, LockFileMissingError, ManifestError } from "../src/errors.js";
import { readImagesFile, readLockFile, writeLockFile } from "../src/lock/files.js";
import { mirroredReference } from "../src/mirror.js";
import { backoffDelay, parseRetryAfter } from "../src/transport.js";

describe("retry timing", () => {
  it("parses Retry-After in seconds and as an HTTP date", () => {
    expect(parseRetryAfter("3")).toBe(3000);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:05 GMT", now)).toBe(5000);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
  });

  it("backs off exponentially with full jitter, capped", () => {
    expect(backoffDelay(0, 200, 8000, () => 1)).toBe(200);
    expect(backoffDelay(3, 200, 8000, () => 1)).toBe(1600);
    expect(backoffDelay(10, 200, 8000, () => 1)).toBe(8000);
    expect(backoffDelay(3, 200, 8000, () => 0)).toBe(0);
  });
});

describe("auth", () => {
  it("parses bearer challenges with quoted, comma-separated params", () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/redis:pull,push"',
      ),
    ).toEqual({
      scheme: "bearer",
      params: {
        realm: "https://auth.docker.io/token",
        service: "registry.docker.io",
        scope: "repository:library/redis:pull,push",
      },
    });
    expect(parseChallenge('Basic realm="Registry Realm"')).toEqual({
      scheme: "basic",
      params: { realm: "Registry Realm" },
    });
  });

  it("never prints a secret", () => {
    const credential = new Credential("robot", "s3cr3t-value");
    expect(String(credential)).not.toContain("s3cr3t");
    expect(JSON.stringify({ credential })).not.toContain("s3cr3t");
    expect(inspect(credential)).not.toContain("s3cr3t");
    expect(credential.basic()).toBe(`Basic ${Buffer.from("robot:s3cr3t-value").toString("base64")}`);
  });

  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "e2e3d-oci-unit-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads Docker config.json auths, including Docker Hub's legacy key", async () => {
    await writeFile(
      join(dir, "config.json"),
      JSON.stringify({
        auths: {
          "https://index.docker.io/v1/": { auth: Buffer.from("hubuser:hubpass").toString("base64") },
          "registry.example.com": { username: "u", password: "p" },
        },
      }),
    );
    const provider = dockerConfigCredentials({ DOCKER_CONFIG: dir });
    expect((await provider("docker.io"))?.username).toBe("hubuser");
    expect((await provider("registry.example.com"))?.password).toBe("p");
    expect(await provider("other.example.com")).toBeUndefined();
    expect(await dockerConfigCredentials({ DOCKER_CONFIG: join(dir, "absent") })("docker.io")).toBeUndefined();
  });

  it("asks a credential helper named in credHelpers, as Docker does", async () => {
    // A real executable on PATH speaking the docker-credential-helpers protocol (a stand-in for e.g. ecr-login).
    const bin = join(dir, "bin");
    await mkdir(bin, { recursive: true });
    const helper = join(bin, "docker-credential-e2e3dtest");
    await writeFile(
      helper,
      '#!/bin/sh\nread server\n[ "$1" = get ] && [ "$server" = registry.example.com ] && echo \'{"Username":"helper-user","Secret":"helper-secret"}\' && exit 0\necho "credentials not found in native keychain"; exit 1\n',
    );
    await chmod(helper, 0o755);
    await writeFile(
      join(dir, "config.json"),
      JSON.stringify({ credHelpers: { "registry.example.com": "e2e3dtest", "other.example.com": "e2e3dtest" } }),
    );
    const path = process.env["PATH"];
    process.env["PATH"] = `${bin}:${path}`;
    try {
      const provider = dockerConfigCredentials({ DOCKER_CONFIG: dir });
      const found = await provider("registry.example.com");
      expect(found?.username).toBe("helper-user");
      expect(found?.password).toBe("helper-secret");
      expect(await provider("other.example.com")).toBeUndefined();
    } finally {
      process.env["PATH"] = path;
    }
  });

  it("reads E2E3D_REGISTRY_CREDENTIALS and refuses invalid JSON without echoing it", () => {
    expect(() => envCredentials({ E2E3D_REGISTRY_CREDENTIALS: "{secret" })).toThrow(/not valid JSON/);
    try {
      envCredentials({ E2E3D_REGISTRY_CREDENTIALS: "{secret" });
    } catch (err) {
      expect((err as Error).message).not.toContain("secret");
    }
  });
});

describe("manifests", () => {
  it("finds children of an index and blobs of an image", () => {
    const d = (c: string) => `sha256:${c.repeat(64)}`;
    const index = parseManifest(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.ociIndex,
          manifests: [{ mediaType: MediaType.ociManifest, digest: d("a"), size: 1 }],
        }),
      ),
    );
    expect(index.isIndex).toBe(true);
    expect(index.manifests).toHaveLength(1);
    const image = parseManifest(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          config: { mediaType: MediaType.ociConfig, digest: d("b"), size: 2 },
          layers: [{ mediaType: MediaType.ociLayerGzip, digest: d("c"), size: 3 }],
        }),
      ),
      MediaType.ociManifest,
    );
    expect(image.blobs.map((b) => b.digest)).toEqual([d("b"), d("c")]);
  });

  it("refuses schema 1 and garbage", () => {
    expect(() => parseManifest(Buffer.from('{"schemaVersion":1}'))).toThrow(ManifestError);
    expect(() => parseManifest(Buffer.from("not json"))).toThrow(/not valid JSON/);
  });
});

describe("lock files", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "e2e3d-oci-lock-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const entry = {
    source: "docker.io/library/redis",
    tag: "7",
    digest: `sha256:${"d".repeat(64)}`,
    mediaType: MediaType.ociIndex,
    platforms: {},
    resolvedAt: "2026-01-01T00:00:00.000Z",
  };

  it("writes atomically, sorted, and reads back", async () => {
    const path = join(dir, "lock.json");
    await writeLockFile(path, { version: 1, images: { zeta: entry, alpha: entry } });
    const text = await readFile(path, "utf8");
    expect(text.indexOf('"alpha"')).toBeLessThan(text.indexOf('"zeta"'));
    expect((await readLockFile(path)).images["alpha"]).toEqual(entry);
    expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("refuses to write an invalid lock and leaves the old one", async () => {
    const path = join(dir, "keep.json");
    await writeLockFile(path, { version: 1, images: { a: entry } });
    const before = await readFile(path, "utf8");
    await expect(
      writeLockFile(path, { version: 1, images: { a: { ...entry, digest: "sha256:short" } } }),
    ).rejects.toThrow();
    expect(await readFile(path, "utf8")).toBe(before);
  });

  it("explains a missing lock and a malformed one", async () => {
    await expect(readLockFile(join(dir, "absent.json"))).rejects.toBeInstanceOf(LockFileMissingError);
    await writeFile(join(dir, "bad.json"), "{");
    await expect(readLockFile(join(dir, "bad.json"))).rejects.toThrow(/not valid JSON/);
  });

  it("validates images files: latest, duplicates, tags in sources", async () => {
    const write = async (body: string) => {
      const path = join(dir, `images-${Math.random()}.yaml`);
      await writeFile(path, body);
      return path;
    };
    await expect(
      readImagesFile(await write("version: 1\nimages:\n  - {name: a, source: redis, tag: latest}\n")),
    ).rejects.toThrow(/'latest' is refused/);
    await expect(
      readImagesFile(
        await write(
          "version: 1\nimages:\n  - {name: a, source: redis, tag: '1'}\n  - {name: a, source: nginx, tag: '1'}\n",
        ),
      ),
    ).rejects.toThrow(/appears twice/);
    await expect(
      readImagesFile(await write("version: 1\nimages:\n  - {name: a, source: 'redis:7', tag: '7'}\n")),
    ).rejects.toThrow(LockFileError);
    const ok = await readImagesFile(await write("version: 1\nimages:\n  - {name: a, source: redis, tag: '7'}\n"));
    expect(ok.images[0]!.platforms).toEqual(["linux/amd64"]);
  });

  it("the production images file parses and names every image the stack needs", async () => {
    const images = await readImagesFile(join(import.meta.dirname, "../../../docker/images.yaml"));
    expect(images.images.map((i) => i.name).sort()).toEqual(
      [
        "cuda-runtime",
        "debian-bookworm",
        "grafana",
        "minio",
        "nginx",
        "postgres",
        "prometheus",
        "redis",
        "statsd-exporter",
      ].sort(),
    );
    expect(images.images.find((i) => i.name === "minio")?.source).toBe("quay.io/minio/minio");
  });

  it("derives the mirrored reference from the lock entry", () => {
    expect(mirroredReference({ source: "redis", digest: entry.digest }, "127.0.0.1:5102/")).toBe(
      `127.0.0.1:5102/docker.io/library/redis@${entry.digest}`,
    );
    expect(mirroredReference(entry, "registry.example.com/mirror")).toBe(
      `registry.example.com/mirror/docker.io/library/redis@${entry.digest}`,
    );
    expect(() => mirroredReference(entry, "nohost")).toThrow(/must be host/);
  });
});
