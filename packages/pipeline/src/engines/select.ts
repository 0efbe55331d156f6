// --engine auto|dagger|docker. auto picks Dagger when a session is present (`dagger run` sets DAGGER_SESSION_PORT) or
// a `dagger` CLI is named (_EXPERIMENTAL_DAGGER_CLI_BIN) or on PATH, and the local Docker engine otherwise. Choosing
// only inspects the environment: no engine is contacted until an image actually needs building, so a run where
// everything is cached does no engine work.
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import type { EngineChoice } from "../config.js";
import type { RegistryCredentials } from "../registry.js";
import { DockerEngine } from "./docker.js";
import type { Engine, EngineName } from "./engine.js";

export function onPath(binary: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env["PATH"] ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, binary))) return join(dir, binary);
  }
  return undefined;
}

export interface EngineSelection {
  name: EngineName;
  /** Why this engine: printed and written to the report. */
  reason: string;
}

export function selectEngine(choice: EngineChoice, env: NodeJS.ProcessEnv = process.env): EngineSelection {
  if (choice === "docker") return { name: "docker", reason: "--engine docker" };
  if (choice === "dagger") return { name: "dagger", reason: "--engine dagger" };
  if (env["DAGGER_SESSION_PORT"])
    return { name: "dagger", reason: "a Dagger session is present (DAGGER_SESSION_PORT)" };
  // The CLI the SDK itself would use (dagger-cli.ts), so auto and the SDK agree on where Dagger is.
  const named = env["_EXPERIMENTAL_DAGGER_CLI_BIN"];
  if (named && existsSync(named))
    return { name: "dagger", reason: `_EXPERIMENTAL_DAGGER_CLI_BIN names a CLI (${named})` };
  const cli = onPath("dagger", env);
  if (cli) return { name: "dagger", reason: `a dagger CLI is on PATH (${cli})` };
  return { name: "docker", reason: "no Dagger session or CLI: the local Docker engine" };
}

/** The Dagger SDK takes seconds to import: it is loaded only when the Dagger engine is actually used. */
export async function createEngine(
  name: EngineName,
  options: { dockerClient: string; credentials?: RegistryCredentials | undefined },
): Promise<Engine> {
  if (name === "dagger") {
    const { DaggerEngine } = await import("./dagger.js");
    return new DaggerEngine(options.credentials);
  }
  return new DockerEngine({ client: options.dockerClient, credentials: options.credentials });
}
