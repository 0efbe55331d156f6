// The only ways a vitest test skips in this repository (a unit test in tools/skips refuses any other): a suite whose
// precondition is missing, or a test that finds out at run time that it cannot run. Both demand a reason; it is
// printed, and the skip check at the end of the run (vitest-reporter.ts) holds it against tools/ci/allowed-skips.yaml.
import { appendFileSync } from "node:fs";
import { describe, expect, type TestContext } from "vitest";
import { hasReason, repoPath, SKIP_RECORDS_ENV, type SkipRecord } from "./policy.js";

/** A skip that names no reason is a defect: it is refused at the call, before anything is skipped. */
export class ReasonlessSkipError extends Error {
  constructor(where: string) {
    super(`${where}: a skip needs a reason that says what is missing and how to get it (e.g. "bring the lab up")`);
    this.name = "ReasonlessSkipError";
  }
}

function record(entry: SkipRecord): void {
  const file = process.env[SKIP_RECORDS_ENV];
  // Without the file (vitest run without this repository's config) the printed line is all there is.
  if (file) appendFileSync(file, `${JSON.stringify(entry)}\n`);
}

/**
 * `describe`, or, when `reason` is set, the same suite skipped with that reason printed and recorded (its tests are
 * listed as skipped; none of its hooks run). Use for preconditions known when the file is collected:
 *   describeUnless(registryMissing())("copy between registries", () => { ... })
 */
export function describeUnless(reason: string | undefined): (name: string, fn: () => void) => void {
  return (name, fn) => {
    if (reason === undefined) {
      describe(name, fn);
      return;
    }
    const file = repoPath(expect.getState().testPath ?? "unknown");
    if (!hasReason(reason)) throw new ReasonlessSkipError(`${file} > ${name}`);
    console.warn(`SKIP ${file} > ${name}: ${reason}`);
    record({ runner: "vitest", file, test: name, reason });
    describe.skip(name, fn);
  };
}

/** Skips the running test with `reason` (shown by vitest next to the test, checked by the reporter). */
export function skipTest(ctx: TestContext, reason: string): never {
  if (!hasReason(reason)) throw new ReasonlessSkipError(ctx.task.name);
  console.warn(`SKIP ${ctx.task.name}: ${reason}`);
  return ctx.skip(reason);
}
