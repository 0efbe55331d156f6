// Preparing the inputs of a run on the lab: the same lab up → lock → mirror → build chain the deploy entry point runs
// (`prepareLabDelivery` in @e2e3d/pipeline), timed as testkit phases. A second call with nothing changed costs a few
// seconds: every step skips what is already in place.
import { type BuildReport, createLogger, prepareLabDelivery } from "@e2e3d/pipeline";
import { InputsError } from "./errors.js";
import { repoRoot } from "./paths.js";
import { phase } from "./phases.js";

export interface PreparedImages {
  buildReport: BuildReport;
  buildReportFile: string;
  lockFile: string;
  privateRegistry: string;
  upstreamRegistry: string;
}

export interface PrepareOptions {
  /** Where the build report is written (default: reports/testkit-build.json under the repository root). */
  buildReportFile?: string;
  /** Only these first-party images (default: all of the build table). */
  images?: string[];
  env?: NodeJS.ProcessEnv;
}

/** Lab up → lab lock → mirror → build. Returns the build report the suites run against. */
export async function prepareImages(options: PrepareOptions = {}): Promise<PreparedImages> {
  const env = options.env ?? process.env;
  const root = repoRoot();
  // Its own file: reports/build.json belongs to whoever ran pipelines/build.ts or deploy.ts last.
  const buildReportFile = options.buildReportFile ?? `${root}/reports/testkit-build.json`;
  try {
    return await phase("prepare: lab, lock, mirror, build", () =>
      prepareLabDelivery({ root, log: createLogger(env), buildReportFile, images: options.images, env }),
    );
  } catch (error) {
    throw new InputsError(`the suites' inputs could not be prepared: ${(error as Error).message}`, {
      context: { buildReport: buildReportFile },
      hint: "fix what the output above names, then run again: unchanged steps are skipped",
      cause: error,
    });
  }
}
