// Unit tests of the stand-ins' labels: every image gets the same keys as before they moved out of the Dockerfiles,
// with values taken from the catalog, and none of them is left in a Dockerfile.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { STAND_INS } from "./catalog.js";
import { STAND_IN_DOCKERFILES } from "./index.js";
import { buildLabels, LABEL_KEYS, labelArgs, stableLabels } from "./labels.js";

const BASE = "127.0.0.1:5101/docker.io/library/debian@sha256:" + "c".repeat(64);
const byName = Object.fromEntries(STAND_INS.map((s) => [s.name, s]));

describe("stand-in labels", () => {
  it("gives every stand-in all the keys, with its name, repository, version and base", () => {
    for (const standIn of STAND_INS) {
      const labels = buildLabels(stableLabels(standIn, { version: "1.2.3-4", baseImage: BASE }), {
        created: "2026-01-01T00:00:00.000Z",
        inputHash: "sha256:ab",
      });
      expect(Object.keys(labels).sort()).toEqual(Object.values(LABEL_KEYS).sort());
      expect(labels).toMatchObject({
        "io.e2e3d.lab.standin": standIn.name,
        "dev.e2e3d.lab.stand-in": "true",
        "dev.e2e3d.lab.stand-in-for": standIn.repository,
        "org.opencontainers.image.version": "1.2.3-4",
        "org.opencontainers.image.base.name": BASE,
        "org.opencontainers.image.created": "2026-01-01T00:00:00.000Z",
        "io.e2e3d.lab.input-hash": "sha256:ab",
      });
      expect(labels["org.opencontainers.image.description"]).toContain(
        `E2E3D lab stand-in for ${standIn.repository}: `,
      );
      expect(labels["org.opencontainers.image.description"]).toContain(" 1.2.3-4");
    }
  });

  it("describes what is inside: the Debian package or Go module, and the catalog's notes", () => {
    const redis = stableLabels(byName["redis"]!, { version: "5:7.0.15-1~deb12u7", baseImage: BASE });
    expect(redis[LABEL_KEYS.title]).toBe("redis (E2E3D lab stand-in)");
    expect(redis[LABEL_KEYS.description]).toBe(
      "E2E3D lab stand-in for docker.io/library/redis: Debian package redis-server 5:7.0.15-1~deb12u7 on the lab Debian bookworm base",
    );
    const prometheus = stableLabels(byName["prometheus"]!, { version: "2.42.0+ds-5+deb12u1", baseImage: BASE });
    expect(prometheus[LABEL_KEYS.description]).toContain(
      "Debian package prometheus 2.42.0+ds-5+deb12u1 (incl. promtool)",
    );
    const minio = stableLabels(byName["minio"]!, { version: "v1.8.0", baseImage: BASE });
    expect(minio[LABEL_KEYS.title]).toBe("S3 object server versitygw (E2E3D lab stand-in for minio)");
    expect(minio[LABEL_KEYS.description]).toContain("Go module github.com/versity/versitygw v1.8.0 (NOT MinIO");
    expect(minio[LABEL_KEYS.description]).toContain("built from the Go module proxy");
  });

  it("turns labels into --label arguments in key order, values kept whole (spaces, colons, equals signs)", () => {
    expect(labelArgs({ b: "two words", a: "x=y:z" })).toEqual(["--label", "a=x=y:z", "--label", "b=two words"]);
  });

  it("is the only source: no Dockerfile sets a LABEL or a label-only ARG", async () => {
    for (const standIn of STAND_INS) {
      const dockerfile = await readFile(join(STAND_IN_DOCKERFILES, standIn.directory, "Dockerfile"), "utf8");
      expect(dockerfile).not.toMatch(/^\s*LABEL\s/im);
      expect(dockerfile).not.toMatch(/^\s*ARG\s+(INPUT_HASH|CREATED|GO_MODULE_VERSION)\b/im);
    }
  });
});
