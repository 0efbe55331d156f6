import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CommandFailedError, formatError, LabError, PortTakenError, tail } from "../src/errors.js";
import { runChecked, waitFor } from "../src/exec.js";

describe("error formatting", () => {
  it("prints message, context, log tail and fix, without a stack trace", () => {
    const error = new CommandFailedError("debootstrap failed (exit 1)", {
      context: { command: "debootstrap --variant=minbase bookworm", log: "/s/base/debootstrap.log", empty: undefined },
      logTail: "I: Retrieving InRelease\nE: Failed getting release file",
      hint: "check the mirror",
    });
    const text = formatError(error);
    expect(text.split("\n")).toEqual([
      "error: debootstrap failed (exit 1)",
      "  command: debootstrap --variant=minbase bookworm",
      "  log: /s/base/debootstrap.log",
      "  --- last lines of the log ---",
      "  | I: Retrieving InRelease",
      "  | E: Failed getting release file",
      "  fix: check the mirror",
    ]);
    expect(text).not.toContain("    at ");
  });

  it("names the port that is taken and who holds it", () => {
    const text = formatError(new PortTakenError(5101, "lab upstream registry", "nginx (pid 42)"));
    expect(text).toContain("error: port 5101 (lab upstream registry) is already taken by nginx (pid 42)");
    expect(text).toContain("fix: stop whatever listens on 127.0.0.1:5101");
  });

  it("marks an unexpected error as a bug and keeps its stack for the report", () => {
    const text = formatError(new TypeError("x is undefined"));
    expect(text).toMatch(/^error: unexpected failure in the lab \(a bug/);
    expect(text).toContain("TypeError: x is undefined");
    expect(formatError("plain string")).toContain("plain string");
  });

  it("keeps the subclass name and the cause", () => {
    const error = new LabError("outer", { cause: new Error("inner reason") });
    expect(error.name).toBe("LabError");
    expect(new PortTakenError(1, "w", undefined).name).toBe("PortTakenError");
    expect(formatError(error)).toContain("cause: inner reason");
  });

  it("tails long logs to their last lines", () => {
    const log = Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n");
    expect(tail(log, 3)).toBe("line 97\nline 98\nline 99");
  });
});

describe("runChecked (real processes)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lab-exec-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("throws with the exit status and the tail of the command's log file", async () => {
    const logFile = join(dir, "step.log");
    const failing = runChecked("sh", ["-c", "echo preparing; echo 'E: mirror unreachable' >&2; exit 7"], {
      logFile,
      what: "a failing step",
    });
    await expect(failing).rejects.toBeInstanceOf(CommandFailedError);
    await expect(
      runChecked("sh", ["-c", "echo preparing; echo 'E: mirror unreachable' >&2; exit 7"], {
        logFile,
        what: "a failing step",
      }),
    ).rejects.toMatchObject({
      message: "a failing step failed (exit 7)",
      logTail: expect.stringContaining("E: mirror unreachable"),
    });
  });

  it("reports a command that does not exist as a lab error, not a crash", async () => {
    await expect(runChecked("/nonexistent/tool", [])).rejects.toMatchObject({
      name: "CommandFailedError",
      message: "could not start /nonexistent/tool",
    });
  });

  it("waits with a deadline instead of sleeping", async () => {
    let calls = 0;
    expect(await waitFor(async () => (++calls >= 3 ? "ready" : undefined), 5_000, 10)).toBe("ready");
    // The deadline on a clock the test drives (not a wall-clock bound that a loaded machine can break): nothing is
    // answered before 200 ms have passed, and the probe's last try is at the deadline.
    vi.useFakeTimers();
    try {
      let probes = 0;
      let settled = false;
      const waiting = waitFor(
        async () => {
          probes++;
          return undefined;
        },
        200,
        10,
      ).finally(() => {
        settled = true;
      });
      await vi.advanceTimersByTimeAsync(199);
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(await waiting).toBeUndefined();
      // 10, 20, 40, 80 ms apart, then the rest up to the deadline: 6 tries, the first at once.
      expect(probes).toBe(6);
    } finally {
      vi.useRealTimers();
    }
  });
});
