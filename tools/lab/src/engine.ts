// Step 1: a Docker engine that answers, and the client that can do BuildKit builds with it.
// The lab accepts an engine it did not start (and then never stops it); it starts Debian's dockerd itself only
// when none answers and it runs as root on Debian.
import { join } from "node:path";
import { ensurePackages, isDebian, isRoot } from "./apt.js";
import { PREFERRED_DOCKER_CLIENT } from "./config.js";
import { EngineUnavailableError, TimeoutError, tail } from "./errors.js";
import { processAlive, processCommandLine, run, safeRead, startDaemon, waitFor, which } from "./exec.js";
import type { Log, StepOutcome } from "./progress.js";

export interface EngineInfo {
  host: string;
  dockerClient: string;
  buildkit: boolean;
  serverVersion: string;
  startedByLab: boolean;
  daemon?: { pid: number; log: string };
}

/** Debian packages the lab uses besides the engine itself. */
export const LAB_PACKAGES = ["docker-registry", "skopeo", "debootstrap"];

/** Debian's client first: the 28.x client some machines put first on PATH has no buildx and refuses BuildKit builds. */
export function findDockerClient(): string | undefined {
  return which(PREFERRED_DOCKER_CLIENT) ?? which("docker");
}

/** The server version when `docker info` answers within a few seconds, undefined otherwise. */
export async function engineVersion(client: string): Promise<string | undefined> {
  const result = await run(client, ["info", "--format", "{{.ServerVersion}}"], { timeoutMs: 15_000 }).catch(
    () => undefined,
  );
  const version = result?.stdout.trim();
  return result && result.code === 0 && version ? version : undefined;
}

/**
 * Whether this client builds with BuildKit against this daemon. Debian's 20.10 client uses the daemon's builder
 * with DOCKER_BUILDKIT=1; newer clients need the buildx plugin for that.
 */
export async function clientHasBuildKit(client: string): Promise<boolean> {
  const version = await run(client, ["version", "--format", "{{.Client.Version}}"], { timeoutMs: 15_000 });
  const major = Number.parseInt(version.stdout.trim().split(".")[0] ?? "", 10);
  if (major && major < 23) return true;
  const buildx = await run(client, ["buildx", "version"], { timeoutMs: 15_000 });
  return buildx.code === 0;
}

const dockerdPidFile = (stateDir: string) => join(stateDir, "dockerd.pid");
const dockerdLog = (stateDir: string) => join(stateDir, "dockerd.log");

/** The pid of a dockerd the lab started earlier and that still runs, if any. */
export function labDockerdPid(stateDir: string): number | undefined {
  const pid = Number.parseInt(safeRead(dockerdPidFile(stateDir)).trim(), 10);
  if (!pid || !processAlive(pid)) return undefined;
  const cmdline = processCommandLine(pid);
  return cmdline?.some((arg) => arg.endsWith("dockerd")) ? pid : undefined;
}

export async function ensureEngine(stateDir: string, log: Log): Promise<StepOutcome<EngineInfo>> {
  const host = process.env["DOCKER_HOST"] || "unix:///var/run/docker.sock";
  const installed: string[] = [];
  let client = findDockerClient();
  let version = client ? await engineVersion(client) : undefined;
  let started: { pid: number; log: string } | undefined;
  const previousPid = labDockerdPid(stateDir);

  if (!version) {
    if (!isRoot() || !isDebian()) {
      throw new EngineUnavailableError("no Docker engine answers and the lab cannot start one here", {
        context: {
          client: client ?? "none found",
          host,
          root: isRoot() ? "yes" : "no",
          debian: isDebian() ? "yes" : "no",
        },
        hint: isDebian()
          ? "as root: apt-get install docker.io, then start it (systemctl start docker, or dockerd &); or run this command as root and the lab does both"
          : "install Docker Engine (with a client that does BuildKit builds) and start it, then run `up` again",
      });
    }
    installed.push(...(await ensurePackages(["docker.io"], stateDir, log)));
    client = findDockerClient();
    if (!client) {
      throw new EngineUnavailableError("docker.io is installed but no docker client is on PATH", {
        hint: "check the docker.io package (dpkg -L docker.io | grep bin/docker)",
      });
    }
    // On a machine with an init system, installing docker.io may have started the engine already.
    version = await engineVersion(client);
  }
  if (!version && client) {
    const logFile = dockerdLog(stateDir);
    log(`starting dockerd in the background (log: ${logFile})`);
    const pid = startDaemon(
      which("dockerd") ?? "/usr/sbin/dockerd",
      [`--pidfile=${dockerdPidFile(stateDir)}`],
      logFile,
    );
    started = { pid, log: logFile };
    const dockerClient = client;
    version = await waitFor(async () => {
      // An empty answer ends the wait early: the daemon died, no point waiting for the deadline.
      if (!processAlive(pid)) return "";
      return engineVersion(dockerClient);
    }, 120_000);
    if (!version) {
      throw new TimeoutError(
        processAlive(pid) ? "dockerd did not answer within 120 s" : "dockerd exited right after it started",
        {
          context: { pid, log: logFile },
          logTail: tail(safeRead(logFile)),
          hint: "read the dockerd log above (another engine on the same socket, missing kernel features, or no permission)",
        },
      );
    }
  }
  if (!client || !version) throw new EngineUnavailableError("no docker client found or no engine answers");

  installed.push(...(await ensurePackages(LAB_PACKAGES, stateDir, log)));
  const buildkit = await clientHasBuildKit(client);
  if (!buildkit) log(`warning: ${client} cannot do BuildKit builds (no buildx); image builds will fail`);

  const daemon = started ?? (previousPid ? { pid: previousPid, log: dockerdLog(stateDir) } : undefined);
  const info: EngineInfo = {
    host,
    dockerClient: client,
    buildkit,
    serverVersion: version,
    startedByLab: daemon !== undefined,
    ...(daemon ? { daemon } : {}),
  };
  const origin = started
    ? `started dockerd ${version} (pid ${started.pid})`
    : daemon
      ? `engine ${version} answers (started by the lab earlier)`
      : `engine ${version} answers (not started by the lab; left alone)`;
  const detail = [
    origin,
    `client ${client}${buildkit ? " with BuildKit" : ""}`,
    ...(installed.length ? [`installed ${installed.join(", ")}`] : []),
  ].join(", ");
  return { value: info, changed: started !== undefined || installed.length > 0, detail };
}
