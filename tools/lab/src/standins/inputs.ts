// The input hash of a stand-in: everything that decides what its image contains. When the upstream already has
// the tag with this hash in its label, the build is skipped.
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative } from "node:path";

/**
 * Bump when the meaning of the hash changes (e.g. new build arguments), so every stand-in is rebuilt once.
 * 2: the labels come from the catalog through `docker build --label` (no longer from LABEL in the Dockerfiles).
 */
const HASH_SCHEME = 2;

export const INPUT_HASH_LABEL = "io.e2e3d.lab.input-hash";

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(path)));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

export interface InputHashParts {
  name: string;
  /** docker/lab/<name>: the Dockerfile and every file it copies. */
  contextDir: string;
  /** Identity of the base image (digest or local image id). */
  baseKey: string;
  /** The exact version that goes in (Debian version or Go module version). */
  version: string;
  /** How it is built where that is not in the context (Go module, package and flags). */
  source: unknown;
  tag: string;
  /**
   * The labels the build sets from the catalog (./labels.ts), less the build time and this hash: they are no longer
   * in the Dockerfile, so a change of the catalog's metadata must reach the hash this way.
   */
  labels: Record<string, string>;
}

export async function computeInputHash(parts: InputHashParts): Promise<string> {
  const hash = createHash("sha256");
  // Labels sorted by key: the hash must not depend on the order an object was built in.
  const labels = Object.fromEntries(Object.entries(parts.labels).sort(([a], [b]) => a.localeCompare(b)));
  hash.update(JSON.stringify({ scheme: HASH_SCHEME, ...parts, labels, contextDir: undefined }));
  const files = (await listFiles(parts.contextDir)).sort();
  for (const file of files) {
    const [content, info] = await Promise.all([readFile(file), stat(file)]);
    // The executable bit matters (entrypoints), the rest of the mode and the mtime do not.
    const executable = (info.mode & 0o111) !== 0;
    hash.update(`\0${relative(parts.contextDir, file)}\0${executable ? "x" : "-"}\0${content.length}\0`);
    hash.update(content);
  }
  return `sha256:${hash.digest("hex")}`;
}
