// The synthetic image set, from the reconstruction package's own generator (e2e3d_reconstruction.synthetic: an
// analytically ray-cast scene with known geometry), run inside the reconstruction image under test, so the set the
// suites upload is made by the same code, at the same version, as the service that reconstructs it.
import { chmodSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { docker } from "./docker.js";
import { StepError } from "./errors.js";
import { phase } from "./phases.js";

export interface ImageSet {
  dir: string;
  /** The images (absolute paths), sorted. */
  images: string[];
  /** ground_truth/{scene.json,points.npy}: not uploaded; the reconstruction's report carries its own evaluation. */
  groundTruthDir: string;
}

/** Generates `views` images into `outDir` with the generator inside `image` (no network, removed afterwards). */
export async function generateImageSet(
  image: string,
  outDir: string,
  options: { views?: number } = {},
): Promise<ImageSet> {
  const views = options.views ?? 24;
  return phase(`generate synthetic set (${views} views)`, async () => {
    const name = `e2e3d-synthetic-${process.pid}-${Date.now().toString(36)}`;
    const created = await docker([
      "create",
      "--name",
      name,
      "--network",
      "none",
      "--entrypoint",
      "python3",
      image,
      // The package's own command line: `e2e3d-reconstruction generate OUT --views N`.
      "-m",
      "e2e3d_reconstruction.cli",
      "generate",
      "/tmp/set",
      "--views",
      String(views),
    ]);
    if (created.code !== 0) throw new StepError(`cannot create the generator container: ${created.stderr.trim()}`);
    try {
      const run = await docker(["start", "--attach", name], { timeoutMs: 600_000 });
      if (run.code !== 0) {
        throw new StepError(`the synthetic generator failed (exit ${run.code})`, {
          context: { image },
          diagnostics: `${run.stdout}${run.stderr}`.split("\n").slice(-20).join("\n"),
          hint: "the generator is e2e3d_reconstruction.synthetic.write_dataset in packages/reconstruction",
        });
      }
      mkdirSync(outDir, { recursive: true });
      // The evaluation container (a non-root user) reads this directory through a bind mount.
      chmodSync(outDir, 0o755);
      const copied = await docker(["cp", `${name}:/tmp/set/.`, outDir]);
      if (copied.code !== 0) throw new StepError(`cannot copy the generated set out: ${copied.stderr.trim()}`);
    } finally {
      await docker(["rm", "-f", name]);
    }
    const imagesDir = join(outDir, "images");
    const images = readdirSync(imagesDir)
      .filter((f) => /\.(jpe?g|png)$/i.test(f))
      .sort()
      .map((f) => join(imagesDir, f));
    if (images.length !== views) {
      throw new StepError(`the generator wrote ${images.length} images, expected ${views}`, {
        context: { dir: imagesDir },
      });
    }
    return { dir: outDir, images, groundTruthDir: join(outDir, "ground_truth") };
  });
}

export interface QualityReport {
  object_size: number;
  alignment_rmse: number;
  scores: Array<{ threshold: number; precision: number; recall: number; fscore: number }>;
}

const EVALUATE = [
  "import json, sys",
  "from pathlib import Path",
  "from e2e3d_reconstruction.benchmark import evaluate_outputs",
  "q = evaluate_outputs(Path('/outputs/mesh.ply'), Path('/outputs/cameras.json'), Path('/set'))",
  "print(json.dumps(q.as_dict()))",
].join("\n");

/**
 * Scores a job's mesh against the synthetic set's ground truth with the package's own evaluation
 * (e2e3d_reconstruction.benchmark.evaluate_outputs: camera alignment, then precision/recall/F-score at distance
 * thresholds), inside the reconstruction image, read-only, without network.
 */
export async function evaluateReconstruction(image: string, set: ImageSet, outputsDir: string): Promise<QualityReport> {
  return phase("evaluate mesh against ground truth", async () => {
    chmodSync(outputsDir, 0o755);
    const run = await docker(
      [
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        `${set.dir}:/set:ro`,
        "-v",
        `${outputsDir}:/outputs:ro`,
        "--entrypoint",
        "python3",
        image,
        "-c",
        EVALUATE,
      ],
      { timeoutMs: 600_000 },
    );
    const last = run.stdout.trim().split("\n").at(-1) ?? "";
    if (run.code !== 0 || !last.startsWith("{")) {
      throw new StepError(`the quality evaluation failed (exit ${run.code})`, {
        diagnostics: `${run.stdout}${run.stderr}`.split("\n").slice(-20).join("\n"),
      });
    }
    return JSON.parse(last) as QualityReport;
  });
}

/** The F-score at `fraction` of the object size (the package reports 1%, 2%, 5%...). */
export function fscoreAt(quality: QualityReport, fraction: number): number {
  const score = quality.scores.find((s) => Math.abs(s.threshold / quality.object_size - fraction) < 1e-6);
  if (!score) {
    throw new StepError(`the quality report has no score at ${fraction * 100}% of the object size`, {
      context: { thresholds: quality.scores.map((s) => (s.threshold / quality.object_size).toFixed(3)).join(", ") },
    });
  }
  return score.fscore;
}

/**
 * The quality bar the end-to-end suite holds the stack's reconstruction of the synthetic set to: F-score at 2% of the
 * object size. It is the reconstruction package's `TARGET_FSCORE_AT_2PCT` (quality.py, also its benchmark's default
 * `--min-fscore`); a unit test checks the two agree.
 */
export const MIN_FSCORE_AT_2PCT = 0.8;
