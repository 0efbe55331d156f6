// The lab's API for other packages: where the lab's endpoints are, and what `up` brought up.
export {
  BASE_REPOSITORY,
  BASE_SUITE,
  DEFAULT_ENDPOINTS,
  DEFAULT_PRIVATE_REGISTRY,
  DEFAULT_UPSTREAM_REGISTRY,
  labStateDir,
  loadConfig,
} from "./config.js";
export { formatError, LabError, LabStateError } from "./errors.js";
export { GRAFANA_NOTE, type LabState, labStatePath, parseLabState, readLabState, type StandIn } from "./state.js";
