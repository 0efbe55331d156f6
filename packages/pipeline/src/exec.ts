// One way to run a process: @actions/exec inside GitHub Actions (the toolkit's quoting and tool lookup), node's
// child_process elsewhere. Output is streamed to the logger line by line or captured; either way the last lines are
// kept so a failure can show what the process said. Failures throw ExecError with the masked command line.
import { spawn } from "node:child_process";
import * as actionsExec from "@actions/exec";
import { ExecError } from "./errors.js";
import { inGitHubActions } from "./log/index.js";
import type { Logger } from "./log/logger.js";

export interface ExecOptions {
  cwd?: string;
  /** Added to (and overriding) the current environment. */
  env?: Record<string, string | undefined>;
  /** Written to the process's stdin (e.g. a password for `--password-stdin`). */
  input?: string | Buffer;
  /** Print each output line through the logger as it arrives (default: only at debug level). */
  stream?: boolean;
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean;
  /** How many trailing lines of output an ExecError keeps (default 40). */
  tailLines?: number;
  /** Called with every output line (masked), e.g. to follow a build's current step. */
  onLine?: (line: string, from: "stdout" | "stderr") => void;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The last lines of stdout and stderr interleaved as they arrived, masked. */
  tail: string[];
}

/** Quotes an argument for display only (never for a shell): the command is run without one. */
const quote = (arg: string): string => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`);

export function formatCommand(command: string, args: readonly string[]): string {
  return [command, ...args].map(quote).join(" ");
}

export async function exec(
  log: Logger,
  command: string,
  args: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const shown = log.mask(formatCommand(command, args));
  const keep = options.tailLines ?? 40;
  const tail: string[] = [];
  const onLine = (raw: string, from: "stdout" | "stderr") => {
    const line = log.mask(raw);
    tail.push(line);
    if (tail.length > keep) tail.shift();
    options.onLine?.(line, from);
    if (options.stream) log.info(line);
    else log.debug(line);
  };
  log.debug(`$ ${shown}`);
  const env = mergeEnv(options.env);
  let result: { exitCode: number; stdout: string; stderr: string };
  try {
    result = inGitHubActions()
      ? await runWithActions(command, args, options, env, onLine)
      : await runWithNode(command, args, options, env, onLine);
  } catch (error) {
    throw new ExecError(`could not start ${command}: ${(error as Error).message}`, shown, null, tail, {
      cause: error,
      hint: `check that ${command} is installed and on PATH`,
    });
  }
  const out = { ...result, stdout: log.mask(result.stdout), stderr: log.mask(result.stderr), tail };
  if (out.exitCode !== 0 && !options.allowFailure) {
    throw new ExecError(`${command} exited with code ${out.exitCode}`, shown, out.exitCode, tail);
  }
  return out;
}

function mergeEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...process.env, ...extra })) {
    if (value !== undefined) env[key] = value;
  }
  return env;
}

type LineSink = (line: string, from: "stdout" | "stderr") => void;

async function runWithActions(
  command: string,
  args: readonly string[],
  options: ExecOptions,
  env: Record<string, string>,
  onLine: LineSink,
) {
  return actionsExec.getExecOutput(command, [...args], {
    cwd: options.cwd,
    env,
    silent: true,
    ignoreReturnCode: true,
    input: options.input === undefined ? undefined : Buffer.from(options.input),
    listeners: { stdline: (line) => onLine(line, "stdout"), errline: (line) => onLine(line, "stderr") },
  });
}

function runWithNode(
  command: string,
  args: readonly string[],
  options: ExecOptions,
  env: Record<string, string>,
  onLine: LineSink,
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { cwd: options.cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    const partial = { stdout: "", stderr: "" };
    const feed = (from: "stdout" | "stderr") => (data: Buffer) => {
      chunks[from].push(data);
      const lines = (partial[from] + data.toString("utf8")).split(/\r?\n/);
      partial[from] = lines.pop() ?? "";
      for (const line of lines) onLine(line, from);
    };
    child.stdout.on("data", feed("stdout"));
    child.stderr.on("data", feed("stderr"));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      for (const from of ["stdout", "stderr"] as const) if (partial[from]) onLine(partial[from], from);
      resolve({
        exitCode: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(chunks.stdout).toString("utf8"),
        stderr: Buffer.concat(chunks.stderr).toString("utf8"),
      });
    });
    child.stdin.on("error", () => {
      // The process may exit before reading its input; the exit code tells the story.
    });
    child.stdin.end(options.input ?? "");
  });
}
