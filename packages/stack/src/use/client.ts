// What `npx tsx pipelines/reconstruct.ts <folder>` does, as a function: validate the folder, upload it, run the
// reconstruction DAG (or find the run this same image set already has), download and check the mesh, and score it
// when ground truth is given. The entry point only parses arguments and prints.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import type { Reporter } from "../deploy/progress.js";
import type { StackConnection } from "./connection.js";
import { InputError } from "./errors.js";
import { validateImageFolder } from "./images.js";
import { fetchMesh, runReconstruction } from "./reconstruct.js";
import { evaluateMesh, findGroundTruth, fscoreAt, TARGET_FSCORE_AT_2PCT } from "./synthetic.js";

export interface ReconstructFolderOptions {
  folder: string;
  /** The stack, or how to reach it: called only after the folder passed validation (bad input needs no stack). */
  connection: StackConnection | (() => Promise<StackConnection>);
  reporter: Reporter;
  /** Where the mesh goes (default: ./<folder name>.ply). */
  out?: string;
  /** The synthetic generator's ground truth (a set dir or its ground_truth/): quality figures when given. */
  groundTruth?: string;
  /** Job options (JobOptions in packages/reconstruction): part of the run's identity. */
  options?: Record<string, unknown>;
  timeoutMs?: number;
}

export interface Quality {
  fscoreAt1pct: number;
  fscoreAt2pct: number;
  precisionAt2pct: number;
  recallAt2pct: number;
  alignmentRmse: number;
  /** The project's bar at 2% for the synthetic set at the job defaults. */
  target: number;
}

export interface ReconstructFolderResult {
  folder: string;
  images: number;
  contentHash: string;
  runId: string;
  attempt: number;
  /** True when this image set (with these options) already had a run: it was followed or reused, no new job. */
  reused: boolean;
  jobId: string | undefined;
  input: string;
  output: string;
  uploaded: number;
  alreadyUploaded: number;
  mesh: { file: string; bytes: number; vertices: number; faces: number };
  report: { registeredImages?: unknown; inputImages?: unknown; totalSeconds?: unknown; stageSeconds?: unknown };
  quality?: Quality;
  warnings: string[];
  seconds: Record<string, number>;
}

/** A stable JSON (sorted keys), so {a,b} and {b,a} are the same options. */
const stableJson = (value: unknown): string =>
  value && typeof value === "object" && !Array.isArray(value)
    ? `{${Object.keys(value as object)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`)
        .join(",")}}`
    : JSON.stringify(value);

/** The run key: the images' content hash and the options; the same input set is the same run. */
export function runKey(contentHash: string, options: Record<string, unknown> = {}): string {
  return `set-${createHash("sha256")
    .update(`${contentHash}\n${stableJson(options)}`)
    .digest("hex")
    .slice(0, 16)}`;
}

export function qualityFigures(report: Awaited<ReturnType<typeof evaluateMesh>>): Quality {
  const at2 = report.scores.find((s) => Math.abs(s.threshold / report.object_size - 0.02) < 1e-6);
  return {
    fscoreAt1pct: fscoreAt(report, 0.01),
    fscoreAt2pct: fscoreAt(report, 0.02),
    precisionAt2pct: at2?.precision ?? Number.NaN,
    recallAt2pct: at2?.recall ?? Number.NaN,
    alignmentRmse: report.alignment_rmse,
    target: TARGET_FSCORE_AT_2PCT,
  };
}

export async function reconstructFolder(options: ReconstructFolderOptions): Promise<ReconstructFolderResult> {
  const started = Date.now();
  const seconds: Record<string, number> = {};
  const { reporter } = options;
  reporter.step(`validate: ${options.folder}`);
  const folder = validateImageFolder(options.folder);
  for (const w of folder.warnings) reporter.warn(w);
  const groundTruthDir = options.groundTruth ? findGroundTruth(options.groundTruth) : undefined;
  if (options.groundTruth && !groundTruthDir)
    throw new InputError(`no ground truth (scene.json and points.npy) in ${options.groundTruth} or its ground_truth/`, {
      hint: "give the synthetic generator's set folder, or drop --ground-truth",
    });
  const connection = typeof options.connection === "function" ? await options.connection() : options.connection;
  if (groundTruthDir && !connection.reconstructionImage)
    throw new InputError("scoring against ground truth needs the stack's reconstruction image, which is not known", {
      hint: "set E2E3D_RECONSTRUCTION_IMAGE to the image the stack runs (by digest), or drop --ground-truth",
    });
  const key = runKey(folder.contentHash, options.options);
  reporter.info(
    `${folder.images.length} images, ${(folder.totalBytes / 2 ** 20).toFixed(1)} MiB, content ${folder.contentHash.slice(0, 16)}; run ${key}`,
  );
  seconds["validate"] = (Date.now() - started) / 1000;

  const outcome = await runReconstruction({
    connection,
    images: folder.images,
    key,
    inputKey: folder.contentHash.slice(0, 16),
    area: "sets",
    ...(options.options ? { options: options.options } : {}),
    reuse: true,
    reporter,
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
  seconds["upload"] = outcome.seconds.upload;
  seconds["run"] = outcome.seconds.run;

  const out = resolve(options.out ?? `${basename(folder.dir)}.ply`);
  const work = mkdtempSync(join(tmpdir(), "e2e3d-reconstruct-"));
  try {
    reporter.step(`fetch: ${outcome.output}mesh.ply → ${out}`);
    const fetchStarted = Date.now();
    const fetched = await fetchMesh(connection, outcome.output, work, out);
    seconds["fetch"] = (Date.now() - fetchStarted) / 1000;
    reporter.info(`mesh: ${fetched.mesh.vertices} vertices, ${fetched.mesh.faces} faces, ${fetched.mesh.bytes} bytes`);
    let quality: Quality | undefined;
    if (groundTruthDir) {
      reporter.step(`evaluate: against ${groundTruthDir}`);
      const evaluateStarted = Date.now();
      quality = qualityFigures(
        await evaluateMesh(connection.reconstructionImage!, {
          mesh: fetched.files.mesh,
          cameras: fetched.files.cameras,
          groundTruthDir,
        }),
      );
      seconds["evaluate"] = (Date.now() - evaluateStarted) / 1000;
    }
    seconds["total"] = (Date.now() - started) / 1000;
    return {
      folder: folder.dir,
      images: folder.images.length,
      contentHash: folder.contentHash,
      runId: outcome.runId,
      attempt: outcome.attempt,
      reused: outcome.reused,
      jobId: outcome.jobId,
      input: outcome.input,
      output: outcome.output,
      uploaded: outcome.uploaded,
      alreadyUploaded: outcome.alreadyUploaded,
      mesh: { file: out, bytes: fetched.mesh.bytes, vertices: fetched.mesh.vertices, faces: fetched.mesh.faces },
      report: {
        registeredImages: fetched.report["registered_images"],
        inputImages: fetched.report["input_images"],
        totalSeconds: fetched.report["total_seconds"],
        stageSeconds: fetched.report["stage_seconds"],
      },
      ...(quality ? { quality } : {}),
      warnings: folder.warnings,
      seconds,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The short text a person reads at the end. */
export function renderReconstructResult(r: ReconstructFolderResult): string {
  const lines = [
    `mesh     ${r.mesh.file} (${r.mesh.vertices} vertices, ${r.mesh.faces} faces)`,
    `run      ${r.runId}${r.reused ? " (an earlier run of this image set: no new job)" : ""}; job ${r.jobId ?? "?"}`,
    `images   ${r.images} (${r.uploaded} uploaded, ${r.alreadyUploaded} already there); registered ${String(r.report.registeredImages ?? "?")}`,
    `outputs  ${r.output}`,
    `took     ${Object.entries(r.seconds)
      .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
      .join(", ")}`,
  ];
  if (r.quality)
    lines.push(
      `quality  F-score ${r.quality.fscoreAt2pct.toFixed(3)} at 2% (precision ${r.quality.precisionAt2pct.toFixed(3)}, recall ${r.quality.recallAt2pct.toFixed(3)}), ${r.quality.fscoreAt1pct.toFixed(3)} at 1%; the project's bar at 2% is ${r.quality.target}`,
    );
  return `${lines.join("\n")}\n`;
}
