// The Dagger engine, kept small on purpose (ARCHITECTURE.md: the engine split). Run for real against the lab's
// engine (tools/lab builds CLI and engine v0.21.8 from the Go module proxy) by dagger-engine.int.test.ts.
//
// Build: Directory.dockerBuild over the staged context. Publish: Container.publish, which returns the reference with
// its digest and evaluates the build first, so a failed build never reaches the registry. Registry auth: a Secret,
// never a plain string, registered with the session BEFORE dockerBuild, because 0.21 resolves `FROM` while it
// converts the Dockerfile (auth attached only to the built container arrives too late for a private base). Cache:
// the Dockerfiles' own `RUN --mount=type=cache` mounts live in the engine's cache under dockerBuild.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { connection, ExecError as DaggerExecError, dag } from "@dagger.io/dagger";
import { ConfigError, EngineError } from "../errors.js";
import type { Logger } from "../log/logger.js";
import type { RegistryCredentials } from "../registry.js";
import { type DaggerConnection, prepareDaggerConnection } from "./dagger-cli.js";
import { readDaggerSecrets } from "./dagger-secrets.js";
import { leakedBuildArgs } from "./dockerfile-env.js";
import type { BuildRequest, Engine, PublishedImage } from "./engine.js";

const TAIL_LINES = 60;

/** Forwards the engine's progress output to our logger line by line (masked there), keeping a tail for errors. */
class LineSink extends Writable {
  readonly tail: string[] = [];
  #partial = "";
  constructor(private readonly log: Logger) {
    super();
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    const lines = (this.#partial + chunk.toString("utf8")).split(/\r?\n/);
    this.#partial = lines.pop() ?? "";
    for (const line of lines) {
      const masked = this.log.mask(line);
      this.tail.push(masked);
      if (this.tail.length > TAIL_LINES) this.tail.shift();
      this.log.debug(masked);
    }
    done();
  }
}

/** The SDK's ExecError (cmd, exit code, stdout, stderr of the failing step) somewhere on the cause chain. */
function findExecError(error: unknown): DaggerExecError | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    if (e instanceof DaggerExecError) return e;
  }
  return undefined;
}

/** Turns an SDK failure into an EngineError naming the step (the failing RUN) and carrying its output's tail. */
function toEngineError(error: unknown, request: BuildRequest, sink: LineSink, log: Logger): EngineError {
  if (error instanceof DaggerConnectTimeoutError) return noEngineAnswers(error, sink, log);
  const exec = findExecError(error);
  const message = log.mask((error as Error).message ?? String(error));
  if (exec) {
    const output = `${exec.stdout ?? ""}\n${exec.stderr ?? ""}`
      .split(/\r?\n/)
      .filter((line) => line.trim() !== "")
      .map((line) => log.mask(line));
    const command = log.mask(exec.cmd.join(" "));
    const step = `RUN ${exec.cmd.slice(0, 2).join(" ") === "/bin/sh -c" ? exec.cmd.slice(2).join(" ") : command}`;
    return new EngineError(
      `dagger build of ${request.name} failed at step ${step.slice(0, 120)}`,
      "dagger",
      step,
      [...output.slice(-TAIL_LINES)],
      {
        context: { exitCode: exec.exitCode, command: command.slice(0, 300) },
        cause: error,
      },
    );
  }
  const registry = request.publishTo.split("/")[0]!;
  const unreachable = /connection refused|no such host|dial tcp|i\/o timeout|http: server gave HTTP response/i.test(
    message,
  );
  return new EngineError(`dagger build/publish of ${request.name} failed: ${message}`, "dagger", undefined, sink.tail, {
    hint: unreachable
      ? `the Dagger engine runs in a container: it must reach ${registry} itself (host networking for a loopback registry; the lab's engine has it). Check that the registry answers and that this is the lab's engine (npx tsx tools/lab/src/cli.ts status)`
      : undefined,
    cause: error,
  });
}

/** How long the SDK may take to reach an engine (E2E3D_DAGGER_CONNECT_TIMEOUT_S, default 120 s). */
export function connectDeadlineMs(env: NodeJS.ProcessEnv = process.env): number {
  const seconds = Number(env["E2E3D_DAGGER_CONNECT_TIMEOUT_S"] ?? "120");
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new ConfigError(
      `E2E3D_DAGGER_CONNECT_TIMEOUT_S=${env["E2E3D_DAGGER_CONNECT_TIMEOUT_S"]} is not a positive number of seconds`,
      {
        hint: "unset it (120 s) or give a positive number",
      },
    );
  }
  return seconds * 1000;
}

export class DaggerConnectTimeoutError extends Error {}

function noEngineAnswers(error: unknown, sink: LineSink, log: Logger): EngineError {
  return new EngineError(
    `no Dagger engine answers: ${log.mask((error as Error).message)}`,
    "dagger",
    "connect",
    sink.tail,
    {
      hint: "start the lab's engine (npx tsx tools/lab/src/cli.ts up) or point _EXPERIMENTAL_DAGGER_RUNNER_HOST at a running engine",
      cause: error,
    },
  );
}

/**
 * connection() with a bound on reaching the engine. The SDK waits a fixed 300 s for its CLI session to connect (and
 * the CLI retries an absent engine for up to 10 min), so a dead engine would hang a run for minutes; here the run
 * fails once the deadline passes before the body started. The abandoned session process is killed by the SDK
 * (execa's cleanup) when this process exits.
 */
async function connectWithin(body: () => Promise<void>, options: { LogOutput: Writable }): Promise<void> {
  const deadlineMs = connectDeadlineMs();
  let connected = false;
  // Set when the deadline passed first: a session that connects later must not run the body (it would build and
  // publish an image already reported as failed, and reset the SDK's global client under the next build).
  let abandoned = false;
  let timer: NodeJS.Timeout | undefined;
  const session = connection(async () => {
    if (abandoned) return;
    connected = true;
    if (timer) clearTimeout(timer);
    await body();
  }, options);
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      if (connected) return;
      abandoned = true;
      reject(new DaggerConnectTimeoutError(`the engine did not answer within ${deadlineMs / 1000}s`));
    }, deadlineMs);
    timer.unref();
  });
  session.catch(() => undefined); // after a timeout, its own late rejection is expected and not an error
  try {
    await Promise.race([session, deadline]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

export class DaggerEngine implements Engine {
  readonly name = "dagger" as const;
  readonly #credentials: RegistryCredentials | undefined;
  #connection: DaggerConnection | undefined;

  constructor(credentials?: RegistryCredentials) {
    this.#credentials = credentials;
  }

  /** Session or CLI, versions checked; throws a DaggerUnavailableError with the fix before the SDK starts anything. */
  #connect(): DaggerConnection {
    this.#connection ??= prepareDaggerConnection();
    return this.#connection;
  }

  async describe(log: Logger): Promise<string> {
    const how = this.#connect();
    const sink = new LineSink(log);
    let version = "";
    try {
      await connectWithin(
        async () => {
          version = await dag.version();
        },
        { LogOutput: sink },
      );
    } catch (error) {
      throw noEngineAnswers(error, sink, log);
    }
    if (version.replace(/^v/, "") !== how.sdkVersion) {
      throw new EngineError(
        `the Dagger engine is ${version} but the SDK is v${how.sdkVersion}; they must match exactly`,
        "dagger",
        "connect",
        [],
        { hint: `run an engine of v${how.sdkVersion} (the lab builds it) or pin the SDK to the engine's version` },
      );
    }
    return how.via === "session"
      ? `dagger (engine ${version}, SDK v${how.sdkVersion}, through the dagger run session)`
      : `dagger (engine ${version}, SDK v${how.sdkVersion}, CLI ${how.cli})`;
  }

  async buildAndPublish(request: BuildRequest, log: Logger): Promise<PublishedImage> {
    this.#connect();
    const sink = new LineSink(log);
    // SOURCE_DATE_EPOCH is passed like on the Docker path; whether the image's `created` honours it is read back
    // from the pushed config by the build pipeline and recorded in the report (0.21's dockerBuild does not).
    const buildArgs = Object.entries(request.buildArgs).map(([name, value]) => ({ name, value }));
    if (request.sourceDateEpoch !== undefined)
      buildArgs.push({ name: "SOURCE_DATE_EPOCH", value: String(request.sourceDateEpoch) });
    const secrets = await readDaggerSecrets(request.secrets ?? {}, log);
    const dockerfileText = await readFile(join(request.contextDir, request.dockerfile), "utf8");
    const leakedNames = new Set(
      leakedBuildArgs(
        dockerfileText,
        buildArgs.map((arg) => arg.name),
      ),
    );
    const leaked = buildArgs.filter((arg) => leakedNames.has(arg.name));
    let published = "";
    log.step(`build ${request.name} with dagger`);
    try {
      await connectWithin(
        async () => {
          if (request.noCache) {
            // dockerBuild has no no-cache switch and `noCache` on a host directory only re-reads the files: a cold
            // build empties the engine's local cache (layers and cache mounts) first.
            log.info("cold build: pruning the Dagger engine's local cache");
            await dag.engine().localCache().prune({ useDefaultPolicy: false });
          }
          const auth = this.#registryAuth(request, log);
          if (auth) await auth(dag.container()).sync();
          const context = dag.host().directory(request.contextDir, { noCache: request.noCache ?? false });
          let image = context.dockerBuild({
            dockerfile: request.dockerfile,
            buildArgs,
            target: request.target,
            // Mounted at /run/secrets/<name>: the name given to setSecret is the Dockerfile's secret id.
            secrets: secrets.map(([id, value]) => dag.setSecret(id, value)),
          });
          // Only where the value is the build arg's: a same-named variable of the base image stays.
          for (const { name, value } of leaked) {
            if ((await image.envVariable(name)) === value) image = image.withoutEnvVariable(name);
          }
          if (auth) image = auth(image);
          published = await image.publish(request.publishTo);
        },
        { LogOutput: sink },
      );
    } catch (error) {
      throw toEngineError(error, request, sink, log);
    }
    const digest = /@(sha256:[a-f0-9]{64})$/.exec(published)?.[1];
    if (!digest)
      throw new EngineError(`dagger published ${published} without a digest`, "dagger", "publish", sink.tail);
    // publish answers repo:tag@digest; the engine contract's reference is repo@digest (what the Docker path returns).
    const repository = request.publishTo.replace(/:[^/:]+$/, "");
    return { reference: `${repository}@${digest}`, digest };
  }

  /** withRegistryAuth for the registries the build pulls its base from and publishes to. */
  #registryAuth(request: BuildRequest, log: Logger) {
    const credentials = this.#credentials;
    if (!credentials) return undefined;
    log.secret(credentials.password);
    const hosts = new Set([request.publishTo.split("/")[0]!]);
    const base = request.buildArgs["BASE_IMAGE"];
    if (base?.includes("/")) hosts.add(base.split("/")[0]!);
    const secret = dag.setSecret("e2e3d-registry-password", credentials.password);
    return <C extends ReturnType<typeof dag.container>>(container: C): C => {
      let out = container;
      for (const host of hosts) out = out.withRegistryAuth(host, credentials.username, secret) as C;
      return out;
    };
  }
}
