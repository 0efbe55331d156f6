// Runs external commands (docker, go) with their output kept for error messages. Output goes to a log file when
// one is given (builds are long) and only the tail is kept in memory.
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { tail } from "../errors.js";

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Append stdout and stderr here as well. */
  logFile?: string;
}

export interface RunResult {
  code: number;
  /** Full stdout (commands whose stdout we parse are small). */
  stdout: string;
  /** The last part of stdout+stderr together, for error messages. */
  outputTail: string;
}

const TAIL_BYTES = 64 * 1024;

export function runCommand(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log = options.logFile ? createWriteStream(options.logFile, { flags: "a" }) : undefined;
    let stdout = "";
    let combined = "";
    const keep = (chunk: Buffer) => {
      combined += chunk.toString("utf8");
      if (combined.length > TAIL_BYTES * 2) combined = combined.slice(-TAIL_BYTES);
      log?.write(chunk);
    };
    child.stdout.on("data", (chunk: Buffer) => {
      if (stdout.length < 4 * 1024 * 1024) stdout += chunk.toString("utf8");
      keep(chunk);
    });
    child.stderr.on("data", keep);
    child.on("error", (err) => {
      log?.end();
      reject(err);
    });
    child.on("close", (code, signal) => {
      const finish = () => resolve({ code: code ?? (signal ? 128 : 1), stdout, outputTail: tail(combined, 40) });
      if (log) log.end(finish);
      else finish();
    });
  });
}
