// Runs a pipeline entry point the way users do (`npx tsx pipelines/<name>.ts ...`), capturing output and exit code.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
const TSX = join(REPO_ROOT, "node_modules", "tsx", "dist", "cli.mjs");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runPipeline(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [TSX, join(REPO_ROOT, "pipelines", script), ...args],
      { cwd: REPO_ROOT, env: { ...process.env, ...env }, maxBuffer: 32 << 20 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolvePromise({ code, stdout, stderr });
      },
    );
  });
}

export function spawnPipeline(script: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [TSX, join(REPO_ROOT, "pipelines", script), ...args], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
}
