// Reading and writing the images file (YAML) and the lock file (JSON). Reads validate at the boundary with the
// shared zod schema and say which file, which field and how to fix it; writes are atomic (temp file + rename in
// the same directory) so a failed or interrupted resolve leaves the previous lock untouched.
import { randomBytes } from "node:crypto";
import { open, readFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { LockFileError, LockFileMissingError } from "../errors.js";
import { parseReference } from "../reference.js";
import { ImagesFile, LockFile } from "./schema.js";

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join(".") : "(top level)"}: ${issue.message}`)
    .join("; ");
}

async function readText(path: string, what: string, missingHint: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT")
      throw new LockFileMissingError(`${what} ${path} does not exist`, { context: { file: path }, hint: missingHint });
    throw new LockFileError(`cannot read ${what} ${path}: ${(err as Error).message}`, { context: { file: path } });
  }
}

/** Reads and validates an images file; every source must parse as a reference and names must be unique. */
export async function readImagesFile(path: string): Promise<ImagesFile> {
  const text = await readText(
    path,
    "images file",
    "create it (see docker/images.yaml for the format) or pass --images",
  );
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new LockFileError(`images file ${path} is not valid YAML: ${(err as Error).message}`, {
      context: { file: path },
    });
  }
  const parsed = ImagesFile.safeParse(data);
  if (!parsed.success) {
    throw new LockFileError(`images file ${path} is malformed: ${describeIssues(parsed.error)}`, {
      context: { file: path },
      hint: 'each image needs name, source (a repository), tag (not latest; quote numeric tags: tag: "16") and optional platforms; the file needs version: 1',
    });
  }
  const seen = new Set<string>();
  for (const [i, image] of parsed.data.images.entries()) {
    if (seen.has(image.name))
      throw new LockFileError(`images file ${path}: name ${image.name} appears twice`, {
        context: { file: path, entry: i },
      });
    seen.add(image.name);
    const ref = parseReference(image.source);
    if (ref.tag || ref.digest) {
      throw new LockFileError(
        `images file ${path}: source of ${image.name} must be a repository without tag or digest`,
        {
          context: { file: path, entry: image.name, source: image.source },
          hint: "put the tag in the tag field; digests are written by the resolver into the lock, never by hand",
        },
      );
    }
  }
  return parsed.data;
}

/** Reads and validates a lock file. */
export async function readLockFile(path: string): Promise<LockFile> {
  const text = await readText(
    path,
    "lock file",
    "resolve it with `npx tsx pipelines/lock.ts update` against live registries (the scheduled mirror workflow does this for the production lock)",
  );
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new LockFileError(`lock file ${path} is not valid JSON: ${(err as Error).message}`, {
      context: { file: path },
      hint: "restore it from git, or re-resolve it with `npx tsx pipelines/lock.ts update`; never edit digests by hand",
    });
  }
  const parsed = LockFile.safeParse(data);
  if (!parsed.success) {
    throw new LockFileError(`lock file ${path} is malformed: ${describeIssues(parsed.error)}`, {
      context: { file: path },
      hint: "restore it from git, or re-resolve it with `npx tsx pipelines/lock.ts update`; never edit digests by hand",
    });
  }
  return parsed.data;
}

/** Serialises a lock deterministically (names sorted, two-space JSON, trailing newline) for reviewable diffs. */
export function serialiseLock(lock: LockFile): string {
  const images = Object.fromEntries(
    Object.keys(lock.images)
      .sort()
      .map((name) => [name, lock.images[name]]),
  );
  return `${JSON.stringify({ version: lock.version, images }, null, 2)}\n`;
}

/** Writes a lock atomically: validated, written to a temp file beside it, fsynced, renamed over the old one. */
export async function writeLockFile(path: string, lock: LockFile): Promise<void> {
  const valid = LockFile.parse(lock);
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const handle = await open(temp, "wx").catch((err: Error) => {
    throw new LockFileError(`cannot write lock file ${path}: ${err.message}`, {
      context: { file: path },
      hint: "check that its directory exists and is writable",
    });
  });
  try {
    await handle.writeFile(serialiseLock(valid), "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw new LockFileError(`cannot replace lock file ${path}: ${(err as Error).message}`, { context: { file: path } });
  }
}
