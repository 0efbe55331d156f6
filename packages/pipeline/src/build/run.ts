// The build pipeline's logic: lint every Dockerfile, then per image resolve the base from the lock, stage the
// context, compute the input digest, skip when the registry already has it (a HEAD, no engine work) or build and
// publish, read the digest back from the registry, and add the sha-/branch tags as manifest PUTs (no engine, bytes
// unchanged). A failed build publishes nothing: the input-digest tag is only written by a successful push.
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { LockFile } from "@e2e3d/oci";
import { attestImage } from "../attest/attest.js";
import type { Engine } from "../engines/engine.js";
import type { EngineSelection } from "../engines/select.js";
import { BuildInputError, describeError, EngineError, PipelineError } from "../errors.js";
import type { GitInfo } from "../git.js";
import type { Logger } from "../log/logger.js";
import { type ImageRegistry, splitRepository } from "../registry.js";
import { listContextFiles, stageContext } from "./context.js";
import { type ImageDefinition, LOCAL_ARTIFACTS } from "./images.js";
import { computeInputDigest, inputDigestTag } from "./input-digest.js";
import { formatFinding, lintDockerfiles } from "./lint.js";
import type { BuildReport, BuiltImage } from "./report.js";
import { branchTag, commitTag } from "./tags.js";

export interface BuildPipelineOptions {
  root: string;
  images: readonly ImageDefinition[];
  /** Private registry host:port; images go to <registry>/<prefix>/<name>. */
  registry: string;
  repositoryPrefix?: string;
  lockFile: string;
  /** Directories whose Dockerfiles are all linted first (the selected images' Dockerfiles always are). */
  lintDirs: string[];
  engine: EngineSelection;
  /** Called only when an image must be built: a fully cached run never touches an engine. */
  createEngine: () => Engine | Promise<Engine>;
  registryClient: ImageRegistry;
  git: GitInfo;
  log: Logger;
  /** Build even when the input-digest tag exists, and report whether the digest came out the same. */
  rebuild?: boolean;
  /** Build secrets (id → file) offered to every build; see buildSecretsFrom(). */
  buildSecrets?: Readonly<Record<string, string>>;
  /** Ignore the engine's layer cache (benchmark cold builds). */
  noEngineCache?: boolean;
}

interface ImageFailure {
  name: string;
  step: string;
  message: string;
  tail: string[];
}

const isDockerfile = (name: string) =>
  name === "Dockerfile" ||
  name.endsWith(".Dockerfile") ||
  (/^Dockerfile\.[^.]+$/.test(name) && !name.endsWith(".dockerignore"));

export async function findDockerfiles(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && isDockerfile(entry.name)) found.push(join(entry.parentPath, entry.name));
  }
  return found.sort();
}

async function readLock(path: string): Promise<LockFile | undefined> {
  if (!existsSync(path)) return undefined;
  const parsed = LockFile.safeParse(JSON.parse(await readFile(path, "utf8")));
  if (!parsed.success) {
    throw new BuildInputError(
      `${path} is not a valid lock file: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      {
        hint: "regenerate it with the lock pipeline (npx tsx pipelines/lock.ts) rather than editing it by hand",
      },
    );
  }
  return parsed.data;
}

export async function runBuildPipeline(options: BuildPipelineOptions): Promise<BuildReport> {
  const { log, root } = options;
  const startedAt = new Date().toISOString();
  const prefix = options.repositoryPrefix ?? "e2e3d";
  const show = (file: string) => relative(root, file) || file;

  // 1. Lint first: a Dockerfile of the seed's failure class never reaches an engine.
  const lintFiles = new Set<string>();
  for (const dir of options.lintDirs) for (const file of await findDockerfiles(dir)) lintFiles.add(file);
  for (const image of options.images) lintFiles.add(resolve(root, image.dockerfile));
  const existing = [...lintFiles].filter((f) => existsSync(f)).sort();
  const findings = await log.group(`lint ${existing.length} Dockerfile(s)`, async () => {
    const found = await lintDockerfiles(existing, show);
    for (const f of found)
      log.error(`[${f.rule}] ${f.message}`, { file: f.file, line: f.line, title: `Dockerfile lint: ${f.rule}` });
    if (found.length === 0) log.info(`clean: ${existing.map(show).join(", ") || "no Dockerfiles"}`);
    return found;
  });

  const report: BuildReport = {
    version: 1,
    status: "passed",
    startedAt,
    finishedAt: startedAt,
    ...(options.git.commit ? { commit: options.git.commit } : {}),
    ...(options.git.branch ? { branch: options.git.branch } : {}),
    registry: options.registry,
    engine: { name: options.engine.name, reason: options.engine.reason },
    lint: { files: existing.map(show), findings },
    images: [],
    skipped: [],
    failures: [],
  };
  if (findings.length > 0) {
    report.status = "failed";
    report.failures.push({
      name: "lint",
      step: "lint",
      message: `${findings.length} Dockerfile lint finding(s); nothing was built`,
      tail: findings.map(formatFinding),
    });
    report.finishedAt = new Date().toISOString();
    return report;
  }

  const lock = await readLock(options.lockFile);
  const engineDescription: { value?: string } = {};
  let engine: Engine | undefined;
  const engineFor = async () => {
    if (!engine) {
      engine = await options.createEngine();
      report.engine.description = await engine.describe(log);
      engineDescription.value = report.engine.description;
      log.info(`engine: ${report.engine.description} (${options.engine.reason})`);
    }
    return engine;
  };

  let index = 0;
  for (const image of options.images) {
    index++;
    log.progress(index, options.images.length, `image ${image.name}`);
    const progress = { step: "start" };
    try {
      const outcome = await log.group(`image ${image.name}`, () =>
        buildOne(image, lock, prefix, options, engineFor, engineDescription, progress),
      );
      if ("skipped" in outcome) {
        log.warn(`${image.name} skipped: ${outcome.skipped}`);
        report.skipped.push({ name: image.name, reason: outcome.skipped });
      } else {
        report.images.push(outcome);
      }
    } catch (error) {
      const failure = toFailure(image.name, progress.step, error);
      report.failures.push(failure);
      log.error(`${image.name} failed at step "${failure.step}": ${describeError(error)}`, {
        title: `build ${image.name}`,
      });
      if (failure.tail.length > 0)
        log.info(`last ${failure.tail.length} lines of ${failure.step}:\n${failure.tail.join("\n")}`);
    }
  }

  report.status = report.failures.length > 0 ? "failed" : "passed";
  report.finishedAt = new Date().toISOString();
  await log.summary("Images", {
    header: ["image", "reference", "size", "seconds", "cache hit", "engine", "attestations"],
    rows: [
      ...report.images.map((i) => [
        i.name,
        i.reference,
        `${(i.sizeBytes / 1e6).toFixed(1)} MB`,
        i.buildSeconds.toFixed(1),
        i.cacheHit ? "yes" : "no",
        i.engine ?? "none",
        (i.attestations ?? [])
          .map((a) => `${a.kind}${a.components !== undefined ? ` (${a.components})` : ""}${a.attached ? " new" : ""}`)
          .join(", "),
      ]),
      ...report.skipped.map((s) => [s.name, short(`skipped: ${s.reason}`), "", "", "", "", ""]),
      ...report.failures.map((f) => [f.name, short(`FAILED at ${f.step}: ${f.message}`), "", "", "", "", ""]),
    ],
  });
  return report;
}

function toFailure(name: string, step: string, error: unknown): ImageFailure {
  const message = error instanceof Error ? error.message : String(error);
  const hint = error instanceof PipelineError && error.hint ? ` (how to fix: ${error.hint})` : "";
  if (error instanceof EngineError)
    return { name, step: error.step ?? step, message: message + hint, tail: error.tail };
  return { name, step, message: message + hint, tail: [] };
}

const short = (text: string, max = 90) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

async function buildOne(
  image: ImageDefinition,
  lock: LockFile | undefined,
  prefix: string,
  options: BuildPipelineOptions,
  engineFor: () => Promise<Engine>,
  engineDescription: { value?: string },
  progress: { step: string },
): Promise<BuiltImage | { skipped: string }> {
  const { log, registryClient: registry, root } = options;
  const started = performance.now();
  const step = (name: string) => {
    progress.step = name;
    log.step(name);
  };

  // Base from the lock, present in the private registry by digest.
  step(`resolve base ${image.base}`);
  const entry = lock?.images[image.base];
  if (!entry) {
    if (image.optionalReason) return { skipped: `${image.optionalReason} (no '${image.base}' in ${options.lockFile})` };
    throw new BuildInputError(`base '${image.base}' of ${image.name} is not in the lock ${options.lockFile}`, {
      hint: lock
        ? `add '${image.base}' to the images file and run the lock pipeline`
        : "create the lock: bring the lab up (npx tsx tools/lab/src/cli.ts up) or run npx tsx pipelines/lock.ts",
    });
  }
  const baseRepo = { registry: options.registry, repository: entry.source };
  const baseRef = `${options.registry}/${entry.source}@${entry.digest}`;
  if ((await registry.head(baseRepo, entry.digest)) !== entry.digest) {
    if (image.optionalReason) return { skipped: `${image.optionalReason} (${baseRef} is not in the private registry)` };
    throw new BuildInputError(`base ${baseRef} of ${image.name} is not in the private registry`, {
      hint: "mirror the locked images first: npx tsx pipelines/mirror.ts",
    });
  }

  // The context, exactly as it will be sent, and the input digest over it.
  const spec = {
    dir: resolve(root, image.context),
    dockerfile: resolve(root, image.dockerfile),
    include: image.include,
    exclude: image.exclude ?? LOCAL_ARTIFACTS,
  };
  if (!existsSync(spec.dockerfile))
    throw new BuildInputError(`Dockerfile ${image.dockerfile} of ${image.name} does not exist`);
  step("read context");
  const files = await listContextFiles(spec);
  const buildArgs = { BASE_IMAGE: baseRef, ...image.buildArgs };
  const inputDigest = computeInputDigest({
    dockerfile: { path: relative(spec.dir, spec.dockerfile), content: await readFile(spec.dockerfile) },
    files,
    buildArgs,
    target: image.target,
    baseDigest: entry.digest,
  });
  // The paths git is asked about (last commit time, uncommitted changes): what the context can send.
  const gitPaths = [
    image.dockerfile,
    ...(image.include.length > 0 ? image.include.map((p) => join(image.context, p)) : [image.context]),
  ];
  const repository = `${options.registry}/${prefix}/${image.name}`;
  const repo = splitRepository(repository);
  const inTag = inputDigestTag(inputDigest);
  log.info(`input digest ${inputDigest} over ${files.length} context file(s)`);

  step(`look up ${repository}:${inTag.slice(0, 15)}…`);
  const previous = await registry.head(repo, inTag);
  let digest: string;
  let builtBy: "docker" | "dagger" | null = null;
  let timestamp: BuiltImage["timestamp"];
  if (previous && !options.rebuild) {
    log.info(`cache hit: ${repository}:${inTag} is ${previous}; nothing to build`);
    digest = previous;
  } else {
    progress.step = "start engine";
    const engine = await engineFor();
    progress.step = "stage context";
    const staged = await stageContext(spec, files);
    progress.step = "build";
    const sourceDateEpoch = await options.git.commitTime(gitPaths);
    try {
      const published = await engine.buildAndPublish(
        {
          name: image.name,
          contextDir: staged.dir,
          dockerfile: staged.dockerfile,
          buildArgs,
          target: image.target,
          publishTo: `${repository}:${inTag}`,
          sourceDateEpoch,
          noCache: options.noEngineCache,
          secrets: options.buildSecrets,
        },
        log,
      );
      progress.step = "verify push";
      const pushed = await registry.head(repo, inTag);
      if (!pushed)
        throw new EngineError(`${repository}:${inTag} is not in the registry after the push`, engine.name, "push", []);
      if (published.digest && published.digest !== pushed) {
        throw new EngineError(
          `the engine reported ${published.digest} but the registry serves ${pushed}`,
          engine.name,
          "push",
          [],
        );
      }
      digest = pushed;
      builtBy = engine.name;
      timestamp = await readTimestamp(registry, repo, digest, sourceDateEpoch, log);
    } finally {
      await staged.remove();
    }
  }

  // sha-/branch tags: manifest PUTs of the same bytes. Withheld when the inputs have uncommitted changes.
  const tags = [inTag];
  let tagsWithheld: string | undefined;
  const dirty = options.git.commit ? await options.git.isDirty(gitPaths) : false;
  if (!options.git.commit) tagsWithheld = "not a git checkout: no commit to name";
  else if (dirty) tagsWithheld = "the image's inputs have uncommitted changes; sha-/branch tags would misname them";
  if (tagsWithheld) {
    log.warn(`${image.name}: ${tagsWithheld}`);
  } else {
    const manifest = await registry.getManifest(repo, digest);
    for (const tag of [commitTag(options.git.commit), branchTag(options.git.branch)]) {
      if (!tag) continue;
      step(`tag ${repository}:${tag}`);
      await registry.putManifest(repo, tag, manifest);
      tags.push(tag);
    }
  }

  // SBOM and provenance as referrers of the digest: they travel with copies and stay with promoted tags. A cached
  // image that has them costs one referrers look-up; one built before they existed gets them now.
  step("attest (SBOM, provenance)");
  const attestations = await attestImage(
    registry.client,
    { ...repo, digest },
    {
      repository,
      digest,
      dockerfile: image.dockerfile,
      context: image.context,
      include: image.include,
      target: image.target,
      buildArgs,
      inputDigest,
      source: options.git.commit ? { commit: options.git.commit, dirty } : undefined,
      base: { name: image.base, reference: baseRef },
      builder: builtBy ? { engine: builtBy, version: engineDescription.value } : undefined,
    },
    log,
  );

  progress.step = "measure size";
  const sizeBytes = await registry.imageSize(repo, digest);
  const reproducible =
    previous && options.rebuild
      ? { compared: true, sameDigest: previous === digest, previousDigest: previous }
      : { compared: false };
  if (reproducible.compared) {
    log.info(
      `rebuild of the same inputs: ${reproducible.sameDigest ? "same digest" : `different digest (was ${previous})`}`,
    );
  }
  return {
    name: image.name,
    repository,
    reference: `${repository}@${digest}`,
    digest,
    tags,
    inputDigest,
    sizeBytes,
    buildSeconds: Math.round((performance.now() - started) / 10) / 100,
    cacheHit: builtBy === null,
    engine: builtBy,
    base: { name: image.base, reference: baseRef },
    reproducible,
    ...(timestamp ? { timestamp } : {}),
    ...(tagsWithheld ? { tagsWithheld } : {}),
    attestations,
  };
}

/** Whether the engine stamped `created` from SOURCE_DATE_EPOCH; said in the log when it did not. */
async function readTimestamp(
  registry: ImageRegistry,
  repo: { registry: string; repository: string },
  digest: string,
  sourceDateEpoch: number | undefined,
  log: Logger,
): Promise<NonNullable<BuiltImage["timestamp"]>> {
  const created = await registry.imageCreated(repo, digest);
  const honoured =
    sourceDateEpoch !== undefined && created !== undefined && Date.parse(created) === sourceDateEpoch * 1000;
  if (sourceDateEpoch !== undefined && !honoured)
    log.info(
      `image created ${created ?? "(unset)"}, not SOURCE_DATE_EPOCH ${new Date(sourceDateEpoch * 1000).toISOString()}: this engine stamps the build time, so rebuilds of the same inputs differ in digest`,
    );
  return {
    ...(sourceDateEpoch !== undefined ? { sourceDateEpoch } : {}),
    ...(created ? { created } : {}),
    honoured,
  };
}
