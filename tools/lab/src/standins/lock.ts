// One stand-in build at a time per lab state dir: `up` and the integration suites (or two engineers on one machine)
// may call ensureStandIns together, and two builds of one tag would race on the push. A lock file holding the
// owner's pid; a lock whose owner is gone is taken over. Written by hand: a lock package would add a dependency for
// twenty lines, and this one knows about stale pids on the same machine, which is all the lab needs.
import { open, readFile, rm } from "node:fs/promises";
import { TimeoutError } from "../errors.js";

const POLL_MS = 1_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function withLock<T>(
  path: string,
  log: (line: string) => void,
  timeoutMs: number,
  work: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastNotice = 0;
  for (;;) {
    try {
      const handle = await open(path, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const owner = Number.parseInt(await readFile(path, "utf8").catch(() => ""), 10);
    if (!Number.isInteger(owner) || owner <= 0 || !alive(owner)) {
      // The owner died (or is still writing its pid: then the next round sees it).
      if (Number.isInteger(owner) && owner > 0) await rm(path, { force: true });
      await new Promise((resolve) => setTimeout(resolve, 100));
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
