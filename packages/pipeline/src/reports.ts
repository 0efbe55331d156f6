// The test report: what pipelines/test.ts writes and what the release gate reads before anything is promoted.
// Shared contract (issue 8 writes it, issue 9's gate reads it). A report that contradicts itself (says "passed" while a
// suite failed, or skips a suite without saying why) is rejected at parse time, not trusted.
import { z } from "zod";

/** An image reference pinned by digest: `<registry>/<repository>@sha256:<64 hex>` (a tag before the @ is allowed). */
export const DigestReference = z
  .string()
  .regex(/^[^\s@]+@sha256:[a-f0-9]{64}$/, "expected a reference by digest: <registry>/<repository>@sha256:<64 hex>");

export const SuiteOutcome = z.enum(["passed", "failed", "skipped"]);
export type SuiteOutcome = z.infer<typeof SuiteOutcome>;

export const SuiteResult = z.object({
  /** The suite's name, e.g. "end-to-end", "resilience", "security", "gpu". */
  name: z.string().min(1),
  outcome: SuiteOutcome,
  /** Why a suite failed or was skipped (a skip without a reason is refused). */
  reason: z.string().min(1).optional(),
  seconds: z.number().nonnegative().optional(),
});
export type SuiteResult = z.infer<typeof SuiteResult>;

export const TestReport = z
  .object({
    /** Every image reference (by digest) the suites ran against. */
    digests: z.array(DigestReference).min(1, "a test report must name the digests it tested"),
    suites: z.array(SuiteResult).min(1, "a test report must list at least one suite"),
    outcome: z.enum(["passed", "failed"]),
    /** The git commit the tested images were built from. */
    commit: z.string().regex(/^[0-9a-f]{7,40}$/, "expected a git commit SHA (7 to 40 lowercase hex)"),
    startedAt: z.string().datetime().optional(),
    finishedAt: z.string().datetime().optional(),
  })
  .superRefine((report, ctx) => {
    report.suites.forEach((suite, i) => {
      if (suite.outcome === "skipped" && !suite.reason) {
        ctx.addIssue({
          code: "custom",
          path: ["suites", i, "reason"],
          message: `suite "${suite.name}" was skipped without a reason`,
        });
      }
    });
    const failed = report.suites.filter((s) => s.outcome === "failed").map((s) => s.name);
    if (report.outcome === "passed" && failed.length > 0) {
      ctx.addIssue({
        code: "custom",
        path: ["outcome"],
        message: `outcome is "passed" but these suites failed: ${failed.join(", ")}`,
      });
    }
    if (report.outcome === "passed" && !report.suites.some((s) => s.outcome === "passed")) {
      ctx.addIssue({
        code: "custom",
        path: ["outcome"],
        message: `outcome is "passed" but no suite passed (all skipped)`,
      });
    }
  });
export type TestReport = z.infer<typeof TestReport>;
