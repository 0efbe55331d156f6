// Step 3: the two loopback registries (Debian's docker-registry, distribution 2.8): the upstream that stands in
// for docker.io, quay.io... and the private one the mirror fills. Config, data, logs and pidfiles live in the lab
// state dir, so images survive `down` and `up`.

import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { stringify } from "yaml";
import { formatAddress, type RegistryAddress } from "./config.js";
import { CommandFailedError, PortTakenError, TimeoutError, tail } from "./errors.js";
import { processAlive, processCommandLine, run, safeRead, startDaemon, waitFor, which } from "./exec.js";
import type { Log, StepOutcome } from "./progress.js";

export type RegistryRole = "upstream" | "private";

export interface RegistryState {
  address: string;
  url: string;
  configFile: string;
  dataDir: string;
  log: string;
  pidFile: string;
}

export function registryPaths(stateDir: string, role: RegistryRole, address: RegistryAddress): RegistryState {
  const dir = join(stateDir, "registries", role);
  return {
    address: formatAddress(address),
    url: `http://${formatAddress(address)}`,
    configFile: join(dir, "config.yml"),
    dataDir: join(dir, "data"),
    log: join(dir, "registry.log"),
    pidFile: join(dir, "registry.pid"),
  };
}

/** distribution 2.8 configuration: filesystem storage in the state dir, deletes on, loopback only, no auth. */
export function registryConfig(paths: RegistryState, role: RegistryRole): string {
  const config = {
    version: 0.1,
    log: { level: "info", formatter: "text", fields: { service: `e2e3d-lab-${role}` } },
    storage: {
      filesystem: { rootdirectory: paths.dataDir },
      delete: { enabled: true },
      cache: { blobdescriptor: "inmemory" },
    },
    http: { addr: paths.address, headers: { "X-Content-Type-Options": ["nosniff"] } },
  };
  return `# Written by the e2e3d lab (tools/lab/src/registries.ts); rewritten by every \`up\`.\n${stringify(config)}`;
}

/**
 * True when a distribution registry answers GET /v2/ at this address. The per-request bound is generous on purpose:
 * `up` restarts a registry that does not answer, and a registry that is merely slow on a loaded machine (other
 * suites pushing to it) must not be restarted under their feet.
 */
export async function registryAnswers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(10_000) });
    await response.body?.cancel();
    return response.status === 200 && response.headers.get("docker-distribution-api-version") === "registry/2.0";
  } catch {
    return false;
  }
}

/** True when anything accepts TCP connections on host:port. */
export function portInUse(address: RegistryAddress): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address.host, port: address.port });
    socket.setTimeout(2000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Best effort: which process listens on the port (from `ss`), to name it in the error. */
async function portOwner(port: number): Promise<string | undefined> {
  const ss = which("ss");
  if (!ss) return undefined;
  const result = await run(ss, ["-ltnpH", `sport = :${port}`]).catch(() => undefined);
  const match = /users:\(\("([^"]+)",pid=(\d+)/.exec(result?.stdout ?? "");
  return match ? `${match[1]} (pid ${match[2]})` : undefined;
}

/** The pid in the pidfile when that process is a docker-registry serving this config file. */
export function labRegistryPid(paths: RegistryState): number | undefined {
  const pid = Number.parseInt(safeRead(paths.pidFile).trim(), 10);
  if (!pid || !processAlive(pid)) return undefined;
  const cmdline = processCommandLine(pid) ?? [];
  return cmdline.some((arg) => arg.endsWith("docker-registry")) && cmdline.includes(paths.configFile) ? pid : undefined;
}

/** Stops the lab's registry (SIGTERM, then SIGKILL after a deadline); true when one was running. */
export async function stopRegistry(paths: RegistryState): Promise<boolean> {
  const pid = labRegistryPid(paths);
  if (!pid) return false;
  process.kill(pid, "SIGTERM");
  const gone = await waitFor(async () => (processAlive(pid) ? undefined : true), 10_000);
  if (!gone) {
    process.kill(pid, "SIGKILL");
    // Until it is gone it still holds its port: a restart right after would find the port taken.
    await waitFor(async () => (processAlive(pid) ? undefined : true), 10_000);
  }
  await rm(paths.pidFile, { force: true });
  return true;
}

async function ensureRegistry(
  stateDir: string,
  role: RegistryRole,
  address: RegistryAddress,
  log: Log,
): Promise<{ state: RegistryState; action: "running" | "started" | "restarted" }> {
  const paths = registryPaths(stateDir, role, address);
  await mkdir(paths.dataDir, { recursive: true });
  const config = registryConfig(paths, role);
  const previousConfig = await readFile(paths.configFile, "utf8").catch(() => "");
  const configChanged = previousConfig !== config;
  if (configChanged) await writeFile(paths.configFile, config);

  let action: "started" | "restarted" = "started";
  const running = labRegistryPid(paths);
  if (running && !configChanged && (await registryAnswers(paths.url))) return { state: paths, action: "running" };
  if (running) {
    log(
      `restarting the ${role} registry (pid ${running}): ${configChanged ? "its config changed" : "it does not answer"}`,
    );
    await stopRegistry(paths);
    action = "restarted";
  }

  if (await portInUse(address))
    throw new PortTakenError(address.port, `lab ${role} registry`, await portOwner(address.port));

  const binary = which("docker-registry") ?? "/usr/bin/docker-registry";
  const pid = startDaemon(binary, ["serve", paths.configFile], paths.log);
  await writeFile(paths.pidFile, `${pid}\n`);
  const ready = await waitFor(async () => {
    if (!processAlive(pid)) return false;
    return (await registryAnswers(paths.url)) ? true : undefined;
  }, 30_000);
  if (ready !== true) {
    const Failure = ready === false ? CommandFailedError : TimeoutError;
    throw new Failure(
      ready === false
        ? `the ${role} registry exited right after it started`
        : `the ${role} registry did not answer within 30 s`,
      {
        context: { address: paths.address, config: paths.configFile, log: paths.log },
        logTail: tail(safeRead(paths.log), 15),
        hint: "read the registry log above",
      },
    );
  }
  log(`${role} registry ${action} on ${paths.address} (pid ${pid}, data ${paths.dataDir})`);
  return { state: paths, action };
}

export interface RegistriesInfo {
  upstream: RegistryState;
  private: RegistryState;
}

export async function ensureRegistries(
  stateDir: string,
  addresses: { upstream: RegistryAddress; private: RegistryAddress },
  log: Log,
): Promise<StepOutcome<RegistriesInfo>> {
  const upstream = await ensureRegistry(stateDir, "upstream", addresses.upstream, log);
  const priv = await ensureRegistry(stateDir, "private", addresses.private, log);
  const changed = upstream.action !== "running" || priv.action !== "running";
  return {
    value: { upstream: upstream.state, private: priv.state },
    changed,
    detail: `upstream ${upstream.state.address} ${upstream.action}, private ${priv.state.address} ${priv.action}`,
  };
}
