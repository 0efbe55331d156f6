// The Docker engine: the local daemon through Debian's client (/usr/bin/docker) with BuildKit (DOCKER_BUILDKIT=1, so
// `RUN --mount=type=cache` works), then `docker push`. The digest is read back from the registry by the caller: a
// local image ID is not what the registry serves. The client's `-t` tag exists only when the build succeeded, so a
// failed build can never be pushed or tagged anywhere.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EngineError, ExecError } from "../errors.js";
import { exec } from "../exec.js";
import { formatSeconds, type Logger } from "../log/logger.js";
import type { RegistryCredentials } from "../registry.js";
import type { BuildRequest, Engine, PublishedImage } from "./engine.js";

/** BuildKit's plain progress: "#7 [2/4] RUN apt-get ..." names a step; "#7 ERROR: ..." says it failed. */
const STEP_LINE = /^#(\d+) \[([^\]]+)\] (.+)$/;
const ERROR_LINE = /^#(\d+) ERROR:? (.*)$/;

export interface DockerEngineOptions {
  client: string;
  credentials?: RegistryCredentials | undefined;
}

export class DockerEngine implements Engine {
  readonly name = "docker" as const;
  readonly #client: string;
  readonly #credentials: RegistryCredentials | undefined;

  constructor(options: DockerEngineOptions) {
    this.#client = options.client;
    this.#credentials = options.credentials;
  }

  async describe(log: Logger): Promise<string> {
    const { stdout } = await exec(log, this.#client, [
      "version",
      "--format",
      "client {{.Client.Version}}, daemon {{.Server.Version}}",
    ]);
    return `docker (${this.#client}: ${stdout.trim()}, BuildKit)`;
  }

  async buildAndPublish(request: BuildRequest, log: Logger): Promise<PublishedImage> {
    // Credentials go to a throwaway client config, never to the user's ~/.docker or a command line.
    const configDir = this.#credentials ? await mkdtemp(join(tmpdir(), "e2e3d-docker-config-")) : undefined;
    const base = configDir ? ["--config", configDir] : [];
    try {
      if (configDir && this.#credentials) {
        log.secret(this.#credentials.password);
        const registry = request.publishTo.split("/")[0]!;
        await exec(
          log,
          this.#client,
          [...base, "login", "--username", this.#credentials.username, "--password-stdin", registry],
          {
            input: this.#credentials.password,
          },
        );
      }
      await this.#build(request, base, log);
      log.step(`push ${request.publishTo}`);
      let pushed: string;
      try {
        pushed = (await exec(log, this.#client, [...base, "push", request.publishTo])).stdout;
      } catch (error) {
        throw asEngineError(error, "push", `docker push ${request.publishTo} failed`);
      }
      // The digest the registry answered the manifest PUT with; the pipeline still checks the registry serves it.
      const digest = pushedDigest(pushed);
      if (!digest)
        throw new EngineError(
          `docker push ${request.publishTo} printed no digest`,
          "docker",
          "push",
          pushed.split("\n").slice(-10),
        );
      return { reference: `${request.publishTo.replace(/:[^/:]+$/, "")}@${digest}`, digest };
    } finally {
      // The local tag was only a handle for the push; the layers stay in the engine's build cache.
      await exec(log, this.#client, ["image", "rm", "--no-prune", request.publishTo], { allowFailure: true });
      if (configDir) await rm(configDir, { recursive: true, force: true });
    }
  }

  async #build(request: BuildRequest, base: string[], log: Logger): Promise<void> {
    const args = [...base, "build", "--progress=plain", "--file", join(request.contextDir, request.dockerfile)];
    for (const [name, value] of Object.entries(request.buildArgs)) args.push("--build-arg", `${name}=${value}`);
    if (request.sourceDateEpoch !== undefined) args.push("--build-arg", `SOURCE_DATE_EPOCH=${request.sourceDateEpoch}`);
    for (const [id, file] of Object.entries(request.secrets ?? {})) args.push("--secret", `id=${id},src=${file}`);
    if (request.target) args.push("--target", request.target);
    if (request.noCache) args.push("--no-cache");
    args.push("--tag", request.publishTo, request.contextDir);

    const steps = new Map<string, string>();
    let failedStep: string | undefined;
    let lastAnnounced: string | undefined;
    let stepStarted = Date.now();
    log.step(`build ${request.name} with docker (BuildKit)`);
    // A long step (a dependency install) prints nothing for minutes at info level: say where it is every 30 s.
    const heartbeat = setInterval(() => {
      if (lastAnnounced)
        log.info(
          `${request.name}: still at ${lastAnnounced.slice(0, 100)} (${formatSeconds(Date.now() - stepStarted)})`,
        );
    }, 30_000);
    try {
      await exec(log, this.#client, args, {
        env: {
          DOCKER_BUILDKIT: "1",
          ...(request.sourceDateEpoch ? { SOURCE_DATE_EPOCH: String(request.sourceDateEpoch) } : {}),
        },
        tailLines: 60,
        onLine: (line) => {
          const step = STEP_LINE.exec(line);
          if (step && !steps.has(step[1]!)) {
            const label = `[${step[2]}] ${step[3]}`;
            steps.set(step[1]!, label);
            if (label !== lastAnnounced && step[2] !== "internal") log.step(`${request.name}: ${label}`);
            lastAnnounced = label;
            stepStarted = Date.now();
          }
          const failed = ERROR_LINE.exec(line);
          if (failed) failedStep ??= steps.get(failed[1]!) ?? failed[2];
        },
      });
    } catch (error) {
      throw asEngineError(error, failedStep ?? "build", `docker build of ${request.name} failed`);
    } finally {
      clearInterval(heartbeat);
    }
  }
}

/** `docker push` ends with "<tag>: digest: sha256:… size: N". */
export function pushedDigest(output: string): string | undefined {
  return /: digest: (sha256:[a-f0-9]{64}) size: \d+/.exec(output)?.[1];
}

function asEngineError(error: unknown, step: string, message: string): EngineError {
  if (error instanceof ExecError) {
    return new EngineError(`${message} at step ${step}`, "docker", step, error.tail, {
      context: { command: error.command, exitCode: error.exitCode ?? "none" },
      cause: error,
    });
  }
  return new EngineError(message, "docker", step, [], { cause: error });
}
