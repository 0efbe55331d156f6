// Where things are: the repository root (the testkit runs from any working directory) and the lab's files.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: the nearest directory above this file holding nx.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "nx.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no nx.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return resolve(dir);
}

/** The lab's images file (what the lab stands in for) and its machine-local lock. */
export { labImagesFile, labLockFile } from "@e2e3d/pipeline";
