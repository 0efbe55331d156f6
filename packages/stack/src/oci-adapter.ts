// LOCAL ADAPTER, to be swapped for @e2e3d/oci's `readLockFile` and `verifyMirror` once that package exports them
// (issue 3 is being written in parallel). It depends only on the fixed lock schema and on the registry API.
import { readFileSync } from "node:fs";
import { parse as parseYamlOrJson } from "yaml";
// Relative import on purpose: @e2e3d/oci has no index yet; the schema file itself is the fixed contract.
import { LockFile } from "../../oci/src/lock/schema.js";
import { ImageResolutionError } from "./errors.js";

export type { LockFile };

export function readLockFile(path: string): LockFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ImageResolutionError(`cannot read the lock file`, {
      context: { file: path },
      cause: err,
      hint: "run `npx tsx pipelines/lock.ts update` (the lab's lock lives in <lab state dir>/images.lock.json)",
    });
  }
  const parsed = LockFile.safeParse(parseYamlOrJson(text));
  if (!parsed.success) {
    throw new ImageResolutionError(`the lock file does not match the lock schema`, {
      context: { file: path, issues: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") },
      hint: "regenerate it with the lock pipeline; it is never edited by hand",
    });
  }
  return parsed.data;
}

const ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

const INDEX_TYPES = new Set([
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
]);

/** Loopback registries (the lab) speak plain HTTP; anything else HTTPS unless listed in E2E3D_INSECURE_REGISTRIES. */
function baseUrl(registry: string, env: NodeJS.ProcessEnv): string {
  const insecure = (env["E2E3D_INSECURE_REGISTRIES"] ?? "").split(",").map((s) => s.trim());
  const plain = /^(127\.|localhost[:]|localhost$|\[::1\])/.test(registry) || insecure.includes(registry);
  return `${plain ? "http" : "https"}://${registry}`;
}

/**
 * Proves `<registry>/<repository>@<digest>` is complete: the manifest answers under its digest and, for an index,
 * every child manifest does too (a partial copy is the classic "manifest unknown" later). Returns problems found.
 */
export async function verifyDigestPresent(
  registry: string,
  repository: string,
  digest: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string[]> {
  const url = (d: string) => `${baseUrl(registry, env)}/v2/${repository}/manifests/${d}`;
  let response: Response;
  try {
    response = await fetch(url(digest), { headers: { Accept: ACCEPT }, signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    return [`registry ${registry} did not answer (${(err as Error).message})`];
  }
  if (response.status === 404) return [`${digest} is not in ${registry}/${repository} (HTTP 404): run the mirror`];
  if (!response.ok) return [`${registry}/${repository}@${digest}: HTTP ${response.status}`];
  const body = await response.text();
  const mediaType = (response.headers.get("content-type") ?? "").split(";")[0]!.trim();
  if (!INDEX_TYPES.has(mediaType)) return [];
  let children: Array<{ digest: string }> = [];
  try {
    children = (JSON.parse(body) as { manifests?: Array<{ digest: string }> }).manifests ?? [];
  } catch {
    return [`${registry}/${repository}@${digest}: the index is not JSON`];
  }
  const problems: string[] = [];
  for (const child of children) {
    try {
      const head = await fetch(url(child.digest), {
        method: "HEAD",
        headers: { Accept: ACCEPT },
        signal: AbortSignal.timeout(15_000),
      });
      if (!head.ok)
        problems.push(`child ${child.digest} of ${repository}@${digest}: HTTP ${head.status} (partial copy)`);
    } catch (err) {
      problems.push(`child ${child.digest} of ${repository}@${digest}: ${(err as Error).message}`);
    }
  }
  return problems;
}
