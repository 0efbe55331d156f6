// Typed errors of the Kubernetes target. Both carry context and a hint like every stack error.
import { StackError } from "../../errors.js";

/** The chart cannot be rendered from this input: an unknown service, an image not pinned by digest, a secret value. */
export class KubernetesChartError extends StackError {}

/** helm or kubectl refused the chart or failed against the cluster (lint, template, apply, rollout). */
export class KubernetesApplyError extends StackError {}
