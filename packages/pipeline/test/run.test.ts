// The pipeline's gate before any engine or registry: lint findings stop the build. No Docker, no network: the
// engine factory and the registry client below throw if touched, which is the point of the test.
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runBuildPipeline } from "../src/build/run.js";
import type { GitInfo } from "../src/git.js";
import type { ImageRegistry } from "../src/registry.js";
import { captureLogger } from "./support/env.js";

const untouchable = new Proxy({} as ImageRegistry, {
  get: (_t, prop) => {
    throw new Error(`the registry was used (${String(prop)}) although lint failed`);
  },
});
const git: GitInfo = {
  commit: undefined,
  branch: undefined,
  commitTime: async () => undefined,
  isDirty: async () => false,
};

describe("build pipeline gate", () => {
  it("lints every Dockerfile first and builds nothing when one has findings", async () => {
    const root = await mkdtemp(join(tmpdir(), "e2e3d-gate-"));
    try {
      await cp(join(import.meta.dirname, "fixtures", "images"), join(root, "images"), { recursive: true });
      await cp(
        join(import.meta.dirname, "fixtures", "lint", "seed-airflow.Dockerfile"),
        join(root, "images", "seed", "Dockerfile"),
      );
      const { log, text } = captureLogger();
      const report = await runBuildPipeline({
        root,
        images: [
          {
            name: "app",
            dockerfile: "images/app/Dockerfile",
            context: "images/app",
            include: [],
            base: "debian-bookworm",
          },
        ],
        registry: "127.0.0.1:1",
        lockFile: join(root, "missing.lock.json"),
        lintDirs: [join(root, "images")],
        engine: { name: "docker", reason: "test" },
        createEngine: () => {
          throw new Error("an engine was started although lint failed");
        },
        registryClient: untouchable,
        git,
        log,
      });
      expect(report.status).toBe("failed");
      expect(report.images).toEqual([]);
      expect(report.lint.files).toEqual([
        "images/app/Dockerfile",
        "images/broken/Dockerfile",
        "images/secret/Dockerfile",
        "images/seed/Dockerfile",
        "images/service/Dockerfile",
      ]);
      expect(report.lint.findings.map((f) => `${f.file}:${f.line}:${f.rule}`)).toEqual([
        "images/seed/Dockerfile:2:unpinned-from",
        "images/seed/Dockerfile:4:root-op-after-user",
        "images/seed/Dockerfile:4:unknown-group",
        "images/seed/Dockerfile:7:root-op-after-user",
      ]);
      expect(report.failures).toEqual([expect.objectContaining({ name: "lint", step: "lint" })]);
      expect(text()).toContain("error: images/seed/Dockerfile:4: [unknown-group]");
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
