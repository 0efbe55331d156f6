// The skip policy: what CI accepts, what it refuses and why, and the repository's own allow-list.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  checkSkips,
  isCi,
  judgeSkip,
  parseAllowList,
  REPO_ROOT,
  readAllowList,
  type SkipEnvironment,
  SkipPolicyError,
  type SkipRecord,
} from "../src/policy.js";

const LIST = parseAllowList(`
allowed:
  - id: no-gpu
    reason: hosted runners have no GPU
    files: [a/gpu.int.test.ts]
    reason_pattern: "^no CUDA device"
  - id: no-engine
    reason: the lab has no engine yet
    files: [a/engine.int.test.ts]
    reason_pattern: "^no engine answers"
    unless_lab: engine.version
`);
const skip = (file: string, reason: string): SkipRecord => ({ runner: "vitest", file, test: "s > t", reason });
const CI: SkipEnvironment = { ci: true, lab: undefined };

describe("judging a skip", () => {
  it("allows a listed file whose reason matches its entry", () => {
    expect(judgeSkip(skip("a/gpu.int.test.ts", "no CUDA device answers"), LIST, CI)).toMatchObject({
      allowedBy: "no-gpu",
      refusal: undefined,
    });
  });

  it("refuses a listed file skipping for another reason, naming the patterns it could have matched", () => {
    expect(judgeSkip(skip("a/gpu.int.test.ts", "the registry is down"), LIST, CI).refusal).toBe(
      "the reason matches none of the reason patterns allowed for this file (no-gpu: /^no CUDA device/)",
    );
  });

  it("refuses an allowed reason in a file the entry does not name", () => {
    expect(judgeSkip(skip("b/other.int.test.ts", "no CUDA device answers"), LIST, CI).refusal).toBe(
      "no entry of tools/ci/allowed-skips.yaml allows skips in this file",
    );
  });

  it("stops allowing an unless_lab entry once lab.json reports the key (a dotted path, truthy)", () => {
    const record = skip("a/engine.int.test.ts", "no engine answers: connection refused");
    expect(judgeSkip(record, LIST, { ci: true, lab: { engine: {} } }).allowedBy).toBe("no-engine");
    expect(judgeSkip(record, LIST, { ci: true, lab: { engine: { version: "" } } }).allowedBy).toBe("no-engine");
    const revoked = judgeSkip(record, LIST, { ci: true, lab: { engine: { version: "0.21.8" } } });
    expect(revoked.allowedBy).toBeUndefined();
    expect(revoked.refusal).toContain("the lab has what this test needs, so it must run");
  });

  it.each(["", "   ", "unconditional skip"])("refuses a skip without a reason (%j)", (reason) => {
    expect(judgeSkip(skip("a/gpu.int.test.ts", reason), LIST, CI).refusal).toMatch(/^skipped without a reason/);
  });
});

describe("checking a run", () => {
  const records = [skip("a/gpu.int.test.ts", "no CUDA device answers"), skip("b/x.test.ts", "no registry")];

  it("in CI, fails on every skip the list does not allow", () => {
    expect(checkSkips(records, LIST, CI).failures.map((f) => f.record.file)).toEqual(["b/x.test.ts"]);
  });

  it("outside CI, fails only on reasonless skips", () => {
    const local = { ci: false, lab: undefined };
    expect(checkSkips(records, LIST, local).failures).toEqual([]);
    expect(checkSkips([skip("b/x.test.ts", "")], LIST, local).failures).toHaveLength(1);
  });

  it("reads CI the way CI systems set it", () => {
    expect([isCi({ CI: "true" }), isCi({ CI: "1" }), isCi({ CI: "false" }), isCi({ CI: "0" }), isCi({})]).toEqual([
      true,
      true,
      false,
      false,
      false,
    ]);
  });
});

describe("the allow-list file", () => {
  it("refuses a malformed entry, saying where and how to fix it", () => {
    const bad = () => parseAllowList("allowed:\n  - id: x\n    reason: too short\n", "/tmp/list.yaml");
    expect(bad).toThrow(SkipPolicyError);
    expect(bad).toThrow(/malformed/);
    try {
      bad();
    } catch (error) {
      expect((error as SkipPolicyError).hint).toContain("reason_pattern");
      expect((error as SkipPolicyError).context["at"]).toBe("allowed.0.reason");
    }
  });

  it("the repository's list parses, and every file it names exists", () => {
    const list = readAllowList();
    // The Dagger entry is gone: the lab brings up a Dagger engine, so the Dagger suites must run in CI.
    expect(list.map((e) => e.id)).toEqual(["no-cuda-device"]);
    for (const entry of list)
      for (const file of entry.files) expect(existsSync(join(REPO_ROOT, file)), file).toBe(true);
  });
});
