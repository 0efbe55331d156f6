// The lock, mirror and promote entry points on inputs that need no registry: they must fail clearly and non-zero.
// (Their work against real registries is tested in packages/oci/test/cli.int.test.ts.)
import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const TSX = join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");

function run(script: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [TSX, join(ROOT, "pipelines", script), ...args],
      { cwd: ROOT },
      (error, _stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stderr });
      },
    );
  });
}

describe("lock / mirror / promote entry points", () => {
  it("lock check on a missing production lock reports drift (2) and says how the lock is made", async () => {
    const result = await run("lock.ts", ["check", "--lock", "docker/does-not-exist.lock.json"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("does not exist");
  });

  it("mirror copy refuses a bad reference, quoting it", async () => {
    const result = await run("mirror.ts", ["copy", "Not A Ref", "127.0.0.1:1/x:1"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('invalid image reference "Not A Ref"');
  });

  it("promote refuses a source without a digest", async () => {
    const result = await run("promote.ts", ["--from", "127.0.0.1:1/e2e3d/reconstruction:dev", "--tags", "v1.0.0"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("promote needs the tested digest");
  });
});
