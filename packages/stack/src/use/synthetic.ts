// The reconstruction package's synthetic set and its quality evaluation, run inside the reconstruction image the
// stack runs (no network, removed afterwards): the set is made, and a mesh scored, by the same code at the same version
// as the service that reconstructs it. Used by the deploy's smoke job, the user command (--ground-truth) and the
// testkit's suites (which wrap these in timed phases).
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { dockerBinary, run } from "../exec.js";
import { UseError } from "./errors.js";

/**
 * The quality bar for the synthetic set at the job defaults (24 views, 320 px dense stage): F-score at 2% of the
 * object size. It is the reconstruction package's TARGET_FSCORE_AT_2PCT (quality.py); a unit test checks they agree.
 */
export const TARGET_FSCORE_AT_2PCT = 0.8;

export interface SyntheticSet {
  dir: string;
  /** The images (absolute paths), sorted. */
  images: string[];
  /** ground_truth/{scene.json,points.npy}: never uploaded; the evaluation reads it. */
  groundTruthDir: string;
}

/** Generates `views` images into `outDir` with the package's own generator (`e2e3d-reconstruction generate`). */
export async function generateSyntheticSet(
  image: string,
  outDir: string,
  options: { views?: number } = {},
): Promise<SyntheticSet> {
  const views = options.views ?? 24;
  const docker = dockerBinary();
  const name = `e2e3d-synthetic-${process.pid}-${Date.now().toString(36)}`;
  const created = await run(docker, [
    "create",
    "--name",
    name,
    "--network",
    "none",
    "--entrypoint",
    "python3",
    image,
    "-m",
    "e2e3d_reconstruction.cli",
    "generate",
    "/tmp/set",
    "--views",
    String(views),
  ]);
  if (created.code !== 0)
    throw new UseError(`cannot create the synthetic-set generator container: ${created.stderr.trim()}`, {
      context: { image },
    });
  try {
    const ran = await run(docker, ["start", "--attach", name], { timeoutMs: 600_000 });
    if (ran.code !== 0) {
      throw new UseError(`the synthetic generator failed (exit ${ran.code})`, {
        context: { image },
        logTail: `${ran.stdout}${ran.stderr}`.trimEnd().split("\n").slice(-20).join("\n"),
        hint: "the generator is e2e3d_reconstruction.synthetic.write_dataset in packages/reconstruction",
      });
    }
    mkdirSync(outDir, { recursive: true });
    // The evaluation container (a non-root user) reads this directory through a bind mount.
    chmodSync(outDir, 0o755);
    const copied = await run(docker, ["cp", `${name}:/tmp/set/.`, outDir]);
    if (copied.code !== 0) throw new UseError(`cannot copy the generated set out: ${copied.stderr.trim()}`);
  } finally {
    await run(docker, ["rm", "-f", name]);
  }
  const imagesDir = join(outDir, "images");
  const images = readdirSync(imagesDir)
    .filter((f) => /\.(jpe?g|png)$/i.test(f))
    .sort()
    .map((f) => join(imagesDir, f));
  if (images.length !== views)
    throw new UseError(`the generator wrote ${images.length} images, expected ${views}`, {
      context: { dir: imagesDir },
    });
  return { dir: outDir, images, groundTruthDir: join(outDir, "ground_truth") };
}

export interface QualityReport {
  object_size: number;
  alignment_rmse: number;
  mean_accuracy?: number;
  mean_completeness?: number;
  scores: Array<{ threshold: number; precision: number; recall: number; fscore: number }>;
}

const EVALUATE = [
  "import json",
  "from pathlib import Path",
  "from e2e3d_reconstruction.benchmark import evaluate_outputs",
  "q = evaluate_outputs(Path('/work/in/mesh.ply'), Path('/work/in/cameras.json'), Path('/work/set'))",
  "print(json.dumps(q.as_dict()))",
].join("\n");

/**
 * The ground-truth directory (scene.json + points.npy) given either itself or a set directory above it (the
 * generator's layout: <set>/ground_truth/); undefined when neither holds it.
 */
export function findGroundTruth(path: string): string | undefined {
  const full = resolve(path);
  for (const dir of [full, join(full, "ground_truth")]) {
    if (existsSync(join(dir, "scene.json")) && existsSync(join(dir, "points.npy"))) return dir;
  }
  return undefined;
}

/**
 * Scores a mesh against ground truth with the package's own evaluation (e2e3d_reconstruction.benchmark
 * .evaluate_outputs: a similarity from the camera centres, then precision/recall/F-score at 1% and 2% of the object
 * size), inside the reconstruction image, read-only, without network.
 */
export async function evaluateMesh(
  image: string,
  files: { mesh: string; cameras: string; groundTruthDir: string },
): Promise<QualityReport> {
  // The image's non-root user reads the files through a bind mount: a private copy, world-readable, so nobody's own
  // files need their permissions changed.
  const staging = mkdtempSync(join(tmpdir(), "e2e3d-evaluate-"));
  const docker = dockerBinary();
  const name = `e2e3d-evaluate-${process.pid}-${Date.now().toString(36)}`;
  let ran: Awaited<ReturnType<typeof run>>;
  try {
    mkdirSync(join(staging, "set", "ground_truth"), { recursive: true });
    const copies: Array<[string, string]> = [
      [files.mesh, join(staging, "in", "mesh.ply")],
      [files.cameras, join(staging, "in", "cameras.json")],
      [join(files.groundTruthDir, "scene.json"), join(staging, "set", "ground_truth", "scene.json")],
      [join(files.groundTruthDir, "points.npy"), join(staging, "set", "ground_truth", "points.npy")],
    ];
    mkdirSync(join(staging, "in"));
    for (const [from, to] of copies) {
      copyFileSync(from, to);
      chmodSync(to, 0o644);
    }
    for (const dir of [staging, join(staging, "in"), join(staging, "set"), join(staging, "set", "ground_truth")])
      chmodSync(dir, 0o755);
    ran = await run(
      docker,
      [
        "run",
        "--rm",
        // Named so that `finally` can remove it: a timeout kills the docker client, not the container.
        "--name",
        name,
        "--network",
        "none",
        "-v",
        `${staging}:/work:ro`,
        "--entrypoint",
        "python3",
        image,
        "-c",
        EVALUATE,
      ],
      { timeoutMs: 600_000 },
    );
  } finally {
    await run(docker, ["rm", "-f", name]);
    rmSync(staging, { recursive: true, force: true });
  }
  const last = ran.stdout.trim().split("\n").at(-1) ?? "";
  if (ran.code !== 0 || !last.startsWith("{")) {
    throw new UseError(`the quality evaluation failed (exit ${ran.code})`, {
      context: { image },
      logTail: `${ran.stdout}${ran.stderr}`.trimEnd().split("\n").slice(-20).join("\n"),
      hint: "the ground truth must be the synthetic generator's (scene.json, points.npy) for the same image set",
    });
  }
  return JSON.parse(last) as QualityReport;
}

/** The F-score at `fraction` of the object size (the package reports 1% and 2%). */
export function fscoreAt(quality: QualityReport, fraction: number): number {
  const score = quality.scores.find((s) => Math.abs(s.threshold / quality.object_size - fraction) < 1e-6);
  if (!score) {
    throw new UseError(`the quality report has no score at ${fraction * 100}% of the object size`, {
      context: { thresholds: quality.scores.map((s) => (s.threshold / quality.object_size).toFixed(3)).join(", ") },
    });
  }
  return score.fscore;
}
