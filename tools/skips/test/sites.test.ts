// Every vitest skip goes through tools/skips (describeUnless, skipTest), so each has a reason that is printed and
// checked. This refuses the primitives that skip without one: describe/it/test .skip/.skipIf/.runIf/.todo/.only and a
// bare ctx.skip(). (pytest needs no such scan: its plugin sees every skip with its reason at run time.)
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../src/policy.js";

const FORBIDDEN = [
  /\b(?:describe|it|test|suite)(?:\.each\([^)]*\))?\s*\.\s*(?:skip|skipIf|runIf|todo|only)\b/,
  /\b(?:ctx|context|t)\.skip\(/,
];
// The helper itself, and the fixtures that break the rule on purpose to prove the reporter catches it.
const EXEMPT = ["tools/skips/src/", "tools/skips/test/fixtures/", "tools/skips/test/sites.test.ts"];

function testFiles(): string[] {
  const listed = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "--", "*.ts"], {
    cwd: REPO_ROOT,
    encoding: "utf8",
  });
  return listed.split("\n").filter((f) => f && !f.includes("node_modules/") && !EXEMPT.some((e) => f.startsWith(e)));
}

describe("skip sites", () => {
  it("no test skips except through tools/skips (describeUnless, skipTest)", () => {
    const offenders: string[] = [];
    for (const file of testFiles()) {
      let text: string;
      try {
        text = readFileSync(join(REPO_ROOT, file), "utf8");
      } catch {
        continue; // listed by git but deleted in the working tree
      }
      text.split("\n").forEach((line, i) => {
        if (FORBIDDEN.some((re) => re.test(line))) offenders.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders, "skip with describeUnless(reason)(...) or skipTest(ctx, reason) from tools/skips").toEqual([]);
  });

  it("the scan catches each forbidden form", () => {
    for (const line of [
      'describe.skipIf(!ok)("x", () => {})',
      'it.skip("x", () => {})',
      'describe.only("x", () => {})',
      "if (!ok) ctx.skip();",
      'test.runIf(ok)("x", () => {})',
    ])
      expect(
        FORBIDDEN.some((re) => re.test(line)),
        line,
      ).toBe(true);
    expect(FORBIDDEN.some((re) => re.test('skipTest(ctx, "no widget")'))).toBe(false);
  });
});
