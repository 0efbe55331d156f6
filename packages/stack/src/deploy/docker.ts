// What deploy asks the Docker engine directly: containers of a project (by compose's labels, which both compose
// versions set), their state and health, log tails, image pulls and one-off validator runs.
import { CommandFailedError, tail } from "../errors.js";
import { dockerBinary, run } from "../exec.js";

export interface ContainerState {
  id: string;
  name: string;
  service: string;
  image: string;
  /** created | running | restarting | exited | paused | dead */
  status: string;
  /** healthy | unhealthy | starting | undefined (no healthcheck) */
  health: string | undefined;
  exitCode: number;
  restartCount: number;
  startedAt: string;
  /** The last healthcheck's output: why it is not healthy yet. */
  lastProbe: string | undefined;
  oneShot: boolean;
  /** compose's hash of the service configuration this container was created from. */
  configHash: string | undefined;
  /** The configured user ("" when the image's default applies). */
  configUser: string;
  /** Published ports: host address and port → container port/protocol. */
  bindings: Array<{ hostIp: string; hostPort: number; containerPort: string }>;
}

interface InspectJson {
  Id: string;
  Name: string;
  RestartCount: number;
  Config: { Image: string; User?: string; Labels: Record<string, string> };
  HostConfig: { RestartPolicy?: { Name?: string } };
  NetworkSettings?: { Ports?: Record<string, Array<{ HostIp: string; HostPort: string }> | null> | null };
  State: {
    Status: string;
    ExitCode: number;
    StartedAt: string;
    Health?: { Status: string; Log?: Array<{ ExitCode: number; Output: string }> };
  };
}

export async function engineVersion(): Promise<string | undefined> {
  const result = await run(dockerBinary(), ["version", "--format", "{{.Server.Version}}"], { timeoutMs: 15_000 });
  return result.code === 0 ? result.stdout.trim() : undefined;
}

export async function projectContainers(project: string): Promise<ContainerState[]> {
  const docker = dockerBinary();
  const ids = await run(docker, [
    "ps",
    "-a",
    "-q",
    "--no-trunc",
    "--filter",
    `label=com.docker.compose.project=${project}`,
  ]);
  if (ids.code !== 0) throw new CommandFailedError("docker ps failed", { logTail: tail(ids.stderr) });
  const list = ids.stdout
    .split("\n")
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) return [];
  const inspected = await run(docker, ["inspect", ...list]);
  // A container can vanish between ps and inspect (compose recreating it); inspect then fails for that one only.
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
      lastProbe: last ? `exit ${last.ExitCode}: ${last.Output.trim().split("\n").slice(-2).join(" | ")}` : undefined,
      oneShot: c.HostConfig.RestartPolicy?.Name === "no" || c.HostConfig.RestartPolicy?.Name === "",
      configHash: c.Config.Labels["com.docker.compose.config-hash"],
      configUser: c.Config.User ?? "",
      bindings: Object.entries(c.NetworkSettings?.Ports ?? {}).flatMap(([containerPort, hosts]) =>
        (hosts ?? []).map((h) => ({ hostIp: h.HostIp, hostPort: Number(h.HostPort), containerPort })),
      ),
    };
  });
}

export async function logTail(containerId: string, lines = 30): Promise<string> {
  const result = await run(dockerBinary(), ["logs", "--tail", String(lines), containerId], { timeoutMs: 30_000 });
  return `${result.stdout}${result.stderr}`.trimEnd();
}

/** Host ports published by the project's containers (to tell "busy because it is us" from a real conflict). */
export async function projectPublishedPorts(project: string): Promise<Set<number>> {
  const result = await run(dockerBinary(), [
    "ps",
    "--filter",
    `label=com.docker.compose.project=${project}`,
    "--format",
    "{{.Ports}}",
  ]);
  const ports = new Set<number>();
  for (const match of result.stdout.matchAll(/:(\d+)->/g)) ports.add(Number(match[1]));
  return ports;
}

export async function pullImage(reference: string): Promise<string | undefined> {
  const result = await run(dockerBinary(), ["pull", "--quiet", reference], { timeoutMs: 600_000 });
  return result.code === 0 ? undefined : tail(result.stderr || result.stdout, 8);
}

/** Runs a validator inside an image (nginx -t, promtool): no network, read-only mounts, removed afterwards. */
export async function runValidator(
  image: string,
  entrypoint: string,
  args: string[],
  mounts: Array<{ source: string; target: string }>,
): Promise<{ ok: boolean; output: string }> {
  const result = await run(
    dockerBinary(),
    [
      "run",
      "--rm",
      "--network",
      "none",
      ...mounts.flatMap((m) => ["-v", `${m.source}:${m.target}:ro`]),
      "--entrypoint",
      entrypoint,
      image,
      ...args,
    ],
    { timeoutMs: 120_000 },
  );
  return { ok: result.code === 0, output: `${result.stdout}${result.stderr}`.trim() };
}

export async function execIn(containerId: string, args: string[], timeoutMs = 60_000) {
  return run(dockerBinary(), ["exec", containerId, ...args], { timeoutMs });
}
