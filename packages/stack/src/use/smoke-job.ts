// The deploy's functional smoke: a real reconstruction through the deployed stack. A small synthetic set (the
// reconstruction package's generator, in the image the stack runs) is uploaded, the reconstruction DAG triggered
// through the gateway's Airflow API and followed, the mesh fetched from the output bucket, checked, scored against
// the set's ground truth, and the job's metrics must have moved in Prometheus. Every run is a new job (a unique run
// id): it proves this deployment works, so it cannot reuse an earlier one.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Reporter } from "../deploy/progress.js";
import type { StackConnection } from "./connection.js";
import { RunFailedError, UseError } from "./errors.js";
import { validateImageFolder } from "./images.js";
import { queryScalar } from "./prometheus.js";
import { fetchMesh, runReconstruction } from "./reconstruct.js";
import { describeFetchError, listObjects, parseS3Uri, s3Request } from "./s3.js";
import { evaluateMesh, fscoreAt, generateSyntheticSet } from "./synthetic.js";

/**
 * The smoke set: 16 views (the generator's two camera rings, 45° apart on each; at 12 views, 60° apart, COLMAP no
 * longer registers them), dense stage at 160 px with 32 depths and a 96-voxel fusion grid. Measured on this project's
 * 2-core machine: the pipeline takes ~16 s (sfm 10.6 s, dense 5.0 s) against ~50-370 s for the 24-view, 320 px default.
 */
export const SMOKE_VIEWS = 16;
export const SMOKE_OPTIONS = { device: "cpu", max_image_size: 160, num_depths: 32, voxels: 96 } as const;

/**
 * The smoke job's own bar: F-score at 2% of the object size >= 0.7, below the project's TARGET_FSCORE_AT_2PCT (0.8).
 * Why lower: the bar of 0.8 is for 24 views at 320 px (0.93 measured); this set has a third fewer views at half the
 * resolution and measured 0.84, leaving little margin to 0.8 for COLMAP's run-to-run variation. The smoke proves the
 * stack reconstructs the right shape; a broken stage (no dense points, a misaligned mesh, an empty fusion) scores near
 * 0, far below 0.7. The quality benchmark (packages/reconstruction benchmark, the end-to-end suite) keeps 0.8.
 */
export const SMOKE_MIN_FSCORE_AT_2PCT = 0.7;

export interface SmokeJobResult {
  ok: boolean;
  /** The stage that failed (generate, upload, task <id>, reconstruction <stage>, fetch, evaluate, quality, metrics). */
  failedStage?: string;
  detail: string;
  logTail?: string;
  runId?: string;
  jobId?: string;
  views: number;
  options: Record<string, unknown>;
  mesh?: { vertices: number; faces: number; bytes: number };
  fscoreAt2pct?: number;
  fscoreAt1pct?: number;
  threshold: number;
  metrics?: { jobsSubmitted: number; imagesProcessed: number };
  /** Seconds per stage and in all. */
  seconds: Record<string, number>;
}

export interface SmokeJobOptions {
  connection: StackConnection;
  reporter: Reporter;
  /** Where the generated set is kept between deploys (per reconstruction image). */
  cacheDir: string;
  timeoutMs?: number;
}

const imageKey = (image: string) => (image.split("@sha256:")[1] ?? image.replace(/[^A-Za-z0-9]/g, "")).slice(0, 16);

/** The synthetic set for this reconstruction image, generated once and kept in the cache. */
async function smokeSet(image: string, cacheDir: string, reporter: Reporter) {
  const dir = join(cacheDir, `${imageKey(image)}-${SMOKE_VIEWS}`);
  if (existsSync(join(dir, ".complete"))) {
    reporter.info(`synthetic set: reusing ${dir}`);
  } else {
    reporter.info(`synthetic set: generating ${SMOKE_VIEWS} views with ${image}`);
    rmSync(dir, { recursive: true, force: true });
    await generateSyntheticSet(image, dir, { views: SMOKE_VIEWS });
    writeFileSync(join(dir, ".complete"), "");
  }
  return { dir, groundTruthDir: join(dir, "ground_truth"), folder: validateImageFolder(join(dir, "images")) };
}

/** Counters the job must move, or undefined when Prometheus has none yet. */
async function counters(gatewayUrl: string) {
  return {
    jobsSubmitted: await queryScalar(gatewayUrl, "sum(e2e3d_jobs_submitted_total)"),
    imagesProcessed: await queryScalar(gatewayUrl, "sum(e2e3d_images_processed_total)"),
  };
}

/** Removes a prefix's objects (the smoke's own, after it passed: they prove nothing more and would pile up). */
async function removePrefix(connection: StackConnection, uri: string): Promise<void> {
  const { bucket, prefix } = parseS3Uri(uri);
  for (const o of await listObjects(connection.s3, bucket, prefix))
    await s3Request(connection.s3, { method: "DELETE", bucket, key: o.key });
}

export async function runSmokeJob(options: SmokeJobOptions): Promise<SmokeJobResult> {
  const { connection, reporter } = options;
  const started = Date.now();
  const seconds: Record<string, number> = {};
  const base = { views: SMOKE_VIEWS, options: { ...SMOKE_OPTIONS }, threshold: SMOKE_MIN_FSCORE_AT_2PCT, seconds };
  let stage = "generate";
  let runId: string | undefined;
  let jobId: string | undefined;
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    stage = name;
    const t = Date.now();
    try {
      return await fn();
    } finally {
      seconds[name] = Math.round((Date.now() - t) / 100) / 10;
    }
  };
  const image = connection.reconstructionImage;
  const work = join(options.cacheDir, `run-${process.pid}-${Date.now().toString(36)}`);
  try {
    if (!image) throw new UseError("the deployment's reconstruction image is not known: no synthetic set to make");
    const set = await timed("generate", () => smokeSet(image, options.cacheDir, reporter));
    const before = await timed("metrics", () => counters(connection.gatewayUrl)).catch((err: unknown) => {
      // err is already ours (a UseError naming the query) or a fetch failure: keep its message and the whole chain.
      const why = err instanceof UseError ? err.message : describeFetchError(err);
      throw new RunFailedError("metrics", `Prometheus could not be queried before the job: ${why}`, { cause: err });
    });
    const key = `smoke-${new Date().toISOString().replace(/[:.]/g, "").replace("T", "-").toLowerCase()}`;
    runId = key;
    const outcome = await timed("run", () =>
      runReconstruction({
        connection,
        images: set.folder.images,
        key,
        area: "smoke",
        options: { ...SMOKE_OPTIONS },
        reuse: false,
        reporter,
        timeoutMs: options.timeoutMs ?? 10 * 60_000,
        pollMs: 2000,
      }),
    );
    jobId = outcome.jobId;
    seconds["upload"] = Math.round(outcome.seconds.upload * 10) / 10;
    mkdirSync(work, { recursive: true });
    const fetched = await timed("fetch", () => fetchMesh(connection, outcome.output, work));
    reporter.info(`mesh: ${fetched.mesh.vertices} vertices, ${fetched.mesh.faces} faces, ${fetched.mesh.bytes} bytes`);
    const quality = await timed("evaluate", () =>
      evaluateMesh(image, { ...fetched.files, groundTruthDir: set.groundTruthDir }),
    );
    const f2 = fscoreAt(quality, 0.02);
    const f1 = fscoreAt(quality, 0.01);
    reporter.info(`quality: F-score ${f2.toFixed(3)} at 2% (bar ${SMOKE_MIN_FSCORE_AT_2PCT}), ${f1.toFixed(3)} at 1%`);
    stage = "quality";
    if (f2 < SMOKE_MIN_FSCORE_AT_2PCT)
      throw new RunFailedError(
        "quality",
        `the mesh scored F-score ${f2.toFixed(3)} at 2%, below the smoke bar ${SMOKE_MIN_FSCORE_AT_2PCT}`,
        { context: { alignmentRmse: quality.alignment_rmse } },
      );
    // The job must show in Prometheus: a scrape (15 s) after it finished, the counters have moved.
    const after = await timed("metrics", async () => {
      const deadline = Date.now() + 90_000;
      for (;;) {
        const now = await counters(connection.gatewayUrl);
        const moved =
          now.jobsSubmitted >= before.jobsSubmitted + 1 &&
          now.imagesProcessed >= before.imagesProcessed + set.folder.images.length;
        if (moved) return now;
        if (Date.now() > deadline)
          throw new RunFailedError(
            "metrics",
            `Prometheus did not see the job: e2e3d_jobs_submitted_total ${before.jobsSubmitted} → ${now.jobsSubmitted}, e2e3d_images_processed_total ${before.imagesProcessed} → ${now.imagesProcessed} (expected +1 and +${set.folder.images.length}) after 90 s`,
            { hint: "is the reconstruction scrape target up? see /prometheus/targets" },
          );
        await new Promise((r) => setTimeout(r, 5000));
      }
    });
    await removePrefix(connection, outcome.input).catch(() => undefined);
    await removePrefix(connection, outcome.output).catch(() => undefined);
    seconds["total"] = Math.round((Date.now() - started) / 100) / 10;
    return {
      ...base,
      ok: true,
      detail: `run ${outcome.runId}: ${fetched.mesh.faces} faces, F-score ${f2.toFixed(3)} at 2% (bar ${SMOKE_MIN_FSCORE_AT_2PCT}), metrics moved, in ${seconds["total"]} s`,
      runId: outcome.runId,
      ...(jobId ? { jobId } : {}),
      mesh: { vertices: fetched.mesh.vertices, faces: fetched.mesh.faces, bytes: fetched.mesh.bytes },
      fscoreAt2pct: f2,
      fscoreAt1pct: f1,
      metrics: {
        jobsSubmitted: after.jobsSubmitted - before.jobsSubmitted,
        imagesProcessed: after.imagesProcessed - before.imagesProcessed,
      },
    };
  } catch (err) {
    const failedStage = err instanceof RunFailedError ? err.stage : stage;
    const e = err as UseError;
    seconds["total"] = Math.round((Date.now() - started) / 100) / 10;
    return {
      ...base,
      ok: false,
      failedStage,
      detail: `failed at ${failedStage}: ${e.message}${e.hint ? ` (${e.hint})` : ""}`,
      ...(e.logTail ? { logTail: e.logTail } : {}),
      ...(runId ? { runId } : {}),
      ...(jobId ? { jobId } : {}),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
    // Sets of reconstruction images no longer deployed are not kept.
    if (image && existsSync(options.cacheDir))
      for (const entry of readdirSync(options.cacheDir))
        if (!entry.startsWith(imageKey(image)) && !entry.startsWith("run-"))
          rmSync(join(options.cacheDir, entry), { recursive: true, force: true });
  }
}
