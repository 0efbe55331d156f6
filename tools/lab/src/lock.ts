// The lab's locks: one `up` at a time per state dir (two would race on the registries' ports and on the debootstrap
// directory) and one stand-in build at a time (`up` and the integration suites may build together, and two builds of
// one tag would race on the push). A lock is a file holding its owner's pid (see pidfile.ts); a lock whose owner is
// gone is stale and taken over.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { TimeoutError } from "./errors.js";
import { processAlive } from "./exec.js";
import { createPidFile, readPidFile } from "./pidfile.js";
import type { Log } from "./progress.js";

export interface LockOptions {
  /** Who holds the lock, as a waiting message names it: "another `up`", "another stand-in build". */
  holder: string;
  log: Log;
  /** How long to wait for a live owner before giving up. */
  timeoutMs: number;
  pollMs?: number;
  /** How often to repeat the "waiting" line while waiting. */
  noticeEveryMs?: number;
}

/** Runs `work` holding the lock file `path`; waits (with a deadline) while a live process holds it. */
export async function withLock<T>(path: string, options: LockOptions, work: () => Promise<T>): Promise<T> {
  const { holder, log, timeoutMs, pollMs = 500, noticeEveryMs = 15_000 } = options;
  const deadline = Date.now() + timeoutMs;
  let lastNotice = Number.NEGATIVE_INFINITY;
  for (;;) {
    if (await createPidFile(path)) break;
    const owner = await readPidFile(path);
    if (owner === "released") continue; // its owner just finished: try again at once
    if (owner === "invalid" || !processAlive(owner)) {
      // The owner died without releasing it (a lock file always holds its pid: see pidfile.ts). Take it over.
      await rm(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new TimeoutError(`${holder} (pid ${owner}) held ${path} for more than ${formatWait(timeoutMs)}`, {
        context: { lock: path, owner },
        hint: `check that process ${owner} is still making progress; if it is not a lab process, remove ${path}`,
      });
    }
    if (Date.now() - lastNotice >= noticeEveryMs) {
      log(`${holder} (pid ${owner}) is running; waiting for it to finish (lock ${path})`);
      lastNotice = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  try {
    return await work();
  } finally {
    await rm(path, { force: true });
  }
}

/** Runs `body` holding the state dir's `up` lock. */
export function withUpLock<T>(stateDir: string, log: Log, body: () => Promise<T>, timeoutMs = 30 * 60_000): Promise<T> {
  return withLock(join(stateDir, "up.lock"), { holder: "another `up`", log, timeoutMs }, body);
}

const formatWait = (ms: number) => (ms >= 60_000 ? `${Math.round(ms / 60_000)} minutes` : `${ms} ms`);
