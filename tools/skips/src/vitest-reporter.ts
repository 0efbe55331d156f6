// The skip check of a vitest run (registered by vitest.config.ts, and by pipelines/test.ts for the suites it runs):
// every test vitest reports as skipped, with its reason (the note of skipTest, or the suite record of describeUnless),
// judged by policy.ts. It prints them all; a refused skip (any reasonless one, an unlisted one in CI) fails the run.
import { rmSync } from "node:fs";
import type { TestCase, TestModule, Vitest } from "vitest/node";
import type { Reporter } from "vitest/reporters";
import {
  type AllowEntry,
  checkSkips,
  formatSkipCheck,
  formatSkipPolicyError,
  readAllowList,
  readRecords,
  repoPath,
  SKIP_RECORDS_ENV,
  type SkipEnvironment,
  type SkipRecord,
  skipEnvironment,
} from "./policy.js";

export interface SkipReporterOptions {
  /** The JSON-lines file describeUnless appends to (default: $E2E3D_SKIP_RECORDS). */
  records?: string;
  /** Another allow-list file (the mechanism's own tests use one; the repository's runs never set it). */
  allowListFile?: string;
  allowList?: AllowEntry[];
  environment?: SkipEnvironment;
  /** Where the report goes (default: stdout). */
  write?: (text: string) => void;
}

/** The names from the outermost suite down to the test (the module itself has no name). */
function names(test: TestCase): string[] {
  const out = [test.name];
  for (let p: TestCase["parent"] | undefined = test.parent; p && p.type === "suite"; p = p.parent) out.unshift(p.name);
  return out;
}

/** The skip records of a finished run: one per skipped test, its reason from the test's note or its suite's record. */
export function skippedTests(
  modules: ReadonlyArray<TestModule>,
  suiteRecords: SkipRecord[],
  namePattern?: RegExp,
): SkipRecord[] {
  const out: SkipRecord[] = [];
  for (const module of modules) {
    const file = repoPath(module.moduleId);
    for (const test of module.children.allTests()) {
      const result = test.result();
      if (result.state !== "skipped") continue;
      const path = names(test);
      // Left out by --testNamePattern (vitest marks those skipped): not part of this run, not a skip.
      if (namePattern && !namePattern.test(path.join(" "))) continue;
      const suite = suiteRecords.find((r) => r.file === file && path.slice(0, -1).includes(r.test));
      out.push({ runner: "vitest", file, test: path.join(" > "), reason: result.note ?? suite?.reason ?? "" });
    }
  }
  return out;
}

export default class SkipReporter implements Reporter {
  private namePattern: RegExp | undefined;
  private readonly options: SkipReporterOptions;

  constructor(options: SkipReporterOptions = {}) {
    this.options = options;
  }

  onInit(vitest: Vitest): void {
    const pattern = vitest.config.testNamePattern;
    this.namePattern = pattern === undefined ? undefined : new RegExp(pattern);
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>, _errors: unknown, reason: string): void {
    const write = this.options.write ?? ((text: string) => process.stdout.write(`${text}\n`));
    const recordsFile = this.options.records ?? process.env[SKIP_RECORDS_ENV];
    if (reason === "interrupted") return;
    try {
      const records = recordsFile ? readRecords(recordsFile) : [];
      const skipped = skippedTests(modules, records, this.namePattern);
      const check = checkSkips(
        skipped,
        this.options.allowList ?? readAllowList(this.options.allowListFile),
        this.options.environment ?? skipEnvironment(),
      );
      const text = formatSkipCheck(check, "vitest");
      if (text) write(`\n${text}\n`);
      if (check.failures.length > 0) process.exitCode = 1;
    } catch (error) {
      write(formatSkipPolicyError(error));
      process.exitCode = 1;
    } finally {
      if (recordsFile && !this.options.records) rmSync(recordsFile, { force: true });
    }
  }
}
