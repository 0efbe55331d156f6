// One reconstruction through a deployed stack, as a user (pipelines/reconstruct.ts) or the deploy's smoke job runs it:
// upload the images to the input bucket, trigger the reconstruction DAG through the gateway's Airflow API, follow it
// (the DAG run and its tasks from Airflow, the job's stage and progress from the reconstruction API), then fetch and
// check the mesh. Runs are keyed: the same key finds the same run again instead of starting a second job.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";
import type { Reporter } from "../deploy/progress.js";
import { RECONSTRUCTION_DAG_ID } from "../model/services.js";
import { AirflowApiError, AirflowClient, type DagRun, type TaskInstance } from "./airflow.js";
import type { StackConnection } from "./connection.js";
import { RunFailedError, UseError } from "./errors.js";
import { checkPlyMesh, type MeshInfo } from "./mesh.js";
import { describeFetchError, getObject, headObject, listObjects, parseS3Uri, putObject } from "./s3.js";

/** The DAG's tasks in order (packages/airflow-dags dags/e2e3d_reconstruction.py). */
export const DAG_TASKS = ["validate_input", "submit_job", "wait_for_job", "verify_outputs", "publish_summary"] as const;

export interface UploadImage {
  path: string;
  name: string;
  bytes: number;
  md5: string;
  type: "jpeg" | "png";
}

export interface RunRequest {
  connection: StackConnection;
  images: UploadImage[];
  /** The run's identity: the DAG run id and the output prefix are made from it (letters, digits, . _ -). */
  key: string;
  /** The input prefix's name (default: the key): the images' identity, so other options reuse the upload. */
  inputKey?: string;
  /** Where in the buckets: s3://<input>/<area>/<inputKey>/ and s3://<output>/<area>/<key>/. */
  area: string;
  /** Job options, passed to the DAG (and the reconstruction API) unchanged. */
  options?: Record<string, unknown>;
  /** Look for an earlier run with this key first (the user command); false: always a new run (the smoke job). */
  reuse: boolean;
  reporter: Reporter;
  timeoutMs?: number;
  pollMs?: number;
}

export interface RunOutcome {
  runId: string;
  /** 1 for the first run of a key; a failed run is retried under <key>-a2, -a3... */
  attempt: number;
  /** An earlier run with this key was found (and followed or reused) instead of starting one. */
  reused: boolean;
  input: string;
  output: string;
  jobId: string | undefined;
  uploaded: number;
  alreadyUploaded: number;
  seconds: { upload: number; run: number };
}

const Job = z.object({
  id: z.string(),
  state: z.string(),
  stage: z.string().nullable().optional(),
  progress: z.number().nullable().optional(),
  message: z.string().nullable().optional(),
  error: z.record(z.string(), z.string()).nullable().optional(),
});
export type Job = z.infer<typeof Job>;

const RUN_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const runIdOf = (key: string, attempt: number) => (attempt === 1 ? key : `${key}-a${attempt}`);

/** GET /api/v1/jobs/{id} through the gateway (the reconstruction API). */
export async function getJob(gatewayUrl: string, id: string): Promise<Job> {
  let response: Response;
  try {
    response = await fetch(`${gatewayUrl}/api/v1/jobs/${encodeURIComponent(id)}`, {
      signal: AbortSignal.timeout(20_000),
    });
  } catch (err) {
    throw new UseError(`the reconstruction API at ${gatewayUrl}/api does not answer (${describeFetchError(err)})`);
  }
  const text = await response.text();
  if (response.status !== 200)
    throw new UseError(`the reconstruction API answered HTTP ${response.status} for job ${id}`, {
      context: { body: text.slice(0, 200) },
    });
  return Job.parse(JSON.parse(text));
}

/** Uploads what the input prefix does not already hold (same name, size and MD5 ETag): a rerun uploads nothing. */
async function upload(
  request: RunRequest,
  bucket: string,
  prefix: string,
): Promise<{ uploaded: number; kept: number }> {
  const { connection, images, reporter } = request;
  const total = images.reduce((s, i) => s + i.bytes, 0);
  const every = Math.max(1, Math.ceil(images.length / 5));
  let uploaded = 0;
  let kept = 0;
  let bytes = 0;
  for (const [n, image] of images.entries()) {
    const key = `${prefix}${image.name}`;
    const there = await headObject(connection.s3, bucket, key);
    // A multipart ETag ("<md5>-<parts>") is not the content's MD5: size alone decides then.
    const same = there && there.size === image.bytes && (there.etag === image.md5 || there.etag.includes("-"));
    if (same) kept += 1;
    else {
      await putObject(
        connection.s3,
        bucket,
        key,
        readFileSync(image.path),
        image.type === "png" ? "image/png" : "image/jpeg",
      );
      uploaded += 1;
    }
    bytes += image.bytes;
    if ((n + 1) % every === 0 || n + 1 === images.length)
      reporter.info(
        `upload ${n + 1}/${images.length} (${(bytes / 2 ** 20).toFixed(1)} of ${(total / 2 ** 20).toFixed(1)} MiB; ${kept} already there)`,
      );
  }
  return { uploaded, kept };
}

/** Whether a finished run's outputs are still there (_SUCCESS is written last): without them a rerun must not stop at it. */
async function outputsKept(request: RunRequest, output: string): Promise<boolean> {
  const { bucket, prefix } = parseS3Uri(output);
  return (await headObject(request.connection.s3, bucket, `${prefix}_SUCCESS`)) !== undefined;
}

/** The run to follow: an earlier one with this key (unless it failed, or succeeded but its outputs are gone), or a new one. */
async function startOrFind(
  airflow: AirflowClient,
  request: RunRequest,
  conf: { output: string } & Record<string, unknown>,
): Promise<{ run: DagRun; attempt: number; reused: boolean }> {
  let attempt = 1;
  if (request.reuse) {
    for (;;) {
      const found = await airflow.findDagRun(RECONSTRUCTION_DAG_ID, runIdOf(request.key, attempt));
      if (!found) break;
      if (found.state !== "failed" && (found.state !== "success" || (await outputsKept(request, conf.output)))) {
        request.reporter.info(`found run ${found.dag_run_id} (${found.state}) for this image set: no new job`);
        return { run: found, attempt, reused: true };
      }
      request.reporter.info(
        found.state === "failed"
          ? `run ${found.dag_run_id} for this image set failed earlier; starting another attempt`
          : `run ${found.dag_run_id} for this image set succeeded, but its outputs are gone from ${conf.output}; starting another attempt`,
      );
      attempt += 1;
    }
  }
  const runId = runIdOf(request.key, attempt);
  try {
    const run = await airflow.triggerDagRun(RECONSTRUCTION_DAG_ID, conf, runId);
    request.reporter.info(`triggered ${RECONSTRUCTION_DAG_ID} run ${run.dag_run_id} (${run.state})`);
    return { run, attempt, reused: false };
  } catch (err) {
    // Someone else (a concurrent rerun) triggered the same run id first: follow theirs.
    if (err instanceof AirflowApiError && err.status === 409)
      return { run: await airflow.dagRun(RECONSTRUCTION_DAG_ID, runId), attempt, reused: true };
    if (err instanceof AirflowApiError && err.status === 404)
      throw new RunFailedError("trigger", `the stack has no DAG ${RECONSTRUCTION_DAG_ID}`, {
        hint: "the Airflow image lacks the DAGs, or the DAG processor has not parsed them yet: npx tsx pipelines/deploy.ts --status",
        cause: err,
      });
    throw err;
  }
}

const describeTasks = (tasks: TaskInstance[]) =>
  DAG_TASKS.map((id) => {
    const t = tasks.find((x) => x.task_id === id);
    return `${id}=${t?.state ?? "none"}${t && t.try_number > 1 ? `#${t.try_number}` : ""}`;
  }).join(" ");

const describeJob = (job: Job | undefined) =>
  job
    ? `job ${job.state}${job.stage ? ` ${job.stage}` : ""}${job.progress ? ` ${Math.round(job.progress * 100)}%` : ""}${job.message ? ` (${job.message})` : ""}`
    : "job not submitted yet";

/** The stage that failed, its message and its log tail (the failed task's last try; the job's error). */
async function failure(
  airflow: AirflowClient,
  run: DagRun,
  tasks: TaskInstance[],
  job: Job | undefined,
): Promise<RunFailedError> {
  const failed = DAG_TASKS.map((id) => tasks.find((t) => t.task_id === id)).find(
    (t) => t && (t.state === "failed" || t.state === "up_for_retry"),
  );
  let logTail = "";
  if (failed && failed.try_number > 0) {
    logTail = await airflow
      .taskLog(RECONSTRUCTION_DAG_ID, run.dag_run_id, failed.task_id, failed.try_number)
      .then((log) => log.trimEnd().split("\n").slice(-25).join("\n"))
      .catch((e: unknown) => `(no log: ${(e as Error).message})`);
  }
  const jobFailed = job && (job.state === "failed" || job.state === "cancelled");
  const stage = jobFailed ? `reconstruction ${job.stage ?? job.state}` : `task ${failed?.task_id ?? "unknown"}`;
  const why = jobFailed
    ? `the reconstruction job ${job.id} ${job.state}${job.stage ? ` in stage ${job.stage}` : ""}: ${job.error?.["message"] ?? job.message ?? "no reason given"}`
    : `DAG run ${run.dag_run_id} ${run.state} at task ${failed?.task_id ?? "(none failed: see the run in Airflow)"}`;
  return new RunFailedError(stage, why, {
    context: {
      run: run.dag_run_id,
      tasks: describeTasks(tasks),
      ...(job ? { job: job.id } : {}),
      ...(job?.error?.["code"] ? { reason: job.error["code"] } : {}),
    },
    logTail,
    hint: jobFailed
      ? "the images may not overlap enough or lack texture; see the reason above and the job's report.json in the output bucket"
      : `read the task's log above; the run is in Airflow under ${RECONSTRUCTION_DAG_ID} / ${run.dag_run_id}`,
  });
}

/** Upload, trigger (or find), and follow one run to its end. Throws RunFailedError naming the failed stage. */
export async function runReconstruction(request: RunRequest): Promise<RunOutcome> {
  for (const key of [request.key, request.inputKey ?? request.key])
    if (!RUN_KEY.test(key)) throw new UseError(`bad run key ${key}: letters, digits, ".", "_" and "-" only`);
  const { connection, reporter } = request;
  const bucket = connection.buckets;
  const prefix = `${request.area}/${request.inputKey ?? request.key}/`;
  const input = `s3://${bucket.input}/${prefix}`;
  const output = `s3://${bucket.output}/${request.area}/${request.key}/`;
  const airflow = new AirflowClient(connection.airflow);

  reporter.step(`connect: Airflow at ${connection.airflow.baseUrl}`);
  await airflow.login();

  reporter.step(`upload: ${request.images.length} image(s) to ${input}`);
  const uploadStarted = Date.now();
  const sent = await upload(request, bucket.input, prefix).catch((err: unknown) => {
    throw new RunFailedError("upload", `the upload to ${input} failed: ${(err as Error).message}`, {
      context: { endpoint: connection.s3.endpoint },
      ...(err instanceof UseError && err.hint ? { hint: err.hint } : {}),
      cause: err,
    });
  });
  const uploadS = (Date.now() - uploadStarted) / 1000;

  reporter.step(`run: ${RECONSTRUCTION_DAG_ID}`);
  const runStarted = Date.now();
  const conf = {
    input,
    output,
    options: request.options ?? {},
    // The deferred wait polls the job this often (the DAG's default, 10 s, is a lot of a small job).
    poll_interval_seconds: 3,
  };
  const { run: started, attempt, reused } = await startOrFind(airflow, request, conf);
  const runId = started.dag_run_id;
  const timeoutMs = request.timeoutMs ?? 60 * 60_000;
  const pollMs = request.pollMs ?? 3000;
  let jobId: string | undefined;
  let job: Job | undefined;
  let last = "";
  let lastPrinted = 0;
  for (;;) {
    const run = await airflow.dagRun(RECONSTRUCTION_DAG_ID, runId);
    const tasks = await airflow.taskInstances(RECONSTRUCTION_DAG_ID, runId).catch(() => [] as TaskInstance[]);
    if (!jobId && tasks.some((t) => t.task_id === "submit_job" && t.state === "success"))
      jobId = (
        await airflow
          .xcom<{ id?: string }>(RECONSTRUCTION_DAG_ID, runId, "submit_job")
          .catch(() => ({}) as { id?: string })
      ).id;
    if (jobId) job = await getJob(connection.gatewayUrl, jobId).catch(() => job);
    const line = `DAG run ${run.state}; ${describeTasks(tasks)}; ${describeJob(job)}`;
    // A line when the run, a task, the job's state or stage changes, or its progress passes a tenth; else every 30 s.
    const key = `${run.state} ${describeTasks(tasks)} ${job?.state} ${job?.stage} ${Math.floor((job?.progress ?? 0) * 10)}`;
    if (key !== last || Date.now() - lastPrinted > 30_000) {
      reporter.info(line);
      last = key;
      lastPrinted = Date.now();
    }
    if (run.state === "success") break;
    if (run.state === "failed") throw await failure(airflow, run, tasks, job);
    if (Date.now() - runStarted > timeoutMs) {
      const where = run.state === "queued" ? "the run is still queued (is the scheduler running?)" : line;
      throw new RunFailedError(
        job?.stage
          ? `reconstruction ${job.stage}`
          : `task ${tasks.find((t) => t.state === "running" || t.state === "deferred")?.task_id ?? "queue"}`,
        `DAG run ${runId} did not finish within ${Math.round(timeoutMs / 1000)} s: ${where}`,
        {
          context: { run: runId, ...(jobId ? { job: jobId } : {}) },
          hint: "the run goes on in the stack; follow it in Airflow, or rerun this command later: it finds the same run",
        },
      );
    }
    await sleep(pollMs);
  }
  return {
    runId,
    attempt,
    reused,
    input,
    output,
    jobId,
    uploaded: sent.uploaded,
    alreadyUploaded: sent.kept,
    seconds: { upload: uploadS, run: (Date.now() - runStarted) / 1000 },
  };
}

export interface FetchedOutputs {
  /** Where each downloaded output lies (mesh.ply, cameras.json, report.json). */
  files: { mesh: string; cameras: string; report: string };
  /** Every object under the output prefix (names relative to it). */
  names: string[];
  report: Record<string, unknown>;
  mesh: MeshInfo;
}

/**
 * Fetches a finished run's mesh, cameras and report from the output bucket into `dir` (the mesh to `meshFile` when
 * given) and checks the mesh is a valid, non-empty mesh.
 */
export async function fetchMesh(
  connection: StackConnection,
  outputUri: string,
  dir: string,
  meshFile?: string,
): Promise<FetchedOutputs> {
  const { bucket, prefix } = parseS3Uri(outputUri);
  const listed = await listObjects(connection.s3, bucket, prefix);
  const names = listed.map((o) => o.key.slice(prefix.length));
  for (const needed of ["_SUCCESS", "mesh.ply", "cameras.json", "report.json"])
    if (!names.includes(needed))
      throw new RunFailedError("fetch", `the run's outputs at ${outputUri} lack ${needed}`, {
        context: { found: names.join(", ") || "nothing" },
        hint: "the job did not finish writing its outputs (_SUCCESS is written last); run it again",
      });
  mkdirSync(dir, { recursive: true });
  const files = {
    mesh: meshFile ?? join(dir, "mesh.ply"),
    cameras: join(dir, "cameras.json"),
    report: join(dir, "report.json"),
  };
  const mesh = await getObject(connection.s3, bucket, `${prefix}mesh.ply`);
  const info = checkPlyMesh(mesh, `${outputUri}mesh.ply`);
  mkdirSync(dirname(files.mesh), { recursive: true });
  writeFileSync(files.mesh, mesh);
  writeFileSync(files.cameras, await getObject(connection.s3, bucket, `${prefix}cameras.json`));
  const reportBytes = await getObject(connection.s3, bucket, `${prefix}report.json`);
  writeFileSync(files.report, reportBytes);
  return { files, names, report: JSON.parse(reportBytes.toString("utf8")) as Record<string, unknown>, mesh: info };
}
