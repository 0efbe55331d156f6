// Image resolution: every image by digest, every problem listed, the build report read in the shapes it may take.
import { describe, expect, it } from "vitest";
import { buildModel, ImageResolutionError, parseBuildReport, resolveImages } from "../src/index.js";
import { BUILD_REPORT, fakeDigest, LOCK, PRIVATE } from "./fixtures.js";

describe("image resolution", () => {
  it("names every image it cannot resolve, not just the first", () => {
    const model = buildModel({ profile: "production" });
    const lock = { ...LOCK, images: { ...LOCK.images } };
    delete lock.images["redis"];
    delete lock.images["grafana"];
    try {
      resolveImages(model, {
        lock,
        lockSource: "l",
        buildReport: new Map(),
        buildReportSource: "b",
        privateRegistry: PRIVATE,
      });
      expect.unreachable("resolution should fail");
    } catch (err) {
      expect(err).toBeInstanceOf(ImageResolutionError);
      const message = (err as Error).message;
      expect(message).toMatch(/^9 image\(s\)/);
      expect(message).toContain('redis: "redis" is not in the lock file');
      expect(message).toContain('grafana: "grafana" is not in the lock file');
      expect(message).toContain('reconstruction: "reconstruction" is not in the build report');
    }
  });

  it("reads a build report as a list or a record, and refuses a tag reference", () => {
    expect(BUILD_REPORT.get("airflow")).toBe(`127.0.0.1:5102/e2e3d/airflow@${fakeDigest("airflow")}`);
    const record = parseBuildReport(
      JSON.stringify({ images: { airflow: { repository: "r.example/e2e3d/airflow", digest: fakeDigest("x") } } }),
      "r.json",
    );
    expect(record.get("airflow")).toBe(`r.example/e2e3d/airflow@${fakeDigest("x")}`);
    expect(() => parseBuildReport(JSON.stringify({ status: "failed", images: [] }), "f.json")).toThrow(
      /the build failed: nothing from it is deployed/,
    );
    const model = buildModel({ profile: "production" });
    const tagged = new Map(BUILD_REPORT);
    tagged.set("airflow", "127.0.0.1:5102/e2e3d/airflow:latest");
    expect(() =>
      resolveImages(model, {
        lock: LOCK,
        lockSource: "l",
        buildReport: tagged,
        buildReportSource: "b",
        privateRegistry: PRIVATE,
      }),
    ).toThrow(/not a reference by digest/);
  });
});
