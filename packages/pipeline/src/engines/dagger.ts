// The Dagger engine, kept small on purpose: no Dagger engine can be obtained on the machines this project is tested
// on, so this file is checked by the type checker against the SDK's generated types and by a contract test that
// runs only where an engine answers (dagger.int.test.ts).
//
// Build: Directory.dockerBuild over the staged context. Publish: Container.publish, which returns the reference with
// its digest. Registry auth: withRegistryAuth with a Secret, never a plain string. Cache: the Dockerfiles' own
// `RUN --mount=type=cache` mounts live in the Dagger engine's cache under dockerBuild; cacheVolume() only applies to
// containers assembled through the API, which this adapter does not do.
import { readFile } from "node:fs/promises";
import { Writable } from "node:stream";
import { connection, dag } from "@dagger.io/dagger";
import { EngineError } from "../errors.js";
import type { Logger } from "../log/logger.js";
import type { RegistryCredentials } from "../registry.js";
import type { BuildRequest, Engine, PublishedImage } from "./engine.js";

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
      if (this.tail.length > 60) this.tail.shift();
      this.log.debug(masked);
    }
    done();
  }
}

export class DaggerEngine implements Engine {
  readonly name = "dagger" as const;
  readonly #credentials: RegistryCredentials | undefined;

  constructor(credentials?: RegistryCredentials) {
    this.#credentials = credentials;
  }

  async describe(log: Logger): Promise<string> {
    let version = "unknown";
    await connection(
      async () => {
        version = await dag.version();
      },
      { LogOutput: new LineSink(log) },
    );
    return `dagger (engine ${version})`;
  }

  async buildAndPublish(request: BuildRequest, log: Logger): Promise<PublishedImage> {
    const sink = new LineSink(log);
    const buildArgs = Object.entries(request.buildArgs).map(([name, value]) => ({ name, value }));
    if (request.sourceDateEpoch !== undefined)
      buildArgs.push({ name: "SOURCE_DATE_EPOCH", value: String(request.sourceDateEpoch) });
    const secrets: [string, string][] = [];
    for (const [id, file] of Object.entries(request.secrets ?? {})) secrets.push([id, await readFile(file, "utf8")]);
    let published = "";
    log.step(`build ${request.name} with dagger`);
    try {
      await connection(
        async () => {
          const context = dag.host().directory(request.contextDir, { noCache: request.noCache ?? false });
          let image = context.dockerBuild({
            dockerfile: request.dockerfile,
            buildArgs,
            target: request.target,
            // Mounted at /run/secrets/<name>: the name given to setSecret is the Dockerfile's secret id.
            secrets: secrets.map(([id, value]) => dag.setSecret(id, value)),
          });
          if (this.#credentials) {
            log.secret(this.#credentials.password);
            const secret = dag.setSecret("e2e3d-registry-password", this.#credentials.password);
            image = image.withRegistryAuth(request.publishTo.split("/")[0]!, this.#credentials.username, secret);
          }
          // publish() evaluates the build first: a failed build never reaches the registry.
          published = await image.publish(request.publishTo);
        },
        { LogOutput: sink },
      );
    } catch (error) {
      throw new EngineError(
        `dagger build/publish of ${request.name} failed: ${log.mask((error as Error).message)}`,
        "dagger",
        undefined,
        sink.tail,
        {
          cause: error,
        },
      );
    }
    const digest = /@(sha256:[a-f0-9]{64})$/.exec(published)?.[1];
    if (!digest)
      throw new EngineError(`dagger published ${published} without a digest`, "dagger", "publish", sink.tail);
    return { reference: published, digest };
  }
}
