import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BuildReport, readBuildReport, writeBuildReport } from "../src/build/report.js";

const d = (c: string) => `sha256:${c.repeat(64)}`;
const valid: BuildReport = {
  version: 1,
  status: "passed",
  startedAt: "2026-01-01T00:00:00.000Z",
  finishedAt: "2026-01-01T00:01:00.000Z",
  commit: "0123456789abcdef0123456789abcdef01234567",
  branch: "main",
  registry: "127.0.0.1:5102",
  engine: { name: "docker", reason: "--engine docker", description: "docker (client 20.10)" },
  lint: { files: ["docker/airflow/Dockerfile"], findings: [] },
  images: [
    {
      name: "airflow",
      repository: "127.0.0.1:5102/e2e3d/airflow",
      reference: `127.0.0.1:5102/e2e3d/airflow@${d("1")}`,
      digest: d("1"),
      tags: [`in-${"2".repeat(64)}`, "sha-0123456789abcdef0123456789abcdef01234567", "main"],
      inputDigest: d("2"),
      sizeBytes: 123456,
      buildSeconds: 12.5,
      cacheHit: false,
      engine: "docker",
      base: { name: "debian-bookworm", reference: `127.0.0.1:5102/docker.io/library/debian@${d("3")}` },
      reproducible: { compared: false },
    },
  ],
  skipped: [{ name: "reconstruction-gpu", reason: "no cuda-runtime in the lock" }],
  failures: [],
};

describe("build report", () => {
  it("round-trips a valid report through the file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "e2e3d-report-test-"));
    try {
      await writeBuildReport(join(dir, "nested", "build.json"), valid);
      expect(await readBuildReport(join(dir, "nested", "build.json"))).toEqual(valid);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("rejects a reference that is not by digest, a bad digest and an unknown engine", () => {
    const image = valid.images[0]!;
    for (const bad of [
      { ...image, reference: "127.0.0.1:5102/e2e3d/airflow:main" },
      { ...image, digest: "sha256:short" },
      { ...image, engine: "podman" },
    ]) {
      expect(BuildReport.safeParse({ ...valid, images: [bad] }).success).toBe(false);
    }
  });

  it("says which file is wrong and where when reading a bad report", async () => {
    const dir = await mkdtemp(join(tmpdir(), "e2e3d-report-test-"));
    try {
      const file = join(dir, "build.json");
      await writeFile(file, JSON.stringify({ ...valid, images: [{ ...valid.images[0], sizeBytes: -1 }] }));
      await expect(readBuildReport(file)).rejects.toThrow(/build\.json is not a build report: images\.0\.sizeBytes/);
      expect(JSON.parse(await readFile(file, "utf8")).version).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
