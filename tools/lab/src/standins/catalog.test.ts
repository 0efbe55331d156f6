// Unit tests: the catalog agrees with docker/lab/images.yaml, and tags are derived truthfully from Debian versions.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
// The lock contract's schema file itself (tools/lab is not a workspace package, and the schema has no other deps).
import { ImagesFile } from "../../../../packages/oci/src/lock/schema.js";
import { parseAptPolicy } from "./apt.js";
import { debianUpstreamVersion, STAND_INS } from "./catalog.js";
import { STAND_IN_DOCKERFILES } from "./index.js";

describe("docker/lab/images.yaml", async () => {
  const file = ImagesFile.parse(parse(await readFile(join(STAND_IN_DOCKERFILES, "images.yaml"), "utf8")));

  it("lists every stand-in with the tag the builder pushes, plus the base, and nothing else", () => {
    const expected = [
      { name: "debian-bookworm", source: "docker.io/library/debian", tag: "bookworm" },
      ...STAND_INS.map((s) => ({ name: s.name, source: s.repository, tag: s.tag })),
    ];
    const listed = file.images.map(({ name, source, tag }) => ({ name, source, tag }));
    expect(listed.sort((a, b) => a.name.localeCompare(b.name))).toEqual(
      expected.sort((a, b) => a.name.localeCompare(b.name)),
    );
    for (const image of file.images) expect(image.platforms).toEqual(["linux/amd64"]);
  });

  it("has no grafana (no build exists for these machines)", () => {
    expect(file.images.map((i) => i.name)).not.toContain("grafana");
  });
});

describe("truthful tags", () => {
  it("strips epoch, Debian revision and repack suffix", () => {
    expect(debianUpstreamVersion("5:7.0.15-1~deb12u7")).toBe("7.0.15");
    expect(debianUpstreamVersion("15.18-0+deb12u1")).toBe("15.18");
    expect(debianUpstreamVersion("2.42.0+ds-5+deb12u1")).toBe("2.42.0");
    expect(debianUpstreamVersion("1.22.1-9+deb12u9")).toBe("1.22.1");
  });

  it("derives each Debian stand-in's tag from the package version", () => {
    const byName = Object.fromEntries(STAND_INS.map((s) => [s.name, s]));
    expect(byName["redis"]!.tagFor("5:7.0.15-1~deb12u10")).toBe("7.0.15");
    expect(byName["prometheus"]!.tagFor("2.42.0+ds-5+deb12u1")).toBe("v2.42.0");
    expect(byName["postgres"]!.tagFor("15.20-0+deb12u1")).toBe("15");
  });

  it("names the S3 server in the minio tag, since it is not MinIO", () => {
    const minio = STAND_INS.find((s) => s.name === "minio")!;
    expect(minio.tag).toMatch(/^versitygw-v\d+\.\d+\.\d+$/);
  });
});

describe("parseAptPolicy", () => {
  it("reads candidates and ignores packages without one", () => {
    const output = [
      "redis-server:",
      "  Installed: (none)",
      "  Candidate: 5:7.0.15-1~deb12u7",
      "  Version table:",
      "     5:7.0.15-1~deb12u7 500",
      "nothere:",
      "  Installed: (none)",
      "  Candidate: (none)",
    ].join("\n");
    expect(parseAptPolicy(output)).toEqual({ "redis-server": "5:7.0.15-1~deb12u7" });
  });
});
