// pipelines/build.ts on the lab, as a person runs it: the first-party images built with the Docker engine from the
// lab's lock, pushed to the lab's private registry, and the report's references served by that registry.
// Runs when the lab is up (lab.json and a lock naming debian-bookworm); skipped with the reason otherwise. A warm
// run is a cache hit by input digest; a cold one builds (minutes: Airflow's and the reconstruction's dependencies).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ImageRegistry, readBuildReport, readLabInfo, splitRepository } from "@e2e3d/pipeline";
import { expect, it, onTestFinished } from "vitest";
import { describeUnless } from "../tools/skips/src/skip.js";

function labSkipReason(): string | undefined {
  const lab = readLabInfo();
  if (!lab) return "the lab is not up (no lab.json): npx tsx tools/lab/src/cli.ts up";
  const lock = join(lab.stateDir, "images.lock.json");
  if (!existsSync(lock)) return `the lab has no lock yet (${lock})`;
  if (!readFileSync(lock, "utf8").includes('"debian-bookworm"')) return `${lock} has no debian-bookworm entry`;
  return undefined;
}

const skipReason = labSkipReason();

describeUnless(skipReason)("pipelines/build.ts on the lab", () => {
  it("builds reconstruction and airflow with the Docker engine and reports references the registry serves", {
    timeout: 3_000_000,
  }, async () => {
    const reportDir = mkdtempSync(join(tmpdir(), "e2e3d-lab-build-"));
    onTestFinished(() => rmSync(reportDir, { recursive: true, force: true }));
    const report = join(reportDir, "build.json");
    const result = spawnSync(
      "npx",
      [
        "tsx",
        join(import.meta.dirname, "build.ts"),
        "--engine",
        "docker",
        "--images",
        "reconstruction,airflow",
        "--report",
        report,
      ],
      { encoding: "utf8", env: { ...process.env, GITHUB_ACTIONS: "" }, maxBuffer: 64 * 1024 * 1024 },
    );
    expect(result.status, result.stderr.slice(-6000)).toBe(0);
    const built = await readBuildReport(report);
    expect(built.status).toBe("passed");
    expect(built.images.map((i) => i.name).sort()).toEqual(["airflow", "reconstruction"]);
    const registry = new ImageRegistry();
    try {
      for (const image of built.images) {
        expect(image.tags[0]).toBe(`in-${image.inputDigest.slice(7)}`);
        expect(await registry.head(splitRepository(image.repository), image.tags[0]!)).toBe(image.digest);
        expect(image.sizeBytes).toBeGreaterThan(50_000_000);
      }
    } finally {
      await registry.close();
    }
  });
});
