// The stack model: every service of a deployment described once, in types. The compose file, the NGINX gateway, the
// Prometheus scrape configuration and the Grafana provisioning are all rendered from this, never written by hand.

/** Where a service's image comes from: a name in the lock file (third-party) or in the build report (first-party). */
export type ImageSource = { kind: "lock"; name: string } | { kind: "build"; name: string };

export type DependencyCondition = "service_healthy" | "service_completed_successfully" | "service_started";

export interface Dependency {
  service: string;
  condition: DependencyCondition;
}

/** A healthcheck run inside the container with what the image actually has (no curl in images without curl). */
export interface HealthCheck {
  /** Compose `test`: ["CMD", ...] or ["CMD-SHELL", "..."]. A literal `$` must be written `$$` (compose interpolation). */
  test: string[];
  intervalS: number;
  timeoutS: number;
  retries: number;
  startPeriodS: number;
}

/** A port the service listens on inside the network; `publish` also maps it on the host. */
export interface PortSpec {
  name: string;
  container: number;
  publish?: {
    host: number;
    /** Only the gateway may be published beyond loopback; a test enforces it. */
    bind: "loopback" | "all";
  };
}

export type Mount =
  | { kind: "volume"; volume: string; target: string; readOnly?: boolean }
  /** A generated config file or directory, relative to the deployment's generated-config directory. */
  | { kind: "config"; source: string; target: string };

/** Prometheus scrapes this; a job is derived from every endpoint so a new service cannot be forgotten. */
export interface MetricsEndpoint {
  port: number;
  path: string;
}

/** A path on the single gateway that proxies to this service. */
export interface GatewayRoute {
  /** Path prefix with leading and trailing slash, e.g. "/grafana/". `/prefix` redirects to `/prefix/`. */
  prefix: string;
  port: number;
  /** Remove the prefix before proxying (for apps that do not know they live under a sub-path). */
  stripPrefix: boolean;
  /** Forward WebSocket upgrades (Grafana Live, the object store console). */
  websocket: boolean;
  title: string;
  /** A path under the prefix that answers 2xx/3xx when the route works (used by the smoke test). */
  probe: string;
}

export interface Resources {
  cpus: number;
  memoryMiB: number;
}

/** A named secret, generated on first deploy and referenced from environment values. */
export type SecretName =
  | "postgres_password"
  | "redis_password"
  | "objectstore_access_key"
  | "objectstore_secret_key"
  | "airflow_fernet_key"
  | "airflow_jwt_secret"
  | "airflow_api_secret_key"
  | "airflow_admin_password"
  | "grafana_admin_password";

export interface ServiceSpec {
  name: string;
  description: string;
  image: ImageSource;
  command?: string[];
  entrypoint?: string[];
  user?: string;
  /** Values may reference secrets through `secretRef()`: compose interpolates them from the deployment's env file. */
  environment: Record<string, string>;
  /** The secrets this service receives (documentation and a test that no other secret leaks into it). */
  secrets: SecretName[];
  mounts: Mount[];
  ports: PortSpec[];
  /** Every long-running service has one; one-shots have none and are awaited by `service_completed_successfully`. */
  healthcheck?: HealthCheck;
  /** A one-shot job (the Airflow init): runs to completion, never restarted. */
  oneShot?: boolean;
  dependsOn: Dependency[];
  resources: Resources;
  metrics: MetricsEndpoint[];
  routes: GatewayRoute[];
  /** Reserve GPUs for this service (the gpu profile's reconstruction). */
  gpu?: boolean;
  stopGracePeriodS?: number;
}

export type ProfileName = "production" | "lab" | "gpu";

/** Host ports of the deployment; every one but the gateway binds 127.0.0.1. */
export interface PortPlan {
  gateway: number;
  /** The S3 API, for clients that upload image sets (S3 request signing does not survive a path prefix). */
  objectStore: number;
}

export interface StackModel {
  profile: ProfileName;
  services: ServiceSpec[];
  volumes: string[];
  ports: PortPlan;
  /** The address the gateway is reached at from a browser (used for redirects and sub-path configuration). */
  publicUrl: string;
  /** Where the gateway binds: 0.0.0.0 in production, 127.0.0.1 where the machine forbids more (the lab). */
  gatewayBind: string;
  /** Human-readable statements of what this profile leaves out or changes, printed in the summary. */
  notes: string[];
  buckets: { input: string; output: string };
}
