export { detectCompose } from "./deploy/compose-cli.js";
export { type DeployOptions, type DeploySummary, type DownOptions, deploy, down, urlsOf } from "./deploy/deploy.js";
export { type ContainerState, logTail, projectContainers } from "./deploy/docker.js";
export { serviceTimeoutS } from "./deploy/health.js";
export { type Reporter, silentReporter, terminalReporter } from "./deploy/progress.js";
export {
  compareWithRecord,
  renderStackStatus,
  type ServiceStatus,
  type StackStatus,
  stackStatus,
} from "./deploy/status.js";
export { renderDeploySummary } from "./deploy/summary.js";
export * from "./errors.js";
export { loadImageInputs, parseBuildReport, readBuildReport, resolveImages } from "./images.js";
export { LAB_CHANGES, LAB_OMITTED } from "./model/lab.js";
export { buildModel, checkModel, DEFAULT_PORTS, PROFILES } from "./model/profiles.js";
export { BUCKETS, BUILD_NAMES, INTERNAL_PORTS, LOCK_NAMES, RECONSTRUCTION_DAG_ID, S } from "./model/services.js";
export * from "./model/types.js";
export { COMPOSE_FILE, METRICS, renderAll, renderConfigFiles, scrapeJobs } from "./render/index.js";
export {
  DEFAULT_CREDENTIALS,
  ensureSecrets,
  inspectSecrets,
  SECRET_NAMES,
  secretRef,
  secretVariable,
} from "./secrets.js";
