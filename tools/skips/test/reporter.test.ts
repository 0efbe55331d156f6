// The vitest side of the skip check, end to end: a real vitest run of a fixture file with the reporter, in CI and
// not, against a fixture allow-list (so the repository's own list and CI stay out of it).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../src/policy.js";

const FIXTURES = join(import.meta.dirname, "fixtures");
const labHome = mkdtempSync(join(tmpdir(), "e2e3d-skips-lab-"));
afterAll(() => rmSync(labHome, { recursive: true, force: true }));

function run(fixture: string, env: { CI?: string; lab?: Record<string, unknown> } = {}) {
  const home = mkdtempSync(join(labHome, "home-"));
  if (env.lab) writeFileSync(join(home, "lab.json"), JSON.stringify(env.lab));
  const result = spawnSync(
    join(REPO_ROOT, "node_modules", ".bin", "vitest"),
    ["run", "--config", join(FIXTURES, "vitest.config.ts"), "--root", FIXTURES],
    {
      cwd: REPO_ROOT,
      encoding: "utf8",
      timeout: 60_000,
      env: {
        ...process.env,
        CI: env.CI ?? "",
        GITHUB_ACTIONS: "",
        E2E3D_LAB_HOME: home,
        SKIP_FIXTURE: fixture,
        SKIP_ALLOW_LIST: join(FIXTURES, "allowed-skips.yaml"),
      },
    },
  );
  return { code: result.status, out: `${result.stdout}${result.stderr}` };
}

describe("the skip check of a vitest run", { timeout: 60_000 }, () => {
  it("in CI, refuses a skip the allow-list does not list, printing its reason, and fails the run", () => {
    const { code, out } = run("unlisted.fixture.ts", { CI: "true" });
    expect(code).toBe(1);
    expect(out).toContain("REFUSED: tools/skips/test/fixtures/unlisted.fixture.ts: an unlisted suite > would talk");
    expect(out).toContain("reason: the registry binary is missing: apt-get install docker-registry");
    expect(out).toContain("no entry of tools/ci/allowed-skips.yaml allows skips in this file");
    expect(out).toContain("error: 1 skip(s) refused");
  });

  it("in CI, accepts listed skips (suite and test) and the run passes", () => {
    const { code, out } = run("listed.fixture.ts", { CI: "true" });
    expect(out).toContain("allowed (no-widget): tools/skips/test/fixtures/listed.fixture.ts: a listed suite");
    expect(out).toContain("reason: no widget answers here");
    expect(out).toContain("reason: no widget in this test either");
    expect(out).not.toContain("REFUSED");
    expect(code, out).toBe(0);
  });

  it("in CI, refuses a listed skip once the lab reports what the test needs (unless_lab)", () => {
    expect(run("lab-gated.fixture.ts", { CI: "true" }).code).toBe(0);
    const { code, out } = run("lab-gated.fixture.ts", { CI: "true", lab: { widget: { version: "1" } } });
    expect(code).toBe(1);
    expect(out).toContain("allowed by no-widget only while the lab does not report `widget`, and it does");
  });

  it("outside CI, prints an unlisted skip with its reason and lets the run pass", () => {
    const { code, out } = run("unlisted.fixture.ts");
    expect(out).toContain("not CI: reported, not enforced");
    expect(out).toContain("not allowed in CI: tools/skips/test/fixtures/unlisted.fixture.ts");
    expect(out).toContain("reason: the registry binary is missing");
    expect(code, out).toBe(0);
  });

  it("refuses a skip without a reason everywhere, CI or not", () => {
    for (const CI of ["", "true"]) {
      const { code, out } = run("reasonless.fixture.ts", { CI });
      expect(code, out).toBe(1);
      expect(out).toContain("REFUSED: tools/skips/test/fixtures/reasonless.fixture.ts: 2 tests");
      expect(out).toContain("skipped without a reason");
    }
  });
});
