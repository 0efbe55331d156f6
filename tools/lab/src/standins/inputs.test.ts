// Unit tests of the input hash: it must change with anything that changes the image, and only then.
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { computeInputHash, type InputHashParts } from "./inputs.js";

describe("computeInputHash", () => {
  let dir = "";
  let parts: InputHashParts;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "standin-hash-"));
    await writeFile(join(dir, "Dockerfile"), "FROM scratch\n");
    await writeFile(join(dir, "entrypoint.sh"), '#!/bin/sh\nexec "$@"\n');
    parts = {
      name: "x",
      contextDir: dir,
      baseKey: "sha256:aa",
      version: "1.0-1",
      tag: "1.0",
      source: { kind: "debian" },
      labels: { "org.opencontainers.image.title": "x (E2E3D lab stand-in)", "io.e2e3d.lab.standin": "x" },
    };
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it("is stable for the same inputs, wherever the directory is", async () => {
    const first = await computeInputHash(parts);
    expect(first).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(await computeInputHash(parts)).toBe(first);
    const copy = await mkdtemp(join(tmpdir(), "standin-hash-"));
    await writeFile(join(copy, "Dockerfile"), "FROM scratch\n");
    await writeFile(join(copy, "entrypoint.sh"), '#!/bin/sh\nexec "$@"\n');
    expect(await computeInputHash({ ...parts, contextDir: copy })).toBe(first);
    await rm(copy, { recursive: true, force: true });
  });

  it("does not depend on the order the labels were set in", async () => {
    const reversed = Object.fromEntries(Object.entries(parts.labels).reverse());
    expect(await computeInputHash({ ...parts, labels: reversed })).toBe(await computeInputHash(parts));
  });

  it("changes with a file's content, its executable bit, the base, the version, the build settings and the labels", async () => {
    const first = await computeInputHash(parts);
    const seen = new Set([first]);
    const record = async (p: InputHashParts) => {
      const hash = await computeInputHash(p);
      expect(seen.has(hash)).toBe(false);
      seen.add(hash);
    };
    await record({ ...parts, baseKey: "sha256:bb" });
    await record({ ...parts, version: "1.0-2" });
    await record({ ...parts, source: { kind: "go", ldflags: "-X v=1" } });
    // The labels come from the catalog, not the Dockerfile: editing the catalog's metadata must rebuild the image.
    await record({ ...parts, labels: { ...parts.labels, "org.opencontainers.image.title": "x, retitled" } });
    await chmod(join(dir, "entrypoint.sh"), 0o755);
    await record(parts);
    await writeFile(join(dir, "Dockerfile"), "FROM scratch\nUSER 1:1\n");
    await record(parts);
  });
});
