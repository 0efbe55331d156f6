// Step 3: wait until every long-running service is healthy and every one-shot has completed, each with its own
// timeout (from its healthcheck), showing who is still waiting and why.
import type { ServiceSpec, StackModel } from "../model/types.js";
import { type ContainerState, projectContainers } from "./docker.js";
import type { Reporter } from "./progress.js";

export interface ServiceHealth {
  service: string;
  ok: boolean;
  state: string;
  reason?: string;
  containerId?: string;
}

/** Enough for the healthcheck's start period plus all its retries, and some slack for slow starts; scaled by `factor`. */
export function serviceTimeoutS(s: ServiceSpec, factor = 1): number {
  const h = s.healthcheck;
  const base = h ? h.startPeriodS + h.intervalS * (h.retries + 2) + h.timeoutS : 300;
  return Math.ceil(Math.max(60, base) * factor);
}

/** What a container says about its service: done (ok or failed), or still waiting and why. */
export function judge(
  s: ServiceSpec,
  c: ContainerState | undefined,
): { done: boolean; ok: boolean; state: string; reason?: string } {
  if (!c) return { done: false, ok: false, state: "not created", reason: "waiting for its dependencies" };
  if (s.oneShot) {
    if (c.status === "exited") {
      return c.exitCode === 0
        ? { done: true, ok: true, state: "completed" }
        : { done: true, ok: false, state: `exited ${c.exitCode}`, reason: "the one-shot failed" };
    }
    return { done: false, ok: false, state: c.status, reason: "running" };
  }
  if (c.status === "exited" || c.status === "dead")
    return { done: true, ok: false, state: `${c.status} (${c.exitCode})`, reason: "the container stopped" };
  if (c.health === "healthy") return { done: true, ok: true, state: "healthy" };
  if (c.restartCount >= 3)
    return {
      done: true,
      ok: false,
      state: `crash loop (${c.restartCount} restarts, last exit ${c.exitCode})`,
      reason: "it keeps exiting",
    };
  return {
    done: false,
    ok: false,
    state: `${c.status}/${c.health ?? "no health"}${c.restartCount ? `, ${c.restartCount} restarts` : ""}`,
    reason: c.lastProbe ?? "no probe result yet",
  };
}

export async function waitForHealth(
  model: StackModel,
  project: string,
  reporter: Reporter,
  options: { timeoutFactor?: number; pollMs?: number } = {},
): Promise<ServiceHealth[]> {
  const start = Date.now();
  const pollMs = options.pollMs ?? 3000;
  let lastReport = 0;
  const result = new Map<string, ServiceHealth>();
  for (;;) {
    const containers = await projectContainers(project);
    const pending: string[] = [];
    for (const s of model.services) {
      if (result.has(s.name)) continue;
      const c = containers
        .filter((x) => x.service === s.name)
        .sort((a, b) => b.startedAt.localeCompare(a.startedAt))[0];
      const verdict = judge(s, c);
      const since = c?.startedAt && !c.startedAt.startsWith("0001") ? Date.parse(c.startedAt) : start;
      const waitedS = (Date.now() - Math.max(since, start)) / 1000;
      const entry = { service: s.name, state: verdict.state, ...(c ? { containerId: c.id } : {}) };
      if (verdict.done) {
        result.set(s.name, { ...entry, ok: verdict.ok, ...(verdict.reason ? { reason: verdict.reason } : {}) });
        reporter.info(`${s.name}: ${verdict.state}`);
      } else if (waitedS > serviceTimeoutS(s, options.timeoutFactor)) {
        result.set(s.name, {
          ...entry,
          ok: false,
          reason: `not healthy after ${Math.round(waitedS)}s (limit ${serviceTimeoutS(s, options.timeoutFactor)}s): ${verdict.reason}`,
        });
        reporter.warn(`${s.name}: gave up waiting (${verdict.state})`);
      } else {
        pending.push(`${s.name} [${verdict.state}: ${verdict.reason}]`);
      }
    }
    // A failed service dooms everything waiting on it: stop early instead of sitting out every timeout.
    const failed = [...result.values()].some((r) => !r.ok);
    if (pending.length === 0 || failed) {
      for (const s of model.services) {
        if (!result.has(s.name))
          result.set(s.name, {
            service: s.name,
            ok: false,
            state: "pending",
            reason: "not awaited: another service failed",
          });
      }
      return model.services.map((s) => result.get(s.name)!);
    }
    if (Date.now() - lastReport > 10_000) {
      lastReport = Date.now();
      reporter.info(`waiting for ${pending.length}: ${pending.join("; ")}`);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
