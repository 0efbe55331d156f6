// The test entry point refuses bad input with a clear message and exit 1, before any stack is started.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", join(import.meta.dirname, "test.ts"), ...args], { encoding: "utf8" });

describe("pipelines/test.ts arguments", () => {
  it("requires a build report", () => {
    const result = cli();
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/required option '--build-report <file>' not specified/);
  });

  it("rejects an unknown suite, naming the known ones", () => {
    const result = cli("--build-report", "reports/none.json", "--suite", "e2e,speed");
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/unknown suite\(s\) speed: choose from e2e, security, resilience, gpu or all/);
  });

  it("says how to make a build report when the file is missing", () => {
    const result = cli("--build-report", "/nonexistent/build.json", "--suite", "gpu");
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/cannot read build report \/nonexistent\/build.json/);
    expect(result.stderr).toMatch(/hint: run the build first/);
  });

  it("refuses to test the images of a failed build", () => {
    const dir = mkdtempSync(join(tmpdir(), "e2e3d-test-cli-"));
    const report = join(dir, "build.json");
    const now = new Date().toISOString();
    writeFileSync(
      report,
      JSON.stringify({
        version: 1,
        status: "failed",
        startedAt: now,
        finishedAt: now,
        registry: "127.0.0.1:5102",
        engine: { name: "docker", reason: "test" },
        lint: { files: [], findings: [] },
        images: [],
        skipped: [],
        failures: [{ name: "reconstruction", step: "build", message: "boom", tail: [] }],
      }),
    );
    const result = cli("--build-report", report, "--suite", "gpu");
    rmSync(dir, { recursive: true, force: true });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/the build report says the build failed: nothing from it is tested/);
  });
});
