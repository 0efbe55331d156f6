// The release gate on its own (pure: reports in, plan or refusal out). The end-to-end release against a real registry
// is release.int.test.ts.

import { TestReport } from "@e2e3d/pipeline";
import { describe, expect, it } from "vitest";
import { PromotionRefusedError, ReportError } from "./errors.js";
import { BuildReport, canonicalDigestReference, parseReport, planPromotion } from "./release-gate.js";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const d = (c: string) => `sha256:${c.repeat(64)}`;
const RECON = `127.0.0.1:5102/e2e3d/reconstruction@${d("a")}`;
const AIRFLOW = `127.0.0.1:5102/e2e3d/airflow@${d("b")}`;

const buildReport = (overrides: object = {}) =>
  BuildReport.parse({
    commit: COMMIT,
    images: [
      {
        name: "reconstruction",
        reference: RECON,
        tags: ["sha-0123456"],
        inputDigest: d("c"),
        size: 1,
        cacheHit: false,
      },
      { name: "airflow", reference: AIRFLOW, tags: ["sha-0123456"], inputDigest: d("e") },
    ],
    ...overrides,
  });
const passing = {
  commit: COMMIT,
  digests: [RECON, AIRFLOW],
  outcome: "passed",
  suites: [
    { name: "end-to-end", outcome: "passed", seconds: 412.5 },
    { name: "gpu", outcome: "skipped", reason: "no GPU runtime in the engine" },
  ],
};
const testReport = (overrides: object = {}) => TestReport.parse({ ...passing, ...overrides });

const refusal = (fn: () => unknown): PromotionRefusedError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof PromotionRefusedError) return err;
    throw err;
  }
  throw new Error("expected the gate to refuse, but it planned a promotion");
};

describe("planPromotion", () => {
  it("plans every built image of a passing report, by its tested digest", () => {
    const plan = planPromotion({
      build: buildReport(),
      tests: [testReport()],
      version: "v1.2.3",
      commit: COMMIT,
      extraTags: ["1.2.3"],
    });
    expect(plan.images).toEqual([
      {
        name: "reconstruction",
        source: RECON,
        repository: "127.0.0.1:5102/e2e3d/reconstruction",
        digest: d("a"),
        tags: ["v1.2.3", "1.2.3"],
      },
      {
        name: "airflow",
        source: AIRFLOW,
        repository: "127.0.0.1:5102/e2e3d/airflow",
        digest: d("b"),
        tags: ["v1.2.3", "1.2.3"],
      },
    ]);
  });

  it("refuses a failing test report and says which suite failed and why", () => {
    const test = testReport({
      outcome: "failed",
      suites: [
        { name: "end-to-end", outcome: "passed" },
        { name: "resilience", outcome: "failed", reason: "job lost after redis restart" },
      ],
    });
    const err = refusal(() =>
      planPromotion({ build: buildReport(), tests: [test], version: "v1.2.3", commit: COMMIT }),
    );
    expect(err.message).toContain(
      'the integration suites did not pass (outcome "failed": resilience failed (job lost after redis restart))',
    );
    expect(err.hint).toMatch(/let ci pass/);
  });

  it("refuses a digest the suites never tested (a rebuild gives new digests)", () => {
    const test = testReport({ digests: [RECON] });
    const err = refusal(() =>
      planPromotion({ build: buildReport(), tests: [test], version: "v1.2.3", commit: COMMIT }),
    );
    expect(err.reasons).toEqual([`airflow: ${AIRFLOW} is not among the digests the suites tested`]);
  });

  it("refuses reports of another commit, and lists every reason at once", () => {
    const other = "fedcba9876543210fedcba9876543210fedcba98";
    const err = refusal(() =>
      planPromotion({
        build: buildReport({ commit: other }),
        tests: [testReport({ commit: other })],
        version: "1.2",
        commit: COMMIT,
      }),
    );
    expect(err.reasons).toEqual([
      '"1.2" is not a release version: expected v<major>.<minor>.<patch>[-pre]',
      `the test report is of commit ${other}, but the release is of commit ${COMMIT}`,
      `the build report is of commit ${other}, but the release is of commit ${COMMIT}`,
    ]);
  });

  it("refuses when the build report says the build failed", () => {
    const build = buildReport({
      status: "failed",
      failures: [{ name: "airflow", step: "RUN pip install", message: "exit 1", tail: [] }],
    });
    const err = refusal(() => planPromotion({ build, tests: [testReport()], version: "v1.2.3", commit: COMMIT }));
    expect(err.reasons).toEqual(["the build report says the build failed (airflow: exit 1)"]);
  });

  it("matches a tested reference that carries a tag before the digest", () => {
    const tagged = `127.0.0.1:5102/e2e3d/airflow:sha-0123456@${d("b")}`;
    expect(canonicalDigestReference(tagged)).toBe(AIRFLOW);
    const plan = planPromotion({
      build: buildReport(),
      tests: [testReport({ digests: [RECON, tagged] })],
      version: "v1.0.0-rc.1",
      commit: "0123456",
    });
    expect(plan.images.map((i) => i.name)).toEqual(["reconstruction", "airflow"]);
  });
});

describe("planPromotion with the GPU suite's report", () => {
  const GPU = `127.0.0.1:5102/e2e3d/reconstruction-gpu@${d("f")}`;
  const withGpu = () =>
    buildReport({
      images: [
        { name: "reconstruction", reference: RECON },
        { name: "airflow", reference: AIRFLOW },
        { name: "reconstruction-gpu", reference: GPU },
      ],
    });
  const gpuReport = (overrides: object = {}) =>
    testReport({ digests: [GPU], suites: [{ name: "gpu", outcome: "passed", seconds: 95 }], ...overrides });

  it("refuses a GPU image that only ci's report covers (its GPU suite was skipped there)", () => {
    const err = refusal(() =>
      planPromotion({ build: withGpu(), tests: [testReport()], version: "v2.0.0", commit: COMMIT }),
    );
    expect(err.reasons).toEqual([`reconstruction-gpu: ${GPU} is not among the digests the suites tested`]);
  });

  it("promotes every image once the GPU suite's passed report covers the GPU digest", () => {
    const plan = planPromotion({
      build: withGpu(),
      tests: [testReport(), gpuReport()],
      version: "v2.0.0",
      commit: COMMIT,
    });
    expect(plan.images.map((i) => `${i.name} ${i.digest}`)).toEqual([
      `reconstruction ${d("a")}`,
      `airflow ${d("b")}`,
      `reconstruction-gpu ${d("f")}`,
    ]);
  });

  it("refuses when the GPU suite failed, naming that report's suite, even though ci's passed", () => {
    const failed = gpuReport({
      outcome: "failed",
      suites: [{ name: "gpu", outcome: "failed", reason: "dense stage fell back to the CPU" }],
    });
    const err = refusal(() =>
      planPromotion({ build: withGpu(), tests: [testReport(), failed], version: "v2.0.0", commit: COMMIT }),
    );
    expect(err.reasons).toContain(
      'the integration suites of gpu did not pass (outcome "failed": gpu failed (dense stage fell back to the CPU))',
    );
  });

  it("refuses without any test report", () => {
    const err = refusal(() => planPromotion({ build: buildReport(), tests: [], version: "v2.0.0", commit: COMMIT }));
    expect(err.reasons[0]).toBe("no test report was given: the gate promotes only what the suites tested");
  });
});

describe("report parsing", () => {
  it("rejects a test report that says passed while a suite failed", () => {
    const text = JSON.stringify({
      ...passing,
      suites: [{ name: "security", outcome: "failed", reason: "minioadmin accepted" }],
    });
    expect(() => parseReport(text, "t.json", TestReport, "test report")).toThrow(
      /test report is not valid: outcome: outcome is "passed" but these suites failed: security/,
    );
  });

  it("rejects a skip without a reason, and a digest that is not one", () => {
    const text = JSON.stringify({
      ...passing,
      digests: ["127.0.0.1:5102/e2e3d/airflow:latest"],
      suites: [{ name: "gpu", outcome: "skipped" }],
    });
    const err = (() => {
      try {
        parseReport(text, "t.json", TestReport, "test report");
      } catch (e) {
        return e as ReportError;
      }
    })();
    expect(err).toBeInstanceOf(ReportError);
    expect(err?.message).toContain("digests.0: expected a reference by digest");
    expect(err?.message).toContain('suites.0.reason: suite "gpu" was skipped without a reason');
    expect(err?.context["file"]).toBe("t.json");
  });

  it("rejects a build report image without a digest, naming the file", () => {
    const text = JSON.stringify({ images: [{ name: "airflow", reference: "127.0.0.1:5102/e2e3d/airflow:sha-1" }] });
    expect(() => parseReport(text, "b.json", BuildReport, "build report")).toThrow(
      /build report is not valid: images.0.reference/,
    );
    expect(() => parseReport("{", "b.json", BuildReport, "build report")).toThrow(/build report is not JSON/);
  });
});
