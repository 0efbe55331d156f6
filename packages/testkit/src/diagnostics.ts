// Each service's state and log tail, for the test output when something fails. testcontainers takes a compose
// project down (volumes included) as soon as `up` or a wait strategy fails, so a watcher records the state of every
// service while the stack starts, and the log tail of every container that exits, restarts or turns unhealthy, before
// that evidence is gone.
import { type ContainerInfo, logTail, projectContainers } from "./docker.js";
import type { Masker } from "./mask.js";
import { note } from "./phases.js";

export interface ServiceSnapshot {
  service: string;
  state: string;
  logTail?: string;
}

const describe = (c: ContainerInfo): string =>
  `${c.status}${c.health ? `/${c.health}` : ""}${c.status === "exited" ? ` (exit ${c.exitCode})` : ""}${c.restartCount ? `, ${c.restartCount} restarts` : ""}${c.health && c.health !== "healthy" && c.lastProbe ? `; last probe ${c.lastProbe}` : ""}`;

const troubled = (c: ContainerInfo) =>
  (c.status === "exited" && c.exitCode !== 0) ||
  c.status === "restarting" ||
  c.status === "dead" ||
  c.health === "unhealthy" ||
  c.restartCount > 0;

/** Formats snapshots as an indented block: one line of state per service, then its log tail. */
export function formatSnapshots(snapshots: ServiceSnapshot[], masker: Masker): string {
  const lines = ["service states and log tails:"];
  for (const s of [...snapshots].sort((a, b) => a.service.localeCompare(b.service))) {
    lines.push(`  ${s.service}: ${s.state}`);
    if (s.logTail)
      lines.push(
        ...masker
          .mask(s.logTail)
          .split("\n")
          .map((l) => `    | ${l}`),
      );
  }
  return lines.join("\n");
}

/** Every container of the project now, with a log tail for each (all, or only the troubled ones). */
export async function snapshotProject(
  project: string,
  options: { lines?: number; onlyTroubled?: boolean } = {},
): Promise<ServiceSnapshot[]> {
  const containers = await projectContainers(project);
  return Promise.all(
    containers.map(async (c) => ({
      service: c.service,
      state: describe(c),
      ...(!options.onlyTroubled || troubled(c) ? { logTail: await logTail(c.id, options.lines ?? 30) } : {}),
    })),
  );
}

/** A service that cannot get healthy by waiting longer: crash-looping, or a one-shot that failed. */
export function hopeless(c: ContainerInfo, oneShots: ReadonlySet<string>): string | undefined {
  if (c.restartCount >= 3) return `${c.service} is crash-looping (${c.restartCount} restarts, last exit ${c.exitCode})`;
  if (oneShots.has(c.service) && c.status === "exited" && c.exitCode !== 0)
    return `the one-shot ${c.service} failed (exit ${c.exitCode})`;
  return undefined;
}

/**
 * Watches a project while it starts; `stop()` returns the last known state of each service. `failure` rejects as
 * soon as a service is hopeless, so a broken stack fails in a minute instead of after the whole startup timeout.
 */
export class StartupWatcher {
  private readonly last = new Map<string, ServiceSnapshot>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private lastProgress = 0;
  private readonly started = Date.now();
  private fail: ((reason: Error) => void) | undefined;
  readonly failure: Promise<never>;

  constructor(
    private readonly project: string,
    private readonly oneShots: ReadonlySet<string> = new Set(),
    private readonly intervalMs = 10_000,
  ) {
    this.failure = new Promise<never>((_, reject) => {
      this.fail = reject;
    });
    // Nobody may be listening when the stack came up fine; an unobserved rejection must not crash the run.
    this.failure.catch(() => undefined);
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const containers = await projectContainers(this.project);
      for (const c of containers) {
        const previous = this.last.get(c.service);
        const snapshot: ServiceSnapshot = { service: c.service, state: describe(c) };
        if (troubled(c)) snapshot.logTail = await logTail(c.id, 40);
        else if (previous?.logTail) snapshot.logTail = previous.logTail;
        this.last.set(c.service, snapshot);
        const why = hopeless(c, this.oneShots);
        if (why) this.fail?.(new Error(why));
      }
      if (Date.now() - this.lastProgress > 30_000) {
        this.lastProgress = Date.now();
        const waiting = containers.filter((c) => c.status === "running" && c.health && c.health !== "healthy");
        note(
          `stack ${this.project} after ${Math.round((Date.now() - this.started) / 1000)}s: ${containers.length} containers, ` +
            (waiting.length
              ? `waiting for ${waiting.map((c) => `${c.service} (${c.health})`).join(", ")}`
              : "none starting"),
        );
      }
    } catch {
      // The project may be going away under us; the next tick or the final snapshot says what is there.
    } finally {
      this.busy = false;
    }
  }

  async stop(): Promise<ServiceSnapshot[]> {
    if (this.timer) clearInterval(this.timer);
    await this.tick();
    return [...this.last.values()];
  }
}
