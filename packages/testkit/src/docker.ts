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

export interface ContainerInfo {
  id: string;
  name: string;
  service: string;
  image: string;
  status: string;
  health: string | undefined;
  exitCode: number;
  restartCount: number;
  startedAt: string;
  /** The configured user ("" when the image's default applies). */
  configUser: string;
  /** Host bindings: "hostIp:hostPort->containerPort/proto". */
  bindings: Array<{ hostIp: string; hostPort: number; containerPort: string }>;
  lastProbe: string | undefined;
}

interface InspectJson {
  Id: string;
  Name: string;
  RestartCount: number;
  Config: { Image: string; User: string; Labels: Record<string, string> };
  State: {
    Status: string;
    ExitCode: number;
    StartedAt: string;
    Health?: { Status: string; Log?: Array<{ ExitCode: number; Output: string }> };
  };
  NetworkSettings: { Ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null> | null };
}

export async function projectContainers(project: string): Promise<ContainerInfo[]> {
  const ids = await docker(["ps", "-a", "-q", "--no-trunc", "--filter", `label=com.docker.compose.project=${project}`]);
  if (ids.code !== 0) throw new Error(`docker ps failed: ${ids.stderr.trim()}`);
  const list = ids.stdout.split("\n").filter((s) => s.trim());
  if (list.length === 0) return [];
  const inspected = await docker(["inspect", ...list]);
  // A container can vanish between ps and inspect (compose recreating it): inspect then prints the others only.
  const json = (inspected.stdout.trim() ? JSON.parse(inspected.stdout) : []) as InspectJson[];
  return json.map((c) => {
    const log = c.State.Health?.Log ?? [];
    const last = log[log.length - 1];
    return {
      id: c.Id,
      name: c.Name.replace(/^\//, ""),
      service: c.Config.Labels["com.docker.compose.service"] ?? "?",
      image: c.Config.Image,
      status: c.State.Status,
      health: c.State.Health?.Status,
      exitCode: c.State.ExitCode,
      restartCount: c.RestartCount,
      startedAt: c.State.StartedAt,
      configUser: c.Config.User ?? "",
      bindings: Object.entries(c.NetworkSettings.Ports ?? {}).flatMap(([containerPort, hosts]) =>
        (hosts ?? []).map((h) => ({ hostIp: h.HostIp, hostPort: Number(h.HostPort), containerPort })),
      ),
      lastProbe: last ? `exit ${last.ExitCode}: ${last.Output.trim().split("\n").slice(-2).join(" | ")}` : undefined,
    };
  });
}

export async function logTail(containerId: string, lines = 40): Promise<string> {
  const result = await docker(["logs", "--tail", String(lines), containerId], { timeoutMs: 30_000 });
  return `${result.stdout}${result.stderr}`.trimEnd();
}

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
