// The end-to-end suite's quality bar is the reconstruction package's target, not a second number that can drift.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../src/paths.js";
import { MIN_FSCORE_AT_2PCT } from "../src/synthetic.js";

describe("quality bar", () => {
  it("is the reconstruction package's TARGET_FSCORE_AT_2PCT", () => {
    const quality = readFileSync(
      join(repoRoot(), "packages/reconstruction/src/e2e3d_reconstruction/quality.py"),
      "utf8",
    );
    const match = /^TARGET_FSCORE_AT_2PCT = ([0-9.]+)$/m.exec(quality);
    expect(match, "quality.py defines TARGET_FSCORE_AT_2PCT").not.toBeNull();
    expect(MIN_FSCORE_AT_2PCT).toBe(Number(match![1]));
  });
});
