// Prepares the delivery's inputs on the embedded lab: lab up → lab lock → mirror → build (the steps deploy.ts runs
// before it deploys, without deploying). The integration suites depend on it through Nx, so every suite finds the lab
// lock, the mirrored stand-ins and the first-party images, whatever order they run in.
//   npx tsx pipelines/prepare.ts [--report reports/build.json] [--images reconstruction,airflow]
// Exit codes: 0 ready, 1 a step failed (its output says which and how to fix it).
import { resolve } from "node:path";
import { createLogger, describeError, prepareLabDelivery } from "@e2e3d/pipeline";
import { Command } from "commander";

const log = createLogger();
const program = new Command("prepare")
  .description("Lab up, lab lock, mirror, build: everything deploy and the suites need, skipping what is in place")
  .option("--report <file>", "where to write the build report", "reports/build.json")
  .option("--images <names>", "comma-separated first-party image names (default: all)")
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 1));

program.parse();
const opts = program.opts<{ report: string; images?: string }>();

try {
  const prepared = await prepareLabDelivery({
    root: process.cwd(),
    log,
    buildReportFile: resolve(opts.report),
    images: opts.images
      ?.split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  });
  log.output("build-report", prepared.buildReportFile);
  log.output("lock", prepared.lockFile);
  log.output("private-registry", prepared.privateRegistry);
} catch (error) {
  log.error(describeError(error));
  process.exitCode = 1;
}
