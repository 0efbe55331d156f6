// The Airflow 3 REST API (/api/v2) through the gateway, as the suites drive it: DAG runs triggered with a conf,
// waited for, their task instances and logs read, each step a timed phase.
import type { AirflowClient, DagRun, TaskInstance } from "@e2e3d/stack";
import { note, phase, until } from "./phases.js";

// The client itself is the stack package's (packages/stack/src/use/airflow.ts): one client for the suites, the
// deploy's smoke job and the user command. The helpers below add the suites' phase timing around it.
export {
  AirflowApiError,
  AirflowClient,
  type AirflowOptions,
  type DagRun,
  type TaskInstance,
} from "@e2e3d/stack";

/** Waits until the DAG is parsed and unpaused-ready (the API lists it). */
export async function waitForDag(airflow: AirflowClient, dagId: string, timeoutMs = 300_000): Promise<void> {
  await phase(`wait for DAG ${dagId}`, () =>
    until(
      `DAG ${dagId} loaded`,
      async () => {
        const dag = await airflow.api<{ dag_id: string; is_paused: boolean; has_import_errors?: boolean }>(
          "GET",
          `/dags/${dagId}`,
          undefined,
          [200],
        );
        return dag.is_paused ? { reason: `${dagId} is paused` } : { value: true, reason: "" };
      },
      { timeoutMs, intervalMs: 5000 },
    ),
  );
}

/** POST /dags/{id}/dagRuns; returns the run (its id is ours when given, so a test can find it again). */
export async function triggerDag(
  airflow: AirflowClient,
  dagId: string,
  conf: Record<string, unknown>,
  runId?: string,
): Promise<DagRun> {
  return phase(`trigger ${dagId}`, async () => {
    const run = await airflow.triggerDagRun(dagId, conf, runId);
    note(`triggered ${dagId} run ${run.dag_run_id} (${run.state})`);
    return run;
  });
}

const TERMINAL = new Set(["success", "failed"]);

export interface FinishedRun {
  run: DagRun;
  tasks: TaskInstance[];
  seconds: number;
}

/** Waits for a run to end; prints task progress; returns the run and its task instances (success or not). */
export async function waitForDagRun(
  airflow: AirflowClient,
  dagId: string,
  runId: string,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<FinishedRun> {
  const started = performance.now();
  return phase(`DAG run ${dagId}/${runId}`, async () => {
    let lastTasks = "";
    const run = await until(
      `DAG run ${runId}`,
      async () => {
        const current = await airflow.dagRun(dagId, runId);
        const tasks = await airflow.taskInstances(dagId, runId).catch(() => []);
        const summary = tasks
          .map((t) => `${t.task_id}=${t.state ?? "none"}${t.try_number > 1 ? `#${t.try_number}` : ""}`)
          .join(" ");
        if (summary !== lastTasks) {
          lastTasks = summary;
          note(`run ${runId}: ${current.state}; ${summary}`);
        }
        return TERMINAL.has(current.state)
          ? { value: current, reason: "" }
          : { reason: `${current.state}: ${summary}` };
      },
      { timeoutMs: options.timeoutMs ?? 30 * 60_000, intervalMs: options.intervalMs ?? 5000 },
    );
    const tasks = await airflow.taskInstances(dagId, runId);
    return { run, tasks, seconds: (performance.now() - started) / 1000 };
  });
}

/** The logs of every failed or retried task of a run, for the test output when a run did not succeed. */
export async function describeRun(airflow: AirflowClient, dagId: string, finished: FinishedRun): Promise<string> {
  const lines = [`run ${finished.run.dag_run_id}: ${finished.run.state}`];
  for (const t of finished.tasks) {
    lines.push(`  ${t.task_id}: ${t.state} (try ${t.try_number})`);
    if (t.state !== "success" && t.try_number > 0) {
      const log = await airflow
        .taskLog(dagId, finished.run.dag_run_id, t.task_id, t.try_number)
        .catch((e: unknown) => `(no log: ${(e as Error).message})`);
      lines.push(
        ...log
          .split("\n")
          .slice(-25)
          .map((l) => `    | ${l}`),
      );
    }
  }
  return lines.join("\n");
}
