// Prometheus through the gateway: instant queries and the scrape targets' health.
import { type Sample, queryPrometheus as stackQuery } from "@e2e3d/stack";
import { phase } from "./phases.js";

export type { Sample } from "@e2e3d/stack";

/** An instant query (`/prometheus/api/v1/query`); a vector result as numbers (the stack package's client). */
export async function queryPrometheus(gatewayUrl: string, promql: string): Promise<Sample[]> {
  return phase(`prometheus query ${promql}`, () => stackQuery(gatewayUrl, promql));
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
