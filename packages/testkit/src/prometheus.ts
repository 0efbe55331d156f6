// Prometheus through the gateway: instant queries and the scrape targets' health.
import { StepError } from "./errors.js";
import { phase } from "./phases.js";

export interface Sample {
  metric: Record<string, string>;
  value: number;
}

/** An instant query (`/prometheus/api/v1/query`); a vector result as numbers. */
export async function queryPrometheus(gatewayUrl: string, promql: string): Promise<Sample[]> {
  return phase(`prometheus query ${promql}`, async () => {
    const url = `${gatewayUrl}/prometheus/api/v1/query?query=${encodeURIComponent(promql)}`;
    const response = await fetch(url, { signal: AbortSignal.timeout(20_000) });
    const body = (await response.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    if (body.status !== "success" || !body.data) {
      throw new StepError(`Prometheus query failed: ${body.error ?? response.status}`, { context: { promql } });
    }
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  });
}

/** Sum of a query's vector (0 when empty: a counter that never moved has no series yet). */
export async function queryScalar(gatewayUrl: string, promql: string): Promise<number> {
  return (await queryPrometheus(gatewayUrl, promql)).reduce((sum, s) => sum + s.value, 0);
}

export interface Target {
  job: string;
  health: string;
  lastError: string;
  scrapeUrl: string;
}

export async function prometheusTargets(gatewayUrl: string): Promise<Target[]> {
  const response = await fetch(`${gatewayUrl}/prometheus/api/v1/targets?state=active`, {
    signal: AbortSignal.timeout(20_000),
  });
  const body = (await response.json()) as {
    data: { activeTargets: Array<{ labels: { job: string }; health: string; lastError: string; scrapeUrl: string }> };
  };
  return body.data.activeTargets.map((t) => ({
    job: t.labels.job,
    health: t.health,
    lastError: t.lastError,
    scrapeUrl: t.scrapeUrl,
  }));
}
