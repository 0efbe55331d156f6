// pipelines/test.ts's logic: run the selected suites in a child vitest (JUnit XML and JSON reporters) against the
// images of a build report, then write the test report the release gate reads.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { type BuildReport, readBuildReport, type TestReport } from "@e2e3d/pipeline";
import { BUILD_NAMES } from "@e2e3d/stack";
import { InputsError } from "./errors.js";
import { repoRoot } from "./paths.js";
import { buildTestReport, type SkipRecord, SUITES, type SuiteKey, suiteResults, type VitestJson } from "./report.js";
import { resolveStack } from "./stack.js";
import { type SuiteInputs, suiteInputs, TEST_ENV } from "./suite.js";

export interface RunSuitesOptions {
  suites: SuiteKey[];
  buildReportFile: string;
  reportFile: string;
  junitFile: string;
  lockFile?: string | undefined;
  registry?: string | undefined;
  profile?: "lab" | "production" | undefined;
  env?: NodeJS.ProcessEnv;
  /** Where progress goes (stderr by default). */
  log?: (line: string) => void;
}

export interface RunSuitesResult {
  report: TestReport;
  exitCode: number;
}

/** The references a suite runs against: every stack image for the stack suites, the reconstruction image for gpu. */
export async function digestsBySuite(
  inputs: SuiteInputs,
  build: BuildReport,
  suites: SuiteKey[],
): Promise<Record<string, string[]>> {
  const firstParty = new Map(build.images.map((i) => [i.name, i.reference]));
  const result: Record<string, string[]> = {};
  const stackSuites = suites.filter((s) => s !== "gpu");
  if (stackSuites.length > 0) {
    const { model, images } = await resolveStack({ ...inputs });
    const references = model.services.map((s) =>
      s.image.kind === "build" ? (firstParty.get(s.image.name) ?? images.get(s.name)!) : images.get(s.name)!,
    );
    for (const key of stackSuites) result[SUITES[key].title] = [...new Set(references)].sort();
  }
  if (suites.includes("gpu")) {
    const gpu = firstParty.get(BUILD_NAMES.reconstructionGpu) ?? firstParty.get(BUILD_NAMES.reconstruction);
    result[SUITES.gpu.title] = gpu ? [gpu] : [];
  }
  return result;
}

function commitOf(build: BuildReport, root: string): string {
  if (build.commit && /^[0-9a-f]{7,40}$/.test(build.commit)) return build.commit;
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
  } catch (err) {
    throw new InputsError("the build report names no commit and git cannot tell the current one", {
      hint: "run from a git checkout, or pass a build report written by pipelines/build.ts in one",
      cause: err,
    });
  }
}

/** Test name pattern selecting the chosen suites' describes (undefined when every suite of the files runs). */
export function namePattern(suites: SuiteKey[]): string | undefined {
  const files = new Set(suites.map((s) => SUITES[s].file));
  const all = (Object.keys(SUITES) as SuiteKey[]).filter((k) => files.has(SUITES[k].file));
  if (all.every((k) => suites.includes(k))) return undefined;
  return `^(${suites.map((s) => SUITES[s].title).join("|")}) `;
}

export async function runSuites(options: RunSuitesOptions): Promise<RunSuitesResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const env = { ...(options.env ?? process.env) };
  const root = repoRoot();
  const startedAt = new Date();
  const buildReportFile = resolve(options.buildReportFile);
  const build = await readBuildReport(buildReportFile);
  if (build.status !== "passed") {
    throw new InputsError(`the build report says the build ${build.status}: nothing from it is tested`, {
      context: { buildReport: buildReportFile },
      hint: "fix the build first; only images of a passed build are tested and promoted",
    });
  }
  env[TEST_ENV.buildReport] = buildReportFile;
  if (options.lockFile) env[TEST_ENV.lock] = resolve(options.lockFile);
  if (options.registry) env[TEST_ENV.registry] = options.registry;
  if (options.profile) env[TEST_ENV.profile] = options.profile;
  const inputs = await suiteInputs(env);
  env[TEST_ENV.lock] = resolve(inputs.lockFile);
  env[TEST_ENV.registry] = inputs.privateRegistry;
  env[TEST_ENV.profile] = inputs.profile;
  const digests = await digestsBySuite(inputs, build, options.suites);

  const scratch = join(tmpdir(), `e2e3d-test-${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(scratch, { recursive: true });
  const jsonFile = join(scratch, "vitest.json");
  const skipFile = join(scratch, "skips.jsonl");
  env[TEST_ENV.skipFile] = skipFile;
  env["E2E3D_TEST_KIND"] = "integration";
  const junitFile = resolve(options.junitFile);
  mkdirSync(dirname(junitFile), { recursive: true });
  const files = [...new Set(options.suites.map((s) => SUITES[s].file))];
  const pattern = namePattern(options.suites);
  const args = [
    "run",
    "--dir",
    "packages/testkit",
    "--reporter=default",
    "--reporter=junit",
    `--outputFile.junit=${junitFile}`,
    "--reporter=json",
    `--outputFile.json=${jsonFile}`,
    // Reporters given here replace the config's, so the skip check (tools/ci/allowed-skips.yaml) is named again.
    "--reporter=./tools/skips/src/vitest-reporter.ts",
    ...(pattern ? ["--testNamePattern", pattern] : []),
    ...files.map((f) => f.replace(/^test\//, "")),
  ];
  log(
    `test: suites ${options.suites.map((s) => SUITES[s].title).join(", ")} against ${buildReportFile} (${inputs.profile} profile, lock ${inputs.lockFile}, registry ${inputs.privateRegistry})`,
  );
  log(`test: vitest ${args.join(" ")}`);
  const vitestCode = await new Promise<number>((resolvePromise, reject) => {
    const child = spawn(join(root, "node_modules", ".bin", "vitest"), args, {
      cwd: root,
      env,
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.on("error", reject);
    child.on("close", (code) => resolvePromise(code ?? 1));
  });
  const json = existsSync(jsonFile) ? (JSON.parse(readFileSync(jsonFile, "utf8")) as VitestJson) : undefined;
  const skips: SkipRecord[] = existsSync(skipFile)
    ? readFileSync(skipFile, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as SkipRecord)
    : [];
  rmSync(scratch, { recursive: true, force: true });
  const suites = suiteResults(json, options.suites, skips);
  const report = buildTestReport({
    suites,
    digestsBySuite: digests,
    commit: commitOf(build, root),
    startedAt,
    finishedAt: new Date(),
  });
  const reportFile = resolve(options.reportFile);
  mkdirSync(dirname(reportFile), { recursive: true });
  writeFileSync(reportFile, `${JSON.stringify(report, null, 2)}\n`);
  for (const s of suites) {
    log(
      `suite ${s.name.padEnd(11)} ${s.outcome.padEnd(7)} ${s.seconds?.toFixed(0) ?? "-"}s${s.reason ? `  ${s.reason}` : ""}`,
    );
  }
  log(
    `test report: ${reportFile} (${report.outcome}, ${report.digests.length} digest(s)); JUnit: ${junitFile}; vitest exit ${vitestCode}`,
  );
  const failed = suites.some((s) => s.outcome === "failed") || (vitestCode !== 0 && !json);
  return { report, exitCode: failed ? 1 : 0 };
}
