// Runs the integration suites against the images of a build report and writes the test report (JSON, schema in
// packages/pipeline/src/reports.ts, read by the release gate) and JUnit XML.
//   npx tsx pipelines/test.ts --build-report reports/build-report.json --report reports/test-report.json \
//     --junit reports/junit.xml [--suite e2e|resilience|security|gpu|all]
// Exit codes: 0 no suite failed, 1 a suite failed or the inputs are unusable.
import { formatTestkitError, parseSuiteSelection, runSuites } from "@e2e3d/testkit";
import { Command, Option } from "commander";

const program = new Command("test")
  .description("Run the integration suites on the full stack and write the test report")
  .requiredOption("--build-report <file>", "build report of the images to test (pipelines/build.ts)")
  .option("--report <file>", "test report (JSON) to write", "reports/test-report.json")
  .option("--junit <file>", "JUnit XML to write", "reports/junit.xml")
  .option("--suite <names>", "e2e | resilience | security | gpu | all (comma-separated)", "all")
  .option(
    "--lock <file>",
    "lock of the third-party images (default: the lab's lock when the lab is up, else docker/images.lock.json)",
  )
  .option(
    "--registry <host:port>",
    "private registry the images are pulled from (default: env, lab.json, 127.0.0.1:5102)",
  )
  .addOption(
    new Option("--profile <name>", "stack profile (default: lab when the lab is up)").choices(["lab", "production"]),
  )
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 1));

program.parse();
const opts = program.opts<{
  buildReport: string;
  report: string;
  junit: string;
  suite: string;
  lock?: string;
  registry?: string;
  profile?: "lab" | "production";
}>();

try {
  const { exitCode } = await runSuites({
    suites: parseSuiteSelection(opts.suite),
    buildReportFile: opts.buildReport,
    reportFile: opts.report,
    junitFile: opts.junit,
    lockFile: opts.lock,
    registry: opts.registry,
    profile: opts.profile,
  });
  process.exitCode = exitCode;
} catch (err) {
  process.stderr.write(`${formatTestkitError(err)}\n`);
  process.exitCode = 1;
}
