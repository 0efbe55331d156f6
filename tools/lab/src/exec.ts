// Running external commands (docker, apt-get, debootstrap, go...). Node's child_process is enough here: the lab
// needs exit status, captured output, optional log files and detached daemons, nothing a library would add.
import { spawn } from "node:child_process";
import { accessSync, closeSync, constants, openSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { CommandFailedError, tail } from "./errors.js";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Text written to the command's stdin. */
  input?: string | Buffer;
  /** Kill the command after this many milliseconds (then code is 124). */
  timeoutMs?: number;
  /** Append stdout and stderr to this file instead of capturing them (for long, chatty commands). */
  logFile?: string;
}

/** Runs a command and resolves with its status and output; never rejects for a non-zero exit. */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    let logFd: number | undefined;
    if (options.logFile) logFd = openSync(options.logFile, "a");
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: [options.input === undefined ? "ignore" : "pipe", logFd ?? "pipe", logFd ?? "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr?.on("data", (chunk: Buffer) => err.push(chunk));
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    if (options.timeoutMs) {
      timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, options.timeoutMs);
    }
    child.on("error", (error) => {
      if (timer) clearTimeout(timer);
      if (logFd !== undefined) closeSync(logFd);
      reject(
        new CommandFailedError(`could not start ${command}`, {
          context: { command: [command, ...args].join(" ") },
          cause: error,
          hint: `check that ${command} is installed and on PATH`,
        }),
      );
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      if (logFd !== undefined) closeSync(logFd);
      resolve({
        code: timedOut ? 124 : (code ?? (signal ? 128 : 1)),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Runs a command and throws a CommandFailedError (with the tail of its output or log) when it fails. */
export async function runChecked(
  command: string,
  args: string[],
  options: RunOptions & { what?: string; hint?: string } = {},
): Promise<RunResult> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    const logText = options.logFile ? safeRead(options.logFile) : `${result.stdout}\n${result.stderr}`;
    throw new CommandFailedError(`${options.what ?? command} failed (exit ${result.code})`, {
      context: { command: [command, ...args].join(" "), log: options.logFile },
      logTail: tail(logText),
      hint: options.hint,
    });
  }
  return result;
}

export function safeRead(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** Finds an executable on PATH (or checks an absolute path); undefined when absent. */
export function which(command: string, path = process.env["PATH"] ?? ""): string | undefined {
  const candidates = command.includes("/") ? [command] : path.split(delimiter).map((dir) => join(dir, command));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/** Polls `probe` until it returns a value or the deadline passes; no fixed sleeps, short backoff. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  deadlineMs: number,
  intervalMs = 200,
): Promise<T | undefined> {
  const deadline = Date.now() + deadlineMs;
  let delay = intervalMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, Math.max(0, deadline - Date.now()))));
    delay = Math.min(delay * 2, 2000);
  }
}

/** True when a process with this pid exists. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Reads /proc/<pid>/cmdline (Linux) to tell whose process a pidfile points at. */
export function processCommandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return undefined;
  }
}

/** Starts a long-running daemon detached from the lab process, output appended to `logFile`; returns its pid. */
export function startDaemon(command: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv): number {
  const fd = openSync(logFile, "a");
  const child = spawn(command, args, { detached: true, stdio: ["ignore", fd, fd], env: env ?? process.env });
  closeSync(fd);
  if (child.pid === undefined) {
    throw new CommandFailedError(`could not start ${command}`, { context: { command, log: logFile } });
  }
  child.unref();
  return child.pid;
}
