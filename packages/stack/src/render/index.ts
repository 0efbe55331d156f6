// Every artifact of a deployment, rendered from the model into a map of relative path → content. The caller writes
// them into the deployment's generated-config directory (never into git).

import { readFileSync } from "node:fs";
import { S } from "../model/services.js";
import type { StackModel } from "../model/types.js";
import { renderCompose } from "./compose.js";
import { renderGrafanaDashboard, renderGrafanaDashboardProvider, renderGrafanaDatasource } from "./grafana.js";
import { renderNginx } from "./nginx.js";
import { ALERT_RULES_FILE, renderAlertRules, renderPrometheusConfig } from "./prometheus.js";

export const COMPOSE_FILE = "compose.yaml";

/** Airflow's StatsD mapping is owned by the Airflow image's authors; the exporter mounts it from the repository. */
const STATSD_MAPPING = new URL("../../../../docker/airflow/statsd-mapping.yml", import.meta.url);

export function renderConfigFiles(model: StackModel): Map<string, string> {
  const files = new Map<string, string>();
  const has = (name: string) => model.services.some((s) => s.name === name);
  if (has(S.gateway)) files.set("nginx/nginx.conf", renderNginx(model));
  if (has(S.statsdExporter)) files.set("statsd/mapping.yml", readFileSync(STATSD_MAPPING, "utf8"));
  if (has(S.prometheus)) {
    files.set("prometheus/prometheus.yml", renderPrometheusConfig(model));
    files.set(`prometheus/${ALERT_RULES_FILE}`, renderAlertRules(model));
  }
  if (has(S.grafana)) {
    files.set("grafana/provisioning/datasources/prometheus.yaml", renderGrafanaDatasource());
    files.set("grafana/provisioning/dashboards/e2e3d.yaml", renderGrafanaDashboardProvider());
    files.set("grafana/dashboards/e2e3d-overview.json", renderGrafanaDashboard(model));
  }
  return files;
}

/** The compose file plus every config file it mounts. */
export function renderAll(model: StackModel, images: Map<string, string>): Map<string, string> {
  const files = renderConfigFiles(model);
  files.set(COMPOSE_FILE, renderCompose(model, images, files));
  return files;
}

export { renderCompose } from "./compose.js";
export { renderGrafanaDashboard, renderGrafanaDashboardProvider, renderGrafanaDatasource } from "./grafana.js";
export { renderNginx } from "./nginx.js";
export { METRICS, renderAlertRules, renderPrometheusConfig, scrapeJobs } from "./prometheus.js";
