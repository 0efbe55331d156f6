import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { aptMirror, parseDeb822Sources, parseOneLineSources, pickMirror } from "../src/base-image.js";
import {
  COMPOSE_MODULE_DIR,
  pinnedComposeVersion,
  requiredGoVersion,
  v1ShimScript,
  versionAtLeast,
} from "../src/compose.js";
import { registryConfig, registryPaths } from "../src/registries.js";
import { splitReference } from "../src/status.js";

describe("apt sources", () => {
  const deb822 = [
    "Types: deb",
    "URIs: http://mirror.example/debian/",
    "Suites: bookworm bookworm-updates",
    "Components: main",
    "",
    "Types: deb",
    "URIs: http://deb.debian.org/debian-security",
    "Suites: bookworm-security",
    "Components: main",
    "",
    "Enabled: no",
    "Types: deb",
    "URIs: http://disabled.example/debian",
    "Suites: bookworm",
  ].join("\n");

  it("reads deb822 stanzas and skips disabled ones", () => {
    const sources = parseDeb822Sources(deb822);
    expect(sources).toHaveLength(2);
    expect(pickMirror(sources, "bookworm")).toBe("http://mirror.example/debian");
    expect(pickMirror(sources, "trixie")).toBeUndefined();
  });

  it("reads one-line sources, options and comments included", () => {
    const sources = parseOneLineSources(
      "# comment\ndeb-src http://src.example/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\n",
    );
    expect(pickMirror(sources, "bookworm")).toBe("http://one.example/debian");
  });

  it("reads only the files apt reads from an apt directory", async () => {
    const root = await mkdtemp(join(tmpdir(), "lab-apt-"));
    try {
      await mkdir(join(root, "sources.list.d"));
      await writeFile(
        join(root, "sources.list.d", "a.sources.disabled"),
        deb822.replace("mirror.example", "ignored.example"),
      );
      await writeFile(join(root, "sources.list.d", "b.sources"), deb822);
      expect(aptMirror("bookworm", root)).toBe("http://mirror.example/debian");
      expect(aptMirror("bookworm", join(root, "missing"))).toBeUndefined();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe("compose pin", () => {
  it("reads the pinned version and the Go it needs from the wrapper module", () => {
    expect(pinnedComposeVersion()).toMatch(/^v2\.\d+\.\d+$/);
    expect(readFileSync(join(COMPOSE_MODULE_DIR, "go.sum"), "utf8")).toContain(
      `github.com/docker/compose/v2 ${pinnedComposeVersion()}`,
    );
    expect(requiredGoVersion()).toMatch(/^1\.\d+/);
  });

  it("compares versions numerically", () => {
    expect(versionAtLeast("1.26.0", "1.24.9")).toBe(true);
    expect(versionAtLeast("1.24.9", "1.24.9")).toBe(true);
    expect(versionAtLeast("1.24.10", "1.24.9")).toBe(true);
    expect(versionAtLeast("1.19.8", "1.24.9")).toBe(false);
    expect(versionAtLeast("1.24", "1.24.9")).toBe(false);
  });

  it("writes a v1 shim that answers the plugin metadata call and drops the 'compose' word", () => {
    const script = v1ShimScript("1.29.2");
    expect(script.startsWith("#!/bin/sh\n")).toBe(true);
    const metadata = /echo '(.*)'/.exec(script)?.[1];
    expect(JSON.parse(metadata ?? "")).toMatchObject({ SchemaVersion: "0.1.0", Version: "1.29.2" });
    expect(script).toContain('shift\nexec /usr/bin/docker-compose "$@"');
  });

  it("the v1 shim answers docker's plugin discovery when run by a real shell", async () => {
    const dir = await mkdtemp(join(tmpdir(), "lab-shim-"));
    try {
      const shim = join(dir, "docker-compose");
      await writeFile(shim, v1ShimScript("1.29.2"), { mode: 0o755 });
      const output = execFileSync(shim, ["docker-cli-plugin-metadata"], { encoding: "utf8" });
      expect(JSON.parse(output)).toMatchObject({ SchemaVersion: "0.1.0", Version: "1.29.2" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("registry configuration", () => {
  it("serves loopback only, from the state dir, with deletes enabled", () => {
    const paths = registryPaths("/state", "upstream", { host: "127.0.0.1", port: 5101 });
    expect(paths.dataDir).toBe("/state/registries/upstream/data");
    const config = parse(registryConfig(paths, "upstream"));
    expect(config.http.addr).toBe("127.0.0.1:5101");
    expect(config.storage.filesystem.rootdirectory).toBe("/state/registries/upstream/data");
    expect(config.storage.delete.enabled).toBe(true);
    expect(config.auth).toBeUndefined();
  });
});

describe("image references", () => {
  it("splits registry and repository for tag and digest references", () => {
    const digest = `sha256:${"0".repeat(64)}`;
    expect(splitReference(`127.0.0.1:5101/docker.io/library/debian@${digest}`)).toEqual({
      registryUrl: "http://127.0.0.1:5101",
      repository: "docker.io/library/debian",
    });
    expect(splitReference("127.0.0.1:5101/quay.io/minio/minio:RELEASE.2025-01-01")).toEqual({
      registryUrl: "http://127.0.0.1:5101",
      repository: "quay.io/minio/minio",
    });
  });
});
