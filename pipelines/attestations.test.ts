// pipelines/attestations.ts as a person runs it: bad input ends with a clear message and exit code 1 before any
// registry is contacted (no network).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const run = (...args: string[]) =>
  spawnSync("npx", ["tsx", join(import.meta.dirname, "attestations.ts"), ...args], {
    encoding: "utf8",
    env: { ...process.env, GITHUB_ACTIONS: "" },
  });

describe("pipelines/attestations.ts", () => {
  it("needs an image argument", () => {
    const result = run();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("missing required argument 'image'");
  });

  it("refuses a tag reference: attestations hang off a digest", () => {
    const result = run("127.0.0.1:1/e2e3d/app:main");
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("attestations hang off a digest");
    expect(result.stderr).toContain("pass the image by digest");
  });
});
