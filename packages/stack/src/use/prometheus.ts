// Prometheus through the gateway (/prometheus/api/v1/query): instant queries, as numbers.
import { UseError } from "./errors.js";
import { describeFetchError } from "./s3.js";

export interface Sample {
  metric: Record<string, string>;
  value: number;
}

/** An instant query; a vector result as numbers. */
export async function queryPrometheus(gatewayUrl: string, promql: string): Promise<Sample[]> {
  const url = `${gatewayUrl}/prometheus/api/v1/query?query=${encodeURIComponent(promql)}`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(20_000) });
  } catch (err) {
    throw new UseError(`Prometheus at ${gatewayUrl}/prometheus does not answer (${describeFetchError(err)})`, {
      context: { promql },
      cause: err,
    });
  }
  const text = await response.text();
  let body: {
    status?: string;
    error?: string;
    data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
  };
  try {
    body = JSON.parse(text);
  } catch {
    throw new UseError(`Prometheus answered HTTP ${response.status} without JSON`, {
      context: { promql, body: text.slice(0, 200) },
    });
  }
  if (body.status !== "success" || !body.data)
    throw new UseError(`Prometheus query failed: ${body.error ?? response.status}`, { context: { promql } });
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

/** Sum of a query's vector (0 when empty: a counter that never moved has no series yet). */
export async function queryScalar(gatewayUrl: string, promql: string): Promise<number> {
  return (await queryPrometheus(gatewayUrl, promql)).reduce((sum, s) => sum + s.value, 0);
}
