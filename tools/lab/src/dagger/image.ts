// The lab's Dagger engine image: the binaries from build.ts on the lab's Debian base (tools/lab/dagger/image), tagged
// as the image the CLI expects for its version (registry.dagger.io/engine:<version>). Built by the lab's Docker engine
// from local files only; nothing is pulled from a public registry. Rebuilt only when its inputs change (label).
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { copyFile, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { CommandFailedError, tail } from "../errors.js";
import { run, safeRead } from "../exec.js";
import type { Log } from "../progress.js";
import { DAGGER_MODULE_DIR, type DaggerBinaries } from "./build.js";

export const IMAGE_CONTEXT_DIR = join(DAGGER_MODULE_DIR, "image");
export const INPUTS_LABEL = "dev.e2e3d.lab.dagger-engine-inputs";

export const engineImageReference = (version: string): string => `registry.dagger.io/engine:${version}`;

/** What decides the image: the binaries' source hash, the image context's files and the base image digest. */
export function imageInputs(binaries: DaggerBinaries, baseImage: string): string {
  const hash = createHash("sha256").update(`${binaries.hash}\0${baseImage}\0`);
  for (const name of readdirSync(IMAGE_CONTEXT_DIR).sort()) {
    hash
      .update(`${name}\0`)
      .update(readFileSync(join(IMAGE_CONTEXT_DIR, name)))
      .update("\0");
  }
  return hash.digest("hex").slice(0, 16);
}

export interface EngineImage {
  reference: string;
  /** The local image ID (sha256:…): what the engine container must run. */
  id: string;
  inputs: string;
  seconds: number;
}

async function localImage(docker: string, reference: string): Promise<{ id: string; inputs?: string } | undefined> {
  const result = await run(docker, [
    "image",
    "inspect",
    "--format",
    `{{.Id}} {{index .Config.Labels "${INPUTS_LABEL}"}}`,
    reference,
  ]);
  if (result.code !== 0) return undefined;
  const [id, inputs] = result.stdout.trim().split(" ");
  return id ? { id, ...(inputs && inputs !== "<no value>" ? { inputs } : {}) } : undefined;
}

export async function ensureEngineImage(
  docker: string,
  binaries: DaggerBinaries,
  baseImage: string,
  stateDir: string,
  log: Log,
): Promise<EngineImage> {
  const reference = engineImageReference(binaries.version);
  const inputs = imageInputs(binaries, baseImage);
  const existing = await localImage(docker, reference);
  if (existing?.inputs === inputs) return { reference, id: existing.id, inputs, seconds: 0 };

  const context = join(stateDir, "dagger", "image-context");
  await rm(context, { recursive: true, force: true });
  await mkdir(context, { recursive: true });
  for (const name of readdirSync(IMAGE_CONTEXT_DIR)) await copyFile(join(IMAGE_CONTEXT_DIR, name), join(context, name));
  // The names the engine looks for (distconsts and buildkit's defaults), see the Dockerfile.
  await copyFile(binaries.engine, join(context, "dagger-engine"));
  await copyFile(binaries.init, join(context, "dagger-init"));
  await copyFile(binaries.dnsname, join(context, "dnsname"));
  await copyFile(binaries.dialStdio, join(context, "dial-stdio"));
  const logFile = join(stateDir, "dagger", "image-build.log");
  log(`building the engine image ${reference} on ${baseImage} (log: ${logFile})`);
  const started = Date.now();
  const result = await run(
    docker,
    [
      "build",
      "--build-arg",
      `BASE_IMAGE=${baseImage}`,
      "--label",
      `${INPUTS_LABEL}=${inputs}`,
      "--label",
      `org.opencontainers.image.version=${binaries.version}`,
      "-t",
      reference,
      context,
    ], // fmt: skip
    { env: { ...process.env, DOCKER_BUILDKIT: "1" }, logFile },
  );
  if (result.code !== 0) {
    throw new CommandFailedError(`building the lab's Dagger engine image failed (exit ${result.code})`, {
      context: { image: reference, log: logFile },
      logTail: tail(safeRead(logFile)),
      hint: "the image installs runc, iptables and CNI plugins from Debian's archive: check that the archive answers, then run up again",
    });
  }
  await rm(context, { recursive: true, force: true });
  const built = await localImage(docker, reference);
  if (!built) throw new CommandFailedError(`the engine image ${reference} is missing right after its build`);
  return { reference, id: built.id, inputs, seconds: Math.round((Date.now() - started) / 100) / 10 };
}
