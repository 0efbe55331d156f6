// Builds the lab's stand-ins for third-party images (redis, postgres, prometheus, nginx, statsd-exporter, and an S3
// server standing in for MinIO) on the lab base, and pushes them to the lab upstream under the real images'
// repository paths with tags that tell the truth about what is inside. Idempotent: an image whose inputs have not
// changed (its input-hash label in the upstream matches) is not rebuilt, so a second run costs a few registry reads.
import { cp, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { withLock } from "../lock.js";
import { resolveDebianVersions } from "./apt.js";
import { debianPackages, STAND_INS, type StandIn } from "./catalog.js";
import { StandInBuildError, StandInVersionDriftError } from "./errors.js";
import { runCommand } from "./exec.js";
import { buildGoBinary } from "./gobuild.js";
import { computeInputHash, INPUT_HASH_LABEL } from "./inputs.js";
import { buildLabels, labelArgs, stableLabels } from "./labels.js";
import { readRemoteImage } from "./registry.js";

export { debianUpstreamVersion, STAND_INS, type StandIn } from "./catalog.js";
export { GoToolchainError, StandInBuildError, StandInVersionDriftError, UpstreamRegistryError } from "./errors.js";
export { INPUT_HASH_LABEL } from "./inputs.js";
export { LABEL_KEYS, stableLabels } from "./labels.js";

export interface StandInContext {
  /** Docker client with BuildKit support (Debian's /usr/bin/docker). */
  docker: string;
  /** The lab upstream registry, host:port. */
  upstream: string;
  /** The lab base image, normally by digest (…/docker.io/library/debian@sha256:…). */
  baseImage: string;
  /** The lab state dir: caches (Go, resolved versions, build contexts) and build logs live under it. */
  stateDir: string;
  log: (line: string) => void;
}

export interface StandInResult {
  name: string;
  /** Tagged reference in the upstream, e.g. 127.0.0.1:5101/docker.io/library/redis:7.0.15. */
  reference: string;
  /** Manifest digest in the upstream. */
  digest: string;
}

/** docker/lab/, where the stand-ins' Dockerfiles live (this file is tools/lab/src/standins/index.ts). */
export const STAND_IN_DOCKERFILES = fileURLToPath(new URL("../../../../docker/lab/", import.meta.url));

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)}s`;

/** A stable identity for the base: the digest of a pinned reference, else the local image id (dev bases). */
async function baseIdentity(ctx: StandInContext): Promise<string> {
  const pinned = /@(sha256:[a-f0-9]{64})$/.exec(ctx.baseImage);
  if (pinned) return pinned[1]!;
  const result = await runCommand(ctx.docker, ["image", "inspect", "--format", "{{.Id}}", ctx.baseImage]);
  if (result.code !== 0) {
    throw new StandInBuildError(`the base image ${ctx.baseImage} is neither pinned by digest nor present locally`, {
      context: { baseImage: ctx.baseImage },
      logTail: result.outputTail,
      hint: "pass the lab base by digest (the lab pushes it to the upstream), e.g. 127.0.0.1:5101/docker.io/library/debian@sha256:…",
    });
  }
  return result.stdout.trim();
}

interface Plan {
  standIn: StandIn;
  version: string;
  tag: string;
  reference: string;
  /** The catalog's labels for this version and base (all but the build time and the input hash). */
  labels: Record<string, string>;
  inputHash: string;
}

async function plan(ctx: StandInContext, standIn: StandIn, version: string, baseKey: string): Promise<Plan> {
  const tag = standIn.tagFor(version);
  if (tag !== standIn.tag) {
    const what = standIn.source.kind === "debian" ? `Debian's ${standIn.source.package} ${version}` : version;
    throw new StandInVersionDriftError(
      `${standIn.name}: the lab base now gets ${what}, whose truthful tag is ${tag}, but docker/lab/images.yaml promises ${standIn.tag}`,
      {
        context: { standIn: standIn.name, resolved: version, expectedTag: standIn.tag },
        hint: `update the tag to ${tag} in docker/lab/images.yaml and tools/lab/src/standins/catalog.ts (one commit), then run the lab again`,
      },
    );
  }
  const contextDir = join(STAND_IN_DOCKERFILES, standIn.directory);
  const labels = stableLabels(standIn, { version, baseImage: ctx.baseImage });
  const inputHash = await computeInputHash({
    name: standIn.name,
    contextDir,
    baseKey,
    version,
    tag,
    source: standIn.source,
    labels,
  });
  return { standIn, version, tag, reference: `${ctx.upstream}/${standIn.repository}:${tag}`, labels, inputHash };
}

async function buildAndPush(ctx: StandInContext, p: Plan, logDir: string): Promise<void> {
  const { standIn } = p;
  const logFile = join(logDir, `${standIn.name}.log`);
  await rm(logFile, { force: true });
  let contextDir = join(STAND_IN_DOCKERFILES, standIn.directory);
  // Build arguments are what the RUN and COPY steps use; the metadata goes in as labels (no ARG, no cache effect).
  const buildArgs = [`BASE_IMAGE=${ctx.baseImage}`];
  const labels = buildLabels(p.labels, { created: new Date().toISOString(), inputHash: p.inputHash });
  if (standIn.source.kind === "go") {
    const binary = await buildGoBinary(standIn.source, { stateDir: ctx.stateDir, log: ctx.log, logFile });
    // A private copy of the context with the binary in it; the repository stays free of build outputs.
    contextDir = join(ctx.stateDir, "standins", "context", standIn.name);
    await rm(contextDir, { recursive: true, force: true });
    await mkdir(contextDir, { recursive: true });
    await cp(join(STAND_IN_DOCKERFILES, standIn.directory), contextDir, { recursive: true });
    await cp(binary, join(contextDir, standIn.source.binary));
  } else {
    buildArgs.push(`DEB_VERSION=${p.version}`);
  }
  const previous = await localImageId(ctx, p.reference);
  const env = { ...process.env, DOCKER_BUILDKIT: "1" };
  const build = await runCommand(
    ctx.docker,
    [
      "build",
      "--progress=plain",
      "--tag",
      p.reference,
      ...buildArgs.flatMap((a) => ["--build-arg", a]),
      ...labelArgs(labels),
      contextDir,
    ],
    { env, logFile },
  );
  if (build.code !== 0) {
    throw new StandInBuildError(`building the ${standIn.name} stand-in failed`, {
      context: { reference: p.reference, exitCode: build.code, log: logFile },
      logTail: build.outputTail,
      hint: "read the build log named above; apt failures usually mean the Debian archive moved on (run the lab again: it re-resolves versions)",
    });
  }
  const push = await runCommand(ctx.docker, ["push", p.reference], { logFile });
  if (push.code !== 0) {
    throw new StandInBuildError(`pushing the ${standIn.name} stand-in to the lab upstream failed`, {
      context: { reference: p.reference, exitCode: push.code, log: logFile },
      logTail: push.outputTail,
      hint: `check that the lab upstream answers: curl http://${ctx.upstream}/v2/`,
    });
  }
  // The image this build replaced would stay behind as a dangling <none> image on every rebuild. Remove it without
  // force: the engine refuses while a container uses it or another tag still names it, and then it stays.
  const current = await localImageId(ctx, p.reference);
  if (previous && previous !== current) {
    const removed = await runCommand(ctx.docker, ["image", "rm", previous]);
    if (removed.code !== 0) ctx.log(`stand-ins: kept the previous ${standIn.name} image ${previous} (still in use)`);
  }
}

async function localImageId(ctx: StandInContext, reference: string): Promise<string | undefined> {
  const result = await runCommand(ctx.docker, ["image", "inspect", "--format", "{{.Id}}", reference]);
  return result.code === 0 ? result.stdout.trim() : undefined;
}

/**
 * Makes sure every stand-in is in the lab upstream, built from the current inputs. Returns the references and
 * the manifest digests the upstream holds.
 */
export async function ensureStandIns(ctx: StandInContext): Promise<StandInResult[]> {
  const workDir = join(ctx.stateDir, "standins");
  await mkdir(join(workDir, "logs"), { recursive: true });
  return withLock(
    join(workDir, "build.lock"),
    { holder: "another stand-in build", log: ctx.log, timeoutMs: LOCK_TIMEOUT_MS },
    () => ensureLocked(ctx, workDir),
  );
}

/** A cold build of all six takes about 6 minutes here; waiting for someone else's is bounded well above that. */
const LOCK_TIMEOUT_MS = 30 * 60_000;

async function ensureLocked(ctx: StandInContext, workDir: string): Promise<StandInResult[]> {
  const started = Date.now();
  const logDir = join(workDir, "logs");
  const baseKey = await baseIdentity(ctx);
  const resolveOptions = {
    docker: ctx.docker,
    baseImage: ctx.baseImage,
    baseKey,
    packages: debianPackages(),
    cacheFile: join(workDir, "apt-versions.json"),
    log: ctx.log,
  };
  let debian = await resolveDebianVersions(resolveOptions);
  let reresolved = false;

  const results: StandInResult[] = [];
  for (const [index, standIn] of STAND_INS.entries()) {
    const step = `stand-ins [${index + 1}/${STAND_INS.length}] ${standIn.name}`;
    const stepStarted = Date.now();
    const versionOf = () =>
      standIn.source.kind === "debian" ? debian[standIn.source.package]! : standIn.source.version;
    let p = await plan(ctx, standIn, versionOf(), baseKey);
    const existing = await readRemoteImage(ctx.upstream, standIn.repository, p.tag);
    if (existing && existing.labels[INPUT_HASH_LABEL] === p.inputHash) {
      ctx.log(`${step}: up to date (${p.reference}@${existing.digest.slice(0, 19)}…)`);
      results.push({ name: standIn.name, reference: p.reference, digest: existing.digest });
      continue;
    }
    ctx.log(`${step}: building ${p.reference} (${existing ? "inputs changed" : "not in the upstream yet"})`);
    try {
      await buildAndPush(ctx, p, logDir);
    } catch (err) {
      // The Debian archive replaces versions on point and security releases: a cached version may be gone.
      // Ask once more; retry only when the answer differs (otherwise the failure is real).
      if (!(err instanceof StandInBuildError) || standIn.source.kind !== "debian" || reresolved) throw err;
      reresolved = true;
      debian = await resolveDebianVersions({ ...resolveOptions, force: true });
      const retry = await plan(ctx, standIn, versionOf(), baseKey);
      if (retry.version === p.version) throw err;
      ctx.log(`${step}: ${standIn.source.package} moved to ${retry.version}; building again`);
      p = retry;
      await buildAndPush(ctx, p, logDir);
    }
    const pushed = await readRemoteImage(ctx.upstream, standIn.repository, p.tag);
    if (!pushed || pushed.labels[INPUT_HASH_LABEL] !== p.inputHash) {
      throw new StandInBuildError(`${standIn.name}: the upstream does not hold the image just pushed`, {
        context: { reference: p.reference, found: pushed?.digest ?? "nothing" },
        hint: "another process may be pushing the same tag; run the lab again",
      });
    }
    ctx.log(`${step}: pushed ${p.reference}@${pushed.digest} in ${seconds(stepStarted)}`);
    results.push({ name: standIn.name, reference: p.reference, digest: pushed.digest });
  }
  ctx.log(`stand-ins: ${results.length} images ready in ${seconds(started)}`);
  return results;
}
