// THE ONE PLACE for every difference between the lab profile and production. The lab runs the stack from stand-in
// images built by tools/lab from Debian packages and Go modules (see docker/lab/*/Dockerfile); each difference
// below says why. Nothing else in this package checks for the lab.

import { INTERNAL_PORTS, S } from "./services.js";
import type { HealthCheck, ServiceSpec } from "./types.js";

/** A probe with bash's /dev/tcp: the lab stand-ins have bash but no HTTP client. Passes on the given status pattern. */
export function bashHttpProbe(port: number, path: string, statusPattern = "[23][0-9][0-9]"): string[] {
  return [
    "CMD",
    "bash",
    "-c",
    `exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'GET ${path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q '^HTTP/1\\.[01] ${statusPattern}'`,
  ];
}

const withTest = (health: HealthCheck | undefined, test: string[]): HealthCheck => ({
  intervalS: health?.intervalS ?? 10,
  timeoutS: health?.timeoutS ?? 5,
  retries: health?.retries ?? 6,
  startPeriodS: health?.startPeriodS ?? 20,
  test,
});

export interface LabDifference {
  service: string;
  what: string;
  why: string;
}

/** Services the lab does not run. */
export const LAB_OMITTED: LabDifference[] = [
  {
    service: S.grafana,
    what: "Grafana is not deployed; its gateway route, scrape job and dashboard provisioning are left out",
    why: "no Grafana build exists for the lab machines (no Debian package, no reachable upstream image)",
  },
];

/** Per-service changes, applied in order. */
export const LAB_CHANGES: Array<LabDifference & { apply: (s: ServiceSpec) => ServiceSpec }> = [
  {
    service: S.objectStore,
    what: "the object store is versitygw behind a MinIO-compatible entrypoint: no console (no /objectstore/ route), no metrics endpoint, health probed with bash on /minio/health/live",
    why: "the lab's S3 stand-in (docker/lab/minio) is not MinIO; its entrypoint rejects MinIO-only options and variables are ignored",
    apply: (s) => ({
      ...s,
      command: ["server", "/data", "--address", `:${INTERNAL_PORTS.s3}`],
      environment: {
        MINIO_ROOT_USER: s.environment["MINIO_ROOT_USER"]!,
        MINIO_ROOT_PASSWORD: s.environment["MINIO_ROOT_PASSWORD"]!,
      },
      ports: s.ports.filter((p) => p.name !== "console"),
      healthcheck: withTest(s.healthcheck, bashHttpProbe(INTERNAL_PORTS.s3, "/minio/health/live", "200")),
      metrics: [],
      routes: [],
    }),
  },
  {
    service: S.prometheus,
    what: "prometheus health probed with bash instead of wget",
    why: "the stand-in is Debian's prometheus package: bash, no wget, and its promtool (2.42) has no `check healthy`",
    apply: (s) => ({
      ...s,
      healthcheck: withTest(s.healthcheck, bashHttpProbe(INTERNAL_PORTS.prometheus, "/prometheus/-/healthy", "200")),
    }),
  },
  {
    service: S.statsdExporter,
    what: "statsd-exporter health probed with bash instead of wget",
    why: "the stand-in is the Go binary on the Debian base: bash, no wget",
    apply: (s) => ({
      ...s,
      healthcheck: withTest(s.healthcheck, bashHttpProbe(INTERNAL_PORTS.statsdMetrics, "/metrics", "200")),
    }),
  },
  {
    service: S.gateway,
    what: "gateway health probed with bash instead of curl",
    why: "the stand-in is Debian's nginx package: bash, no curl",
    apply: (s) => ({
      ...s,
      healthcheck: withTest(s.healthcheck, bashHttpProbe(INTERNAL_PORTS.gateway, "/healthz", "200")),
    }),
  },
  {
    service: S.airflowScheduler,
    what: "the scheduler fails a task whose heartbeat stopped after 90 s (production: Airflow's default 300 s)",
    why: "the lab is where the resilience suite kills a Celery worker mid-task, and 300 s of that test was this wait; a live task heartbeats every few seconds, so 90 s stays far from a false alarm even on two loaded cores",
    apply: (s) => ({
      ...s,
      environment: { ...s.environment, AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT: "90" },
    }),
  },
];

export function applyLabDifferences(services: ServiceSpec[]): ServiceSpec[] {
  const omitted = new Set(LAB_OMITTED.map((d) => d.service));
  return services
    .filter((s) => !omitted.has(s.name))
    .map((s) => LAB_CHANGES.filter((c) => c.service === s.name).reduce((acc, c) => c.apply(acc), s))
    .map((s) => ({ ...s, dependsOn: s.dependsOn.filter((d) => !omitted.has(d.service)) }));
}

/** What the deploy summary prints about the lab profile. */
export const labNotes = (): string[] => [
  ...LAB_OMITTED.map((d) => `lab: ${d.what} (${d.why})`),
  ...LAB_CHANGES.map((d) => `lab: ${d.what} (${d.why})`),
];
