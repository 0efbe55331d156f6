// The Kubernetes objects of one service, from its model: a workload (Deployment, StatefulSet or Job), a Service for
// its ports, config maps for the generated files it mounts. Values that differ per cluster are Helm expressions.
import { createHash } from "node:crypto";
import { S } from "../../model/services.js";
import type { Mount, ServiceSpec, StackModel } from "../../model/types.js";
import { containerEnv } from "./env.js";
import { probesFor } from "./probes.js";
import { CONTAINER_SECURITY_CONTEXT, podSecurityContext } from "./security.js";
import type { Templated } from "./template.js";
import { SCALABLE, SCRATCH_VOLUMES } from "./values.js";

/** Data stores: one pod with stable identity over its claim. */
export const STATEFUL = [S.postgres, S.objectStore, S.redis] as const;

/** Ports that carry UDP (the model's ports are TCP unless listed here): Airflow's StatsD metrics. */
export const UDP_PORTS: Record<string, string[]> = { [S.statsdExporter]: ["statsd"] };

export const PART_OF = "e2e3d";

/** One release per namespace: the objects' names are the model's service names (the DNS names the services use). */
export const selectorLabels = (service: string) => ({
  "app.kubernetes.io/name": service,
  "app.kubernetes.io/part-of": PART_OF,
});

/** The ConfigMap that carries a config mount's files (relative to the generated-config directory). */
export const configMapName = (source: string) =>
  `cfg-${source.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}`.replace(/-+$/, "");
/** ConfigMap keys may not contain `/`. */
export const configKey = (path: string) => path.replace(/\//g, "__");

export function filesUnder(source: string, files: Map<string, string>): string[] {
  return [...files.keys()].filter((p) => p === source || p.startsWith(`${source}/`)).sort();
}

/** The same hash compose puts on its label: a changed config file rolls just the pods that mount it. */
function configHash(service: ServiceSpec, files: Map<string, string>): string | undefined {
  const sources = service.mounts.flatMap((m) => (m.kind === "config" ? [m.source] : []));
  if (sources.length === 0) return undefined;
  const hash = createHash("sha256");
  for (const path of [...files.keys()].sort()) {
    if (sources.some((src) => path === src || path.startsWith(`${src}/`))) hash.update(`${path}\0${files.get(path)}\0`);
  }
  return `sha256:${hash.digest("hex")}`;
}

const volumeName = (m: Mount) => (m.kind === "volume" ? m.volume : configMapName(m.source));

function volumes(service: ServiceSpec, files: Map<string, string>) {
  const seen = new Set<string>();
  const list: Record<string, unknown>[] = [];
  for (const m of service.mounts) {
    const name = volumeName(m);
    if (seen.has(name)) continue;
    seen.add(name);
    if (m.kind === "volume") {
      list.push(
        SCRATCH_VOLUMES.includes(m.volume)
          ? { name, emptyDir: {} }
          : { name, persistentVolumeClaim: { claimName: name } },
      );
    } else {
      const items = filesUnder(m.source, files).map((path) => ({
        key: configKey(path),
        path: path === m.source ? configKey(path) : path.slice(m.source.length + 1),
      }));
      list.push({ name, configMap: { name, items } });
    }
  }
  return list;
}

function volumeMounts(service: ServiceSpec, files: Map<string, string>) {
  return service.mounts.map((m) => {
    const name = volumeName(m);
    if (m.kind === "config") {
      // A single file is mounted by its key (subPath); a directory with every file under it.
      const single = filesUnder(m.source, files).length === 1 && files.has(m.source);
      return { name, mountPath: m.target, readOnly: true, ...(single ? { subPath: configKey(m.source) } : {}) };
    }
    // Postgres refuses a data directory that is a mount point with lost+found in it: use a subdirectory.
    const subPath = service.name === S.postgres ? { subPath: "pgdata" } : {};
    return { name, mountPath: m.target, ...(m.readOnly ? { readOnly: true } : {}), ...subPath };
  });
}

const millicpu = (cpus: number) => `${Math.max(10, Math.round(cpus * 1000))}m`;

/** Limits as in compose; CPU requested at a quarter of the limit so the stack schedules on a small node. */
function resources(service: ServiceSpec, t: Templated) {
  const gpu = service.gpu ? { "nvidia.com/gpu": t.value("int .Values.gpu.count") } : {};
  return {
    requests: { cpu: millicpu(service.resources.cpus / 4), memory: `${service.resources.memoryMiB}Mi`, ...gpu },
    limits: { cpu: millicpu(service.resources.cpus), memory: `${service.resources.memoryMiB}Mi`, ...gpu },
  };
}

export function podTemplate(service: ServiceSpec, files: Map<string, string>, t: Templated) {
  const { env, command, args } = containerEnv(service, t.value(".Values.secrets.name | quote"));
  const hash = configHash(service, files);
  const ports = service.ports.map((p) => ({
    name: p.name,
    containerPort: p.container,
    protocol: UDP_PORTS[service.name]?.includes(p.name) ? "UDP" : "TCP",
  }));
  const container = {
    name: service.name,
    image: t.value(
      `required "images.${service.name} must be a reference by digest" (index .Values.images "${service.name}") | quote`,
    ),
    imagePullPolicy: "IfNotPresent",
    ...(command ? { command } : {}),
    ...(args ? { args } : {}),
    ...(env.length > 0 ? { env } : {}),
    ...(ports.length > 0 ? { ports } : {}),
    ...(service.healthcheck ? probesFor(service.name, service.healthcheck) : {}),
    resources: resources(service, t),
    securityContext: CONTAINER_SECURITY_CONTEXT,
    ...(service.mounts.length > 0 ? { volumeMounts: volumeMounts(service, files) } : {}),
  };
  return {
    metadata: {
      labels: selectorLabels(service.name),
      annotations: {
        "e2e3d.io/description": service.description,
        ...(hash ? { "e2e3d.io/config-hash": hash } : {}),
      },
    },
    spec: {
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      ...(service.oneShot ? { restartPolicy: "OnFailure" } : {}),
      ...(service.stopGracePeriodS ? { terminationGracePeriodSeconds: service.stopGracePeriodS } : {}),
      securityContext: podSecurityContext(service),
      imagePullSecrets: t.block(".Values.imagePullSecrets"),
      ...(service.gpu
        ? { nodeSelector: t.block(".Values.gpu.nodeSelector"), tolerations: t.block(".Values.gpu.tolerations") }
        : {}),
      containers: [container],
      ...(service.mounts.length > 0 ? { volumes: volumes(service, files) } : {}),
    },
  };
}

export function workload(
  service: ServiceSpec,
  files: Map<string, string>,
  t: Templated,
  labels: Record<string, string>,
) {
  const template = podTemplate(service, files, t);
  const metadata = (name: string) => ({ name, labels: { ...labels, ...selectorLabels(service.name) } });
  const selector = { matchLabels: selectorLabels(service.name) };
  if (service.oneShot) {
    // A Job's pod template cannot change: the name carries the hash of its spec, so a new image or command is a new
    // Job (and re-applying an unchanged one is a no-op, as `compose up` is for a completed one-shot).
    const hash = createHash("sha256").update(JSON.stringify(template)).digest("hex").slice(0, 10);
    return {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: metadata(`${service.name}-${hash}`),
      spec: { backoffLimit: 4, template },
    };
  }
  const replicas = (SCALABLE as readonly string[]).includes(service.name)
    ? t.value(`int (index .Values.replicas "${service.name}")`)
    : 1;
  if ((STATEFUL as readonly string[]).includes(service.name)) {
    return {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: metadata(service.name),
      spec: { serviceName: service.name, replicas, selector, template },
    };
  }
  // A claim (ReadWriteOnce by default) cannot be mounted by the old and the new pod at once.
  const claims = service.mounts.some((m) => m.kind === "volume" && !SCRATCH_VOLUMES.includes(m.volume));
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: metadata(service.name),
    spec: { replicas, selector, ...(claims ? { strategy: { type: "Recreate" } } : {}), template },
  };
}

export function serviceObject(service: ServiceSpec, labels: Record<string, string>) {
  if (service.ports.length === 0) return undefined;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: service.name, labels: { ...labels, ...selectorLabels(service.name) } },
    spec: {
      type: "ClusterIP",
      selector: selectorLabels(service.name),
      ports: service.ports.map((p) => ({
        name: p.name,
        port: p.container,
        targetPort: p.name,
        protocol: UDP_PORTS[service.name]?.includes(p.name) ? "UDP" : "TCP",
      })),
    },
  };
}

export function configMaps(
  model: StackModel,
  files: Map<string, string>,
  t: Templated,
  labels: Record<string, string>,
) {
  const sources = [
    ...new Set(model.services.flatMap((s) => s.mounts.flatMap((m) => (m.kind === "config" ? [m.source] : [])))),
  ];
  return sources.sort().map((source) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: configMapName(source), labels },
    // The files live in the chart's files/ (as rendered for compose) and are read by Helm: never templated.
    data: Object.fromEntries(
      filesUnder(source, files).map((path) => [configKey(path), t.value(`.Files.Get "files/${path}" | quote`)]),
    ),
  }));
}
