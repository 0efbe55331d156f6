// Integration-test and benchmark setup: a base image pushed into a throwaway registry under the lab's origin-path
// layout, and a lock file naming it, so a build resolves its base exactly as it does against the real lab.
import { execFileSync } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ImageRegistry, splitRepository } from "../registry.js";

/** The lab's dev base (debootstrap minbase, imported by the lab); no registry is needed to have it locally. */
export const DEV_BASE_IMAGE = "e2e3d-dev/debian:bookworm";
export const BASE_SOURCE = "docker.io/library/debian";

export interface SeededLock {
  lockFile: string;
  baseDigest: string;
}

export function localImageUnavailableReason(docker: string, image = DEV_BASE_IMAGE): string | undefined {
  try {
    execFileSync(docker, ["image", "inspect", image], { stdio: "ignore" });
    return undefined;
  } catch {
    return `no local image ${image} in the Docker engine (${docker}): bring the lab up (npx tsx tools/lab/src/cli.ts up)`;
  }
}

/** Pushes the dev base to `<registry>/docker.io/library/debian:bookworm` and writes a lock with its digest. */
export async function seedBaseAndLock(docker: string, registry: string): Promise<SeededLock> {
  const target = `${registry}/${BASE_SOURCE}:bookworm`;
  execFileSync(docker, ["tag", DEV_BASE_IMAGE, target]);
  try {
    execFileSync(docker, ["push", target], { stdio: "ignore" });
  } finally {
    execFileSync(docker, ["image", "rm", "--no-prune", target], { stdio: "ignore" });
  }
  const client = new ImageRegistry();
  const digest = await client
    .head(splitRepository(`${registry}/${BASE_SOURCE}`), "bookworm")
    .finally(() => client.close());
  if (!digest) throw new Error(`the seeded base ${target} is not in the registry after the push`);
  const dir = await mkdtemp(join(tmpdir(), "e2e3d-lock-"));
  const lockFile = join(dir, "images.lock.json");
  const lock = {
    version: 1,
    images: {
      "debian-bookworm": {
        source: BASE_SOURCE,
        tag: "bookworm",
        digest,
        mediaType: "application/vnd.docker.distribution.manifest.v2+json",
        platforms: {},
        resolvedAt: new Date().toISOString(),
      },
    },
  };
  await writeFile(lockFile, `${JSON.stringify(lock, null, 2)}\n`);
  return { lockFile, baseDigest: digest };
}
