// The test report the release gate trusts: suite outcomes from vitest's JSON, skip reasons, tested digests.
import { TestReport } from "@e2e3d/pipeline";
import { describe, expect, it } from "vitest";
import { buildTestReport, namePattern, parseSuiteSelection, suiteResults, type VitestJson } from "../src/index.js";

const D = (c: string) => `127.0.0.1:5102/e2e3d/reconstruction@sha256:${c.repeat(64)}`;
const test = (suite: string, title: string, status: string, failure?: string) => ({
  ancestorTitles: [suite],
  title,
  status,
  duration: 1500,
  ...(failure ? { failureMessages: [failure] } : {}),
});
const file = (name: string, tests: ReturnType<typeof test>[], status = "passed", message?: string) => ({
  name: `/repo/packages/testkit/test/${name}`,
  status,
  assertionResults: tests,
  ...(message ? { message } : {}),
});

describe("suiteResults", () => {
  it("passes a suite whose tests passed, fails one with a failed test and says which", () => {
    const json: VitestJson = {
      testResults: [
        file("stack.int.test.ts", [
          test("end-to-end", "reconstructs", "passed"),
          test("security", "non-root", "failed", "AssertionError: expected '0' not to be '0'\n at ..."),
          test("security", "ports", "passed"),
        ]),
      ],
    };
    const [e2e, security] = suiteResults(json, ["e2e", "security"], []);
    expect(e2e).toEqual({ name: "end-to-end", outcome: "passed", seconds: 1.5 });
    expect(security!.outcome).toBe("failed");
    expect(security!.reason).toBe("1/2 test(s) failed: non-root: AssertionError: expected '0' not to be '0'");
  });

  it("skips a suite only with the reason it recorded, and flags a reasonless skip as a defect", () => {
    const json: VitestJson = { testResults: [file("gpu.int.test.ts", [test("gpu", "cuda", "skipped")])] };
    const withReason = suiteResults(json, ["gpu"], [{ suite: "gpu", reason: "no nvidia runtime" }]);
    expect(withReason[0]).toMatchObject({ outcome: "skipped", reason: "no nvidia runtime" });
    expect(suiteResults(json, ["gpu"], [])[0]!.reason).toMatch(/defect/);
  });

  it("fails every suite of a file that broke outside its tests, and a suite that never ran", () => {
    const broken: VitestJson = {
      testResults: [file("stack.int.test.ts", [], "failed", "InputsError: the build failed: airflow (build)\nstack")],
    };
    expect(suiteResults(broken, ["e2e", "resilience"], [])).toEqual([
      { name: "end-to-end", outcome: "failed", reason: "InputsError: the build failed: airflow (build)", seconds: 0 },
      { name: "resilience", outcome: "failed", reason: "InputsError: the build failed: airflow (build)", seconds: 0 },
    ]);
    expect(suiteResults(undefined, ["gpu"], [])[0]).toEqual({
      name: "gpu",
      outcome: "failed",
      reason: "vitest produced no results",
    });
  });
});

describe("buildTestReport", () => {
  const base = { commit: "abcdef1", startedAt: new Date(0), finishedAt: new Date(1000) };

  it("counts a digest as tested only when a suite that ran against it passed", () => {
    const report = buildTestReport({
      ...base,
      suites: [
        { name: "end-to-end", outcome: "passed" },
        { name: "gpu", outcome: "skipped", reason: "no GPU" },
      ],
      digestsBySuite: { "end-to-end": [D("a")], gpu: [D("b")] },
    });
    expect(report.outcome).toBe("passed");
    expect(report.digests).toEqual([D("a")]);
    expect(TestReport.safeParse(report).success).toBe(true);
  });

  it("says failed when a suite failed, and when nothing passed", () => {
    const failed = buildTestReport({
      ...base,
      suites: [
        { name: "end-to-end", outcome: "failed", reason: "boom" },
        { name: "security", outcome: "passed" },
      ],
      digestsBySuite: { "end-to-end": [D("a")], security: [D("a")] },
    });
    expect(failed.outcome).toBe("failed");
    const skipped = buildTestReport({
      ...base,
      suites: [{ name: "gpu", outcome: "skipped", reason: "no GPU" }],
      digestsBySuite: { gpu: [D("b")] },
    });
    expect(skipped).toMatchObject({ outcome: "failed", digests: [D("b")] });
  });
});

describe("suite selection", () => {
  it("parses names and refuses unknown ones", () => {
    expect(parseSuiteSelection("all")).toEqual(["e2e", "security", "resilience", "gpu"]);
    expect(parseSuiteSelection("e2e,gpu")).toEqual(["e2e", "gpu"]);
    expect(() => parseSuiteSelection("e2e,speed")).toThrow(/unknown suite\(s\) speed/);
  });

  it("filters by describe title only when part of a file's suites is chosen", () => {
    expect(namePattern(["e2e", "security", "resilience"])).toBeUndefined();
    expect(namePattern(["gpu"])).toBeUndefined();
    expect(namePattern(["e2e", "gpu"])).toBe("^(end-to-end|gpu) ");
  });
});
