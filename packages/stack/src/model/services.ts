// The production service catalogue. Profile differences are applied on top of it: the lab's in ./lab.ts (the one
// place), the GPU reservation in ./profiles.ts.
import { secretRef } from "../secrets.js";
import type { Dependency, HealthCheck, PortPlan, Resources, ServiceSpec } from "./types.js";

/** Service names, used as compose service names and DNS names inside the project network. */
export const S = {
  objectStore: "objectstore",
  postgres: "postgres",
  redis: "redis",
  airflowInit: "airflow-init",
  airflowApi: "airflow-api-server",
  airflowScheduler: "airflow-scheduler",
  airflowDagProcessor: "airflow-dag-processor",
  airflowTriggerer: "airflow-triggerer",
  airflowWorker: "airflow-worker",
  reconstruction: "reconstruction",
  prometheus: "prometheus",
  grafana: "grafana",
  gateway: "gateway",
  statsdExporter: "statsd-exporter",
} as const;

/** Names of third-party images in the images/lock files (docker/images.yaml, docker/lab/images.yaml). */
export const LOCK_NAMES = {
  objectStore: "minio",
  postgres: "postgres",
  redis: "redis",
  prometheus: "prometheus",
  grafana: "grafana",
  nginx: "nginx",
  statsdExporter: "statsd-exporter",
} as const;

/** Names of first-party images in the build report (`<private>/e2e3d/<name>@<digest>`). */
export const BUILD_NAMES = {
  reconstruction: "reconstruction",
  reconstructionGpu: "reconstruction-gpu",
  airflow: "airflow",
} as const;

/** Ports inside the project network. */
export const INTERNAL_PORTS = {
  s3: 9000,
  objectStoreConsole: 9001,
  postgres: 5432,
  redis: 6379,
  airflowApi: 8080,
  reconstruction: 8000,
  prometheus: 9090,
  grafana: 3000,
  gateway: 8080,
  statsdUdp: 9125,
  statsdMetrics: 9102,
} as const;

export const BUCKETS = { input: "e2e3d-input", output: "e2e3d-output" } as const;

/** The DAG the smoke test expects Airflow to have loaded (packages/airflow-dags). */
export const RECONSTRUCTION_DAG_ID = "e2e3d_reconstruction";

/** The Airflow image runs as this UID with group 0 (Airflow's own convention, airflow#17320). */
export const AIRFLOW_USER = "50000:0";

const health = (test: string[], over: Partial<HealthCheck> = {}): HealthCheck => ({
  intervalS: 10,
  timeoutS: 5,
  retries: 6,
  startPeriodS: 20,
  ...over,
  test,
});

/** An HTTP probe with the Python every first-party image has (no curl needed). */
export const pythonHttpProbe = (url: string): string[] => [
  "CMD",
  "python3",
  "-c",
  `import sys,urllib.request; sys.exit(0 if urllib.request.urlopen('${url}', timeout=4).status < 400 else 1)`,
];

const healthy = (...services: string[]): Dependency[] =>
  services.map((service) => ({ service, condition: "service_healthy" as const }));

const res = (cpus: number, memoryMiB: number): Resources => ({ cpus, memoryMiB });

export interface CatalogueOptions {
  ports: PortPlan;
  publicUrl: string;
  gatewayBind: "loopback" | "all";
}

/** Airflow configuration shared by every Airflow role (Airflow's `x-airflow-common`). */
function airflowEnvironment(publicUrl: string): Record<string, string> {
  const db = `postgresql+psycopg2://airflow:${secretRef("postgres_password")}@${S.postgres}:${INTERNAL_PORTS.postgres}/airflow`;
  return {
    AIRFLOW__CORE__EXECUTOR: "CeleryExecutor",
    AIRFLOW__CORE__LOAD_EXAMPLES: "False",
    AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION: "False",
    AIRFLOW__CORE__FERNET_KEY: secretRef("airflow_fernet_key"),
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: db,
    AIRFLOW__CELERY__RESULT_BACKEND: `db+postgresql://airflow:${secretRef("postgres_password")}@${S.postgres}:${INTERNAL_PORTS.postgres}/airflow`,
    AIRFLOW__CELERY__BROKER_URL: `redis://:${secretRef("redis_password")}@${S.redis}:${INTERNAL_PORTS.redis}/0`,
    AIRFLOW__API_AUTH__JWT_SECRET: secretRef("airflow_jwt_secret"),
    AIRFLOW__API__SECRET_KEY: secretRef("airflow_api_secret_key"),
    // The UI and API live under /airflow/ on the gateway; workers reach the execution API inside the network.
    AIRFLOW__API__BASE_URL: `${publicUrl}/airflow`,
    AIRFLOW__CORE__EXECUTION_API_SERVER_URL: `http://${S.airflowApi}:${INTERNAL_PORTS.airflowApi}/airflow/execution/`,
    AIRFLOW__METRICS__STATSD_ON: "True",
    AIRFLOW__METRICS__STATSD_HOST: S.statsdExporter,
    AIRFLOW__METRICS__STATSD_PORT: String(INTERNAL_PORTS.statsdUdp),
    AIRFLOW__METRICS__STATSD_PREFIX: "airflow",
    E2E3D_AIRFLOW_ADMIN_USER: "e2e3d-admin",
    E2E3D_AIRFLOW_ADMIN_PASSWORD: secretRef("airflow_admin_password"),
    // The DAGs' connections (packages/airflow-dags e2e3d_lib/connections.py): from the environment as JSON
    // connections, never hard-coded hosts. Secrets are interpolated by compose from the deployment's env file.
    AIRFLOW_CONN_E2E3D_OBJECT_STORE: JSON.stringify({
      conn_type: "aws",
      login: secretRef("objectstore_access_key"),
      password: secretRef("objectstore_secret_key"),
      extra: { endpoint_url: `http://${S.objectStore}:${INTERNAL_PORTS.s3}`, region_name: "us-east-1" },
    }),
    AIRFLOW_CONN_E2E3D_RECONSTRUCTION_API: JSON.stringify({
      conn_type: "http",
      host: `http://${S.reconstruction}:${INTERNAL_PORTS.reconstruction}`,
    }),
    // The input-watch DAG's Airflow variables (packages/airflow-dags e2e3d_input_watch.py).
    AIRFLOW_VAR_E2E3D_WATCH_INPUT: `s3://${BUCKETS.input}/incoming/`,
    AIRFLOW_VAR_E2E3D_WATCH_OUTPUT: `s3://${BUCKETS.output}/meshes/`,
  };
}

const AIRFLOW_SECRETS = [
  "postgres_password",
  "redis_password",
  "airflow_fernet_key",
  "airflow_jwt_secret",
  "airflow_api_secret_key",
  "airflow_admin_password",
  "objectstore_access_key",
  "objectstore_secret_key",
] as const;

/**
 * The Airflow image's own probe (docker/airflow/bin/healthcheck): it reads the role from PID 1 and checks it with
 * what the image has (scheduler health server, `airflow jobs check --local`, celery ping).
 */
const airflowImageProbe = (): HealthCheck =>
  health(["CMD", "/opt/airflow/bin/healthcheck"], { intervalS: 30, timeoutS: 30, retries: 5, startPeriodS: 90 });

/**
 * The roles of the one Airflow image (docker/airflow/bin/entrypoint <role>): the command each runs and how it proves
 * health. The api-server is probed here, not by the image's script, because it serves under the gateway sub-path.
 */
export const AIRFLOW_ROLES = {
  [S.airflowApi]: {
    command: ["api-server"],
    health: health(pythonHttpProbe(`http://127.0.0.1:${INTERNAL_PORTS.airflowApi}/airflow/api/v2/monitor/health`), {
      intervalS: 15,
      timeoutS: 10,
      retries: 8,
      startPeriodS: 60,
    }),
  },
  [S.airflowScheduler]: { command: ["scheduler"], health: airflowImageProbe() },
  [S.airflowDagProcessor]: { command: ["dag-processor"], health: airflowImageProbe() },
  [S.airflowTriggerer]: { command: ["triggerer"], health: airflowImageProbe() },
  [S.airflowWorker]: { command: ["celery-worker"], health: airflowImageProbe() },
} as const;

/** The one-shot init: migrates the database and creates the admin user, idempotently. */
export const AIRFLOW_INIT_COMMAND = ["init"];

export function productionServices(options: CatalogueOptions): ServiceSpec[] {
  const { ports, publicUrl } = options;
  const airflowEnv = airflowEnvironment(publicUrl);
  const airflowBase = {
    image: { kind: "build" as const, name: BUILD_NAMES.airflow },
    user: AIRFLOW_USER,
    environment: airflowEnv,
    secrets: [...AIRFLOW_SECRETS],
    mounts: [{ kind: "volume" as const, volume: "airflow-logs", target: "/opt/airflow/logs" }],
    metrics: [],
    stopGracePeriodS: 30,
  };
  const afterInit: Dependency[] = [
    { service: S.airflowInit, condition: "service_completed_successfully" },
    ...healthy(S.postgres, S.redis),
  ];
  const airflowRole = (
    name: keyof typeof AIRFLOW_ROLES,
    description: string,
    extra: Partial<ServiceSpec> = {},
  ): ServiceSpec => ({
    ...airflowBase,
    name,
    description,
    command: [...AIRFLOW_ROLES[name].command],
    ports: [],
    healthcheck: AIRFLOW_ROLES[name].health,
    dependsOn: afterInit,
    resources: res(1, 1536),
    routes: [],
    ...extra,
  });

  return [
    {
      name: S.objectStore,
      description: "S3 object store: input image sets, output meshes",
      image: { kind: "lock", name: LOCK_NAMES.objectStore },
      command: [
        "server",
        "/data",
        "--address",
        `:${INTERNAL_PORTS.s3}`,
        "--console-address",
        `:${INTERNAL_PORTS.objectStoreConsole}`,
      ],
      environment: {
        MINIO_ROOT_USER: secretRef("objectstore_access_key"),
        MINIO_ROOT_PASSWORD: secretRef("objectstore_secret_key"),
        MINIO_BROWSER_REDIRECT_URL: `${publicUrl}/objectstore/`,
        // Prometheus scrapes the cluster metrics without a bearer token; they carry no object data.
        MINIO_PROMETHEUS_AUTH_TYPE: "public",
      },
      secrets: ["objectstore_access_key", "objectstore_secret_key"],
      mounts: [{ kind: "volume", volume: "objectstore-data", target: "/data" }],
      ports: [
        { name: "s3", container: INTERNAL_PORTS.s3, publish: { host: ports.objectStore, bind: "loopback" } },
        { name: "console", container: INTERNAL_PORTS.objectStoreConsole },
      ],
      // MinIO dropped curl from its image; `mc ready local` is what its documentation probes with.
      healthcheck: health(["CMD", "mc", "ready", "local"]),
      dependsOn: [],
      resources: res(1, 1024),
      metrics: [{ port: INTERNAL_PORTS.s3, path: "/minio/v2/metrics/cluster" }],
      routes: [
        {
          prefix: "/objectstore/",
          port: INTERNAL_PORTS.objectStoreConsole,
          stripPrefix: true,
          websocket: true,
          title: "Object store console",
          probe: "",
        },
      ],
    },
    {
      name: S.postgres,
      description: "Airflow metadata database",
      image: { kind: "lock", name: LOCK_NAMES.postgres },
      environment: {
        POSTGRES_USER: "airflow",
        POSTGRES_DB: "airflow",
        POSTGRES_PASSWORD: secretRef("postgres_password"),
      },
      secrets: ["postgres_password"],
      mounts: [{ kind: "volume", volume: "postgres-data", target: "/var/lib/postgresql/data" }],
      ports: [{ name: "postgres", container: INTERNAL_PORTS.postgres }],
      healthcheck: health(["CMD", "pg_isready", "-U", "airflow", "-d", "airflow", "-h", "127.0.0.1"]),
      dependsOn: [],
      resources: res(1, 1024),
      metrics: [],
      routes: [],
    },
    {
      name: S.redis,
      description: "Celery broker",
      image: { kind: "lock", name: LOCK_NAMES.redis },
      // `redis-server` first, so the image's entrypoint drops to its redis user (official image) or keeps its
      // network defaults (lab stand-in); the password is interpolated by compose from the secrets file.
      command: ["redis-server", "--requirepass", secretRef("redis_password"), "--appendonly", "yes"],
      environment: { REDIS_PASSWORD: secretRef("redis_password") },
      secrets: ["redis_password"],
      mounts: [{ kind: "volume", volume: "redis-data", target: "/data" }],
      ports: [{ name: "redis", container: INTERNAL_PORTS.redis }],
      healthcheck: health(["CMD-SHELL", 'REDISCLI_AUTH="$$REDIS_PASSWORD" redis-cli -h 127.0.0.1 ping | grep -q PONG']),
      dependsOn: [],
      resources: res(0.5, 512),
      metrics: [],
      routes: [],
    },
    {
      ...airflowBase,
      name: S.airflowInit,
      description: "One-shot: migrates the Airflow database and creates the admin user (idempotent)",
      command: [...AIRFLOW_INIT_COMMAND],
      ports: [],
      oneShot: true,
      dependsOn: healthy(S.postgres, S.redis),
      resources: res(1, 1024),
      routes: [],
    },
    airflowRole(S.airflowApi, "Airflow API server and UI", {
      ports: [{ name: "http", container: INTERNAL_PORTS.airflowApi }],
      routes: [
        {
          prefix: "/airflow/",
          port: INTERNAL_PORTS.airflowApi,
          stripPrefix: false,
          websocket: false,
          title: "Airflow",
          probe: "api/v2/monitor/health",
        },
      ],
    }),
    airflowRole(S.airflowScheduler, "Airflow scheduler"),
    airflowRole(S.airflowDagProcessor, "Airflow DAG processor"),
    airflowRole(S.airflowTriggerer, "Airflow triggerer", { resources: res(0.5, 1024) }),
    airflowRole(S.airflowWorker, "Airflow Celery worker", {
      dependsOn: [...afterInit, ...healthy(S.reconstruction)],
      resources: res(1, 2048),
    }),
    {
      name: S.reconstruction,
      description: "Reconstruction API and job runner: image sets in the object store to meshes in the object store",
      image: { kind: "build", name: BUILD_NAMES.reconstruction },
      environment: {
        E2E3D_S3_ENDPOINT: `http://${S.objectStore}:${INTERNAL_PORTS.s3}`,
        E2E3D_S3_ACCESS_KEY: secretRef("objectstore_access_key"),
        E2E3D_S3_SECRET_KEY: secretRef("objectstore_secret_key"),
        // Created idempotently by the service at start (packages/reconstruction cli.py serve).
        E2E3D_BUCKETS: `${BUCKETS.input},${BUCKETS.output}`,
        E2E3D_STATE_DIR: "/var/lib/e2e3d",
        E2E3D_HOST: "0.0.0.0",
        E2E3D_PORT: String(INTERNAL_PORTS.reconstruction),
      },
      secrets: ["objectstore_access_key", "objectstore_secret_key"],
      mounts: [{ kind: "volume", volume: "reconstruction-work", target: "/var/lib/e2e3d" }],
      ports: [{ name: "http", container: INTERNAL_PORTS.reconstruction }],
      healthcheck: health(pythonHttpProbe(`http://127.0.0.1:${INTERNAL_PORTS.reconstruction}/healthz`), {
        startPeriodS: 30,
      }),
      dependsOn: healthy(S.objectStore),
      resources: res(2, 4096),
      metrics: [{ port: INTERNAL_PORTS.reconstruction, path: "/metrics" }],
      routes: [
        {
          prefix: "/api/",
          port: INTERNAL_PORTS.reconstruction,
          stripPrefix: true,
          websocket: false,
          title: "Reconstruction API",
          probe: "readyz",
        },
      ],
      stopGracePeriodS: 60,
    },
    {
      name: S.statsdExporter,
      description: "Receives Airflow's StatsD metrics and exposes them to Prometheus",
      image: { kind: "lock", name: LOCK_NAMES.statsdExporter },
      command: [
        `--statsd.listen-udp=:${INTERNAL_PORTS.statsdUdp}`,
        `--web.listen-address=:${INTERNAL_PORTS.statsdMetrics}`,
        "--statsd.mapping-config=/etc/statsd/mapping.yml",
      ],
      environment: {},
      secrets: [],
      // Airflow's mapping (docker/airflow/statsd-mapping.yml) turns dotted names into labelled metrics.
      mounts: [{ kind: "config", source: "statsd/mapping.yml", target: "/etc/statsd/mapping.yml" }],
      ports: [
        { name: "statsd", container: INTERNAL_PORTS.statsdUdp },
        { name: "metrics", container: INTERNAL_PORTS.statsdMetrics },
      ],
      // The upstream image is busybox-based: wget is there, curl is not.
      healthcheck: health([
        "CMD",
        "wget",
        "-q",
        "-O",
        "/dev/null",
        `http://127.0.0.1:${INTERNAL_PORTS.statsdMetrics}/metrics`,
      ]),
      dependsOn: [],
      resources: res(0.25, 128),
      metrics: [{ port: INTERNAL_PORTS.statsdMetrics, path: "/metrics" }],
      routes: [],
    },
    {
      name: S.prometheus,
      description: "Scrapes every service that exposes metrics; evaluates the alert rules",
      image: { kind: "lock", name: LOCK_NAMES.prometheus },
      command: [
        "--config.file=/etc/prometheus/prometheus.yml",
        "--storage.tsdb.path=/prometheus",
        "--storage.tsdb.retention.time=15d",
        `--web.external-url=${publicUrl}/prometheus/`,
        "--web.route-prefix=/prometheus/",
      ],
      environment: {},
      secrets: [],
      mounts: [
        { kind: "volume", volume: "prometheus-data", target: "/prometheus" },
        { kind: "config", source: "prometheus", target: "/etc/prometheus" },
      ],
      ports: [{ name: "http", container: INTERNAL_PORTS.prometheus }],
      // The upstream image is busybox-based: wget is there, curl is not.
      healthcheck: health([
        "CMD",
        "wget",
        "-q",
        "-O",
        "/dev/null",
        `http://127.0.0.1:${INTERNAL_PORTS.prometheus}/prometheus/-/healthy`,
      ]),
      dependsOn: [],
      resources: res(1, 1024),
      metrics: [{ port: INTERNAL_PORTS.prometheus, path: "/prometheus/metrics" }],
      routes: [
        {
          prefix: "/prometheus/",
          port: INTERNAL_PORTS.prometheus,
          stripPrefix: false,
          websocket: false,
          title: "Prometheus",
          probe: "-/ready",
        },
      ],
    },
    {
      name: S.grafana,
      description: "Dashboards, provisioned from files",
      image: { kind: "lock", name: LOCK_NAMES.grafana },
      environment: {
        GF_SECURITY_ADMIN_USER: "e2e3d-admin",
        GF_SECURITY_ADMIN_PASSWORD: secretRef("grafana_admin_password"),
        GF_SERVER_ROOT_URL: `${publicUrl}/grafana/`,
        GF_SERVER_SERVE_FROM_SUB_PATH: "true",
        GF_USERS_ALLOW_SIGN_UP: "false",
        GF_AUTH_ANONYMOUS_ENABLED: "false",
        GF_ANALYTICS_REPORTING_ENABLED: "false",
        GF_ANALYTICS_CHECK_FOR_UPDATES: "false",
        GF_PATHS_PROVISIONING: "/etc/grafana/provisioning",
      },
      secrets: ["grafana_admin_password"],
      mounts: [
        { kind: "volume", volume: "grafana-data", target: "/var/lib/grafana" },
        { kind: "config", source: "grafana/provisioning", target: "/etc/grafana/provisioning" },
        { kind: "config", source: "grafana/dashboards", target: "/etc/grafana/dashboards" },
      ],
      ports: [{ name: "http", container: INTERNAL_PORTS.grafana }],
      healthcheck: health(
        ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${INTERNAL_PORTS.grafana}/api/health`],
        {
          startPeriodS: 30,
        },
      ),
      dependsOn: healthy(S.prometheus),
      resources: res(0.5, 512),
      metrics: [{ port: INTERNAL_PORTS.grafana, path: "/metrics" }],
      routes: [
        {
          prefix: "/grafana/",
          port: INTERNAL_PORTS.grafana,
          stripPrefix: false,
          websocket: true,
          title: "Grafana",
          probe: "api/health",
        },
      ],
    },
    {
      name: S.gateway,
      description: "The single gateway: API, Airflow UI, object store console, Grafana, Prometheus",
      image: { kind: "lock", name: LOCK_NAMES.nginx },
      command: ["nginx", "-g", "daemon off;"],
      environment: {},
      secrets: [],
      mounts: [{ kind: "config", source: "nginx/nginx.conf", target: "/etc/nginx/nginx.conf" }],
      ports: [
        {
          name: "http",
          container: INTERNAL_PORTS.gateway,
          publish: { host: ports.gateway, bind: options.gatewayBind },
        },
      ],
      // The upstream image (Debian-based) has curl.
      healthcheck: health([
        "CMD",
        "curl",
        "-fsS",
        "-o",
        "/dev/null",
        `http://127.0.0.1:${INTERNAL_PORTS.gateway}/healthz`,
      ]),
      // Filled in by the model builder from the routes, so the gateway starts after what it fronts.
      dependsOn: [],
      resources: res(0.5, 256),
      metrics: [],
      routes: [],
    },
  ];
}
