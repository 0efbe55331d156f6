// The deploy: preflight → apply → health → smoke, with diagnostics and rollback on failure. Exposed as one function
// so the lead's lab orchestration can chain it after lock, mirror and build.
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  DeployFailedError,
  ImageResolutionError,
  PreflightError,
  type PreflightProblem,
  StackError,
} from "../errors.js";
import { loadImageInputs, resolveImages } from "../images.js";
import { buildModel } from "../model/profiles.js";
import { S } from "../model/services.js";
import type { PortPlan, ProfileName, StackModel } from "../model/types.js";
import { renderAll } from "../render/index.js";
import { ensureSecrets, type Secrets } from "../secrets.js";
import { deploymentConnection, type StackConnection } from "../use/connection.js";
import { runSmokeJob, type SmokeJobResult } from "../use/smoke-job.js";
import { composeConfigHashes, composeDown, composeUp, type ProjectFiles } from "./compose-cli.js";
import { logTail, projectContainers } from "./docker.js";
import { type ServiceHealth, waitForHealth } from "./health.js";
import { preflight } from "./preflight.js";
import { maskingReporter, maskText, type Reporter, terminalReporter } from "./progress.js";
import { type SmokeResult, smoke } from "./smoke.js";
import {
  appendRecord,
  composeFileIn,
  ensureProjectRoot,
  lastSuccessful,
  type ProjectState,
  projectState,
  writeFiles,
} from "./state.js";

export interface DeployOptions {
  lockFile: string;
  buildReport: string;
  /** host[:port] of the private registry holding every digest. */
  privateRegistry: string;
  profile: ProfileName;
  /** The compose project name: one per deployment; containers are named after it, never fixed. */
  project: string;
  stateDir: string;
  ports?: Partial<PortPlan>;
  publicUrl?: string;
  gatewayBind?: "loopback" | "all";
  reporter?: Reporter;
  /** Multiplies every per-service health timeout (slow machines). */
  healthTimeoutFactor?: number;
  /** Smoke retries (attempts × delay bounds how long a check may take to pass). */
  smokeAttempts?: number;
  /** Deploy only these services and their dependencies (see ModelOptions.only). */
  only?: string[];
  /**
   * The functional smoke: a real reconstruction of a small synthetic set through the deployed stack (use/smoke-job.ts).
   * A failure counts as a failed smoke check: a changed deployment is rolled back. Off unless asked (the CLI turns it
   * on by default for the lab).
   */
  smokeJob?: boolean;
  /** Limit of the smoke job's DAG run (default 10 minutes). */
  smokeJobTimeoutMs?: number;
}

export interface ServiceSummary {
  service: string;
  image: string;
  state: string;
  change: "created" | "recreated" | "unchanged";
}

export interface DeploySummary {
  outcome: "deployed" | "unchanged";
  /** Whether `compose up` ran (false: every container already matched the configuration, nothing was touched). */
  applied: boolean;
  project: string;
  profile: ProfileName;
  services: ServiceSummary[];
  urls: Record<string, string>;
  smoke: SmokeResult[];
  /** The functional smoke's result (stages, timings, mesh, F-score, metrics), when it ran. */
  smokeJob?: SmokeJobResult;
  notes: string[];
  generatedConfig: string;
  secretsFile: string;
  generatedSecrets: number;
}

export function projectFiles(state: ProjectState, project: string): ProjectFiles {
  return { project, composeFile: composeFileIn(state.currentDir), envFile: state.secretsFile };
}

export function urlsOf(model: StackModel): Record<string, string> {
  const urls: Record<string, string> = { gateway: `${model.publicUrl}/` };
  for (const s of model.services) for (const r of s.routes) urls[r.title] = `${model.publicUrl}${r.prefix}`;
  if (model.services.some((s) => s.ports.some((p) => p.publish?.host === model.ports.objectStore)))
    urls["S3 API"] = `http://127.0.0.1:${model.ports.objectStore}`;
  return urls;
}

/** Why the smoke job cannot run on this model (a part of the stack), or undefined when it can. */
export function smokeJobBlocker(model: StackModel): string | undefined {
  const needed = [
    S.gateway,
    S.objectStore,
    S.airflowApi,
    S.airflowScheduler,
    S.airflowWorker,
    S.reconstruction,
    S.prometheus,
  ];
  const absent = needed.filter((n) => !model.services.some((s) => s.name === n));
  return absent.length ? `the deployed part of the stack lacks ${absent.join(", ")}` : undefined;
}

/** The deployed stack as a client sees it: loopback ports of this model, the deployment's credentials. */
function connectionOf(model: StackModel, secrets: Secrets, images: Map<string, string>): StackConnection {
  return deploymentConnection({
    model,
    secrets,
    gatewayUrl: `http://127.0.0.1:${model.ports.gateway}`,
    s3Endpoint: `http://127.0.0.1:${model.ports.objectStore}`,
    reconstructionImage: images.get(S.reconstruction),
  });
}

async function applyAndVerify(
  model: StackModel,
  files: ProjectFiles,
  secrets: Secrets,
  reporter: Reporter,
  options: DeployOptions,
  job?: { images: Map<string, string>; cacheDir: string },
): Promise<{
  health: ServiceHealth[];
  smoke: SmokeResult[];
  smokeJob?: SmokeJobResult;
  applied: boolean;
  upFailed?: string;
}> {
  const upToDate = await alreadyUpToDate(model, files);
  reporter.step(
    `apply: ${upToDate ? "nothing changed, compose up not needed" : "compose up"} (project ${files.project})`,
  );
  const up = upToDate
    ? { code: 0, stdout: "", stderr: "" }
    : await composeUp(files, (line) => reporter.info(`compose: ${line.trim()}`));
  reporter.step("health: waiting for every service");
  const health = await waitForHealth(model, files.project, reporter, {
    ...(options.healthTimeoutFactor ? { timeoutFactor: options.healthTimeoutFactor } : {}),
  });
  const upFailed =
    up.code !== 0 ? `compose up exited ${up.code}: ${up.stderr.trim().split("\n").slice(-3).join(" | ")}` : undefined;
  if (upFailed || health.some((h) => !h.ok))
    return { health, smoke: [], applied: !upToDate, ...(upFailed ? { upFailed } : {}) };
  reporter.step("smoke: checking the running stack");
  const results = await smoke(model, files.project, secrets, reporter, {
    ...(options.smokeAttempts ? { attempts: options.smokeAttempts } : {}),
  });
  if (!job || results.some((r) => !r.ok)) return { health, smoke: results, applied: !upToDate };
  reporter.step("smoke job: a real reconstruction through the stack");
  const smokeJob = await runSmokeJob({
    connection: connectionOf(model, secrets, job.images),
    reporter,
    cacheDir: job.cacheDir,
    ...(options.smokeJobTimeoutMs ? { timeoutMs: options.smokeJobTimeoutMs } : {}),
  });
  const check: SmokeResult = { check: "reconstruction job", ok: smokeJob.ok, detail: smokeJob.detail };
  reporter.info(`${check.ok ? "ok  " : "FAIL"} ${check.check}: ${check.detail}`);
  return { health, smoke: [...results, check], smokeJob, applied: !upToDate };
}

/**
 * True when every service already runs from exactly the configuration compose would create now, long-running ones
 * healthy and one-shots completed: then deploy does not call `up` at all, so an unchanged redeploy does not even re-run
 * the one-shot init. Any doubt (compose v1, a missing or different container) means false, and `up` decides.
 */
async function alreadyUpToDate(model: StackModel, files: ProjectFiles): Promise<boolean> {
  const hashes = await composeConfigHashes(files);
  if (!hashes) return false;
  const containers = await projectContainers(files.project);
  if (containers.length !== model.services.length) return false;
  return model.services.every((s) => {
    const c = containers.find((x) => x.service === s.name);
    if (!c || !hashes.get(s.name) || c.configHash !== hashes.get(s.name)) return false;
    return s.oneShot ? c.status === "exited" && c.exitCode === 0 : c.status === "running" && c.health === "healthy";
  });
}

async function describeFailures(health: ServiceHealth[], reporter: Reporter): Promise<string> {
  const lines: string[] = [];
  for (const h of health.filter((x) => !x.ok && x.state !== "pending")) {
    lines.push(`${h.service}: ${h.state}${h.reason ? ` — ${h.reason}` : ""}`);
    if (h.containerId) {
      const logs = await logTail(h.containerId, 25);
      lines.push(...logs.split("\n").map((l) => `    | ${l}`));
    }
  }
  const text = lines.join("\n");
  if (text) reporter.warn(`failing services:\n${text}`);
  return text;
}

export async function deploy(options: DeployOptions): Promise<DeploySummary> {
  let reporter = options.reporter ?? terminalReporter();
  const model = buildModel({
    profile: options.profile,
    ...(options.ports ? { ports: options.ports } : {}),
    ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
    ...(options.gatewayBind ? { gatewayBind: options.gatewayBind } : {}),
    ...(options.only ? { only: options.only } : {}),
  });
  const state = projectState(options.stateDir, options.project);

  // Resolution problems join the preflight list rather than stopping before it.
  const earlier: PreflightProblem[] = [];
  let images = new Map<string, string>();
  try {
    images = resolveImages(
      model,
      await loadImageInputs(options.lockFile, options.buildReport, options.privateRegistry),
    );
  } catch (err) {
    if (!(err instanceof ImageResolutionError)) throw err;
    earlier.push({
      check: "image",
      subject: "resolution",
      message: err.message,
      ...(err.hint ? { hint: err.hint } : {}),
    });
  }
  const rendered = images.size === model.services.length ? renderAll(model, images) : new Map<string, string>();
  const problems = await preflight({
    model,
    project: options.project,
    images,
    files: rendered,
    state,
    reporter,
    earlier,
  });
  if (problems.length > 0) throw new PreflightError(problems);

  reporter.step("secrets and generated configuration");
  ensureProjectRoot(state);
  const { secrets, generated } = ensureSecrets(state.secretsFile);
  const secretValues = Object.values(secrets);
  reporter = maskingReporter(reporter, secretValues);
  reporter.info(
    generated.length ? `generated ${generated.length} secret(s) in ${state.secretsFile}` : "secrets reused",
  );
  const before = new Map((await projectContainers(options.project)).map((c) => [c.service, c.id]));
  writeFiles(state.currentDir, rendered);
  const files = projectFiles(state, options.project);
  const previous = lastSuccessful(state);
  const id = new Date().toISOString();

  const blocker = options.smokeJob ? smokeJobBlocker(model) : undefined;
  if (blocker) reporter.warn(`smoke job skipped: ${blocker}`);
  const job = options.smokeJob && !blocker ? { images, cacheDir: join(state.root, "smoke-job") } : undefined;
  const attempt = await applyAndVerify(model, files, secrets, reporter, options, job);
  const failedSmoke = attempt.smoke.filter((s) => !s.ok);
  if (!attempt.upFailed && attempt.health.every((h) => h.ok) && failedSmoke.length === 0) {
    const after = await projectContainers(options.project);
    const services: ServiceSummary[] = model.services.map((s) => {
      const c = after.find((x) => x.service === s.name);
      const was = before.get(s.name);
      return {
        service: s.name,
        image: images.get(s.name)!,
        state: attempt.health.find((h) => h.service === s.name)?.state ?? "?",
        change: !was ? "created" : was === c?.id ? "unchanged" : "recreated",
      };
    });
    appendRecord(state, {
      id,
      at: id,
      profile: model.profile,
      images: Object.fromEntries(images),
      outcome: "succeeded",
    });
    return {
      outcome: services.every((s) => s.change === "unchanged") ? "unchanged" : "deployed",
      applied: attempt.applied,
      project: options.project,
      profile: model.profile,
      services,
      urls: urlsOf(model),
      smoke: attempt.smoke,
      ...(attempt.smokeJob ? { smokeJob: attempt.smokeJob } : {}),
      notes: blocker ? [...model.notes, `smoke job skipped (${blocker})`] : model.notes,
      generatedConfig: state.currentDir,
      secretsFile: state.secretsFile,
      generatedSecrets: generated.length,
    };
  }

  // Failure: say what failed and why, then roll back to the previous deployment's images if there is one.
  const why = maskText(
    [
      attempt.upFailed,
      await describeFailures(attempt.health, reporter),
      ...failedSmoke.map((s) => `smoke ${s.check}: ${s.detail}`),
      attempt.smokeJob?.logTail
        ? `smoke job log tail (${attempt.smokeJob.failedStage}):\n${attempt.smokeJob.logTail}`
        : "",
    ]
      .filter(Boolean)
      .join("\n"),
    secretValues,
  );
  appendRecord(state, {
    id,
    at: id,
    profile: model.profile,
    images: Object.fromEntries(images),
    outcome: "failed",
    note: why.slice(0, 2000),
  });
  const changed = previous && Object.entries(previous.images).some(([s, ref]) => images.get(s) !== ref);
  if (!previous || !changed) {
    throw new DeployFailedError(
      previous
        ? "deploy failed, and the previous deployment used these same images: nothing to roll back to"
        : "deploy failed on the first deployment of this project: there is no previous deployment to roll back to",
      {
        context: { project: options.project, generatedConfig: state.currentDir },
        logTail: why,
        hint: `the failed stack is left running for inspection (docker compose -p ${options.project} ps); fix the cause and deploy again, or remove it with --down`,
      },
    );
  }
  reporter.step(`rollback: to the images of the deployment of ${previous.at}`);
  const rollbackImages = new Map(model.services.map((s) => [s.name, previous.images[s.name] ?? images.get(s.name)!]));
  writeFiles(state.currentDir, renderAll(model, rollbackImages));
  // The rollback is verified by health and the smoke checks; the smoke job is not run again (it proved nothing
  // about the old images before either, and doubling its minutes would only delay the restored stack).
  const rollback = await applyAndVerify(model, files, secrets, reporter, options);
  const rolledBack = !rollback.upFailed && rollback.health.every((h) => h.ok) && rollback.smoke.every((s) => s.ok);
  if (rolledBack) {
    appendRecord(state, {
      id: new Date().toISOString(),
      at: new Date().toISOString(),
      profile: model.profile,
      images: previous.images,
      outcome: "rolled-back-to",
    });
  }
  throw new DeployFailedError(
    rolledBack
      ? `deploy failed; rolled back to the deployment of ${previous.at}, which is healthy again`
      : `deploy failed, and the rollback to the deployment of ${previous.at} failed too: the stack is NOT healthy`,
    {
      context: { project: options.project, rolledBack },
      logTail: why,
      hint: rolledBack
        ? "fix the failing service (see above) and deploy again"
        : `inspect with docker compose -p ${options.project} ps / logs; the generated files are in ${state.currentDir}`,
    },
  );
}

export interface DownOptions {
  project: string;
  stateDir: string;
  volumes: boolean;
  reporter?: Reporter;
}

/** Stops and removes the project's containers; named volumes stay unless `volumes` is set. */
export async function down(options: DownOptions): Promise<{ removedContainers: number; volumesRemoved: boolean }> {
  const reporter = options.reporter ?? terminalReporter();
  const state = projectState(options.stateDir, options.project);
  const count = (await projectContainers(options.project)).length;
  const files = projectFiles(state, options.project);
  if (!existsSync(files.composeFile) || !existsSync(files.envFile)) {
    if (count === 0) return { removedContainers: 0, volumesRemoved: false };
    throw new StackError(
      `project ${options.project} has ${count} container(s) but no deployment files in ${state.root}`,
      {
        hint: `it was not deployed from this state dir: pass the right --state-dir, or remove it with docker compose -p ${options.project} down`,
      },
    );
  }
  reporter.step(`down: project ${options.project} (${count} containers${options.volumes ? ", and its volumes" : ""})`);
  await composeDown(files, options.volumes, (l) => reporter.info(`compose: ${l.trim()}`));
  return { removedContainers: count, volumesRemoved: options.volumes };
}
