// The synthetic image set, from the reconstruction package's own generator (e2e3d_reconstruction.synthetic: an
// analytically ray-cast scene with known geometry), run inside the reconstruction image under test, so the set the
// suites upload is made by the same code, at the same version, as the service that reconstructs it. The generator
// and the evaluation are the stack package's (packages/stack/src/use/synthetic.ts, also used by the deploy's smoke
// job and the user command); here they run as timed phases.
import { join } from "node:path";
import {
  evaluateMesh,
  generateSyntheticSet,
  type QualityReport,
  type SyntheticSet,
  TARGET_FSCORE_AT_2PCT,
} from "@e2e3d/stack";
import { phase } from "./phases.js";

export { fscoreAt, type QualityReport } from "@e2e3d/stack";

/** The images (sorted, absolute) and ground_truth/{scene.json,points.npy} (not uploaded). */
export type ImageSet = SyntheticSet;

/** Generates `views` images into `outDir` with the generator inside `image` (no network, removed afterwards). */
export async function generateImageSet(
  image: string,
  outDir: string,
  options: { views?: number } = {},
): Promise<ImageSet> {
  return phase(`generate synthetic set (${options.views ?? 24} views)`, () =>
    generateSyntheticSet(image, outDir, options),
  );
}

/**
 * Scores a job's mesh (outputsDir/mesh.ply, cameras.json) against the synthetic set's ground truth with the package's
 * own evaluation, inside the reconstruction image, read-only, without network.
 */
export async function evaluateReconstruction(image: string, set: ImageSet, outputsDir: string): Promise<QualityReport> {
  return phase("evaluate mesh against ground truth", () =>
    evaluateMesh(image, {
      mesh: join(outputsDir, "mesh.ply"),
      cameras: join(outputsDir, "cameras.json"),
      groundTruthDir: set.groundTruthDir,
    }),
  );
}

/**
 * The quality bar the end-to-end suite holds the stack's reconstruction of the synthetic set to: F-score at 2% of the
 * object size. It is the reconstruction package's `TARGET_FSCORE_AT_2PCT` (quality.py, also its benchmark's default
 * `--min-fscore`); a unit test checks the two agree.
 */
export const MIN_FSCORE_AT_2PCT = TARGET_FSCORE_AT_2PCT;
