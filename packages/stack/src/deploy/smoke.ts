// Step 4: smoke. The gateway routes answer (and their bare-prefix redirects work), the reconstruction API is ready,
// the buckets exist, the Airflow API is healthy and the DAG is loaded, Prometheus has every target up.
import { RECONSTRUCTION_DAG_ID, S } from "../model/services.js";
import type { StackModel } from "../model/types.js";
import type { Secrets } from "../secrets.js";
import { execIn, projectContainers } from "./docker.js";
import type { Reporter } from "./progress.js";
import { headBucket } from "./s3-head.js";

export interface SmokeResult {
  check: string;
  ok: boolean;
  detail: string;
}

async function get(url: string): Promise<{ status: number; body: string; location: string | null }> {
  const response = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(15_000) });
  return { status: response.status, body: await response.text(), location: response.headers.get("location") };
}

/**
 * Retries a check for a while: targets turn "up" only after a scrape interval, the DAG after a parse loop. The check's
 * name is given up front so that a check whose every attempt threw (a refused connection, an HTML error page where JSON
 * was expected) is still reported under its own name, with the last error.
 */
async function eventually(
  name: string,
  check: () => Promise<Omit<SmokeResult, "check">>,
  attempts: number,
  delayMs: number,
): Promise<SmokeResult> {
  let last: SmokeResult = { check: name, ok: false, detail: "not run" };
  for (let i = 0; i < attempts; i++) {
    try {
      last = { ...(await check()), check: name };
    } catch (err) {
      last = { check: name, ok: false, detail: (err as Error).message };
    }
    if (last.ok) return last;
    await new Promise((r) => setTimeout(r, delayMs));
  }
  return last;
}

export async function smoke(
  model: StackModel,
  project: string,
  secrets: Secrets,
  reporter: Reporter,
  options: {
    attempts?: number;
    delayMs?: number;
    /** Runs `airflow dags list` in the api-server (default: docker exec in the compose project's container). */
    execInAirflowApi?: (args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;
  } = {},
): Promise<SmokeResult[]> {
  const attempts = options.attempts ?? 20;
  const delayMs = options.delayMs ?? 3000;
  const gateway = `http://127.0.0.1:${model.ports.gateway}`;
  const results: SmokeResult[] = [];
  const record = (r: SmokeResult) => {
    results.push(r);
    reporter.info(`${r.ok ? "ok  " : "FAIL"} ${r.check}: ${r.detail}`);
  };

  for (const s of model.services) {
    for (const route of s.routes) {
      const name = `gateway ${route.prefix} → ${s.name}`;
      record(
        await eventually(
          name,
          async () => {
            const redirect = await get(`${gateway}${route.prefix.slice(0, -1)}`);
            if (redirect.status !== 301 || redirect.location !== route.prefix)
              return { ok: false, detail: `bare prefix gave ${redirect.status} → ${redirect.location}` };
            const r = await get(`${gateway}${route.prefix}${route.probe}`);
            return { ok: r.status < 400, detail: `GET ${route.prefix}${route.probe} → ${r.status}` };
          },
          attempts,
          delayMs,
        ),
      );
    }
  }

  if (model.services.some((s) => s.name === S.reconstruction)) {
    record(
      await eventually(
        "reconstruction ready",
        async () => {
          const r = await get(`${gateway}/api/readyz`);
          return {
            ok: r.status === 200,
            detail: `/api/readyz → ${r.status} ${r.body.slice(0, 200)}`,
          };
        },
        attempts,
        delayMs,
      ),
    );
  }

  // The buckets are created by the reconstruction service (it owns them); without it there is nothing to expect.
  const bucketsExpected = model.services.some((s) => s.name === S.reconstruction);
  for (const bucket of bucketsExpected ? [model.buckets.input, model.buckets.output] : []) {
    record(
      await eventually(
        `bucket ${bucket}`,
        async () => {
          const status = await headBucket(`http://127.0.0.1:${model.ports.objectStore}`, bucket, {
            accessKey: secrets.objectstore_access_key,
            secretKey: secrets.objectstore_secret_key,
          });
          return { ok: status === 200, detail: `HEAD → ${status}` };
        },
        attempts,
        delayMs,
      ),
    );
  }

  if (model.services.some((s) => s.name === S.airflowApi)) {
    record(
      await eventually(
        "airflow api healthy",
        async () => {
          const r = await get(`${gateway}/airflow/api/v2/monitor/health`);
          const body = JSON.parse(r.body) as Record<string, { status?: string } | undefined>;
          const unhealthy = Object.entries(body)
            .filter(([, v]) => v?.status && v.status !== "healthy")
            .map(([k, v]) => `${k}=${v?.status}`);
          return {
            ok: r.status === 200 && unhealthy.length === 0,
            detail: unhealthy.length ? unhealthy.join(", ") : `HTTP ${r.status}`,
          };
        },
        attempts,
        delayMs,
      ),
    );
    record(
      await eventually(
        `dag ${RECONSTRUCTION_DAG_ID} loaded`,
        async () => {
          const args = ["airflow", "dags", "list", "--output", "json"];
          let r: { code: number; stdout: string; stderr: string };
          if (options.execInAirflowApi) r = await options.execInAirflowApi(args);
          else {
            const api = (await projectContainers(project)).find(
              (c) => c.service === S.airflowApi && c.status === "running",
            );
            if (!api) return { ok: false, detail: "no running api-server container" };
            r = await execIn(api.id, args);
          }
          const loaded = r.code === 0 && r.stdout.includes(`"${RECONSTRUCTION_DAG_ID}"`);
          return {
            ok: loaded,
            detail: loaded ? "listed by airflow dags list" : `not listed (exit ${r.code}) ${r.stderr.slice(-200)}`,
          };
        },
        attempts,
        delayMs * 2,
      ),
    );
  }

  if (model.services.some((s) => s.name === S.prometheus)) {
    record(
      await eventually(
        "prometheus targets up",
        async () => {
          const r = await get(`${gateway}/prometheus/api/v1/targets?state=active`);
          const targets = (
            JSON.parse(r.body) as { data: { activeTargets: Array<{ labels: { job: string }; health: string }> } }
          ).data.activeTargets;
          const down = targets.filter((t) => t.health !== "up").map((t) => `${t.labels.job}=${t.health}`);
          return {
            ok: targets.length > 0 && down.length === 0,
            detail: down.length ? `not up: ${down.join(", ")}` : `${targets.length} targets up`,
          };
        },
        attempts,
        delayMs,
      ),
    );
  }
  return results;
}
