// Is the running stack what was deployed? For the people who keep it running: compares the last successful deployment
// record with the containers the engine has now (image digest, state, health) and says what drifted. Read-only.
import type { ContainerState } from "./docker.js";
import { projectContainers } from "./docker.js";
import { type DeploymentRecord, lastSuccessful, projectState } from "./state.js";

export type ServiceVerdict =
  | "ok" // running the recorded image, healthy (or no healthcheck), or a one-shot that completed
  | "starting"
  | "unhealthy"
  | "stopped" // exited, dead, created, paused
  | "missing" // recorded but no container
  | "drifted" // running another image than the recorded one
  | "unexpected"; // a container of the project the record does not know

export interface ServiceStatus {
  service: string;
  verdict: ServiceVerdict;
  /** The image the last successful deployment recorded (undefined for an unexpected container). */
  recorded: string | undefined;
  /** The image the container runs now (undefined when there is none). */
  running: string | undefined;
  detail: string;
}

export interface StackStatus {
  project: string;
  /** The last successful deployment, undefined when this state dir never deployed the project. */
  deployment: Pick<DeploymentRecord, "id" | "at" | "profile" | "outcome"> | undefined;
  services: ServiceStatus[];
  /** Every recorded service is ok and nothing unexpected runs. */
  ok: boolean;
}

/** Compares what the record says with the containers; pure, so every verdict is tested without an engine. */
export function compareWithRecord(
  project: string,
  record: DeploymentRecord | undefined,
  containers: ContainerState[],
): StackStatus {
  const byService = new Map(containers.map((c) => [c.service, c]));
  const services: ServiceStatus[] = Object.entries(record?.images ?? {}).map(([service, recorded]) =>
    verdictFor(service, recorded, byService.get(service)),
  );
  for (const c of containers) {
    if (!record || !(c.service in record.images))
      services.push({
        service: c.service,
        verdict: "unexpected",
        recorded: undefined,
        running: c.image,
        detail: record
          ? `container ${c.name} is not part of the last deployment`
          : `container ${c.name} (no deployment recorded)`,
      });
  }
  const deployment = record && { id: record.id, at: record.at, profile: record.profile, outcome: record.outcome };
  return { project, deployment, services, ok: record !== undefined && services.every((s) => s.verdict === "ok") };
}

function verdictFor(service: string, recorded: string, c: ContainerState | undefined): ServiceStatus {
  const base = { service, recorded, running: c?.image };
  if (!c) return { ...base, verdict: "missing", detail: "no container: removed, or never created" };
  if (c.image !== recorded) return { ...base, verdict: "drifted", detail: `runs ${c.image}, deployed ${recorded}` };
  if (c.oneShot && c.status === "exited")
    return c.exitCode === 0
      ? { ...base, verdict: "ok", detail: "completed" }
      : { ...base, verdict: "stopped", detail: `one-shot exited ${c.exitCode}` };
  if (c.status !== "running")
    return {
      ...base,
      verdict: "stopped",
      detail: `${c.status}${c.status === "exited" ? ` (exit ${c.exitCode})` : ""}`,
    };
  if (c.health === "unhealthy")
    return { ...base, verdict: "unhealthy", detail: `unhealthy: ${c.lastProbe?.trim().slice(0, 200) ?? "no output"}` };
  if (c.health === "starting") return { ...base, verdict: "starting", detail: "healthcheck has not passed yet" };
  const restarts = c.restartCount > 0 ? `, ${c.restartCount} restart(s)` : "";
  return { ...base, verdict: "ok", detail: `${c.health ?? "running (no healthcheck)"}${restarts}` };
}

export interface StatusOptions {
  project: string;
  stateDir: string;
}

export async function stackStatus(options: StatusOptions): Promise<StackStatus> {
  const record = lastSuccessful(projectState(options.stateDir, options.project));
  return compareWithRecord(options.project, record, await projectContainers(options.project));
}

export function renderStackStatus(status: StackStatus): string {
  if (!status.deployment) {
    const running = status.services.length;
    return `${status.project}: never deployed from this state dir${running ? ` (${running} container(s) of that name run)` : ""}\n`;
  }
  const width = Math.max(...status.services.map((s) => s.service.length));
  const lines = [
    `${status.project} (${status.deployment.profile}, deployed ${status.deployment.at}): ${status.ok ? "as deployed, healthy" : "NOT as deployed"}`,
    ...status.services.map((s) => `  ${s.verdict.padEnd(10)} ${s.service.padEnd(width)}  ${s.detail}`),
  ];
  return `${lines.join("\n")}\n`;
}
