// Integration-test and benchmark setup: the lab's base image copied into a throwaway registry under the lab's
// origin-path layout, and a lock file naming it, so a build resolves its base exactly as it does against the real lab.
// The base comes from the lab (lab.json, written by `lab up`, which every integration target depends on), never from
// whatever images happen to sit in this machine's engine: a fresh CI machine has the lab and nothing else.
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clientFromEnv, copyImage } from "@e2e3d/oci";
import { z } from "zod";
import { labStateDir } from "../config.js";

export const BASE_SOURCE = "docker.io/library/debian";

export interface SeededLock {
  lockFile: string;
  baseDigest: string;
}

const LabBase = z.object({
  baseImage: z.object({ reference: z.string().regex(/@sha256:[a-f0-9]{64}$/), digest: z.string() }),
});

/** The lab's base image by digest (from lab.json), or why there is none. */
export function labBaseImage(env: NodeJS.ProcessEnv = process.env): { reference: string } | { reason: string } {
  const file = join(labStateDir(env), "lab.json");
  const upHint = "bring the lab up: npx tsx tools/lab/src/cli.ts up";
  if (!existsSync(file)) return { reason: `the lab is not up (no ${file}): ${upHint}` };
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    return { reason: `${file} is not valid JSON (${(error as Error).message}): ${upHint}` };
  }
  const parsed = LabBase.safeParse(json);
  if (!parsed.success) return { reason: `${file} names no base image by digest: ${upHint}` };
  return { reference: parsed.data.baseImage.reference };
}

/** Why the lab base cannot be seeded here, or undefined when it can. */
export function labBaseUnavailableReason(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const base = labBaseImage(env);
  return "reason" in base ? base.reason : undefined;
}

/**
 * Copies the lab's base to `<registry>/docker.io/library/debian:bookworm` (registry to registry, digest-preserving)
 * and writes a lock naming it.
 */
export async function seedBaseAndLock(registry: string, env: NodeJS.ProcessEnv = process.env): Promise<SeededLock> {
  const base = labBaseImage(env);
  if ("reason" in base) throw new Error(`cannot seed the base image: ${base.reason}`);
  const client = clientFromEnv(env);
  const copied = await copyImage(client, base.reference, `${registry}/${BASE_SOURCE}:bookworm`).finally(() =>
    client.close(),
  );
  const dir = await mkdtemp(join(tmpdir(), "e2e3d-lock-"));
  const lockFile = join(dir, "images.lock.json");
  const lock = {
    version: 1,
    images: {
      "debian-bookworm": {
        source: BASE_SOURCE,
        tag: "bookworm",
        digest: copied.digest,
        mediaType: copied.mediaType,
        platforms: {},
        resolvedAt: new Date().toISOString(),
      },
    },
  };
  await writeFile(lockFile, `${JSON.stringify(lock, null, 2)}\n`);
  return { lockFile, baseDigest: copied.digest };
}
