// Release entry point: gate on the test report, then promote the tested digests to the release tag.
//   npx tsx pipelines/release.ts --build-report reports/build-report.json --test-report reports/test-report.json \
//     [--test-report reports/gpu-test-report.json] --version v1.2.3 --commit <sha> [--tag 1.2.3] \
//     [--out reports/release-report.json] [--dry-run]
// Exit 0: promoted (or, with --dry-run, the gate passed). Exit 1: refused or failed, with every reason printed.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import * as core from "@actions/core";
import { TestReport } from "@e2e3d/pipeline";
import { Command } from "commander";
import { formatReleaseError } from "../tools/ci/src/errors.js";
import { registryPromoter } from "../tools/ci/src/registry-promoter.js";
import { release } from "../tools/ci/src/release.js";
import { BuildReport, planPromotion, readReport } from "../tools/ci/src/release-gate.js";

interface Options {
  buildReport: string;
  testReport: string[];
  version: string;
  commit: string;
  tag: string[];
  out?: string;
  dryRun?: boolean;
}

async function main(argv: string[]): Promise<void> {
  const program = new Command("release")
    .description("promote the digests ci built and tested for a commit to its release tag")
    .requiredOption("--build-report <file>", "build report (JSON) written by pipelines/build.ts")
    .requiredOption(
      "--test-report <file>",
      "test report (JSON) written by pipelines/test.ts (repeatable: ci's suites, the GPU suite's)",
      (v: string, acc: string[] | undefined) => [...(acc ?? []), v],
    )
    .requiredOption("--version <version>", "release version, the git tag (v1.2.3)")
    .requiredOption("--commit <sha>", "the commit the release tag points at")
    .option(
      "--tag <tag>",
      "another tag for the same digests (repeatable)",
      (v: string, acc: string[]) => [...acc, v],
      [],
    )
    .option("--out <file>", "write the release report (JSON) here")
    .option("--dry-run", "run the gate only; promote nothing")
    .parse(argv);
  const options = program.opts<Options>();
  const build = readReport(options.buildReport, BuildReport, "build report");
  const tests = options.testReport.map((file) => readReport(file, TestReport, "test report"));
  const gate = { build, tests, version: options.version, commit: options.commit, extraTags: options.tag };

  if (options.dryRun) {
    const plan = planPromotion(gate);
    for (const image of plan.images)
      console.log(`would promote ${image.name}: ${image.source} → ${image.tags.join(", ")}`);
    return;
  }
  const promoter = registryPromoter();
  try {
    const report = await release({ ...gate, promoter, log: (line) => console.log(line) });
    if (options.out) {
      mkdirSync(dirname(options.out), { recursive: true });
      writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
    }
    console.log(`released ${report.version}: ${report.images.length} image(s) promoted`);
    if (process.env["GITHUB_ACTIONS"] === "true") {
      const rows = report.images.flatMap((i) => i.tags.map((t) => [i.name, t.reference, i.digest, t.action]));
      await core.summary
        .addHeading(`Release ${report.version}`, 2)
        .addTable([["image", "release tag", "digest", "action"].map((data) => ({ data, header: true })), ...rows])
        .write();
    }
  } finally {
    await promoter.close();
  }
}

main(process.argv).catch((err: unknown) => {
  // In Actions, an annotation puts the refusal on the run page, not only in the log.
  if (process.env["GITHUB_ACTIONS"] === "true") core.error(formatReleaseError(err), { title: "release refused" });
  else console.error(formatReleaseError(err));
  process.exitCode = 1;
});
