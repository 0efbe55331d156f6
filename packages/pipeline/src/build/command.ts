// `pipelines/build.ts` and the benchmark share this: configuration → engine choice → pipeline → report file.
import { join, resolve } from "node:path";
import { loadPipelineConfig } from "../config.js";
import { createEngine, selectEngine } from "../engines/select.js";
import { readGitInfo } from "../git.js";
import type { Logger } from "../log/logger.js";
import { credentialsFor, ImageRegistry } from "../registry.js";
import { FIRST_PARTY_IMAGES, type ImageDefinition, selectImages } from "./images.js";
import { type BuildReport, writeBuildReport } from "./report.js";
import { runBuildPipeline } from "./run.js";

export interface BuildCommandOptions {
  log: Logger;
  engine?: string | undefined;
  images?: string[] | undefined;
  lock?: string | undefined;
  to?: string | undefined;
  report?: string | undefined;
  rebuild?: boolean | undefined;
  noEngineCache?: boolean | undefined;
  /** Repository root (default: the current directory). */
  root?: string | undefined;
  /** The image table (default: the first-party images). */
  table?: readonly ImageDefinition[] | undefined;
  /** Directories whose Dockerfiles are linted (default: <root>/docker). */
  lintDirs?: string[] | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}

export async function runBuildCommand(
  options: BuildCommandOptions,
): Promise<{ report: BuildReport; reportFile: string }> {
  const { log } = options;
  const env = options.env ?? process.env;
  const config = loadPipelineConfig(
    { engine: options.engine, to: options.to, lock: options.lock, repoRoot: options.root },
    env,
  );
  const images = selectImages(options.table ?? FIRST_PARTY_IMAGES, options.images);
  const selection = selectEngine(config.engine, env);
  const credentials = await credentialsFor(config.privateRegistry, env);
  if (credentials) log.secret(credentials.password);
  log.info(
    `build ${images.map((i) => i.name).join(", ")} → ${config.privateRegistry} (engine ${selection.name}: ${selection.reason}; lock ${config.lockFile}${config.lab ? `; lab ${config.lab.file}` : ""}${config.buildSecrets["ca_bundle"] ? `; build secret ca_bundle from ${config.buildSecrets["ca_bundle"]}` : ""})`,
  );
  const registry = new ImageRegistry();
  try {
    const report = await runBuildPipeline({
      root: config.repoRoot,
      images,
      registry: config.privateRegistry,
      lockFile: config.lockFile,
      lintDirs: options.lintDirs ?? [join(config.repoRoot, "docker")],
      engine: selection,
      createEngine: () => createEngine(selection.name, { dockerClient: config.dockerClient, credentials }),
      registryClient: registry,
      git: await readGitInfo(log, config.repoRoot, env),
      log,
      rebuild: options.rebuild,
      noEngineCache: options.noEngineCache,
      buildSecrets: config.buildSecrets,
    });
    const reportFile = resolve(config.repoRoot, options.report ?? "reports/build.json");
    await writeBuildReport(reportFile, report);
    log.info(`report: ${reportFile} (${report.status})`);
    log.output("build-report", reportFile);
    log.output("build-status", report.status);
    return { report, reportFile };
  } finally {
    await registry.close();
  }
}
