// Running docker and compose. Node's child_process is enough: we need exit status and captured output, nothing more.
import { spawn } from "node:child_process";
import { CommandFailedError, tail } from "./errors.js";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string;
  timeoutMs?: number;
  /** Called with each line of stdout/stderr as it arrives (progress for long commands). */
  onLine?: (line: string) => void;
}

/** Runs a command; resolves with status and output, never rejects for a non-zero exit (code 124 on timeout). */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let partial = "";
    const feed = (chunk: Buffer) => {
      if (!options.onLine) return;
      partial += chunk.toString("utf8");
      const lines = partial.split(/\r?\n|\r/);
      partial = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) options.onLine(line);
    };
    child.stdout?.on("data", (c: Buffer) => {
      out.push(c);
      feed(c);
    });
    child.stderr?.on("data", (c: Buffer) => {
      err.push(c);
      feed(c);
    });
    let timedOut = false;
    const timer = options.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill("SIGKILL");
        }, options.timeoutMs)
      : undefined;
    child.on("error", (error) => {
      if (timer) clearTimeout(timer);
      reject(
        new CommandFailedError(`could not start ${command}`, {
          context: { command },
          cause: error,
          hint: `check that ${command} is installed and on PATH`,
        }),
      );
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      if (options.onLine && partial.trim()) options.onLine(partial);
      resolve({
        code: timedOut ? 124 : (code ?? (signal ? 128 : 1)),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Runs a command and throws a CommandFailedError (with the output's tail) when it exits non-zero. */
export async function runChecked(
  command: string,
  args: string[],
  what: string,
  options: RunOptions = {},
): Promise<RunResult> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new CommandFailedError(`${what} failed (exit ${result.code})`, {
      context: { command: `${command} ${args.join(" ")}` },
      logTail: tail(`${result.stdout}\n${result.stderr}`),
    });
  }
  return result;
}

/** Debian's docker client talks to the daemon's BuildKit; a newer client without buildx may be first on PATH. */
export function dockerBinary(env: NodeJS.ProcessEnv = process.env): string {
  return env["E2E3D_DOCKER"]?.trim() || "/usr/bin/docker";
}
