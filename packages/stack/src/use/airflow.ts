// The Airflow 3 REST API (/api/v2) through the gateway: a JWT from /auth/token with the deployment's admin
// credentials, DAG runs triggered with a conf, read back, their task instances, XComs and logs. The one client for
// the user command, the deploy's smoke job and the testkit's suites (which re-export it).
import { UseError } from "./errors.js";
import { describeFetchError } from "./s3.js";

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

/** An Airflow API call that answered with an unexpected status (kept apart so callers can test for 404/409). */
export class AirflowApiError extends UseError {
  constructor(
    message: string,
    readonly status: number,
    details: ConstructorParameters<typeof UseError>[1] = {},
  ) {
    super(message, details);
  }
}

export class AirflowClient {
  private token: string | undefined;

  constructor(readonly options: AirflowOptions) {}

  private async call(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      throw new UseError(`Airflow at ${this.options.baseUrl} does not answer (${describeFetchError(err)})`, {
        hint: "is the stack deployed and running? npx tsx pipelines/deploy.ts --status",
        cause: err,
      });
    }
  }

  /** POST /auth/token: the JWT every API call carries. */
  async login(): Promise<string> {
    const response = await this.call(`${this.options.baseUrl}/auth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: this.options.username, password: this.options.password }),
    });
    const text = await response.text();
    if (response.status !== 200 && response.status !== 201) {
      throw new AirflowApiError(`Airflow refused the login: HTTP ${response.status}`, response.status, {
        context: { url: `${this.options.baseUrl}/auth/token`, body: text.slice(0, 200) },
        ...(response.status === 401 || response.status === 403
          ? { hint: "use the deployment's Airflow admin password (secrets.env, or E2E3D_AIRFLOW_PASSWORD)" }
          : {}),
      });
    }
    let token: string | undefined;
    try {
      token = (JSON.parse(text) as { access_token?: string }).access_token;
    } catch {
      token = undefined;
    }
    if (!token)
      throw new UseError("Airflow's /auth/token answered without an access_token", {
        context: { url: `${this.options.baseUrl}/auth/token`, body: text.slice(0, 200) },
        hint: "the gateway URL may not point at the E2E3D gateway",
      });
    this.token = token;
    return token;
  }

  /** A call to /api/v2; logs in first (and once more when the token expired). */
  async api<T>(method: string, path: string, body?: unknown, okStatuses = [200, 201]): Promise<T> {
    if (!this.token) await this.login();
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await this.call(`${this.options.baseUrl}/api/v2${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body ? { "content-type": "application/json" } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const text = await response.text();
      if (response.status === 401 && attempt === 0) {
        await this.login();
        continue;
      }
      if (!okStatuses.includes(response.status)) {
        throw new AirflowApiError(`Airflow API ${method} ${path}: HTTP ${response.status}`, response.status, {
          context: { body: text.slice(0, 400) },
        });
      }
      return (text ? JSON.parse(text) : {}) as T;
    }
    throw new UseError(`Airflow API ${method} ${path}: still unauthorised after a fresh login`);
  }

  async setVariable(key: string, value: string): Promise<void> {
    try {
      await this.api("POST", "/variables", { key, value });
    } catch (err) {
      if (!(err instanceof AirflowApiError) || err.status !== 409) throw err;
      await this.api("PATCH", `/variables/${encodeURIComponent(key)}`, { key, value });
    }
  }

  async dagRun(dagId: string, runId: string): Promise<DagRun> {
    return this.api<DagRun>("GET", `/dags/${dagId}/dagRuns/${encodeURIComponent(runId)}`);
  }

  /** The run, or undefined when Airflow has no run with this id. */
  async findDagRun(dagId: string, runId: string): Promise<DagRun | undefined> {
    try {
      return await this.dagRun(dagId, runId);
    } catch (err) {
      if (err instanceof AirflowApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async dagRuns(dagId: string): Promise<DagRun[]> {
    return (await this.api<{ dag_runs: DagRun[] }>("GET", `/dags/${dagId}/dagRuns?limit=100&order_by=-start_date`))
      .dag_runs;
  }

  /** POST /dags/{id}/dagRuns with our run id (so a rerun can find it again). */
  async triggerDagRun(dagId: string, conf: Record<string, unknown>, runId?: string): Promise<DagRun> {
    return this.api<DagRun>("POST", `/dags/${dagId}/dagRuns`, {
      ...(runId ? { dag_run_id: runId } : {}),
      logical_date: null,
      conf,
    });
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
    if (Array.isArray(content)) return content.map(logLine).join("\n");
    return String(content ?? "");
  }
}

interface LogEntry {
  event?: string;
  level?: string;
  error_detail?: Array<{
    exc_type?: string;
    exc_value?: string;
    frames?: Array<{ filename?: string; lineno?: number }>;
  }>;
}

/**
 * One structured log entry as text: its event, and for a failure the exception itself (Airflow 3 keeps it in
 * `error_detail`, not in the event: "Task failed with exception" alone says nothing).
 */
function logLine(entry: unknown): string {
  if (typeof entry !== "object" || !entry) return String(entry);
  const e = entry as LogEntry;
  const lines = [e.event ?? JSON.stringify(entry)];
  for (const d of e.error_detail ?? []) {
    const at = d.frames?.at(-1);
    lines.push(`${d.exc_type ?? "error"}: ${d.exc_value ?? ""}${at ? ` (at ${at.filename}:${at.lineno})` : ""}`);
  }
  return lines.join("\n");
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
