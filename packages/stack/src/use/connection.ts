// How a client reaches a deployed stack: the gateway (Airflow API, reconstruction API, Prometheus), the S3 API and
// the credentials. Either from a deployment on this machine (its state dir: secrets.env and the deployment record;
// the published ports of its running containers) or, for a stack elsewhere, from the environment (E2E3D_GATEWAY_URL
// and friends). Credentials are returned to the caller, never printed.
import { existsSync, readdirSync } from "node:fs";
import { z } from "zod";
import { projectContainers } from "../deploy/docker.js";
import { lastSuccessful, projectState } from "../deploy/state.js";
import { buildModel } from "../model/profiles.js";
import { BUCKETS, INTERNAL_PORTS, S } from "../model/services.js";
import type { ProfileName, StackModel } from "../model/types.js";
import { readSecrets, type Secrets } from "../secrets.js";
import type { AirflowOptions } from "./airflow.js";
import { InputError, UseError } from "./errors.js";
import type { S3Connection } from "./s3.js";

export interface StackConnection {
  /** Where it came from: a deployment on this machine, or the environment. */
  source: "deployment" | "environment";
  /** The compose project (deployment source only). */
  project?: string;
  /** http://host:port of the gateway, no trailing slash. */
  gatewayUrl: string;
  s3: S3Connection;
  airflow: AirflowOptions;
  buckets: { input: string; output: string };
  /** The reconstruction image the stack runs (by digest), for generating and scoring synthetic sets, when known. */
  reconstructionImage?: string;
  /** Every credential, for a masking logger. */
  secrets: string[];
}

/** The environment a client of a stack elsewhere sets (E2E3D_GATEWAY_URL switches to it). */
export const CONNECTION_ENV = {
  gatewayUrl: "E2E3D_GATEWAY_URL",
  s3Endpoint: "E2E3D_S3_ENDPOINT",
  s3AccessKey: "E2E3D_S3_ACCESS_KEY",
  s3SecretKey: "E2E3D_S3_SECRET_KEY",
  airflowUser: "E2E3D_AIRFLOW_USERNAME",
  airflowPassword: "E2E3D_AIRFLOW_PASSWORD",
  reconstructionImage: "E2E3D_RECONSTRUCTION_IMAGE",
} as const;

const httpUrl = z
  .string()
  .trim()
  .regex(/^https?:\/\/[^\s/]+(\/.*)?$/, "must be an http(s):// URL")
  .transform((u) => u.replace(/\/+$/, ""));
// Path-style S3 requests (and their signatures) start at /<bucket>: an endpoint with a path would be dropped silently.
const s3Origin = z
  .string()
  .trim()
  .regex(/^https?:\/\/[^\s/]+\/?$/, "must be an http(s):// origin without a path (e.g. http://host:9000)")
  .transform((u) => u.replace(/\/+$/, ""));
const EnvConnection = z.object({
  [CONNECTION_ENV.gatewayUrl]: httpUrl,
  [CONNECTION_ENV.s3Endpoint]: s3Origin,
  [CONNECTION_ENV.s3AccessKey]: z.string().trim().min(1, "is empty"),
  [CONNECTION_ENV.s3SecretKey]: z.string().trim().min(1, "is empty"),
  [CONNECTION_ENV.airflowUser]: z.string().trim().min(1).default("e2e3d-admin"),
  [CONNECTION_ENV.airflowPassword]: z.string().trim().min(1, "is empty"),
  [CONNECTION_ENV.reconstructionImage]: z.string().trim().min(1).optional(),
});

/** A connection from the environment; every missing or malformed variable is named at once. */
export function connectionFromEnv(env: NodeJS.ProcessEnv): StackConnection {
  const parsed = EnvConnection.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const name = String(i.path[0]);
      return env[name] === undefined ? `${name} is not set` : `${name} ${i.message}`;
    });
    throw new InputError(`the stack connection in the environment is incomplete: ${problems.join("; ")}`, {
      hint: `with ${CONNECTION_ENV.gatewayUrl} set, also set ${Object.values(CONNECTION_ENV)
        .filter((n) => n !== CONNECTION_ENV.gatewayUrl && n !== CONNECTION_ENV.reconstructionImage)
        .join(
          ", ",
        )} (${CONNECTION_ENV.airflowUser} defaults to e2e3d-admin); or unset it to use a deployment on this machine`,
    });
  }
  const e = parsed.data;
  const image = e[CONNECTION_ENV.reconstructionImage];
  return {
    source: "environment",
    gatewayUrl: e[CONNECTION_ENV.gatewayUrl],
    s3: {
      endpoint: e[CONNECTION_ENV.s3Endpoint],
      accessKey: e[CONNECTION_ENV.s3AccessKey],
      secretKey: e[CONNECTION_ENV.s3SecretKey],
    },
    airflow: {
      baseUrl: `${e[CONNECTION_ENV.gatewayUrl]}/airflow`,
      username: e[CONNECTION_ENV.airflowUser],
      password: e[CONNECTION_ENV.airflowPassword],
    },
    buckets: { ...BUCKETS },
    ...(image ? { reconstructionImage: image } : {}),
    secrets: [e[CONNECTION_ENV.s3SecretKey], e[CONNECTION_ENV.airflowPassword], e[CONNECTION_ENV.s3AccessKey]],
  };
}

/**
 * Projects with a compose deployment in a state dir: a secrets file and the compose deployment record. A Kubernetes
 * release keeps its secrets.env there too, but its record is under kubernetes/: reconstruct cannot reach it through
 * published container ports, so it is not counted.
 */
export function deployedProjects(stateDir: string): string[] {
  if (!existsSync(stateDir)) return [];
  return readdirSync(stateDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .filter((d) => {
      const state = projectState(stateDir, d.name);
      return existsSync(state.secretsFile) && existsSync(state.recordFile);
    })
    .map((d) => d.name)
    .sort();
}

/** The one project in the state dir, or a clear error saying which to choose. */
export function chooseProject(stateDir: string, project?: string): string {
  if (project) return project;
  const found = deployedProjects(stateDir);
  if (found.length === 1) return found[0]!;
  if (found.length === 0)
    throw new UseError(`no deployment in ${stateDir}`, {
      hint: `deploy the stack first (npx tsx pipelines/deploy.ts), pass --state-dir where it was deployed from, or set ${CONNECTION_ENV.gatewayUrl} and the other E2E3D_* connection variables for a stack elsewhere`,
    });
  throw new InputError(`${found.length} deployments in ${stateDir}: ${found.join(", ")}`, {
    hint: "choose one with --project",
  });
}

const loopback = (hostIp: string) => (hostIp === "" || hostIp === "0.0.0.0" || hostIp === "::" ? "127.0.0.1" : hostIp);

/**
 * A connection to a deployment on this machine: its secrets (read, never generated), the Airflow admin user from the
 * model of the deployed profile, and the host ports its running gateway and object store publish.
 */
export async function connectionFromDeployment(stateDir: string, projectName?: string): Promise<StackConnection> {
  const project = chooseProject(stateDir, projectName);
  const state = projectState(stateDir, project);
  if (!existsSync(state.secretsFile) || !existsSync(state.recordFile))
    throw new UseError(`no compose deployment of project ${project} in ${stateDir}`, {
      hint: `deploy it (npx tsx pipelines/deploy.ts), or choose another with --project (found: ${deployedProjects(stateDir).join(", ") || "none"}); for a Kubernetes release set ${CONNECTION_ENV.gatewayUrl} and the other E2E3D_* connection variables`,
    });
  const secrets = readSecrets(state.secretsFile);
  const record = lastSuccessful(state);
  const profile = (record?.profile ?? "lab") as ProfileName;
  const model = buildModel({ profile });
  const containers = (await projectContainers(project)).filter((c) => c.status === "running");
  const published = (service: string, port: number) =>
    containers
      .find((c) => c.service === service)
      ?.bindings.find((b) => b.containerPort === `${port}/tcp` && b.hostPort > 0);
  const gateway = published(S.gateway, INTERNAL_PORTS.gateway);
  const s3 = published(S.objectStore, INTERNAL_PORTS.s3);
  if (!gateway || !s3) {
    const missing = [!gateway ? S.gateway : "", !s3 ? S.objectStore : ""].filter(Boolean).join(" and ");
    throw new UseError(`the stack ${project} is not running: no running ${missing} container publishing its port`, {
      context: { project, stateDir, runningContainers: containers.length },
      hint: "deploy it again (npx tsx pipelines/deploy.ts), or see what is wrong with npx tsx pipelines/deploy.ts --status",
    });
  }
  return deploymentConnection({
    model,
    secrets,
    project,
    gatewayUrl: `http://${loopback(gateway.hostIp)}:${gateway.hostPort}`,
    s3Endpoint: `http://${loopback(s3.hostIp)}:${s3.hostPort}`,
    reconstructionImage:
      record?.images[S.reconstruction] ?? containers.find((c) => c.service === S.reconstruction)?.image,
  });
}

/** A deployment of `model` as a client sees it: where its gateway and S3 API answer, and the deployment's credentials. */
export function deploymentConnection(parts: {
  model: StackModel;
  secrets: Secrets;
  gatewayUrl: string;
  s3Endpoint: string;
  reconstructionImage?: string | undefined;
  project?: string | undefined;
}): StackConnection {
  const { model, secrets, gatewayUrl } = parts;
  const api = model.services.find((s) => s.name === S.airflowApi);
  return {
    source: "deployment",
    ...(parts.project ? { project: parts.project } : {}),
    gatewayUrl,
    s3: {
      endpoint: parts.s3Endpoint,
      accessKey: secrets.objectstore_access_key,
      secretKey: secrets.objectstore_secret_key,
    },
    airflow: {
      baseUrl: `${gatewayUrl}/airflow`,
      username: api?.environment["E2E3D_AIRFLOW_ADMIN_USER"] ?? "e2e3d-admin",
      password: secrets.airflow_admin_password,
    },
    buckets: { ...model.buckets },
    ...(parts.reconstructionImage ? { reconstructionImage: parts.reconstructionImage } : {}),
    secrets: Object.values(secrets),
  };
}

/** The environment's stack when E2E3D_GATEWAY_URL is set, else the deployment in the state dir. */
export async function resolveConnection(options: {
  stateDir: string;
  project?: string;
  env?: NodeJS.ProcessEnv;
}): Promise<StackConnection> {
  const env = options.env ?? process.env;
  if (env[CONNECTION_ENV.gatewayUrl]?.trim()) return connectionFromEnv(env);
  return connectionFromDeployment(options.stateDir, options.project);
}
