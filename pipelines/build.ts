// Builds the first-party images, pushes them by digest to the private registry and writes the build report.
//   npx tsx pipelines/build.ts [--engine auto|dagger|docker] [--images reconstruction,airflow] [--lock FILE]
//                              [--to REGISTRY] [--report reports/build.json] [--rebuild]
// Exit codes: 0 built (or cached) everything asked for, 1 a lint finding, a failed image or bad input.
import { createLogger, describeError, runBuildCommand } from "@e2e3d/pipeline";
import { Command } from "commander";

const log = createLogger();
const program = new Command("build")
  .description("Lint Dockerfiles, build first-party images (skipping unchanged inputs), push by digest, report")
  .option("--engine <engine>", "auto | dagger | docker (env E2E3D_ENGINE)")
  .option("--images <names>", "comma-separated image names (default: all in the table)")
  .option(
    "--lock <file>",
    "lock file the bases come from (default: the lab's lock when the lab is up, else docker/images.lock.json)",
  )
  .option(
    "--to <registry>",
    "private registry host[:port] (env E2E3D_PRIVATE_REGISTRY, else lab.json, else 127.0.0.1:5102)",
  )
  .option("--report <file>", "where to write the build report", "reports/build.json")
  .option("--rebuild", "build even when the input-digest tag exists, and report whether the digest came out the same")
  .option("--no-engine-cache", "ignore the engine's layer cache (cold build)")
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 1));

program.parse();
const opts = program.opts<{
  engine?: string;
  images?: string;
  lock?: string;
  to?: string;
  report: string;
  rebuild?: boolean;
  engineCache: boolean;
}>();

try {
  const { report } = await runBuildCommand({
    log,
    engine: opts.engine,
    images: opts.images
      ?.split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    lock: opts.lock,
    to: opts.to,
    report: opts.report,
    rebuild: opts.rebuild,
    noEngineCache: !opts.engineCache,
  });
  process.exitCode = report.status === "passed" ? 0 : 1;
} catch (error) {
  log.error(describeError(error));
  process.exitCode = 1;
}
