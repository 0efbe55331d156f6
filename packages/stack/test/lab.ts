// Helpers for the integration suites: where the lab's images are. They prefer the lab's lock + private registry (the
// real deploy path) and fall back to the lab upstream for images not mirrored yet; a suite that finds nothing skips
// with the printed reason.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { type LockFile, mirroredReference } from "@e2e3d/oci";
import { verifyDigestPresent } from "../src/oci-adapter.js";

export const LAB_HOME = process.env["E2E3D_LAB_HOME"]?.trim() || join(homedir(), ".local", "state", "e2e3d-lab");
export const LAB_LOCK = join(LAB_HOME, "images.lock.json");
export const UPSTREAM = process.env["E2E3D_UPSTREAM_REGISTRY"]?.trim() || "127.0.0.1:5101";
export const PRIVATE = process.env["E2E3D_PRIVATE_REGISTRY"]?.trim() || "127.0.0.1:5102";

/** A bounded wait for the lab registries: a registry that accepts but never answers must not hang the collection. */
const REGISTRY_TIMEOUT_MS = 30_000;

/** A compose project name no other run shares: the PID alone wraps (pid_max 32768), so a random part is added. */
export const uniqueProject = (prefix: string): string => `${prefix}-${process.pid}-${randomBytes(3).toString("hex")}`;

const ACCEPT =
  "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/** Which lab registry to look in: the private one (through the lab's lock), the upstream, or private then upstream. */
export type LabRegistry = "private" | "upstream" | "any";

/** `<registry>/<source>@<digest>` for a lock name, or a reason why none is available. */
export async function labImage(
  lockName: string,
  source: string,
  where: LabRegistry = "any",
): Promise<{ ref?: string; reason?: string }> {
  if (where !== "upstream") {
    const mirrored = await privateImage(lockName);
    if (mirrored.ref || where === "private") return mirrored;
  }
  return upstreamImage(source);
}

async function privateImage(lockName: string): Promise<{ ref?: string; reason?: string }> {
  if (!existsSync(LAB_LOCK)) return { reason: `no lab lock at ${LAB_LOCK} (npx tsx pipelines/prepare.ts writes it)` };
  const lock = JSON.parse(readFileSync(LAB_LOCK, "utf8")) as LockFile;
  const entry = lock.images[lockName];
  if (!entry) return { reason: `the lab lock ${LAB_LOCK} has no ${lockName}` };
  const ref = mirroredReference(entry, PRIVATE);
  const missing = await verifyDigestPresent(ref);
  return missing.length === 0
    ? { ref }
    : {
        reason: `${ref} is not (entirely) in ${PRIVATE} (${missing[0]}): run the mirror (npx tsx pipelines/prepare.ts)`,
      };
}

async function upstreamImage(source: string): Promise<{ ref?: string; reason?: string }> {
  try {
    const tags = (await (
      await fetch(`http://${UPSTREAM}/v2/${source}/tags/list`, {
        signal: AbortSignal.timeout(REGISTRY_TIMEOUT_MS),
      })
    ).json()) as { tags?: string[] };
    const tag = tags.tags?.[0];
    if (!tag) return { reason: `${source} has no tag in the lab upstream ${UPSTREAM}` };
    const head = await fetch(`http://${UPSTREAM}/v2/${source}/manifests/${tag}`, {
      method: "HEAD",
      headers: { Accept: ACCEPT },
      signal: AbortSignal.timeout(REGISTRY_TIMEOUT_MS),
    });
    const digest = head.headers.get("docker-content-digest");
    if (!head.ok || !digest) return { reason: `HEAD ${source}:${tag} in ${UPSTREAM} gave ${head.status}` };
    return { ref: `${UPSTREAM}/${source}@${digest}` };
  } catch (err) {
    return {
      reason: `the lab upstream ${UPSTREAM} does not answer (${(err as Error).message}); run the lab: npx tsx tools/lab/src/cli.ts up`,
    };
  }
}
