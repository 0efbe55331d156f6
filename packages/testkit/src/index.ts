// @e2e3d/testkit: bring the E2E3D stack up for a test file and drive real work through it.
export * from "./airflow.js";
export * from "./diagnostics.js";
export * from "./docker.js";
export { configureTestcontainers } from "./env.js";
export * from "./errors.js";
export * from "./gpu.js";
export { Masker } from "./mask.js";
export * from "./objectstore.js";
export { labImagesFile, labLockFile, repoRoot } from "./paths.js";
export {
  note,
  type PhaseRecord,
  phase,
  phaseRecords,
  phaseTable,
  recordPhase,
  setPhaseWriter,
  until,
} from "./phases.js";
export { type PreparedImages, type PrepareOptions, prepareImages } from "./prepare.js";
export * from "./prometheus.js";
export * from "./report.js";
export { digestsBySuite, namePattern, type RunSuitesOptions, type RunSuitesResult, runSuites } from "./run-suites.js";
export * from "./stack.js";
export * from "./suite.js";
export * from "./synthetic.js";
