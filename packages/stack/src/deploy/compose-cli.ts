// THE ONE MODULE that runs Docker Compose. It works with Compose v2 (the `docker compose` CLI plugin, which the lab
// builds from the Go module proxy) and with a standalone `docker-compose` (v2, or Debian's v1 behind a shim), so the
// rest of deploy never knows which one answered.
import { CommandFailedError, tail } from "../errors.js";
import { dockerBinary, type RunResult, run } from "../exec.js";

export interface ComposeCli {
  command: string;
  /** Arguments before the compose arguments (["compose"] for the plugin). */
  prefix: string[];
  version: string;
  major: number;
}

let cached: Promise<ComposeCli | undefined> | undefined;

async function probe(command: string, prefix: string[]): Promise<ComposeCli | undefined> {
  try {
    const result = await run(command, [...prefix, "version", "--short"], { timeoutMs: 15_000 });
    if (result.code !== 0) return undefined;
    const version = result.stdout.trim().replace(/^v/, "");
    const major = Number(version.split(".")[0]);
    return Number.isFinite(major) ? { command, prefix, version, major } : undefined;
  } catch {
    return undefined;
  }
}

/** Finds a working compose: the plugin first, then a standalone binary. Undefined when none answers. */
export function detectCompose(env: NodeJS.ProcessEnv = process.env): Promise<ComposeCli | undefined> {
  cached ??= (async () =>
    (await probe(dockerBinary(env), ["compose"])) ??
    (await probe("docker-compose", [])) ??
    (await probe("docker", ["compose"])))();
  return cached;
}

export async function requireCompose(): Promise<ComposeCli> {
  const cli = await detectCompose();
  if (!cli) {
    throw new CommandFailedError("Docker Compose is not available", {
      hint: "bring the lab up (`npx tsx tools/lab/src/cli.ts up` installs the compose plugin), or install docker-compose",
    });
  }
  return cli;
}

export interface ProjectFiles {
  project: string;
  composeFile: string;
  /** The deployment's secrets, read by compose for `${...}` interpolation; never printed. */
  envFile: string;
}

function baseArgs(cli: ComposeCli, files: ProjectFiles): string[] {
  return [
    ...cli.prefix,
    // v1 honours deploy.resources only in compatibility mode; v2 always does.
    ...(cli.major < 2 ? ["--compatibility"] : []),
    "-p",
    files.project,
    "-f",
    files.composeFile,
    "--env-file",
    files.envFile,
  ];
}

async function compose(
  files: ProjectFiles,
  args: string[],
  options: { onLine?: (line: string) => void; timeoutMs?: number } = {},
): Promise<RunResult> {
  const cli = await requireCompose();
  return run(cli.command, [...baseArgs(cli, files), ...args], {
    timeoutMs: options.timeoutMs ?? 900_000,
    env: { ...process.env, DOCKER_BUILDKIT: "1" },
    ...(options.onLine ? { onLine: options.onLine } : {}),
  });
}

/** `compose config --quiet`: validates the file and interpolation without printing it (it would contain secrets). */
export async function composeValidate(files: ProjectFiles): Promise<string | undefined> {
  const result = await compose(files, ["config", "--quiet"], { timeoutMs: 60_000 });
  return result.code === 0 ? undefined : tail(result.stderr || result.stdout, 15);
}

/** `compose up -d`: creates what is missing, recreates what changed, leaves the rest alone. */
export async function composeUp(files: ProjectFiles, onLine: (line: string) => void): Promise<RunResult> {
  return compose(files, ["up", "--detach", "--remove-orphans"], { onLine });
}

export async function composeDown(files: ProjectFiles, removeVolumes: boolean, onLine: (line: string) => void) {
  const result = await compose(files, ["down", "--remove-orphans", ...(removeVolumes ? ["--volumes"] : [])], {
    onLine,
  });
  if (result.code !== 0) {
    throw new CommandFailedError(`compose down failed for project ${files.project}`, {
      logTail: tail(`${result.stdout}\n${result.stderr}`),
    });
  }
}

/**
 * The hash compose would give each service's container (v2's `config --hash`; the same value it stores in the
 * container's com.docker.compose.config-hash label). Undefined where compose cannot say (v1): deploy then just runs up.
 */
export async function composeConfigHashes(files: ProjectFiles): Promise<Map<string, string> | undefined> {
  const cli = await requireCompose();
  if (cli.major < 2) return undefined;
  const result = await compose(files, ["config", "--hash", "*"], { timeoutMs: 60_000 });
  if (result.code !== 0) return undefined;
  const hashes = new Map<string, string>();
  for (const line of result.stdout.split("\n")) {
    const [service, hash] = line.trim().split(/\s+/);
    if (service && hash) hashes.set(service, hash);
  }
  return hashes;
}
