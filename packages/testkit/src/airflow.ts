// The Airflow 3 REST API (/api/v2) through the gateway, as the suites drive it: a JWT from /auth/token with the
// deployment's admin credentials, DAG runs triggered with a conf, waited for, their task instances and XComs read.
import { StepError } from "./errors.js";
import { note, phase, until } from "./phases.js";

export interface AirflowOptions {
  /** The API's base, e.g. http://127.0.0.1:8088/airflow */
  baseUrl: string;
  username: string;
  password: string;
}

export interface DagRun {
  dag_run_id: string;
  dag_id: string;
  state: string;
  conf?: Record<string, unknown>;
  start_date?: string | null;
  end_date?: string | null;
}

export interface TaskInstance {
  task_id: string;
  state: string | null;
  try_number: number;
  map_index: number;
  start_date?: string | null;
  end_date?: string | null;
}

export class AirflowClient {
  private token: string | undefined;

  constructor(readonly options: AirflowOptions) {}

  /** POST /auth/token: the JWT every API call carries. */
  async login(): Promise<string> {
    const response = await fetch(`${this.options.baseUrl}/auth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: this.options.username, password: this.options.password }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (response.status !== 200 && response.status !== 201) {
      throw new StepError(`Airflow refused the login: HTTP ${response.status}`, {
        context: { url: `${this.options.baseUrl}/auth/token`, body: text.slice(0, 200) },
      });
    }
    const token = (JSON.parse(text) as { access_token?: string }).access_token;
    if (!token) throw new StepError("Airflow's /auth/token answered without an access_token");
    this.token = token;
    return token;
  }

  /** A call to /api/v2; logs in first (and once more when the token expired). */
  async api<T>(method: string, path: string, body?: unknown, okStatuses = [200, 201]): Promise<T> {
    if (!this.token) await this.login();
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await fetch(`${this.options.baseUrl}/api/v2${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body ? { "content-type": "application/json" } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await response.text();
      if (response.status === 401 && attempt === 0) {
        await this.login();
        continue;
      }
      if (!okStatuses.includes(response.status)) {
        throw new StepError(`Airflow API ${method} ${path}: HTTP ${response.status}`, {
          context: { body: text.slice(0, 400) },
        });
      }
      return (text ? JSON.parse(text) : {}) as T;
    }
    throw new StepError(`Airflow API ${method} ${path}: still unauthorised after a fresh login`);
  }

  async setVariable(key: string, value: string): Promise<void> {
    try {
      await this.api("POST", "/variables", { key, value });
    } catch (err) {
      if (!(err instanceof StepError) || !/HTTP 409/.test(err.message)) throw err;
      await this.api("PATCH", `/variables/${encodeURIComponent(key)}`, { key, value });
    }
  }

  async dagRun(dagId: string, runId: string): Promise<DagRun> {
    return this.api<DagRun>("GET", `/dags/${dagId}/dagRuns/${encodeURIComponent(runId)}`);
  }

  async dagRuns(dagId: string): Promise<DagRun[]> {
    return (await this.api<{ dag_runs: DagRun[] }>("GET", `/dags/${dagId}/dagRuns?limit=100&order_by=-start_date`))
      .dag_runs;
  }

  async taskInstances(dagId: string, runId: string): Promise<TaskInstance[]> {
    return (
      await this.api<{ task_instances: TaskInstance[] }>(
        "GET",
        `/dags/${dagId}/dagRuns/${encodeURIComponent(runId)}/taskInstances?limit=100`,
      )
    ).task_instances;
  }

  /** A task's return value (XCom `return_value`), deserialised. */
  async xcom<T>(dagId: string, runId: string, taskId: string, key = "return_value"): Promise<T> {
    const entry = await this.api<{ value: unknown }>(
      "GET",
      `/dags/${dagId}/dagRuns/${encodeURIComponent(runId)}/taskInstances/${taskId}/xcomEntries/${key}?deserialize=true&stringify=false`,
    );
    return (typeof entry.value === "string" ? tryJson(entry.value) : entry.value) as T;
  }

  /** The log of one try of a task instance (text). */
  async taskLog(dagId: string, runId: string, taskId: string, tryNumber: number): Promise<string> {
    const response = await this.api<{ content?: unknown }>(
      "GET",
      `/dags/${dagId}/dagRuns/${encodeURIComponent(runId)}/taskInstances/${taskId}/logs/${tryNumber}?full_content=true`,
    );
    const content = response.content;
    if (Array.isArray(content))
      return content
        .map((c) => (typeof c === "object" && c ? ((c as { event?: string }).event ?? JSON.stringify(c)) : String(c)))
        .join("\n");
    return String(content ?? "");
  }
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

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
    const run = await airflow.api<DagRun>("POST", `/dags/${dagId}/dagRuns`, {
      ...(runId ? { dag_run_id: runId } : {}),
      logical_date: null,
      conf,
    });
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
