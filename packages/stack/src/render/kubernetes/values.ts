// The chart's values: what differs per cluster (image references by digest, replicas, the Secret's name, ingress,
// storage, the GPU node selection). Defaults come from the model and the resolved images; a user's overrides are
// checked here with a clear error before Helm sees them, and again by Helm through values.schema.json.
import { z } from "zod";
import { S } from "../../model/services.js";
import type { StackModel } from "../../model/types.js";
import { KubernetesChartError } from "./errors.js";

/** Services whose replica count is a value: the reconstruction service and the Celery workers. */
export const SCALABLE = [S.reconstruction, S.airflowWorker] as const;

/** Volumes with per-pod scratch content in Kubernetes (an emptyDir, not a claim): every Airflow pod writes its logs. */
export const SCRATCH_VOLUMES = ["airflow-logs"];

export const DEFAULT_SECRET_NAME = "e2e3d-secrets";

const DEFAULT_SIZES: Record<string, string> = {
  "objectstore-data": "100Gi",
  "postgres-data": "10Gi",
  "redis-data": "1Gi",
  "prometheus-data": "20Gi",
  "grafana-data": "1Gi",
  "reconstruction-work": "50Gi",
};

const DIGEST_REF = /^[a-z0-9.-]+(:[0-9]+)?\/[a-z0-9._/-]+@sha256:[a-f0-9]{64}$/;
const QUANTITY = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/;
const ACCESS_MODES = ["ReadWriteOnce", "ReadWriteMany"] as const;

export interface ChartValues {
  images: Record<string, string>;
  replicas: Record<string, number>;
  secrets: { name: string };
  ingress: { enabled: boolean; className: string; host: string; tlsSecretName: string };
  storage: {
    className: string;
    sizes: Record<string, string>;
    accessModes: Record<string, (typeof ACCESS_MODES)[number]>;
  };
  imagePullSecrets: { name: string }[];
  gpu?: { count: number; nodeSelector: Record<string, string>; tolerations: Record<string, string>[] };
}

export const claimedVolumes = (model: StackModel) => model.volumes.filter((v) => !SCRATCH_VOLUMES.includes(v));

export function defaultValues(model: StackModel, images: Map<string, string>): ChartValues {
  const scalable = SCALABLE.filter((name) => model.services.some((s) => s.name === name));
  const volumes = claimedVolumes(model);
  return {
    images: Object.fromEntries(model.services.map((s) => [s.name, images.get(s.name) ?? ""])),
    replicas: Object.fromEntries(scalable.map((name) => [name, 1])),
    secrets: { name: DEFAULT_SECRET_NAME },
    ingress: { enabled: true, className: "", host: "", tlsSecretName: "" },
    storage: {
      className: "",
      sizes: Object.fromEntries(volumes.map((v) => [v, DEFAULT_SIZES[v] ?? "10Gi"])),
      accessModes: Object.fromEntries(volumes.map((v) => [v, "ReadWriteOnce" as const])),
    },
    imagePullSecrets: [],
    ...(model.services.some((s) => s.gpu)
      ? {
          gpu: {
            count: 1,
            // The label NVIDIA's GPU feature discovery (GPU operator) puts on nodes with a GPU.
            nodeSelector: { "nvidia.com/gpu.present": "true" },
            tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
          },
        }
      : {}),
  };
}

/** Keys that name a credential: a value under one is a secret typed into the values, which the chart never holds. */
const CREDENTIAL_KEY = /(password|passwd|token|secret|secret_?key|access_?key|fernet_?key|credentials?|private_?key)$/i;

function secretValuePaths(value: unknown, path: string[] = []): string[] {
  if (value && typeof value === "object") {
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
      const here = [...path, k];
      if (CREDENTIAL_KEY.test(k) && (typeof v === "string" || typeof v === "number")) return [here.join(".")];
      return secretValuePaths(v, here);
    });
  }
  return [];
}

/** A zod schema of the values for this model: unknown services, keys and tag references are refused. */
function valuesSchema(model: StackModel, defaults: ChartValues) {
  const services = model.services.map((s) => s.name);
  const record = <T extends z.ZodTypeAny>(keys: string[], value: T) =>
    z.object(Object.fromEntries(keys.map((k) => [k, value.optional()]))).strict();
  const volumes = Object.keys(defaults.storage.sizes);
  return z
    .object({
      images: record(services, z.string().regex(DIGEST_REF, "must be <registry>/<repository>@sha256:<64 hex>")),
      replicas: record(Object.keys(defaults.replicas), z.number().int().min(0).max(100)),
      secrets: z.object({ name: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/) }).strict(),
      ingress: z
        .object({ enabled: z.boolean(), className: z.string(), host: z.string(), tlsSecretName: z.string() })
        .partial()
        .strict(),
      storage: z
        .object({
          className: z.string(),
          sizes: record(volumes, z.string().regex(QUANTITY, "must be a Kubernetes quantity, e.g. 10Gi")),
          accessModes: record(volumes, z.enum(ACCESS_MODES)),
        })
        .partial()
        .strict(),
      imagePullSecrets: z.array(z.object({ name: z.string().min(1) }).strict()),
      gpu: z
        .object({
          count: z.number().int().min(1),
          nodeSelector: z.record(z.string(), z.string()),
          tolerations: z.array(z.record(z.string(), z.string())),
        })
        .partial()
        .strict(),
    })
    .partial()
    .strict();
}

const problem = (i: z.ZodIssue) => {
  const where = i.path.join(".") || "(values)";
  if (i.code === "unrecognized_keys") return `${where}: unknown key(s) ${i.keys.join(", ")}`;
  return `${where}: ${i.message}`;
};

/**
 * Defaults with the user's overrides merged in, checked: a secret value, an unknown service or key, an image not
 * pinned by digest, a missing digest, more than one reconstruction replica on a single-writer volume.
 */
export function chartValues(model: StackModel, images: Map<string, string>, overrides: unknown = {}): ChartValues {
  const defaults = defaultValues(model, images);
  const secrets = secretValuePaths(overrides);
  if (secrets.length > 0) {
    throw new KubernetesChartError(`the values hold a secret value at ${secrets.join(", ")}; the chart never does`, {
      context: { keys: secrets.join(", ") },
      hint: `put credentials in the Kubernetes Secret the chart references by name (secrets.name, default ${DEFAULT_SECRET_NAME}); deploy creates it from the deployment's secrets.env`,
    });
  }
  if (model.profile !== "gpu" && overrides && typeof overrides === "object" && "gpu" in overrides) {
    throw new KubernetesChartError(`gpu values are only accepted for the gpu profile (this is ${model.profile})`, {
      hint: "render with --profile gpu, or drop gpu from the values",
    });
  }
  const parsed = valuesSchema(model, defaults).safeParse(overrides ?? {});
  if (!parsed.success) {
    throw new KubernetesChartError(
      `the chart values are not valid:\n  - ${parsed.error.issues.map(problem).join("\n  - ")}`,
      {
        context: { services: model.services.map((s) => s.name).join(", ") },
        hint: "values may name only the services, volumes and keys of values.yaml; images only by digest",
      },
    );
  }
  const o = parsed.data;
  const values: ChartValues = {
    images: { ...defaults.images, ...o.images } as Record<string, string>,
    replicas: { ...defaults.replicas, ...o.replicas } as Record<string, number>,
    secrets: { ...defaults.secrets, ...o.secrets },
    ingress: { ...defaults.ingress, ...o.ingress },
    storage: {
      className: o.storage?.className ?? defaults.storage.className,
      sizes: { ...defaults.storage.sizes, ...o.storage?.sizes } as Record<string, string>,
      accessModes: {
        ...defaults.storage.accessModes,
        ...o.storage?.accessModes,
      } as ChartValues["storage"]["accessModes"],
    },
    imagePullSecrets: o.imagePullSecrets ?? defaults.imagePullSecrets,
    ...(defaults.gpu ? { gpu: { ...defaults.gpu, ...o.gpu } as NonNullable<ChartValues["gpu"]> } : {}),
  };
  const missing = Object.entries(values.images).filter(([, ref]) => !DIGEST_REF.test(ref));
  if (missing.length > 0) {
    throw new KubernetesChartError(`no image pinned by digest for ${missing.map(([s]) => s).join(", ")}`, {
      context: { services: missing.map(([s]) => s).join(", ") },
      hint: "every image comes from the lock file or the build report, by digest: run the lock / build pipelines",
    });
  }
  const work = "reconstruction-work";
  if ((values.replicas[S.reconstruction] ?? 1) > 1 && values.storage.accessModes[work] !== "ReadWriteMany") {
    throw new KubernetesChartError(
      `replicas.${S.reconstruction} > 1 needs storage.accessModes.${work}: ReadWriteMany (job state lives in E2E3D_STATE_DIR on that volume)`,
      { hint: `use a storage class that offers ReadWriteMany and set storage.accessModes.${work}, or keep 1 replica` },
    );
  }
  return values;
}

/** values.schema.json: Helm refuses values that do not match it (helm lint, template, install). */
export function valuesJsonSchema(values: ChartValues): Record<string, unknown> {
  const strictObject = (properties: Record<string, unknown>, required = Object.keys(properties)) => ({
    type: "object",
    additionalProperties: false,
    required,
    properties,
  });
  const each = (keys: string[], schema: Record<string, unknown>) =>
    strictObject(Object.fromEntries(keys.map((k) => [k, schema])));
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: "e2e3d chart values (generated from the stack model)",
    ...strictObject({
      images: each(Object.keys(values.images), { type: "string", pattern: DIGEST_REF.source }),
      replicas: each(Object.keys(values.replicas), { type: "integer", minimum: 0, maximum: 100 }),
      secrets: strictObject({ name: { type: "string", minLength: 1 } }),
      ingress: strictObject({
        enabled: { type: "boolean" },
        className: { type: "string" },
        host: { type: "string" },
        tlsSecretName: { type: "string" },
      }),
      storage: strictObject({
        className: { type: "string" },
        sizes: each(Object.keys(values.storage.sizes), { type: "string", pattern: QUANTITY.source }),
        accessModes: each(Object.keys(values.storage.accessModes), { enum: [...ACCESS_MODES] }),
      }),
      imagePullSecrets: {
        type: "array",
        items: strictObject({ name: { type: "string", minLength: 1 } }),
      },
      ...(values.gpu
        ? {
            gpu: strictObject({
              count: { type: "integer", minimum: 1 },
              nodeSelector: { type: "object", additionalProperties: { type: "string" } },
              tolerations: { type: "array", items: { type: "object", additionalProperties: { type: "string" } } },
            }),
          }
        : {}),
    }),
  };
}
