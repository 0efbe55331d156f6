// The full stack, once, for three suites that share it (CI time is bounded): end-to-end (a real reconstruction through
// Airflow), security (credentials, ports, users, secrets), resilience (restarts and a killed worker; last, because it
// disturbs the stack). The stack is exactly what deploy runs: packages/stack's model and renderers, the images by
// digest from the lock and the build report. Every phase prints its time.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListBucketsCommand } from "@aws-sdk/client-s3";
import { BUCKETS, RECONSTRUCTION_DAG_ID, S, serviceTimeoutS } from "@e2e3d/stack";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  AirflowApiError,
  AirflowClient,
  captureOutput,
  describeRun,
  docker,
  evaluateReconstruction,
  type FinishedRun,
  fetchOutputs,
  formatTestkitError,
  fscoreAt,
  fullLogs,
  generateImageSet,
  type ImageSet,
  type JobOutputs,
  MIN_FSCORE_AT_2PCT,
  note,
  type ObjectStore,
  objectStore,
  phase,
  phaseTable,
  projectContainers,
  prometheusTargets,
  putObject,
  queryScalar,
  recordPhase,
  resolveStack,
  type StartedStack,
  serviceContainer,
  startStack,
  suiteInputs,
  triggerDag,
  until,
  uploadImageSet,
  waitForDag,
  waitForDagRun,
} from "../src/index.js";

const output = captureOutput();
const inputs = await suiteInputs();
const WATCH_DAG_ID = "e2e3d_input_watch";
const run = `it${Date.now().toString(36)}`;
const work = mkdtempSync(join(tmpdir(), "e2e3d-e2e-"));

let stack: StartedStack | undefined;
let store: ObjectStore;
let airflow: AirflowClient;
let set: ImageSet;
let setupError: unknown;
let submittedBefore = 0;

/** The stack, or the reason it is not there (so every test fails with the setup's error, not a TypeError). */
function up(): StartedStack {
  if (!stack) throw new Error(`the stack did not start: ${formatTestkitError(setupError)}`);
  return stack;
}

const gateway = (path: string, init?: RequestInit) =>
  fetch(`${up().gatewayUrl}${path}`, { redirect: "manual", signal: AbortSignal.timeout(20_000), ...init });

async function reconstructionApi<T>(path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const response = await gateway(`/api${path}`, init);
  return { status: response.status, body: (await response.json()) as T };
}

interface Job {
  id: string;
  state: string;
  input: string;
  output: string;
  idempotency_key: string | null;
  attempts?: number;
  message?: string;
  error?: unknown;
}

beforeAll(async () => {
  try {
    // The image set comes from the reconstruction image under test; generating it overlaps with the stack start.
    const { images } = await resolveStack({ ...inputs });
    const reconstructionImage = images.get(S.reconstruction)!;
    const [started, generated] = await Promise.allSettled([
      startStack({ ...inputs }),
      generateImageSet(reconstructionImage, join(work, "set")),
    ]);
    // A started stack is kept even when the set generation failed, so afterAll takes it down: no stack is left
    // running to slow down or break whatever runs next.
    if (started.status === "rejected") throw started.reason;
    stack = started.value;
    if (generated.status === "rejected") throw generated.reason;
    set = generated.value;
    store = objectStore(stack.s3Url, stack.secrets.objectstore_access_key, stack.secrets.objectstore_secret_key);
    const api = stack.model.services.find((s) => s.name === S.airflowApi)!;
    airflow = new AirflowClient({
      baseUrl: `${stack.gatewayUrl}/airflow`,
      username: api.environment["E2E3D_AIRFLOW_ADMIN_USER"]!,
      password: stack.secrets.airflow_admin_password,
    });
    await waitForDag(airflow, RECONSTRUCTION_DAG_ID);
    submittedBefore = await queryScalar(stack.gatewayUrl, "sum(e2e3d_jobs_submitted_total)");
  } catch (err) {
    setupError = err;
    console.error(formatTestkitError(err));
    throw err;
  }
}, 30 * 60_000);

afterEach(async (context) => {
  if (context.task.result?.state === "fail" && stack) {
    console.error(`${context.task.name} failed; the stack now:\n${await stack.diagnostics({ lines: 25 })}`);
  }
});

afterAll(async () => {
  console.error(`phase times:\n${phaseTable()}`);
  await stack?.down();
  rmSync(work, { recursive: true, force: true });
}, 10 * 60_000);

// ---------------------------------------------------------------------------------------------------------------
describe("end-to-end", () => {
  let finished: FinishedRun | undefined;
  let outputs: JobOutputs | undefined;
  let job: Job | undefined;

  it(
    "reconstructs the synthetic set through Airflow and the reconstruction service",
    async () => {
      const s = up();
      const input = await uploadImageSet(store, `s3://${BUCKETS.input}/${run}/e2e/`, set.images);
      const outputUri = `s3://${BUCKETS.output}/${run}/e2e/`;
      const runId = `${run}-e2e`;
      await triggerDag(airflow, RECONSTRUCTION_DAG_ID, { input, output: outputUri }, runId);
      // Within the test's own limit, so a stuck run fails with the run's task states rather than vitest's timeout.
      finished = await waitForDagRun(airflow, RECONSTRUCTION_DAG_ID, runId, { timeoutMs: 20 * 60_000 });
      if (finished.run.state !== "success") {
        throw new Error(s.masker.mask(await describeRun(airflow, RECONSTRUCTION_DAG_ID, finished)));
      }
      expect(finished.tasks.every((t) => t.state === "success")).toBe(true);

      const run_ = finished;
      await phase("assertions", async () => {
        const submitted = await airflow.xcom<{ id: string }>(RECONSTRUCTION_DAG_ID, runId, "submit_job");
        const answer = await reconstructionApi<Job>(`/v1/jobs/${submitted.id}`);
        expect(answer.status).toBe(200);
        job = answer.body;
        expect(job).toMatchObject({
          id: submitted.id,
          state: "succeeded",
          input,
          output: outputUri,
          idempotency_key: runId,
        });

        const downloaded = join(work, "outputs");
        outputs = await fetchOutputs(store, outputUri, { downloadTo: downloaded });
        expect(outputs.names).toEqual(expect.arrayContaining(["mesh.ply", "points.ply", "report.json", "_SUCCESS"]));
        expect(outputs.sizes["mesh.ply"]).toBeGreaterThan(10_000);
        expect(outputs.sizes["points.ply"]).toBeGreaterThan(10_000);
        expect(outputs.report).toMatchObject({
          status: "succeeded",
          job_id: submitted.id,
          input_images: set.images.length,
        });

        const quality = await evaluateReconstruction(s.images.get(S.reconstruction)!, set, downloaded);
        const f2 = fscoreAt(quality, 0.02);
        const reconstructionS = Number(outputs.report["total_seconds"] ?? Number.NaN);
        note(
          `F-score at 2% = ${f2.toFixed(3)} (threshold ${MIN_FSCORE_AT_2PCT}); DAG run ${run_.seconds.toFixed(0)}s, of which reconstruction ${reconstructionS.toFixed(0)}s (${JSON.stringify(outputs.report["stage_seconds"])})`,
        );
        recordPhase("reconstruction (the job's own report)", reconstructionS);
        recordPhase("DAG overhead (run minus reconstruction)", run_.seconds - reconstructionS);
        expect(f2).toBeGreaterThanOrEqual(MIN_FSCORE_AT_2PCT);
      });
    },
    25 * 60_000,
  );

  it("shows the job in Prometheus, with every scrape target up", async () => {
    const s = up();
    if (!job) throw new Error("no job: the reconstruction test did not get that far");
    const after = await until(
      "e2e3d_jobs_submitted_total to increase",
      async () => {
        const value = await queryScalar(s.gatewayUrl, "sum(e2e3d_jobs_submitted_total)");
        return value > submittedBefore ? { value, reason: "" } : { reason: `still ${value}` };
      },
      { timeoutMs: 120_000, intervalMs: 5000 },
    );
    expect(after).toBeGreaterThan(submittedBefore);
    // The job-state gauge reaches Prometheus on its own scrape, which may come after the one that saw the counter.
    const succeeded = await until(
      "a succeeded job in e2e3d_jobs",
      async () => {
        const value = await queryScalar(s.gatewayUrl, 'sum(e2e3d_jobs{state="succeeded"})');
        return value >= 1 ? { value, reason: "" } : { reason: `still ${value}` };
      },
      { timeoutMs: 120_000, intervalMs: 5000 },
    );
    expect(succeeded).toBeGreaterThanOrEqual(1);
    const targets = await until(
      "every Prometheus target up",
      async () => {
        const list = await prometheusTargets(s.gatewayUrl);
        const down = list.filter((t) => t.health !== "up");
        return list.length > 0 && down.length === 0
          ? { value: list, reason: "" }
          : { reason: down.map((t) => `${t.job}=${t.health} ${t.lastError}`).join(", ") || "no targets" };
      },
      { timeoutMs: 120_000, intervalMs: 5000 },
    );
    const metricsServices = s.model.services.filter((svc) => svc.metrics.length > 0).map((svc) => svc.name);
    expect(targets.map((t) => t.job).sort()).toEqual(expect.arrayContaining(metricsServices));
  });

  it("serves the API and the UIs through the gateway", async () => {
    const s = up();
    const landing = await gateway("/");
    expect([301, 302]).toContain(landing.status);
    expect(landing.headers.get("location")).toBe("/airflow/");
    for (const route of s.model.services.flatMap((svc) => svc.routes)) {
      const bare = await gateway(route.prefix.slice(0, -1));
      expect(bare.status, `${route.prefix} bare prefix`).toBe(301);
      expect(bare.headers.get("location")).toBe(route.prefix);
    }
    expect((await gateway("/api/readyz")).status).toBe(200);
    const jobs = await reconstructionApi<{ jobs: Job[] }>("/v1/jobs");
    expect(jobs.status).toBe(200);
    expect(jobs.body.jobs.some((j) => j.id === job?.id)).toBe(true);
    const airflowUi = await gateway("/airflow/", { redirect: "follow" });
    expect(airflowUi.status).toBe(200);
    expect(await airflowUi.text()).toMatch(/<html|<!doctype html/i);
    const prometheusUi = await gateway("/prometheus/graph", { redirect: "follow" });
    expect(prometheusUi.status).toBe(200);
    expect(await prometheusUi.text()).toMatch(/Prometheus/);
    if (!s.model.services.some((svc) => svc.name === S.grafana)) {
      note(
        `Grafana is not part of the ${s.model.profile} profile (${s.model.notes.find((n) => /Grafana/.test(n)) ?? "see the stack notes"}); its UI is not checked here`,
      );
      expect((await gateway("/grafana/")).status).toBe(404);
    } else {
      const grafana = await gateway("/grafana/api/health");
      expect(grafana.status).toBe(200);
    }
  });

  it(
    "reconstructs a set marked _READY through the upload-triggered DAG",
    async () => {
      const s = up();
      // The deployment's own watch configuration (the stack model sets the DAG's variables in the environment).
      const worker = s.model.services.find((svc) => svc.name === S.airflowWorker)!;
      const watchInput = worker.environment["AIRFLOW_VAR_E2E3D_WATCH_INPUT"];
      const watchOutput = worker.environment["AIRFLOW_VAR_E2E3D_WATCH_OUTPUT"];
      if (!watchInput || !watchOutput)
        throw new Error("the stack model sets no watch variables for the Airflow worker");
      const setUri = await uploadImageSet(store, `${watchInput}${run}-chair/`, set.images);
      await putObject(store, `${setUri}_READY`, "");
      await waitForDag(airflow, WATCH_DAG_ID);
      // The watch DAG runs every two minutes on its own; a manual run of the same DAG does not wait for the schedule.
      const watchRun = await triggerDag(airflow, WATCH_DAG_ID, {}, `${run}-watch`);
      const watched = await waitForDagRun(airflow, WATCH_DAG_ID, watchRun.dag_run_id, { timeoutMs: 10 * 60_000 });
      if (watched.run.state !== "success")
        throw new Error(s.masker.mask(await describeRun(airflow, WATCH_DAG_ID, watched)));
      const triggered = await until(
        "the watch DAG's reconstruction run",
        async () => {
          const runs = await airflow.dagRuns(RECONSTRUCTION_DAG_ID);
          const mine = runs.find((r) => r.dag_run_id.startsWith("s3_ready__") && r.conf?.["input"] === setUri);
          return mine ? { value: mine, reason: "" } : { reason: `${runs.length} runs, none for ${setUri}` };
        },
        { timeoutMs: 120_000, intervalMs: 5000 },
      );
      expect(triggered.conf?.["output"]).toBe(`${watchOutput}${run}-chair/`);
      const done = await waitForDagRun(airflow, RECONSTRUCTION_DAG_ID, triggered.dag_run_id, {
        timeoutMs: 15 * 60_000,
      });
      if (done.run.state !== "success")
        throw new Error(s.masker.mask(await describeRun(airflow, RECONSTRUCTION_DAG_ID, done)));
      const watchedOutputs = await fetchOutputs(store, `${watchOutput}${run}-chair/`);
      expect(watchedOutputs.names).toEqual(expect.arrayContaining(["mesh.ply", "report.json", "_SUCCESS"]));
    },
    // Above the sum of its waits (watch run 10, its trigger 2, the reconstruction 15 minutes).
    30 * 60_000,
  );
});

// ---------------------------------------------------------------------------------------------------------------
describe("security", () => {
  const DEFAULT_PAIRS: Array<[string, string]> = [
    ["minioadmin", "minioadmin"],
    ["admin", "admin"],
    ["airflow", "airflow"],
    ["admin", "password"],
    ["e2e3d-admin", "admin"],
    ["temporary_key", "temporary_key"],
  ];

  it("the object store refuses well-known default credentials (and accepts the generated ones)", async () => {
    const s = up();
    for (const [user, password] of DEFAULT_PAIRS) {
      const client = objectStore(s.s3Url, user, password).client;
      const error = await client.send(new ListBucketsCommand({})).then(
        () => undefined,
        (e: unknown) => e as { name?: string; $metadata?: { httpStatusCode?: number } },
      );
      expect(error, `${user}/${password} must be refused`).toBeDefined();
      expect(error?.$metadata?.httpStatusCode, `${user}/${password}`).toBe(403);
    }
    const buckets = await store.client.send(new ListBucketsCommand({}));
    expect(buckets.Buckets?.map((b) => b.Name)).toEqual(expect.arrayContaining([BUCKETS.input, BUCKETS.output]));
  });

  it("Airflow refuses well-known default credentials (and accepts the generated ones)", async () => {
    const s = up();
    for (const [username, password] of DEFAULT_PAIRS) {
      const response = await gateway("/airflow/auth/token", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username, password }),
      });
      expect(response.status, `${username}/${password} must be refused`).toBe(401);
    }
    expect(await airflow.login()).toMatch(/^ey/);
    if (!s.model.services.some((svc) => svc.name === S.grafana)) {
      note(`Grafana is absent from the ${s.model.profile} profile: its default credentials cannot be tried here`);
    } else {
      const grafana = await gateway("/grafana/api/user", {
        headers: { authorization: `Basic ${Buffer.from("admin:admin").toString("base64")}` },
      });
      expect(grafana.status).toBe(401);
    }
  });

  it("publishes nothing beyond loopback except the gateway", async () => {
    const s = up();
    const containers = await projectContainers(s.project);
    const bindings = containers.flatMap((c) => c.bindings.map((b) => ({ service: c.service, ...b })));
    expect(bindings.length).toBeGreaterThan(0);
    for (const b of bindings) {
      if (b.service === S.gateway) continue;
      expect(b.hostIp, `${b.service} publishes ${b.containerPort} on ${b.hostIp}:${b.hostPort}`).toBe("127.0.0.1");
    }
    const gatewayBindings = bindings.filter((b) => b.service === S.gateway).map((b) => b.hostIp);
    expect(gatewayBindings).toEqual([s.model.gatewayBind]);
  });

  it("runs every container as a non-root user", async () => {
    const s = up();
    const containers = await projectContainers(s.project);
    expect(containers.length).toBe(s.model.services.length);
    for (const c of containers) {
      if (c.status !== "running") {
        // One-shots (the Airflow init) have exited: their configured user is what ran.
        expect(c.configUser, `${c.service} (${c.status}) configured user`).toMatch(
          /^[1-9]\d*(:\d+)?$|^[a-z][a-z0-9_-]*$/,
        );
        expect(c.configUser).not.toMatch(/^(0|root)(:|$)/);
        continue;
      }
      // Every process of the container, as the host's ps sees it (no tool needed inside the image).
      const top = await docker(["top", c.id, "-eo", "uid,pid,comm"]);
      expect(top.code, top.stderr).toBe(0);
      const rows = top.stdout.trim().split("\n").slice(1);
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) {
        const [uid, , comm] = row.trim().split(/\s+/);
        expect(uid, `${c.service}: process ${comm} runs as uid ${uid}`).not.toBe("0");
      }
    }
  });

  it("keeps every secret out of the containers' logs and the test output", async () => {
    const s = up();
    const leaks: string[] = [];
    for (const c of await projectContainers(s.project)) {
      const found = s.masker.found(await fullLogs(c.id));
      if (found.length > 0) leaks.push(`${c.service} logs: ${found.join(", ")}`);
    }
    const printed = s.masker.found(output.text());
    if (printed.length > 0) leaks.push(`test output: ${printed.join(", ")}`);
    expect(leaks).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe("resilience", () => {
  /** Cheap options: these tests check survival, not quality (the end-to-end suite checks quality). */
  const CHEAP = { max_image_size: 160, num_depths: 24, voxels: 64 };

  /**
   * Waits for the service's container to be healthy again. Docker resets a (re)started container's health to
   * "starting", so "healthy" is the new process answering its probe. The limit is the one deploy uses, from the
   * service's own healthcheck (start period, every retry), tripled for two loaded cores: an Airflow worker gets
   * minutes, Redis one or two.
   */
  async function waitHealthy(service: string): Promise<void> {
    const spec = up().model.services.find((svc) => svc.name === service);
    if (!spec) throw new Error(`no service ${service} in the stack model`);
    await until(
      `${service} healthy`,
      async () => {
        const c = await serviceContainer(up().project, service);
        return c.status === "running" && c.health === "healthy"
          ? { value: true, reason: "" }
          : { reason: `${c.status}/${c.health}` };
      },
      { timeoutMs: serviceTimeoutS(spec, 3) * 1000, intervalMs: 3000 },
    );
  }

  async function restart(service: string): Promise<void> {
    await phase(`restart ${service}`, async () => {
      const c = await serviceContainer(up().project, service);
      const result = await docker(["restart", "-t", "20", c.id]);
      expect(result.code, result.stderr).toBe(0);
      await waitHealthy(service);
    });
  }

  it(
    "a job survives a restart of the reconstruction container (re-queued, it runs again and completes with a mesh)",
    async () => {
      const s = up();
      const input = await uploadImageSet(store, `s3://${BUCKETS.input}/${run}/restart/`, set.images);
      const reconstruction = await serviceContainer(s.project, S.reconstruction);
      const objectstore = await serviceContainer(s.project, S.objectStore);
      // The restart must land while the job runs, whatever the machine's speed (a cheap job can finish between two
      // polls on a fast one). So the object store is frozen (`docker pause`) before the job is submitted: the job turns
      // `running` and its worker blocks on listing the input (the service's S3 client waits 60 s per read) until the
      // service is stopped under it. The store thaws before the service starts again, because the service creates
      // its buckets at start; the re-queued job then runs against a working store.
      expect((await docker(["pause", objectstore.id])).code).toBe(0);
      let id: string | undefined;
      try {
        const submit = await reconstructionApi<Job>("/v1/jobs", {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": `${run}-restart` },
          body: JSON.stringify({ input, output: `s3://${BUCKETS.output}/${run}/restart/`, options: CHEAP }),
        });
        expect(submit.status).toBe(202);
        id = submit.body.id;
        await until(
          `job ${id} running`,
          async () => {
            const j = (await reconstructionApi<Job>(`/v1/jobs/${id}`)).body;
            return j.state === "running" ? { value: j, reason: "" } : { reason: j.state };
          },
          { timeoutMs: 120_000, intervalMs: 500 },
        );
        await phase(`stop ${S.reconstruction} under the running job`, async () => {
          const stopped = await docker(["stop", "-t", "20", reconstruction.id]);
          expect(stopped.code, stopped.stderr).toBe(0);
        });
      } finally {
        expect((await docker(["unpause", objectstore.id])).code).toBe(0);
      }
      await phase(`start ${S.reconstruction} again`, async () => {
        // `docker stop` counts as a manual stop for the restart policy: start it as an orchestrator would.
        const started = await docker(["start", reconstruction.id]);
        expect(started.code, started.stderr).toBe(0);
        await waitHealthy(S.reconstruction);
      });
      const final = await phase(`job ${id} after the restart`, () =>
        until(
          `job ${id} terminal`,
          async () => {
            const answer = await reconstructionApi<Job>(`/v1/jobs/${id}`);
            if (answer.status === 404) throw new Error(`job ${id} disappeared after the restart`);
            return ["succeeded", "failed", "cancelled"].includes(answer.body.state)
              ? { value: answer.body, reason: "" }
              : { reason: `${answer.body.state}${answer.body.message ? ` (${answer.body.message})` : ""}` };
          },
          { timeoutMs: 20 * 60_000, intervalMs: 5000 },
        ),
      );
      note(
        `job ${id} after the restart: ${final.state} after ${final.attempts} attempt(s)${final.error ? ` (${JSON.stringify(final.error)})` : ""}`,
      );
      // The documented outcome (packages/reconstruction/src/e2e3d_reconstruction/jobs.py): a job the service died
      // under is re-queued while it has attempts left (E2E3D_MAX_ATTEMPTS, 2 by default; the stack does not lower it)
      // and runs again from a clean work dir. Its first attempt was blocked on the frozen store until the stop, so the
      // second attempt, against a thawed store, must succeed: any failure here is a regression, not an outcome.
      expect(final, "the interrupted job was re-queued, run a second time, and completed").toMatchObject({
        state: "succeeded",
        attempts: 2,
        error: null,
      });
      const outputs = await fetchOutputs(store, `s3://${BUCKETS.output}/${run}/restart/`);
      expect(outputs.names).toEqual(expect.arrayContaining(["mesh.ply", "points.ply", "report.json", "_SUCCESS"]));
      expect(outputs.sizes["mesh.ply"], "a mesh with content, not an empty file").toBeGreaterThan(10_000);
      expect(outputs.report).toMatchObject({ status: "succeeded", job_id: id, input_images: set.images.length });
    },
    30 * 60_000,
  );

  it(
    "Airflow recovers after Redis and Postgres restart, and the next run succeeds",
    async () => {
      await restart(S.redis);
      await restart(S.postgres);
      const input = `s3://${BUCKETS.input}/${run}/restart/`;
      const runId = `${run}-after-restarts`;
      const started = await until(
        "a DAG run accepted after the restarts",
        async () => {
          try {
            const value = await triggerDag(
              airflow,
              RECONSTRUCTION_DAG_ID,
              { input, output: `s3://${BUCKETS.output}/${run}/after-restarts/`, options: CHEAP },
              runId,
            );
            return { value, reason: "" };
          } catch (err) {
            // A POST whose answer was lost (the API server reconnecting to Postgres, a timeout) may still have created
            // the run: a retry with the same run id then gets 409, and the run is there to read.
            if (err instanceof AirflowApiError && err.status === 409)
              return { value: await airflow.dagRun(RECONSTRUCTION_DAG_ID, runId), reason: "" };
            throw err;
          }
        },
        { timeoutMs: 300_000, intervalMs: 10_000 },
      );
      const done = await waitForDagRun(airflow, RECONSTRUCTION_DAG_ID, started.dag_run_id, {
        timeoutMs: 20 * 60_000,
      });
      if (done.run.state !== "success")
        throw new Error(up().masker.mask(await describeRun(airflow, RECONSTRUCTION_DAG_ID, done)));
    },
    30 * 60_000,
  );

  it(
    "a Celery worker killed mid-task: the task is retried and no duplicate job is created",
    async () => {
      const s = up();
      const input = `s3://${BUCKETS.input}/${run}/restart/`;
      const runId = `${run}-killed-worker`;
      // "Mid-task", deterministically, on the path that needs the idempotency key: the reconstruction service is frozen
      // (`docker pause`) before the run starts, so submit_job's POST is delivered to the service's socket but not
      // answered; while submit_job runs, blocked on that POST, the worker is killed; then the service thaws, reads the
      // orphaned POST (and may create the job), and the retried submit_job sends the same key again.
      const reconstruction = await serviceContainer(s.project, S.reconstruction);
      const worker = await serviceContainer(s.project, S.airflowWorker);
      expect((await docker(["pause", reconstruction.id])).code).toBe(0);
      try {
        await triggerDag(
          airflow,
          RECONSTRUCTION_DAG_ID,
          { input, output: `s3://${BUCKETS.output}/${run}/killed-worker/`, options: CHEAP },
          runId,
        );
        await until(
          "submit_job running (blocked on its POST)",
          async () => {
            const tasks = await airflow.taskInstances(RECONSTRUCTION_DAG_ID, runId);
            const submit = tasks.find((t) => t.task_id === "submit_job");
            return submit?.state === "running"
              ? { value: true, reason: "" }
              : { reason: `submit_job ${submit?.state}` };
          },
          // The scheduler and validate_input come first: minutes on two loaded cores.
          { timeoutMs: 300_000, intervalMs: 250 },
        );
        await phase("kill the Celery worker mid-task and start it again", async () => {
          expect((await docker(["kill", worker.id])).code).toBe(0);
          // An orchestrator would bring it back; `docker kill` counts as a manual stop, so start it ourselves.
          expect((await docker(["start", worker.id])).code).toBe(0);
        });
      } finally {
        expect((await docker(["unpause", reconstruction.id])).code).toBe(0);
      }
      await waitHealthy(S.airflowWorker);
      const orphaned = (await reconstructionApi<{ jobs: Job[] }>("/v1/jobs")).body.jobs.filter(
        (j) => j.idempotency_key === runId,
      );
      note(`after the kill: ${orphaned.length} job(s) for ${runId} (created by the killed try's POST when 1)`);
      const done = await waitForDagRun(airflow, RECONSTRUCTION_DAG_ID, runId, { timeoutMs: 30 * 60_000 });
      if (done.run.state !== "success")
        throw new Error(s.masker.mask(await describeRun(airflow, RECONSTRUCTION_DAG_ID, done)));
      const submitTask = done.tasks.find((t) => t.task_id === "submit_job")!;
      note(`submit_job ended on try ${submitTask.try_number}`);
      expect(submitTask.try_number, "the killed try is retried").toBeGreaterThanOrEqual(2);
      const jobs = (await reconstructionApi<{ jobs: Job[] }>("/v1/jobs")).body.jobs.filter(
        (j) => j.idempotency_key === runId,
      );
      expect(jobs, "exactly one job for the run's idempotency key").toHaveLength(1);
    },
    40 * 60_000,
  );
});
