// One stand-in build at a time per lab state dir: `up` and the integration suites (or two engineers on one machine)
// may call ensureStandIns together, and two builds of one tag would race on the push. A lock file holding the
// owner's pid (see ../pidfile.ts); a lock whose owner is gone is taken over.
import { rm } from "node:fs/promises";
import { TimeoutError } from "../errors.js";
import { processAlive } from "../exec.js";
import { createPidFile, readPidFile } from "../pidfile.js";

const POLL_MS = 1_000;

export async function withLock<T>(
  path: string,
  log: (line: string) => void,
  timeoutMs: number,
  work: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastNotice = 0;
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
      throw new TimeoutError(`another stand-in build (pid ${owner}) still holds ${path}`, {
        context: { lock: path, owner },
        hint: `wait for it to finish, or if pid ${owner} is not a lab process, remove ${path}`,
      });
    }
    if (Date.now() - lastNotice > 15_000) {
      log(`stand-ins: waiting for another stand-in build (pid ${owner}) to finish`);
      lastNotice = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  try {
    return await work();
  } finally {
    await rm(path, { force: true });
  }
}
