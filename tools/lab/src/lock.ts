// One `up` at a time per state dir: two concurrent runs would race on the registries' ports and on the
// debootstrap directory. The lock is a file holding the owner's pid (see pidfile.ts); a lock
// whose owner is gone is stale and taken over.
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { TimeoutError } from "./errors.js";
import { processAlive, waitFor } from "./exec.js";
import { createPidFile, readPidFile } from "./pidfile.js";
import type { Log } from "./progress.js";

async function tryLock(path: string): Promise<boolean> {
  if (await createPidFile(path)) return true;
  const owner = await readPidFile(path);
  if (owner === "released" || (typeof owner === "number" && processAlive(owner))) return false;
  // Stale: its owner died without releasing it. Remove and let the next attempt create it atomically.
  await rm(path, { force: true });
  return false;
}

/** Runs `body` holding the state dir's `up` lock; waits (with a deadline) while another `up` holds it. */
export async function withUpLock<T>(
  stateDir: string,
  log: Log,
  body: () => Promise<T>,
  deadlineMs = 30 * 60_000,
): Promise<T> {
  const path = join(stateDir, "up.lock");
  if (!(await tryLock(path))) {
    const owner = (await readFile(path, "utf8").catch(() => "?")).trim();
    log(`another \`up\` (pid ${owner}) is running on ${stateDir}; waiting for it to finish`);
    const acquired = await waitFor(async () => ((await tryLock(path)) ? true : undefined), deadlineMs, 500);
    if (!acquired) {
      throw new TimeoutError(`another \`up\` held ${path} for more than ${Math.round(deadlineMs / 60_000)} minutes`, {
        context: { lock: path, owner },
        hint: `check that process ${owner} is still making progress; remove ${path} if it is not running`,
      });
    }
  }
  try {
    return await body();
  } finally {
    await rm(path, { force: true });
  }
}
