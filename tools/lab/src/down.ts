// `down`: stops what the lab started (its registries; dockerd only when the lab started it). Data stays, so a
// later `up` finds every pushed image again. An engine someone else started is never touched.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { LabConfig } from "./config.js";
import { stopEngineContainer } from "./dagger/index.js";
import { findDockerClient, labDockerdPid } from "./engine.js";
import { processAlive, waitFor } from "./exec.js";
import type { Log } from "./progress.js";
import { registryPaths, stopRegistry } from "./registries.js";
import { readLabStateIfAny } from "./state.js";

export async function labDown(config: LabConfig, log: Log): Promise<{ stopped: string[] }> {
  const stopped: string[] = [];
  const state = await readLabStateIfAny(config.stateDir);
  const docker = findDockerClient();
  // Before dockerd: its cache volume stays, so the next `up` starts it with Dagger's layer cache intact.
  if (state?.dagger && docker && (await stopEngineContainer(docker, state.dagger.container).catch(() => false))) {
    stopped.push(`dagger engine (${state.dagger.container})`);
  }
  for (const [role, address] of [
    ["upstream", config.upstream],
    ["private", config.private],
  ] as const) {
    if (await stopRegistry(registryPaths(config.stateDir, role, address))) stopped.push(`${role} registry`);
    else log(`${role} registry: not running under the lab`);
  }
  const dockerd = labDockerdPid(config.stateDir);
  if (dockerd) {
    log(`stopping dockerd (pid ${dockerd}), which the lab started`);
    process.kill(dockerd, "SIGTERM");
    const gone = await waitFor(async () => (processAlive(dockerd) ? undefined : true), 60_000);
    if (!gone) log(`dockerd (pid ${dockerd}) is still shutting down after 60 s; left to finish`);
    await rm(join(config.stateDir, "dockerd.pid"), { force: true });
    stopped.push("dockerd");
  } else {
    log("engine: not started by the lab; left running");
  }
  return { stopped };
}
