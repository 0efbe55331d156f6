// What the suites ask the Docker engine directly: a project's containers (by compose's labels), their state, health,
// user and published ports, log tails, restarts and kills. Debian's client (/usr/bin/docker, 20.10) talks to the
// lab's daemon; E2E3D_DOCKER overrides it.
import { execFile } from "node:child_process";

export const dockerBinary = (env: NodeJS.ProcessEnv = process.env): string =>
  env["E2E3D_DOCKER"]?.trim() || "/usr/bin/docker";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs docker; resolves with exit code and output (never rejects on a non-zero exit). */
export function docker(args: string[], options: { timeoutMs?: number; input?: Buffer } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      dockerBinary(),
      args,
      { timeout: options.timeoutMs ?? 120_000, maxBuffer: 256 * 1024 * 1024, encoding: "utf8" },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr: stderr || (error && code !== 0 ? error.message : "") });
      },
    );
    if (options.input) child.stdin?.end(options.input);
  });
}

// A project's containers and their log tails: the stack package's inspection, the one deploy uses for health.
import { type ContainerState as ContainerInfo, projectContainers } from "@e2e3d/stack";

export { type ContainerState as ContainerInfo, logTail, projectContainers } from "@e2e3d/stack";

export async function fullLogs(containerId: string): Promise<string> {
  const result = await docker(["logs", containerId], { timeoutMs: 60_000 });
  return `${result.stdout}${result.stderr}`;
}

/** The one running container of a compose service (throws when there is none). */
export async function serviceContainer(project: string, service: string): Promise<ContainerInfo> {
  const found = (await projectContainers(project))
    .filter((c) => c.service === service)
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  const running = found.find((c) => c.status === "running") ?? found[0];
  if (!running) throw new Error(`no container of service ${service} in project ${project}`);
  return running;
}

export async function execIn(containerId: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return docker(["exec", containerId, ...args], { timeoutMs });
}
