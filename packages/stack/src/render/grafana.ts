// Grafana provisioning: the Prometheus datasource and one dashboard (job counts, stage durations, failures, service
// health), written as files Grafana loads at start.
import { stringify } from "yaml";
import { INTERNAL_PORTS, S } from "../model/services.js";
import type { StackModel } from "../model/types.js";
import { METRICS } from "./prometheus.js";

export const DATASOURCE_UID = "e2e3d-prometheus";
const DASHBOARD_DIR = "/etc/grafana/dashboards";

export function renderGrafanaDatasource(): string {
  return stringify({
    apiVersion: 1,
    datasources: [
      {
        name: "Prometheus",
        uid: DATASOURCE_UID,
        type: "prometheus",
        access: "proxy",
        // Prometheus serves under its gateway sub-path (--web.route-prefix), inside the network too.
        url: `http://${S.prometheus}:${INTERNAL_PORTS.prometheus}/prometheus`,
        isDefault: true,
        editable: false,
      },
    ],
  });
}

export function renderGrafanaDashboardProvider(): string {
  return stringify({
    apiVersion: 1,
    providers: [
      {
        name: "e2e3d",
        folder: "E2E3D",
        type: "file",
        disableDeletion: true,
        allowUiUpdates: false,
        options: { path: DASHBOARD_DIR },
      },
    ],
  });
}

interface Panel {
  title: string;
  type: "timeseries" | "stat";
  unit?: string;
  targets: Array<{ expr: string; legend: string }>;
}

export const DASHBOARD_PANELS: Panel[] = [
  {
    title: "Reconstruction jobs by state",
    type: "timeseries",
    targets: [{ expr: `sum by (state) (${METRICS.jobsByState})`, legend: "{{state}}" }],
  },
  {
    title: "Stage duration (p50 / p95)",
    type: "timeseries",
    unit: "s",
    targets: [
      {
        expr: `histogram_quantile(0.5, sum by (stage, le) (rate(${METRICS.stageDuration}_bucket[5m])))`,
        legend: "p50 {{stage}}",
      },
      {
        expr: `histogram_quantile(0.95, sum by (stage, le) (rate(${METRICS.stageDuration}_bucket[5m])))`,
        legend: "p95 {{stage}}",
      },
    ],
  },
  {
    title: "Failures (15 min)",
    type: "timeseries",
    targets: [
      { expr: `sum by (reason) (increase(${METRICS.jobFailures}[15m]))`, legend: "job: {{reason}}" },
      { expr: `sum(increase(${METRICS.airflowTaskFailures}[15m]))`, legend: "airflow tasks" },
    ],
  },
  {
    title: "Service health (up)",
    type: "stat",
    targets: [{ expr: "up", legend: "{{job}}" }],
  },
];

export function renderGrafanaDashboard(model: StackModel): string {
  const panels = DASHBOARD_PANELS.map((p, i) => ({
    id: i + 1,
    title: p.title,
    type: p.type,
    datasource: { type: "prometheus", uid: DATASOURCE_UID },
    gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
    fieldConfig: { defaults: { ...(p.unit ? { unit: p.unit } : {}) }, overrides: [] },
    options: {},
    targets: p.targets.map((t, j) => ({
      refId: String.fromCharCode(65 + j),
      datasource: { type: "prometheus", uid: DATASOURCE_UID },
      expr: t.expr,
      legendFormat: t.legend,
    })),
  }));
  const dashboard = {
    uid: "e2e3d-overview",
    title: "E2E3D overview",
    tags: ["e2e3d", model.profile],
    timezone: "utc",
    schemaVersion: 39,
    version: 1,
    refresh: "30s",
    time: { from: "now-6h", to: "now" },
    panels,
  };
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}
