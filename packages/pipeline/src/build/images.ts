// The first-party images: one table, read by pipelines/build.ts and the benchmark. Paths are relative to the
// repository root; `include` narrows the context (dockerignore-style patterns relative to the context) so unrelated
// files never reach the engine or the input digest.
import { BuildInputError } from "../errors.js";

export interface ImageDefinition {
  /** Name in the report and in the registry: <private>/e2e3d/<name>. */
  name: string;
  dockerfile: string;
  context: string;
  include: readonly string[];
  /** Patterns excluded on top of the ignore files (defaults to LOCAL_ARTIFACTS). */
  exclude?: readonly string[];
  /** The lock entry whose digest becomes BASE_IMAGE. */
  base: string;
  target?: string;
  buildArgs?: Readonly<Record<string, string>>;
  /** When set, a base missing from the lock or the private registry skips this image with this reason instead of failing. */
  optionalReason?: string;
  /** For the benchmark: a source file whose edit is a "source-only change" (relative to the repository root). */
  sourceProbe?: string;
}

/**
 * What a developer's machine leaves next to sources (bytecode, test and lint caches, virtualenvs): never sent, so a
 * local test run cannot change an input digest. Docker would send them without a matching .dockerignore line.
 */
export const LOCAL_ARTIFACTS = [
  "**/__pycache__",
  "**/*.pyc",
  "**/.pytest_cache",
  "**/.ruff_cache",
  "**/.mypy_cache",
  "**/.venv",
];

const RECONSTRUCTION_INPUTS = [
  "docker/reconstruction",
  "packages/reconstruction/debian-packages.txt",
  "packages/reconstruction/pyproject.toml",
  "packages/reconstruction/uv.lock",
  "packages/reconstruction/README.md",
  "packages/reconstruction/src",
];

export const FIRST_PARTY_IMAGES: readonly ImageDefinition[] = [
  {
    name: "reconstruction",
    dockerfile: "docker/reconstruction/Dockerfile",
    context: ".",
    include: RECONSTRUCTION_INPUTS,
    base: "debian-bookworm",
    sourceProbe: "packages/reconstruction/src/e2e3d_reconstruction/__init__.py",
  },
  {
    name: "reconstruction-gpu",
    dockerfile: "docker/reconstruction/Dockerfile",
    context: ".",
    include: RECONSTRUCTION_INPUTS,
    base: "cuda-runtime",
    // Same Dockerfile, CUDA base: the base digest alone makes it a different image (and input digest).
    optionalReason:
      "the GPU variant's base (cuda-runtime) is not in the lock or the private registry (no CUDA images reach this machine)",
  },
  {
    name: "airflow",
    dockerfile: "docker/airflow/Dockerfile",
    context: ".",
    // docker/airflow/Dockerfile.dockerignore narrows further; this list keeps the walk off the rest of the repository.
    include: ["docker/airflow", "packages/airflow-dags/dags"],
    base: "debian-bookworm",
    sourceProbe: "packages/airflow-dags/dags/e2e3d_reconstruction.py",
  },
];

export function selectImages(
  table: readonly ImageDefinition[],
  names: readonly string[] | undefined,
): ImageDefinition[] {
  if (!names || names.length === 0) return [...table];
  const unknown = names.filter((n) => !table.some((image) => image.name === n));
  if (unknown.length > 0) {
    throw new BuildInputError(`unknown image(s) ${unknown.join(", ")}`, {
      hint: `choose from ${table.map((i) => i.name).join(", ")}`,
    });
  }
  return table.filter((image) => names.includes(image.name));
}
