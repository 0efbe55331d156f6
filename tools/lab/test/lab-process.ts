// Helpers for the integration suites: run the lab's CLI as a real process, and docker through the lab's client.
import { spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const TSX = join(REPO_ROOT, "node_modules", ".bin", "tsx");
const CLI = join(REPO_ROOT, "tools", "lab", "src", "cli.ts");

export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runProcess(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  input?: string,
  cwd: string = REPO_ROOT,
): Promise<ProcessResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      env,
      cwd,
      stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code: code ?? 1, stdout, stderr }));
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** `tsx tools/lab/src/cli.ts <args>` with extra environment. */
export const runLab = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  runProcess(TSX, [CLI, ...args], { ...process.env, ...env });

/** Runs docker and fails the test with its output when it exits non-zero. */
export async function docker(client: string, args: string[], input?: string): Promise<string> {
  const result = await runProcess(client, args, { ...process.env, DOCKER_BUILDKIT: "1" }, input);
  if (result.code !== 0)
    throw new Error(`docker ${args.join(" ")} failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}
