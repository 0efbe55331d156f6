// The job summary rendered from the reports: what a reviewer sees on the run page.

import { TestReport } from "@e2e3d/pipeline";
import { describe, expect, it } from "vitest";
import { BuildReport } from "./release-gate.js";
import { renderSummary } from "./summary.js";

const digest = `sha256:${"ab".repeat(32)}`;
const build = BuildReport.parse({
  images: [
    {
      name: "reconstruction",
      reference: `127.0.0.1:5102/e2e3d/reconstruction@${digest}`,
      tags: ["sha-0123456"],
      sizeBytes: 734003200,
      cacheHit: true,
      buildSeconds: 0.8,
      engine: "dagger",
    },
  ],
});
const test = TestReport.parse({
  commit: "0123456",
  digests: [`127.0.0.1:5102/e2e3d/reconstruction@${digest}`],
  outcome: "failed",
  suites: [
    { name: "end-to-end", outcome: "passed", seconds: 431.25 },
    { name: "security", outcome: "failed", reason: "port 9000 | listens on 0.0.0.0" },
    { name: "gpu", outcome: "skipped", reason: "no GPU runtime" },
  ],
});

describe("renderSummary", () => {
  it("tabulates images (digest, size, cache hit, time, engine) and suites (outcome, time, reason)", () => {
    const md = renderSummary(build, test);
    expect(md).toContain(`| reconstruction | \`${digest.slice(0, 19)}…\` | 700.0 MiB | yes | 0.8 s | dagger |`);
    expect(md).toContain("### Integration suites: failed");
    expect(md).toContain("| end-to-end | ✅ passed | 431.3 s | – |");
    // A pipe in a reason must not break the table.
    expect(md).toContain("| security | ❌ failed | – | port 9000 \\| listens on 0.0.0.0 |");
    expect(md).toContain("Tested 1 digest(s) of commit `0123456`.");
  });

  it("says which report is missing instead of failing (it also runs after a failed step)", () => {
    const md = renderSummary(undefined, undefined);
    expect(md).toContain("No build report: the build did not finish.");
    expect(md).toContain("No test report: the suites did not run to the end.");
  });
});
