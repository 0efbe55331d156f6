// The whole lab profile, deployed from the lab's real lock and the build report: every service healthy, every smoke
// check passing (gateway routes, reconstruction /readyz, buckets, Airflow health and DAG, Prometheus targets) and the
// functional smoke job (a real reconstruction of a synthetic set, scored, its metrics seen in Prometheus); then that
// same stack used the way a user does (pipelines/reconstruct.ts: a folder in, the mesh and its quality out, a rerun
// that starts no second job; a failing run naming its stage; a stack that is not running or does not answer); then a
// second deploy that changes nothing. One stack for all of it (two cores, 24 GiB). It needs every image: it skips,
// saying which are missing, until they exist.
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, expect, it } from "vitest";
import { describeUnless } from "../../../tools/skips/src/skip.js";
import { projectContainers } from "../src/deploy/docker.js";
import {
  AirflowClient,
  connectionFromDeployment,
  connectionFromEnv,
  type DeployOptions,
  deploy,
  down,
  ensureSecrets,
  generateSyntheticSet,
  headObject,
  parseS3Uri,
  RECONSTRUCTION_DAG_ID,
  RunFailedError,
  reconstructFolder,
  runReconstruction,
  SMOKE_MIN_FSCORE_AT_2PCT,
  SMOKE_OPTIONS,
  SMOKE_VIEWS,
  type StackConnection,
  s3Request,
  silentReporter,
  terminalReporter,
  UseError,
  validateImageFolder,
} from "../src/index.js";
import { LAB_LOCK, PRIVATE, uniqueProject } from "./lab.js";

const REPORT = resolve(
  process.env["E2E3D_BUILD_REPORT"] ?? join(import.meta.dirname, "..", "..", "..", "reports", "build.json"),
);
const NEEDED = ["reconstruction", "airflow"];

function missing(): string | undefined {
  if (!existsSync(LAB_LOCK)) return `no lab lock at ${LAB_LOCK} (run the lab and the lock pipeline)`;
  if (!existsSync(REPORT)) return `no build report at ${REPORT} (run the build pipeline)`;
  const report = JSON.parse(readFileSync(REPORT, "utf8")) as { images?: Array<{ name: string }> };
  const absent = NEEDED.filter((n) => !report.images?.some((i) => i.name === n));
  return absent.length ? `the build report lacks ${absent.join(", ")}` : undefined;
}

const reason = missing();

const freePort = () =>
  new Promise<number>((done) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => done(port));
    });
  });

// Unique per run (PIDs wrap): a stack left by a killed earlier run must not be taken for this one.
const project = uniqueProject("e2e3d-full");
const stateDir = mkdtempSync(join(tmpdir(), "e2e3d-full-"));
const work = mkdtempSync(join(tmpdir(), "e2e3d-full-use-"));
afterAll(async () => {
  if (!reason) await down({ project, stateDir, volumes: true, reporter: silentReporter }).catch(() => undefined);
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

const verbose = Boolean(process.env["E2E3D_TEST_VERBOSE"]);
const RECONSTRUCT = join(import.meta.dirname, "..", "..", "..", "pipelines", "reconstruct.ts");

/** pipelines/reconstruct.ts as a user runs it (asynchronously: a run takes minutes, the worker must stay responsive). */
function reconstructCli(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    const child = spawn(process.execPath, ["--import", "tsx", RECONSTRUCT, ...args], {
      env: { ...process.env, E2E3D_GATEWAY_URL: "", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString("utf8");
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString("utf8");
      if (verbose) process.stderr.write(c);
    });
    child.on("close", (code) => done({ code: code ?? 1, stdout, stderr }));
  });
}

/** A loopback port nothing listens on (bound, then released). */
const closedPort = freePort;

const readdirNames = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);

// Above deploy's own limits (each service's health timeout × healthTimeoutFactor, then the smoke retries), so a slow
// start fails with deploy's message naming the service, never with vitest's bare timeout while deploy still runs.
const DEPLOY_TEST_MS = 40 * 60_000;

describeUnless(reason)("full lab stack", () => {
  let options: DeployOptions | undefined;

  let connection: StackConnection | undefined;
  let set = "";
  const up = (): StackConnection => {
    if (!connection) throw new Error("the first deploy did not finish: no stack to use");
    return connection;
  };

  it("deploys every service healthy and passes every smoke check, the smoke job included", {
    timeout: DEPLOY_TEST_MS,
  }, async () => {
    options = {
      lockFile: LAB_LOCK,
      buildReport: REPORT,
      privateRegistry: PRIVATE,
      profile: "lab",
      project,
      stateDir,
      ports: { gateway: await freePort(), objectStore: await freePort() },
      reporter: verbose ? terminalReporter() : silentReporter,
      // Two cores for four Airflow processes: give the health checks room.
      healthTimeoutFactor: 3,
      smokeAttempts: 40,
    };
    const summary = await deploy({ ...options, smokeJob: true });
    expect(summary.services.every((s) => s.state === "healthy" || s.state === "completed")).toBe(true);
    const checks = summary.smoke.map((s) => s.check);
    for (const expected of [
      "reconstruction ready",
      "bucket e2e3d-input",
      "bucket e2e3d-output",
      "airflow api healthy",
      "dag e2e3d_reconstruction loaded",
      "prometheus targets up",
      "gateway /api/ → reconstruction",
      "gateway /airflow/ → airflow-api-server",
      "reconstruction job",
    ]) {
      expect(checks).toContain(expected);
    }
    expect(summary.smoke.filter((s) => !s.ok)).toEqual([]);
    const job = summary.smokeJob;
    expect(job, "the summary carries the smoke job's result").toBeDefined();
    expect(job!.ok, job!.detail).toBe(true);
    expect(job!.views).toBe(SMOKE_VIEWS);
    expect(job!.mesh!.faces).toBeGreaterThan(1000);
    expect(job!.fscoreAt2pct).toBeGreaterThanOrEqual(SMOKE_MIN_FSCORE_AT_2PCT);
    // A fresh stack: its counters start at nothing, so the job's own counts are exactly what moved.
    expect(job!.metrics).toEqual({ jobsSubmitted: 1, imagesProcessed: SMOKE_VIEWS });
    console.warn(`smoke job: ${job!.detail}; seconds ${JSON.stringify(job!.seconds)}`);
    connection = await connectionFromDeployment(stateDir, project);
    // The smoke job keeps its generated set (per reconstruction image) for the next deploy: the user tests take it.
    const cacheRoot = join(stateDir, project, "smoke-job");
    const cached = readdirNames(cacheRoot).find((n) => existsSync(join(cacheRoot, n, ".complete")));
    set = join(work, "set");
    if (cached) cpSync(join(cacheRoot, cached), set, { recursive: true });
    else await generateSyntheticSet(connection.reconstructionImage!, set, { views: SMOKE_VIEWS });
  });

  let first: { runId: string; jobId: string } | undefined;
  let firstOutput = "";

  it("reconstructs a folder with pipelines/reconstruct.ts: mesh written, quality printed, JSON", {
    timeout: 15 * 60_000,
  }, async () => {
    up();
    const out = join(work, "chair.ply");
    const r = await reconstructCli([
      join(set, "images"),
      "--out",
      out,
      "--ground-truth",
      set,
      "--options",
      JSON.stringify(SMOKE_OPTIONS),
      "--state-dir",
      stateDir,
      "--project",
      project,
      "--json",
    ]);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({
      ok: true,
      images: SMOKE_VIEWS,
      reused: false,
      attempt: 1,
      uploaded: SMOKE_VIEWS,
      alreadyUploaded: 0,
      mesh: { file: out },
      report: { registeredImages: SMOKE_VIEWS },
    });
    expect(existsSync(out)).toBe(true);
    expect(result.mesh.faces).toBeGreaterThan(1000);
    expect(result.quality.fscoreAt2pct).toBeGreaterThanOrEqual(SMOKE_MIN_FSCORE_AT_2PCT);
    // Progress (the DAG's tasks, the job's stage) and the short result go to stderr; no credential is printed.
    expect(r.stderr).toMatch(/DAG run \w+; validate_input=success/);
    expect(r.stderr).toMatch(/quality {2}F-score 0\.\d{3} at 2%/);
    for (const secret of up().secrets) expect(`${r.stdout}${r.stderr}`).not.toContain(secret);
    const job = (await (await fetch(`${up().gatewayUrl}/api/v1/jobs/${result.jobId}`)).json()) as { state: string };
    expect(job.state).toBe("succeeded");
    first = { runId: result.runId, jobId: result.jobId };
    firstOutput = result.output;
  });

  /** The same folder and options as the first run, as a user reruns it (the deployment found by its state dir). */
  const reconstructAgain = (meshFile: string) =>
    reconstructCli([
      join(set, "images"),
      "--out",
      join(work, meshFile),
      "--options",
      JSON.stringify(SMOKE_OPTIONS),
      "--state-dir",
      stateDir,
      "--json",
    ]);

  it("finds the same run when the same folder is given again: nothing uploaded, no second job", async () => {
    if (!first) throw new Error("the first run did not finish");
    const r = await reconstructAgain("again.ply");
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ reused: true, uploaded: 0, alreadyUploaded: SMOKE_VIEWS, ...first });
    expect(r.stderr).toContain(`found run ${first.runId} (success) for this image set: no new job`);
    const runs = await new AirflowClient(up().airflow).dagRuns(RECONSTRUCTION_DAG_ID);
    expect(runs.filter((run) => run.dag_run_id.startsWith(first!.runId)).map((run) => run.dag_run_id)).toEqual([
      first.runId,
    ]);
    const { jobs } = (await (await fetch(`${up().gatewayUrl}/api/v1/jobs`)).json()) as {
      jobs: Array<{ idempotency_key: string | null }>;
    };
    // The smoke job's and this run's: two jobs in all on this fresh stack.
    expect(jobs.filter((j) => j.idempotency_key === first!.runId)).toHaveLength(1);
    expect(jobs).toHaveLength(2);
  });

  it("starts another attempt when the run it finds succeeded but its outputs were removed since", {
    timeout: 15 * 60_000,
  }, async () => {
    if (!first) throw new Error("the first run did not finish");
    const { bucket, prefix } = parseS3Uri(firstOutput);
    await s3Request(up().s3, { method: "DELETE", bucket, key: `${prefix}_SUCCESS` });
    const r = await reconstructAgain("after-removal.ply");
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ reused: false, attempt: 2, runId: `${first.runId}-a2` });
    expect(r.stderr).toContain(`run ${first.runId} for this image set succeeded, but its outputs are gone`);
    expect(await headObject(up().s3, bucket, `${prefix}_SUCCESS`)).toBeDefined();
  });

  it("names the stage a failed run stopped at, with the task's log", { timeout: 10 * 60_000 }, async () => {
    const failed = await runReconstruction({
      connection: up(),
      images: validateImageFolder(join(set, "images")).images,
      key: `it-invalid-${Date.now().toString(36)}`,
      area: "it",
      // The API refuses it (max_image_size >= 64): a permanent 4xx, so submit_job fails without retrying.
      options: { max_image_size: 10 },
      reuse: false,
      reporter: silentReporter,
      timeoutMs: 8 * 60_000,
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failed).toBeInstanceOf(RunFailedError);
    const err = failed as RunFailedError;
    expect(err.stage).toBe("task submit_job");
    expect(err.message).toMatch(/DAG run it-invalid-\S+ failed at task submit_job/);
    expect(err.logTail).toMatch(/max_image_size/);
  });

  it("says when a deployment's stack is not running, or a stack does not answer (exit 1)", async () => {
    const state = join(work, "state");
    mkdirSync(join(state, "e2e3d-stopped"), { recursive: true });
    ensureSecrets(join(state, "e2e3d-stopped", "secrets.env"));
    writeFileSync(join(state, "e2e3d-stopped", "deployments.json"), "[]");
    const stopped = await reconstructCli([join(set, "images"), "--state-dir", state]);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/error: the stack e2e3d-stopped is not running: no running gateway and objectstore/);
    expect(stopped.stderr).toMatch(/fix: deploy it again/);
    const closed = `http://127.0.0.1:${await closedPort()}`;
    const nowhere = connectionFromEnv({
      E2E3D_GATEWAY_URL: closed,
      E2E3D_S3_ENDPOINT: closed,
      E2E3D_S3_ACCESS_KEY: "key",
      E2E3D_S3_SECRET_KEY: "secret-value-1234",
      E2E3D_AIRFLOW_PASSWORD: "secret-value-5678",
    });
    const result = reconstructFolder({ folder: join(set, "images"), connection: nowhere, reporter: silentReporter });
    await expect(result).rejects.toBeInstanceOf(UseError);
    await expect(result).rejects.toThrow(`Airflow at ${closed}/airflow does not answer (ECONNREFUSED)`);
  });

  it("changes nothing when deployed again", { timeout: DEPLOY_TEST_MS }, async () => {
    if (!options) throw new Error("the first deploy did not run: nothing to deploy again");
    const before = (await projectContainers(project)).map((c) => c.id).sort();
    const summary = await deploy(options);
    expect(summary.outcome).toBe("unchanged");
    // Outside the CLI's lab default the smoke job runs only when asked.
    expect(summary.smokeJob).toBeUndefined();
    expect((await projectContainers(project)).map((c) => c.id).sort()).toEqual(before);
  });
});
