// pipelines/build.ts as a person runs it: bad input ends with a clear message and exit code 1, before any engine or
// registry is contacted (no Docker, no network).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// An empty lab home: no lab.json, so nothing of this machine's lab is read.
const noLab = mkdtempSync(join(tmpdir(), "e2e3d-no-lab-"));
afterAll(() => rmSync(noLab, { recursive: true, force: true }));
const run = (...args: string[]) =>
  spawnSync("npx", ["tsx", join(import.meta.dirname, "build.ts"), ...args], {
    encoding: "utf8",
    env: { ...process.env, E2E3D_LAB_HOME: noLab, GITHUB_ACTIONS: "" },
  });

describe("pipelines/build.ts", () => {
  it("refuses an unknown engine with the choices", () => {
    const result = run("--engine", "podman", "--report", join(tmpdir(), "unused.json"));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('--engine="podman" is not an engine');
    expect(result.stderr).toContain("use one of auto, dagger, docker");
  });

  it("refuses an unknown image with the names it knows", () => {
    const result = run("--images", "reconstruction,nope", "--engine", "docker");
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("unknown image(s) nope");
    expect(result.stderr).toContain("choose from reconstruction, reconstruction-gpu, airflow");
  });
});
