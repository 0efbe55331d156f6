// The delivery's job summary (GitHub-flavoured Markdown): images, digests, sizes, cache hits, suite results, timings.
// Rendered from the reports rather than from logs, so the summary shows exactly what release will read.
import type { TestReport } from "@e2e3d/pipeline";
import type { BuildReport } from "./release-gate.js";

const cell = (value: unknown) => (value === undefined || value === null ? "–" : String(value).replaceAll("|", "\\|"));
const mib = (bytes: unknown) => (typeof bytes === "number" ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : undefined);
const secs = (s: unknown) => (typeof s === "number" ? `${s.toFixed(1)} s` : undefined);
/** The build report's engine is null when the input-digest tag already existed and no engine ran. */
const engineOf = (engine: unknown) => (engine === null ? "none (input digest cached)" : engine);
const shortDigest = (reference: string) =>
  reference.slice(reference.lastIndexOf("@") + 1, reference.lastIndexOf("@") + 20);

export function renderSummary(build: BuildReport | undefined, test: TestReport | undefined): string {
  const lines: string[] = ["## Delivery", ""];
  if (build) {
    lines.push(
      "### Images",
      "",
      "| image | digest | size | cache hit | build time | engine |",
      "| --- | --- | --- | --- | --- | --- |",
    );
    for (const image of build.images) {
      const cacheHit = typeof image["cacheHit"] === "boolean" ? (image["cacheHit"] ? "yes" : "no") : undefined;
      lines.push(
        `| ${cell(image.name)} | \`${shortDigest(image.reference)}…\` | ${cell(mib(image["sizeBytes"] ?? image["size"]))} | ${cell(cacheHit)} | ${cell(secs(image["buildSeconds"]))} | ${cell(engineOf(image["engine"]))} |`,
      );
    }
    lines.push("");
  } else {
    lines.push("No build report: the build did not finish.", "");
  }
  if (test) {
    const icon = { passed: "✅", failed: "❌", skipped: "⏭️" } as const;
    lines.push(
      `### Integration suites: ${test.outcome}`,
      "",
      "| suite | outcome | time | reason |",
      "| --- | --- | --- | --- |",
    );
    for (const suite of test.suites) {
      lines.push(
        `| ${cell(suite.name)} | ${icon[suite.outcome]} ${suite.outcome} | ${cell(secs(suite.seconds))} | ${cell(suite.reason)} |`,
      );
    }
    lines.push("", `Tested ${test.digests.length} digest(s) of commit \`${test.commit}\`.`, "");
  } else {
    lines.push("No test report: the suites did not run to the end.", "");
  }
  return lines.join("\n");
}
