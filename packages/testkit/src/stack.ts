// Brings the E2E3D stack up for a test file with testcontainers' DockerComposeEnvironment, on the compose file and
// configs that packages/stack renders for deploy (same model, same renderers, same images by digest from the lock and
// the build report, same secrets handling), under a unique project name, with startup timeouts sized for Airflow and
// waits on the compose healthchecks. Teardown is ours (the reaper image cannot be pulled here): `down()` always
// removes the project and its volumes, and falls back to the stack package's compose module when testcontainers
// never got as far as a started environment.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  buildModel,
  COMPOSE_FILE,
  down as composeDownProject,
  ensureSecrets,
  loadImageInputs,
  type PortPlan,
  type ProfileName,
  renderAll,
  resolveImages,
  SECRET_NAMES,
  type StackModel,
  silentReporter,
} from "@e2e3d/stack";
import type { StartedDockerComposeEnvironment } from "testcontainers";
import { formatSnapshots, StartupWatcher, snapshotProject } from "./diagnostics.js";
import { configureTestcontainers } from "./env.js";
import { StackStartError } from "./errors.js";
import { Masker } from "./mask.js";
import { note, phase } from "./phases.js";

export type Secrets = Awaited<ReturnType<typeof ensureSecrets>>["secrets"];

export interface StackInputs {
  buildReportFile: string;
  lockFile: string;
  privateRegistry: string;
}

export interface StartStackOptions extends StackInputs {
  /** Default: lab (the lab's stand-ins). */
  profile?: ProfileName;
  /** Only these services and what they depend on (see ModelOptions.only). */
  only?: string[];
  /** Changes to the model before rendering (e.g. a GPU reservation for the smoke test); must keep it consistent. */
  transformModel?: (model: StackModel) => StackModel;
  /** Extra first-party images (build-report name → reference by digest), e.g. a fallback for a missing variant. */
  extraBuildImages?: Record<string, string>;
  /** Whole-stack startup limit (compose up + every healthcheck). Airflow on two cores needs minutes. */
  startupTimeoutMs?: number;
  /** Prefix of the unique compose project name. */
  projectPrefix?: string;
}

export interface StartedStack {
  project: string;
  model: StackModel;
  secrets: Secrets;
  masker: Masker;
  /** service → reference by digest it runs. */
  images: Map<string, string>;
  /** http://127.0.0.1:<port> of the gateway and of the S3 API. */
  gatewayUrl: string;
  s3Url: string;
  /** The generated compose file and configs, exactly as deploy would write them. */
  configDir: string;
  /** Each service's state and log tail now (masked), for failure output. */
  diagnostics(options?: { lines?: number; onlyTroubled?: boolean }): Promise<string>;
  /** Removes the project, its containers and its volumes. Idempotent; never throws (prints what went wrong). */
  down(): Promise<void>;
}

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });

/** Writes the rendered files readable by the services' non-root users (the state dir itself stays owner-only). */
function writeRendered(dir: string, files: Map<string, string>): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  for (const [path, content] of files) {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true, mode: 0o755 });
    writeFileSync(full, content, { mode: 0o644 });
    chmodSync(full, 0o644);
  }
}

/** The model and service → reference by digest, exactly as startStack will run them. */
export async function resolveStack(
  options: StartStackOptions,
  ports?: PortPlan,
): Promise<{ model: StackModel; images: Map<string, string> }> {
  let model = buildModel({
    profile: options.profile ?? "lab",
    ...(ports ? { ports } : {}),
    ...(options.only ? { only: options.only } : {}),
  });
  if (options.transformModel) model = options.transformModel(model);
  const inputs = await loadImageInputs(options.lockFile, options.buildReportFile, options.privateRegistry);
  for (const [name, reference] of Object.entries(options.extraBuildImages ?? {}))
    inputs.buildReport.set(name, reference);
  return { model, images: resolveImages(model, inputs) };
}

const DEFAULT_STARTUP_MS = 20 * 60_000;

export async function startStack(options: StartStackOptions): Promise<StartedStack> {
  configureTestcontainers();
  const { DockerComposeEnvironment, Wait } = await import("testcontainers");
  const profile = options.profile ?? "lab";
  const project = `${options.projectPrefix ?? "e2e3d-it"}-${Date.now().toString(36)}-${process.pid}`;
  const ports: PortPlan = { gateway: await freePort(), objectStore: await freePort() };
  const { model, images } = await resolveStack(options, ports);

  // The stack package's deploy state layout (<state>/<project>/{secrets.env,current/}), so its compose module can
  // always take the project down, even when testcontainers never returned a started environment.
  const stateDir = mkdtempSync(join(tmpdir(), "e2e3d-testkit-"));
  const root = join(stateDir, project);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const secretsFile = join(root, "secrets.env");
  const { secrets } = ensureSecrets(secretsFile);
  const masker = new Masker();
  for (const name of SECRET_NAMES) masker.add(name, secrets[name]);
  const configDir = join(root, "current");
  writeRendered(configDir, renderAll(model, images));
  note(
    `stack ${project} (${profile}${options.only ? `, only ${options.only.join(",")}` : ""}): ${model.services.length} services, gateway 127.0.0.1:${ports.gateway}, S3 127.0.0.1:${ports.objectStore}; config ${configDir}`,
  );
  for (const n of model.notes) note(`  ${n}`);

  let environment: StartedDockerComposeEnvironment | undefined;
  let downed = false;
  const diagnostics = async (o: { lines?: number; onlyTroubled?: boolean } = {}) =>
    formatSnapshots(await snapshotProject(project, o), masker);

  const down = async () => {
    if (downed) return;
    downed = true;
    await phase(`stack down ${project}`, async () => {
      try {
        if (environment) await environment.down({ removeVolumes: true, timeout: 10_000 });
        else throw new Error("no started environment");
      } catch (err) {
        if (environment)
          note(`testcontainers down failed (${(err as Error).message}); using the stack's compose module`);
        await composeDownProject({ project, stateDir, volumes: true, reporter: silentReporter }).catch((e: unknown) =>
          note(`compose down of ${project} failed: ${masker.mask((e as Error).message)}`),
        );
      }
      rmSync(stateDir, { recursive: true, force: true });
    });
  };

  const timeout = options.startupTimeoutMs ?? DEFAULT_STARTUP_MS;
  const watcher = new StartupWatcher(project, new Set(model.services.filter((s) => s.oneShot).map((s) => s.name)));
  watcher.start();
  try {
    environment = await phase("stack up", () => {
      const up = new DockerComposeEnvironment(configDir, COMPOSE_FILE)
        .withProjectName(project)
        .withEnvironmentFile(secretsFile)
        // Every long-running service has a compose healthcheck (a model rule); one-shots have exited by now
        // (compose starts their dependants only after they complete) and are not listed.
        .withDefaultWaitStrategy(Wait.forHealthCheck())
        .withStartupTimeout(timeout)
        .up();
      // When the watcher gives up first, testcontainers is still waiting: its late failure is ours to ignore,
      // and its late success is taken down by down() below (the project is removed either way).
      up.catch(() => undefined);
      return Promise.race([up, watcher.failure]);
    });
    await watcher.stop();
  } catch (err) {
    const seen = await watcher.stop();
    const now = await snapshotProject(project, { onlyTroubled: false }).catch(() => []);
    const byService = new Map(seen.map((s) => [s.service, s]));
    for (const s of now) byService.set(s.service, { ...byService.get(s.service), ...s });
    const detail = formatSnapshots([...byService.values()], masker);
    await down();
    throw new StackStartError(`the ${profile} stack did not come up healthy: ${masker.mask((err as Error).message)}`, {
      context: { project, timeoutS: Math.round(timeout / 1000) },
      diagnostics: detail,
      hint: "read the failing services' states and log tails above",
      cause: err,
    });
  }
  return {
    project,
    model,
    secrets,
    masker,
    images,
    gatewayUrl: `http://127.0.0.1:${ports.gateway}`,
    s3Url: `http://127.0.0.1:${ports.objectStore}`,
    configDir,
    diagnostics,
    down,
  };
}
