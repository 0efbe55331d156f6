import { PassThrough } from "node:stream";
import { describe, expect, it, vi } from "vitest";
import { ExecError } from "../src/errors.js";
import { exec } from "../src/exec.js";
import { SecretMasker } from "../src/log/mask.js";
import { TerminalLogger } from "../src/log/terminal.js";

function capture(isTTY = false) {
  const out = new PassThrough() as PassThrough & { isTTY?: boolean };
  out.isTTY = isTTY;
  let text = "";
  out.on("data", (d: Buffer) => {
    text += d.toString();
  });
  let clock = 0;
  const log = new TerminalLogger({ out, now: () => clock, verbose: true });
  return { log, text: () => text, tick: (ms: number) => (clock += ms) };
}

describe("secret masking", () => {
  it("masks registered secrets, their URL and base64 forms, longest first", () => {
    const masker = new SecretMasker();
    masker.add("s3cr3t/pass");
    masker.add("abc"); // too short to mask safely: ignored
    expect(masker.mask("pw=s3cr3t/pass url=s3cr3t%2Fpass b64=czNjcjN0L3Bhc3M= abc")).toBe("pw=*** url=*** b64=*** abc");
  });

  it("masks everything the terminal logger prints", async () => {
    const { log, text } = capture();
    log.secret("hunter2-password");
    log.info("login with hunter2-password");
    log.warn("bad hunter2-password", { file: "docker/x/Dockerfile", line: 3 });
    log.error("failed: hunter2-password");
    await log.summary("t", { header: ["k"], rows: [["hunter2-password"]] });
    expect(text()).not.toContain("hunter2");
    expect(text()).toContain("warning: docker/x/Dockerfile:3: bad ***");
  });

  it("masks the command line and output tail of a failed process", async () => {
    const { log } = capture();
    log.secret("topsecret-value");
    const error = await exec(log, "sh", [
      "-c",
      "echo line one; echo using topsecret-value; exit 7",
      "topsecret-value",
    ]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExecError);
    const execError = error as ExecError;
    expect(execError.exitCode).toBe(7);
    expect(execError.command).toContain("***");
    expect(execError.command).not.toContain("topsecret");
    expect(execError.tail).toEqual(["line one", "using ***"]);
  });
});

describe("terminal view", () => {
  it("prints plain lines with elapsed time when not a TTY, and times groups", async () => {
    const { log, text, tick } = capture(false);
    await log.group("image app", async () => {
      log.step("build app");
      tick(2500);
      log.progress(1, 3, "image app");
    });
    expect(text()).not.toContain("\x1b[");
    expect(text()).toContain("[  0.0s] ┌ image app");
    expect(text()).toContain("[  2.5s]   (1/3) image app");
    expect(text()).toContain("└ image app: done in 2.5s");
  });

  it("colours on a TTY, unless NO_COLOR is set", () => {
    // The environment is set here, not inherited: a machine (or CI) with NO_COLOR set must not change the outcome.
    try {
      vi.stubEnv("NO_COLOR", undefined);
      const coloured = capture(true);
      coloured.log.error("boom");
      expect(coloured.text()).toContain("\x1b[31m");
      vi.stubEnv("NO_COLOR", "1");
      const plain = capture(true);
      plain.log.error("boom");
      expect(plain.text()).not.toContain("\x1b[");
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe("exec", () => {
  it("captures stdout and stderr and streams lines to a callback", async () => {
    const { log } = capture();
    const lines: string[] = [];
    const result = await exec(log, "sh", ["-c", "echo out; echo err >&2; cat"], {
      input: "from stdin\n",
      onLine: (line) => lines.push(line),
    });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe("out\nfrom stdin\n");
    expect(result.stderr).toBe("err\n");
    expect(lines.sort()).toEqual(["err", "from stdin", "out"]);
  });

  it("returns a non-zero exit when failure is allowed, and throws a typed error for a missing binary", async () => {
    const { log } = capture();
    expect((await exec(log, "sh", ["-c", "exit 4"], { allowFailure: true })).exitCode).toBe(4);
    await expect(exec(log, "/nonexistent/e2e3d-tool", [])).rejects.toThrow(/could not start/);
  });
});
