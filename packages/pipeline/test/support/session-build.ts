// Run by dagger-engine.int.test.ts under `dagger run`: builds one fixture context through the DaggerEngine, which must
// reach the engine through the session `dagger run` opened (DAGGER_SESSION_PORT), not through a CLI of its own, and
// prints what it published as one JSON line.
//   dagger run npx tsx session-build.ts <context dir> <base image> <publish to>
import { DaggerEngine } from "../../src/engines/dagger.js";
import { prepareDaggerConnection } from "../../src/engines/dagger-cli.js";
import { captureLogger } from "./env.js";

const [contextDir, base, publishTo] = process.argv.slice(2);
if (!contextDir || !base || !publishTo) {
  process.stderr.write("usage: session-build.ts <context dir> <base image> <publish to>\n");
  process.exit(2);
}
const connection = prepareDaggerConnection();
const engine = new DaggerEngine();
const { log, text } = captureLogger();
try {
  const description = await engine.describe(log);
  const published = await engine.buildAndPublish(
    {
      name: "session",
      contextDir,
      dockerfile: "Dockerfile",
      buildArgs: { BASE_IMAGE: base, GREETING: "session" },
      publishTo,
    },
    log,
  );
  process.stdout.write(`${JSON.stringify({ via: connection.via, description, ...published })}\n`);
} catch (error) {
  process.stderr.write(`${text()}\n${(error as Error).message}\n`);
  process.exitCode = 1;
}
