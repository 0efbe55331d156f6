// The test report (schema TestReport in packages/pipeline/src/reports.ts, read by the release gate) from what vitest
// reported: each suite's outcome from its tests (a suite is a top-level describe), skip reasons from what the suites
// recorded, and the digests the suites that passed ran against.
import { type SuiteResult, TestReport } from "@e2e3d/pipeline";

/** The suites pipelines/test.ts knows, the file each lives in, and its describe title. */
export const SUITES = {
  e2e: { title: "end-to-end", file: "test/stack.int.test.ts" },
  security: { title: "security", file: "test/stack.int.test.ts" },
  resilience: { title: "resilience", file: "test/stack.int.test.ts" },
  gpu: { title: "gpu", file: "test/gpu.int.test.ts" },
} as const;
export type SuiteKey = keyof typeof SUITES;
export const SUITE_KEYS = Object.keys(SUITES) as SuiteKey[];

export function parseSuiteSelection(value: string): SuiteKey[] {
  if (value === "all") return [...SUITE_KEYS];
  const keys = value.split(",").map((s) => s.trim());
  const unknown = keys.filter((k) => !(SUITE_KEYS as string[]).includes(k));
  if (unknown.length > 0 || keys.length === 0) {
    throw new Error(`unknown suite(s) ${unknown.join(", ")}: choose from ${SUITE_KEYS.join(", ")} or all`);
  }
  return keys as SuiteKey[];
}

/** The part of vitest's JSON reporter output (jest-compatible) used here. */
export interface VitestJson {
  testResults: Array<{
    name: string;
    status: string;
    message?: string;
    assertionResults: Array<{
      ancestorTitles: string[];
      title: string;
      status: string;
      duration?: number | null;
      failureMessages?: string[];
    }>;
  }>;
}

export interface SkipRecord {
  suite: string;
  reason: string;
}

const firstLine = (text: string) =>
  text
    .split("\n")
    .find((l) => l.trim())
    ?.trim() ?? text.trim();

/** Each selected suite's outcome from vitest's results; a suite with no result at all is failed, never passed. */
export function suiteResults(json: VitestJson | undefined, selected: SuiteKey[], skips: SkipRecord[]): SuiteResult[] {
  return selected.map((key): SuiteResult => {
    const { title, file } = SUITES[key];
    const fileResults = (json?.testResults ?? []).filter((r) => r.name.endsWith(file));
    const tests = fileResults.flatMap((r) => r.assertionResults.filter((a) => a.ancestorTitles[0] === title));
    const seconds = tests.reduce((sum, t) => sum + (t.duration ?? 0), 0) / 1000;
    const reasons = [...new Set(skips.filter((s) => s.suite === title).map((s) => s.reason))];
    const failed = tests.filter((t) => t.status === "failed");
    if (failed.length > 0) {
      const why = failed
        .map((t) => `${t.title}: ${firstLine(t.failureMessages?.[0] ?? "failed")}`)
        .join("; ")
        .slice(0, 1500);
      return {
        name: title,
        outcome: "failed",
        reason: `${failed.length}/${tests.length} test(s) failed: ${why}`,
        seconds,
      };
    }
    // A file that failed outside its tests (a hook, an import) fails every suite it holds.
    const broken = fileResults.find((r) => r.status === "failed" && r.message);
    if (broken) return { name: title, outcome: "failed", reason: firstLine(broken.message!).slice(0, 1500), seconds };
    if (tests.length === 0) {
      return {
        name: title,
        outcome: "failed",
        reason: json ? `no test of the ${title} suite ran (${file})` : "vitest produced no results",
      };
    }
    const passed = tests.filter((t) => t.status === "passed");
    if (passed.length === 0) {
      return {
        name: title,
        outcome: "skipped",
        reason: reasons.join("; ") || "every test was skipped and the suite recorded no reason (a defect in the suite)",
        seconds,
      };
    }
    const skipped = tests.length - passed.length;
    return {
      name: title,
      outcome: "passed",
      ...(skipped > 0 ? { reason: `${skipped} test(s) skipped: ${reasons.join("; ") || "no reason recorded"}` } : {}),
      seconds,
    };
  });
}

export interface ReportInput {
  suites: SuiteResult[];
  /** suite title → image references by digest it ran against. */
  digestsBySuite: Record<string, string[]>;
  commit: string;
  startedAt: Date;
  finishedAt: Date;
}

/** The validated report: a digest counts as tested only when a suite that passed ran against it. */
export function buildTestReport(input: ReportInput): TestReport {
  const passed = input.suites.filter((s) => s.outcome === "passed").map((s) => s.name);
  const tested = [...new Set(passed.flatMap((name) => input.digestsBySuite[name] ?? []))].sort();
  const anyFailed = input.suites.some((s) => s.outcome === "failed");
  const everything = [...new Set(Object.values(input.digestsBySuite).flat())].sort();
  return TestReport.parse({
    // A report must name digests; when nothing passed it names what was attempted (and says "failed").
    digests: tested.length > 0 ? tested : everything,
    suites: input.suites,
    outcome: anyFailed || passed.length === 0 ? "failed" : "passed",
    commit: input.commit,
    startedAt: input.startedAt.toISOString(),
    finishedAt: input.finishedAt.toISOString(),
  });
}
