// Lock files that hold their owner's pid, shared by the lab's two locks (one `up` per state dir, one stand-in build
// per state dir). Written by hand: twenty lines that know about pids on one machine, which is all the lab needs.
import { randomBytes } from "node:crypto";
import { link, readFile, rm, writeFile } from "node:fs/promises";

/**
 * Creates `path` holding this process's pid; false when it already exists. The pid goes into a private file first,
 * which is then hard-linked into place: link() is atomic and refuses an existing target, so a lock file is never seen
 * without its pid. (An O_EXCL create followed by a write leaves it empty for a moment, and a concurrent caller that
 * reads it then takes it for a dead owner's and removes it: two holders at once.)
 */
export async function createPidFile(path: string): Promise<boolean> {
  const staged = `${path}.${process.pid}.${randomBytes(6).toString("hex")}`;
  await writeFile(staged, `${process.pid}\n`);
  try {
    await link(staged, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    await rm(staged, { force: true });
  }
}

/**
 * The pid a lock file names; "released" when the file is gone (its owner finished: try again, remove nothing), or
 * "invalid" when it holds no pid (not written by createPidFile, e.g. by an older lab: safe to take over).
 */
export async function readPidFile(path: string): Promise<number | "released" | "invalid"> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "released";
    throw error;
  }
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : "invalid";
}
