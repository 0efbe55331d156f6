// The deploy entry point refuses bad arguments with a clear message and a non-zero exit, before touching anything.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", join(import.meta.dirname, "deploy.ts"), ...args], {
    encoding: "utf8",
    env: { ...process.env, E2E3D_DEPLOY_HOME: "/nonexistent/e2e3d-deploy-test" },
  });

describe("pipelines/deploy.ts arguments", () => {
  it("rejects an unknown profile, naming the valid ones", () => {
    const result = cli("--profile", "staging");
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/Allowed choices are production, lab, gpu/);
  });

  it("rejects --volumes without --down (it would silently do nothing otherwise)", () => {
    const result = cli("--lab", "--volumes");
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^error: --volumes only makes sense with --down\n {2}fix: add --down/);
  });

  it("rejects an unknown service in --only before anything runs", () => {
    const result = cli("--lab", "--only", "gateway,nosuchservice");
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/unknown service\(s\): nosuchservice/);
  });
});
