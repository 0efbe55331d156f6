// The lab's Dagger engine container. Upstream's CLI starts its engine with `docker run --privileged`, which these
// machines refuse (CAP_SYS_RESOURCE is missing from the bounding set), so the lab starts it instead, with what the
// engine actually needs (below), under the name the CLI looks for first (dagger-engine-<version>), and the lab's
// `dagger` wrapper points the CLI at it with a container:// runner host, so the CLI never tries to create its own.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CommandFailedError, TimeoutError, tail } from "../errors.js";
import { run, runChecked, safeRead, waitFor } from "../exec.js";
import type { Log } from "../progress.js";
import type { EngineImage } from "./image.js";

export const engineContainerName = (version: string): string => `dagger-engine-${version}`;
export const LAB_LABEL = "dev.e2e3d.lab.dagger-engine";

/**
 * Engine config: the lab's registries speak plain HTTP on loopback. The container shares the host's network (an
 * engine in a bridge network would find its own loopback at 127.0.0.1, not the registries).
 */
export function engineConfig(registries: string[]): string {
  const config = {
    registries: Object.fromEntries(registries.map((r) => [r, { http: true, insecure: true }])),
    // The engine's default cache policy keeps a share of the disk free. On a shared build machine whose disk is over
    // 80% full it pruned every layer at the end of each session (seen: "dagql prune applied plan" after each build),
    // so no Dagger rebuild ever hit its layer cache (bench: 85 s rebuild vs 88 s cold). Absolute sizes instead:
    // the lab's images and their cache mounts fit in the reserved part, and are never reclaimed below it.
    gc: { reservedSpace: "10GB", maxUsedSpace: "30GB", minFreeSpace: "5GB" },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** `docker run` arguments: everything --privileged would give that the engine uses, minus CAP_SYS_RESOURCE. */
export function runArguments(name: string, image: EngineImage, configFile: string): string[] {
  return [
    "run",
    "-d",
    "--name",
    name,
    "--label",
    `${LAB_LABEL}=${image.inputs}`,
    "--restart",
    "no", // `up` starts it; a machine reboot must not resurrect it before the lab's registries
    "--network",
    "host",
    "--cap-add",
    "ALL",
    "--cap-drop",
    "SYS_RESOURCE",
    // runc inside the engine sets up namespaces, mounts and seccomp itself: Docker's own profiles would block it.
    "--security-opt",
    "seccomp=unconfined",
    "--security-opt",
    "apparmor=unconfined",
    "--security-opt",
    "systempaths=unconfined",
    "--device-cgroup-rule",
    "a *:* rwm",
    "-v",
    `${name}:/var/lib/dagger`,
    "-v",
    `${configFile}:/etc/dagger/engine.json:ro`,
    image.id,
  ]; // fmt: skip
}

interface ContainerInfo {
  running: boolean;
  image: string;
  inputs: string;
}

async function inspect(docker: string, name: string): Promise<ContainerInfo | undefined> {
  const result = await run(docker, [
    "container",
    "inspect",
    "--format",
    `{{.State.Running}} {{.Image}} {{index .Config.Labels "${LAB_LABEL}"}}`,
    name,
  ]);
  if (result.code !== 0) return undefined;
  const [running, image, inputs] = result.stdout.trim().split(" ");
  return { running: running === "true", image: image ?? "", inputs: inputs ?? "" };
}

export interface EngineContainer {
  name: string;
  runnerHost: string;
  /** What changed: "started", "restarted", "replaced" or "running". */
  action: "started" | "restarted" | "replaced" | "running";
}

/** The container runs the given image with the given config; (re)created or started when not. */
export async function ensureEngineContainer(
  docker: string,
  image: EngineImage,
  version: string,
  registries: string[],
  stateDir: string,
  log: Log,
): Promise<EngineContainer> {
  const name = engineContainerName(version);
  const configFile = join(stateDir, "dagger", "engine.json");
  const config = engineConfig(registries);
  const configChanged = safeRead(configFile) !== config;
  if (configChanged) await writeFile(configFile, config);
  const current = await inspect(docker, name);
  let action: EngineContainer["action"] = "running";
  if (current && (current.image !== image.id || current.inputs !== image.inputs || configChanged)) {
    log(`replacing the engine container ${name} (its image or config changed; the cache volume is kept)`);
    await runChecked(docker, ["rm", "-f", name], { what: `removing the old engine container ${name}` });
    action = "replaced";
  } else if (current && !current.running) {
    log(`starting the engine container ${name}`);
    await runChecked(docker, ["start", name], { what: `starting the engine container ${name}` });
    action = "restarted";
  }
  if (!current || action === "replaced") {
    log(`starting the engine container ${name} from ${image.reference} (host network, no --privileged)`);
    await runChecked(docker, runArguments(name, image, configFile), { what: `starting the engine container ${name}` });
    if (action !== "replaced") action = "started";
  }
  return { name, runnerHost: `container://${name}`, action };
}

/** Waits until the engine answers a real query through the lab's CLI (`dagger core version`); returns its version. */
export async function waitForEngine(
  cli: string,
  env: NodeJS.ProcessEnv,
  docker: string,
  name: string,
  deadlineMs = 120_000,
): Promise<string> {
  let last = "";
  const version = await waitFor(
    async () => {
      const result = await run(cli, ["core", "version"], { env, timeoutMs: 60_000 });
      last = `${result.stdout}\n${result.stderr}`;
      const answered = result.code === 0 ? /v\d+\.\d+\.\d+\S*/.exec(result.stdout)?.[0] : undefined;
      if (answered) return answered;
      const state = await inspect(docker, name);
      if (state && !state.running) {
        const logs = await run(docker, ["logs", "--tail", "40", name]);
        throw new CommandFailedError(`the Dagger engine container ${name} exited`, {
          context: { container: name },
          logTail: tail(`${logs.stdout}\n${logs.stderr}`),
          hint: `read \`docker logs ${name}\`; the engine needs cgroups and /sys writable (see tools/lab/dagger/image/dagger-entrypoint.sh)`,
        });
      }
      return undefined;
    },
    deadlineMs,
    1000,
  );
  if (!version) {
    throw new TimeoutError(`the Dagger engine in ${name} did not answer within ${deadlineMs / 1000}s`, {
      context: { container: name },
      logTail: tail(last),
      hint: `read \`docker logs ${name}\`, then run up again`,
    });
  }
  return version;
}

/** Stops the engine container (its cache volume stays, so the next `up` keeps Dagger's layer cache). */
export async function stopEngineContainer(docker: string, name: string): Promise<boolean> {
  const current = await inspect(docker, name);
  if (!current?.running) return false;
  await runChecked(docker, ["stop", "-t", "30", name], { what: `stopping the engine container ${name}` });
  return true;
}

export async function engineContainerRunning(docker: string, name: string): Promise<boolean> {
  return (await inspect(docker, name))?.running ?? false;
}
