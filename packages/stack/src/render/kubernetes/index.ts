// The Kubernetes target: a Helm chart rendered from the same stack model as the compose file.
export { CHART_NAME, type ChartOptions, kubernetesConfigFiles, type RenderedChart, renderChart } from "./chart.js";
export { containerEnv, expand } from "./env.js";
export { KubernetesApplyError, KubernetesChartError } from "./errors.js";
export { STATEFUL, UDP_PORTS } from "./objects.js";
export { probeCommand, probesFor } from "./probes.js";
export { IMAGE_USERS, runAs } from "./security.js";
export { type ChartValues, chartValues, DEFAULT_SECRET_NAME, SCALABLE, SCRATCH_VOLUMES } from "./values.js";
