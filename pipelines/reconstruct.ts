// Entry point: reconstruct a folder of images with a deployed E2E3D stack, and download the mesh.
// Thin: parses arguments, resolves the connection and calls @e2e3d/stack's client (packages/stack/src/use/).
// Progress goes to stderr; with --json the result goes to stdout as JSON.
//   npx tsx pipelines/reconstruct.ts photos/ --out chair.ply
//   npx tsx pipelines/reconstruct.ts set/images --ground-truth set/ --json
//   E2E3D_GATEWAY_URL=https://e2e3d.example.com E2E3D_S3_ENDPOINT=… npx tsx pipelines/reconstruct.ts photos/
// The same folder (same names, same bytes, same options) is the same run: a rerun finds it and starts no second job.
// Exit codes: 0 mesh downloaded, 1 the run or the stack failed, 2 bad input (nothing was uploaded).
import { homedir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@e2e3d/pipeline";
import {
  CONNECTION_ENV,
  formatError,
  InputError,
  type Reporter,
  RunFailedError,
  reconstructFolder,
  renderReconstructResult,
  resolveConnection,
} from "@e2e3d/stack";
import { Command } from "commander";

const env = process.env;
const defaultStateDir =
  env["E2E3D_DEPLOY_HOME"]?.trim() || join(env["HOME"] ?? homedir(), ".local", "state", "e2e3d-deploy");
const log = createLogger(env);

function parseOptions(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError(`--options is not JSON: ${(err as Error).message}`, {
      hint: `write a JSON object, e.g. --options '{"max_image_size": 480}' (packages/reconstruction options.py lists them)`,
    });
  }
  if (!value || typeof value !== "object" || Array.isArray(value))
    throw new InputError("--options must be a JSON object", { hint: `e.g. --options '{"num_depths": 96}'` });
  return value as Record<string, unknown>;
}

const program = new Command("reconstruct")
  .description("Reconstruct a folder of JPEG/PNG images with a deployed E2E3D stack and download the mesh")
  .argument("<folder>", "folder of overlapping photos of one scene (JPEG or PNG, directly in it)")
  .option("--out <file>", "where to write the mesh (default: ./<folder name>.ply)")
  .option("--ground-truth <dir>", "the synthetic generator's ground truth (set folder or ground_truth/): print quality")
  .option("--options <json>", "job options as a JSON object (part of the run's identity)")
  .option("--project <name>", "the deployment to use (default: the only one in the state dir)")
  .option("--state-dir <dir>", "deploy state dir (secrets, deployment record)", defaultStateDir)
  .option("--timeout <minutes>", "give up waiting after this long (the run goes on)", (v) => Number(v), 60)
  .option("--json", "print the result as JSON on stdout")
  .addHelpText(
    "after",
    `\nA stack on this machine is found through its deployment (--state-dir, --project). For a stack elsewhere set
${Object.values(CONNECTION_ENV).join(", ")}.\nExit codes: 0 done, 1 the run or the stack failed, 2 bad input.`,
  )
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .action(async (folder: string, opts) => {
    if (!Number.isFinite(opts.timeout) || opts.timeout <= 0)
      throw new InputError(`--timeout ${opts.timeout} is not a positive number of minutes`);
    const options = opts.options ? parseOptions(opts.options) : undefined;
    // Resolved after the folder is validated: bad input is refused without a stack.
    const connection = async () => {
      const found = await resolveConnection({
        stateDir: opts.stateDir,
        ...(opts.project ? { project: opts.project } : {}),
        env,
      });
      for (const secret of found.secrets) log.secret(secret);
      log.info(
        `stack: ${found.source === "deployment" ? `deployment ${found.project}` : "from the environment"}, gateway ${found.gatewayUrl}`,
      );
      return found;
    };
    const reporter: Reporter = {
      step: (name) => log.step(name),
      info: (message) => log.info(message),
      warn: (message) => log.warn(message),
    };
    const result = await reconstructFolder({
      folder,
      connection,
      reporter,
      ...(opts.out ? { out: opts.out } : {}),
      ...(opts.groundTruth ? { groundTruth: opts.groundTruth } : {}),
      ...(options ? { options } : {}),
      timeoutMs: opts.timeout * 60_000,
    });
    process.stderr.write(log.mask(renderReconstructResult(result)));
    if (opts.json) process.stdout.write(`${log.mask(JSON.stringify({ ok: true, ...result }, null, 2))}\n`);
  });

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`${log.mask(formatError(err))}\n`);
  if (err instanceof RunFailedError) process.stderr.write(`failed stage: ${err.stage}\n`);
  if (program.opts().json || process.argv.includes("--json")) {
    const e = err as Error & { hint?: string; stage?: string };
    process.stdout.write(
      `${log.mask(JSON.stringify({ ok: false, error: e.message, ...(e.stage ? { stage: e.stage } : {}), ...(e.hint ? { hint: e.hint } : {}) }, null, 2))}\n`,
    );
  }
  process.exit(err instanceof InputError ? 2 : 1);
});
