// Prints the delivery's job summary (Markdown) to stdout; the workflow appends it to $GITHUB_STEP_SUMMARY.
//   npx tsx tools/ci/src/summary-cli.ts --build-report FILE --test-report FILE
// A missing report is shown as missing (the summary also runs after a failed step); an invalid one is an error.
import { existsSync } from "node:fs";
import { TestReport } from "@e2e3d/pipeline";
import { Command } from "commander";
import { formatReleaseError } from "./errors.js";
import { BuildReport, readReport } from "./release-gate.js";
import { renderSummary } from "./summary.js";

try {
  const options = new Command("summary")
    .requiredOption("--build-report <file>", "build report (JSON)")
    .requiredOption("--test-report <file>", "test report (JSON)")
    .parse(process.argv)
    .opts<{ buildReport: string; testReport: string }>();
  const build = existsSync(options.buildReport)
    ? readReport(options.buildReport, BuildReport, "build report")
    : undefined;
  const test = existsSync(options.testReport) ? readReport(options.testReport, TestReport, "test report") : undefined;
  process.stdout.write(renderSummary(build, test));
} catch (err) {
  console.error(formatReleaseError(err));
  process.exitCode = 1;
}
