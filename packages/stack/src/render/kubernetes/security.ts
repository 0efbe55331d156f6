// Non-root for every pod. Kubernetes can only enforce runAsNonRoot on a numeric user, so each image's user is named
// here (the model's `user` where it has one, else the UID the image itself runs as; the lab's stand-ins use the
// same ones, docker/lab/*/Dockerfile). An image with no known user is an error, never a silent root.

import { BUILD_NAMES, LOCK_NAMES } from "../../model/services.js";
import type { ServiceSpec } from "../../model/types.js";
import { KubernetesChartError } from "./errors.js";

/** image name (lock or build report) → [uid, gid] it runs as. */
export const IMAGE_USERS: Record<string, [number, number]> = {
  [LOCK_NAMES.objectStore]: [1000, 1000],
  [LOCK_NAMES.postgres]: [999, 999],
  [LOCK_NAMES.redis]: [999, 999],
  [LOCK_NAMES.prometheus]: [65534, 65534],
  [LOCK_NAMES.grafana]: [472, 0],
  [LOCK_NAMES.nginx]: [101, 101],
  [LOCK_NAMES.statsdExporter]: [65534, 65534],
  // docker/reconstruction/Dockerfile{,.gpu}: APP_UID=10001.
  [BUILD_NAMES.reconstruction]: [10001, 10001],
  [BUILD_NAMES.reconstructionGpu]: [10001, 10001],
  [BUILD_NAMES.airflow]: [50000, 0],
};

export function runAs(service: ServiceSpec): { user: number; group: number } {
  if (service.user) {
    const match = /^(\d+)(?::(\d+))?$/.exec(service.user);
    if (!match || Number(match[1]) === 0) {
      throw new KubernetesChartError(`${service.name}: user ${service.user} is not a numeric non-root user`, {
        context: { service: service.name },
        hint: "give the service a numeric UID (and GID) other than 0 in the model",
      });
    }
    return { user: Number(match[1]), group: Number(match[2] ?? match[1]) };
  }
  const known = IMAGE_USERS[service.image.name];
  if (!known) {
    throw new KubernetesChartError(`${service.name}: no non-root user is known for image ${service.image.name}`, {
      context: { service: service.name, image: service.image.name },
      hint: "add the UID the image runs as to IMAGE_USERS in packages/stack/src/render/kubernetes/security.ts",
    });
  }
  return { user: known[0], group: known[1] };
}

/** Pod level: what PodSecurity's `restricted` level asks for. fsGroup makes volumes writable by the user. */
export function podSecurityContext(service: ServiceSpec): Record<string, unknown> {
  const { user, group } = runAs(service);
  return {
    runAsNonRoot: true,
    runAsUser: user,
    runAsGroup: group,
    fsGroup: group === 0 ? user : group,
    seccompProfile: { type: "RuntimeDefault" },
  };
}

export const CONTAINER_SECURITY_CONTEXT = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
} as const;
