// Kubernetes probes from the model's compose healthcheck: the same command, run by the kubelet as an exec probe.
// startup: the compose start period (failures during it do not count) plus the retries; readiness and liveness: the
// interval, timeout and retries of the healthcheck.
import type { HealthCheck } from "../../model/types.js";
import { KubernetesChartError } from "./errors.js";

/** The exec command of a compose test: CMD as is, CMD-SHELL through /bin/sh; `$$` (compose's escaped `$`) becomes `$`. */
export function probeCommand(service: string, test: string[]): string[] {
  const [kind, ...rest] = test;
  const composeUnescape = (s: string) => s.replace(/\$\$/g, "$");
  if (rest.some((a) => /\$\{[A-Z0-9_]+/.test(a))) {
    throw new KubernetesChartError(
      `${service}: its healthcheck interpolates a variable, which a kubelet exec probe cannot`,
      {
        context: { service, test: test.join(" ") },
        hint: "read the value from the container's environment inside a CMD-SHELL test ($$NAME) instead",
      },
    );
  }
  if (kind === "CMD" && rest.length > 0) return rest.map(composeUnescape);
  if (kind === "CMD-SHELL" && rest.length > 0) return ["/bin/sh", "-c", composeUnescape(rest.join(" "))];
  throw new KubernetesChartError(`${service}: healthcheck test must start with CMD or CMD-SHELL`, {
    context: { service, test: test.join(" ") },
    hint: "fix the service's healthcheck in packages/stack/src/model/services.ts",
  });
}

export interface Probes {
  startupProbe: Record<string, unknown>;
  readinessProbe: Record<string, unknown>;
  livenessProbe: Record<string, unknown>;
}

export function probesFor(service: string, health: HealthCheck): Probes {
  const exec = { command: probeCommand(service, health.test) };
  const timing = { periodSeconds: health.intervalS, timeoutSeconds: health.timeoutS };
  return {
    startupProbe: {
      exec,
      ...timing,
      failureThreshold: Math.ceil(health.startPeriodS / health.intervalS) + health.retries,
    },
    readinessProbe: { exec, ...timing, failureThreshold: health.retries },
    livenessProbe: { exec, ...timing, failureThreshold: health.retries },
  };
}
