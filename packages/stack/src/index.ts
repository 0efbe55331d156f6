export { detectCompose } from "./deploy/compose-cli.js";
export {
  type DeployOptions,
  type DeploySummary,
  type DownOptions,
  deploy,
  down,
  smokeJobBlocker,
  urlsOf,
} from "./deploy/deploy.js";
export { type ContainerState, logTail, projectContainers } from "./deploy/docker.js";
export { serviceTimeoutS } from "./deploy/health.js";
export { Cluster, FIELD_MANAGER, findKubeTools, type KubeTools, manifestObjects } from "./deploy/kube-tools.js";
export {
  deployKubernetes,
  type KubernetesDeployOptions,
  type KubernetesDeploySummary,
  NO_KUBELET_NOTE,
  renderKubernetesSummary,
} from "./deploy/kubernetes.js";
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
export { KubernetesApplyError, KubernetesChartError, renderChart } from "./render/kubernetes/index.js";
export {
  DEFAULT_CREDENTIALS,
  ensureSecrets,
  inspectSecrets,
  readSecrets,
  SECRET_NAMES,
  secretRef,
  secretVariable,
} from "./secrets.js";
// A client of a deployed stack (pipelines/reconstruct.ts, the deploy's smoke job, the testkit's suites).
export { AirflowApiError, AirflowClient, type AirflowOptions, type DagRun, type TaskInstance } from "./use/airflow.js";
export {
  type Quality,
  type ReconstructFolderOptions,
  type ReconstructFolderResult,
  reconstructFolder,
  renderReconstructResult,
  runKey,
} from "./use/client.js";
export {
  CONNECTION_ENV,
  chooseProject,
  connectionFromDeployment,
  connectionFromEnv,
  deployedProjects,
  resolveConnection,
  type StackConnection,
} from "./use/connection.js";
export { InputError, RunFailedError, UseError } from "./use/errors.js";
export {
  contentHash,
  IMAGE_LIMITS,
  IMAGE_SUFFIXES,
  type ImageFolder,
  imageDimensions,
  validateImageFolder,
} from "./use/images.js";
export { checkPlyMesh, type MeshInfo } from "./use/mesh.js";
export { queryPrometheus, queryScalar, type Sample } from "./use/prometheus.js";
export { DAG_TASKS, fetchMesh, getJob, runReconstruction } from "./use/reconstruct.js";
export {
  getObject,
  headObject,
  listObjects,
  parseS3Uri,
  putObject,
  type S3Connection,
  type S3Uri,
  s3Request,
  signV4,
} from "./use/s3.js";
export {
  runSmokeJob,
  SMOKE_MIN_FSCORE_AT_2PCT,
  SMOKE_OPTIONS,
  SMOKE_VIEWS,
  type SmokeJobResult,
} from "./use/smoke-job.js";
export {
  evaluateMesh,
  findGroundTruth,
  fscoreAt,
  generateSyntheticSet,
  type QualityReport,
  type SyntheticSet,
  TARGET_FSCORE_AT_2PCT,
} from "./use/synthetic.js";
