// The Kubernetes target of deploy: render the chart from the same lock + build report as compose; with a kubeconfig,
// preflight (tools, API server, helm lint, helm template, digests, secrets, a server-side dry run), then
// `kubectl apply --server-side`, rollout with a deadline, the smoke checks, and a rollback to the last good render.
// `dryRun` stops after the server-side dry run: nothing in the cluster changes.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { DeployFailedError, PreflightError, type PreflightProblem, StackError } from "../errors.js";
import { loadImageInputs, resolveImages } from "../images.js";
import { buildModel } from "../model/profiles.js";
import type { ProfileName } from "../model/types.js";
import { verifyDigestPresent } from "../oci-adapter.js";
import { renderChart } from "../render/kubernetes/chart.js";
import { type KubernetesApplyError, KubernetesChartError } from "../render/kubernetes/errors.js";
import { ensureSecrets, inspectSecrets, type Secrets, secretVariable } from "../secrets.js";
import { errorDetail, type Failure, rollBack, rollout } from "./kube-rollback.js";
import { kubeSmoke } from "./kube-smoke.js";
import { Cluster, type KubeTools, manifestObjects } from "./kube-tools.js";
import { maskingReporter, maskText, type Reporter, terminalReporter } from "./progress.js";
import type { SmokeResult } from "./smoke.js";
import { appendRecord, ensureProjectRoot, lastSuccessful, type ProjectState, writeFiles } from "./state.js";

export const NO_KUBELET_NOTE =
  "a server-side dry run proves every object passes the API server's schema, defaulting and admission (PodSecurity " +
  "restricted included); it does not run pods. The lab's API server has no kubelet, so rollout and smoke checks need a real cluster.";

export interface KubernetesDeployOptions {
  lockFile: string;
  buildReport: string;
  privateRegistry: string;
  profile: ProfileName;
  /** The release: the objects' label, the state dir's project; also the default namespace. */
  release: string;
  namespace: string;
  stateDir: string;
  /** Where the chart is written (replaced whole; refused when it holds something that is not a chart). */
  chartDir?: string;
  /** A YAML file of chart value overrides (checked: unknown keys, tags, secret values are refused). */
  valuesFile?: string;
  /** Without one, deploy only renders the chart. */
  kubeconfig?: string;
  tools: Partial<KubeTools>;
  dryRun?: boolean;
  /** Deadline of each workload's rollout (default 600 s). */
  rolloutTimeoutS?: number;
  reporter?: Reporter;
}

export interface KubernetesDeploySummary {
  outcome: "rendered" | "validated" | "deployed";
  release: string;
  namespace: string;
  profile: ProfileName;
  chartDir: string;
  images: Record<string, string>;
  objects: string[];
  smoke: SmokeResult[];
  notes: string[];
}

const kubeState = (stateDir: string, release: string): ProjectState & { applied: string } => {
  const root = join(stateDir, release, "kubernetes");
  return {
    root,
    secretsFile: join(stateDir, release, "secrets.env"),
    currentDir: join(root, "chart"),
    recordFile: join(root, "deployments.json"),
    applied: join(root, "last-good.yaml"),
  };
};

function readValues(file: string | undefined): unknown {
  if (!file) return {};
  if (!existsSync(file)) {
    throw new KubernetesChartError(`the values file ${file} does not exist`, { hint: "pass an existing YAML file" });
  }
  try {
    return parse(readFileSync(file, "utf8")) ?? {};
  } catch (err) {
    throw new KubernetesChartError(`the values file ${file} is not valid YAML`, {
      cause: err,
      hint: "fix the YAML syntax",
    });
  }
}

function writeChart(dir: string, files: Map<string, string>): void {
  const entries = existsSync(dir) ? readdirSync(dir) : [];
  if (entries.length > 0 && !entries.includes("Chart.yaml")) {
    throw new StackError(`--chart-dir ${dir} holds files that are not a chart; deploy replaces the directory whole`, {
      hint: "name an empty or new directory, or one deploy wrote before",
    });
  }
  writeFiles(dir, files);
}

/** The deployment's secrets as a Secret object: applied from memory through stdin, never written to disk or logged. */
const secretManifest = (name: string, secrets: Secrets) =>
  stringify({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, labels: { "app.kubernetes.io/part-of": "e2e3d" } },
    type: "Opaque",
    stringData: Object.fromEntries(Object.entries(secrets).map(([k, v]) => [secretVariable(k as keyof Secrets), v])),
  });

/** The namespace, PodSecurity `restricted` enforced: the API server refuses a pod that is not non-root and locked down. */
const namespaceManifest = (namespace: string) =>
  stringify({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: namespace,
      labels: {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        // enforce checks pods; warn also checks the pod templates of Deployments, StatefulSets and Jobs at apply time.
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": "latest",
      },
    },
  });

export async function deployKubernetes(options: KubernetesDeployOptions): Promise<KubernetesDeploySummary> {
  let reporter = options.reporter ?? terminalReporter();
  const model = buildModel({ profile: options.profile });
  const state = kubeState(options.stateDir, options.release);
  const chartDir = options.chartDir ?? state.currentDir;

  reporter.step(`render: the Helm chart (profile ${model.profile}) into ${chartDir}`);
  const images = resolveImages(
    model,
    await loadImageInputs(options.lockFile, options.buildReport, options.privateRegistry),
  );
  const chart = renderChart(model, images, { values: readValues(options.valuesFile) });
  writeChart(chartDir, chart.files);
  const summary: KubernetesDeploySummary = {
    outcome: "rendered",
    release: options.release,
    namespace: options.namespace,
    profile: model.profile,
    chartDir,
    images: Object.fromEntries(images),
    objects: [],
    smoke: [],
    notes: [...model.notes],
  };
  if (!options.kubeconfig) {
    summary.notes.push("no kubeconfig given (--kubeconfig or KUBECONFIG): the chart was rendered, nothing applied");
    return summary;
  }

  // Preflight: every problem is collected and nothing in the cluster changes until all of them are fixed.
  const problems: PreflightProblem[] = [];
  const add = (check: string, subject: string, message: string, hint?: string) =>
    problems.push({ check, subject, message, ...(hint ? { hint } : {}) });
  reporter.step("preflight 1/5: helm, kubectl and the API server");
  const { helm, kubectl } = options.tools;
  if (!helm) add("tools", "helm", "no helm on PATH or in the lab", "install helm, or run the lab's `kube up`");
  if (!kubectl) add("tools", "kubectl", "no kubectl on PATH or in the lab", "install kubectl, or run `kube up`");
  if (!existsSync(options.kubeconfig))
    add("cluster", options.kubeconfig, "the kubeconfig does not exist", "pass --kubeconfig <file> or set KUBECONFIG");
  if (problems.length > 0) throw new PreflightError(problems);
  const cluster = new Cluster({ helm: helm!, kubectl: kubectl! }, options.kubeconfig, options.namespace);
  const unreachable = await cluster.unreachable();
  if (unreachable) {
    add("cluster", options.kubeconfig, `the API server is not ready: ${unreachable}`, "check the kubeconfig's server");
  }
  reporter.step("preflight 2/5: helm lint --strict and helm template");
  const lint = await cluster.lint(chartDir);
  if (lint) add("chart", chartDir, `helm lint --strict:\n${lint}`);
  const manifest = lint ? "" : await cluster.template(options.release, chartDir);
  const objects = manifestObjects(manifest);
  summary.objects = objects.map((o) => `${o.kind}/${o.name}`);
  reporter.info(`${objects.length} objects rendered`);

  reporter.step(`preflight 3/5: ${new Set(images.values()).size} image digests in the registry`);
  for (const reference of new Set(images.values())) {
    for (const p of await verifyDigestPresent(reference))
      add("image", reference, p, "run the mirror (lock → mirror) or the build so the digest exists");
  }
  reporter.step("preflight 4/5: secrets");
  for (const p of inspectSecrets(state.secretsFile).problems) add("secrets", state.secretsFile, p);

  reporter.step("preflight 5/5: server-side dry run of every object");
  let labels: Record<string, string> | undefined;
  let unreadable = false;
  if (!unreachable) {
    labels = await cluster.namespaceLabels().catch((err: unknown) => {
      unreadable = true;
      add("cluster", `namespace ${options.namespace}`, errorDetail(err), (err as StackError).hint);
      return undefined;
    });
  }
  const namespaceExists = labels !== undefined;
  // PodSecurity checks pod templates only where the namespace warns `restricted`: deploy labels it so, and dry-runs
  // again after, when it did not exist or did not warn before (else a root pod template would pass and never start).
  const warnedBefore = labels?.["pod-security.kubernetes.io/warn"] === "restricted";
  if (labels && !warnedBefore) {
    reporter.warn(
      `namespace ${options.namespace} is not labelled pod-security.kubernetes.io/warn=restricted: this dry run cannot hold the pod templates to PodSecurity restricted; deploy labels it and dry-runs again before applying`,
    );
  }
  if (unreachable || unreadable || !manifest) {
    reporter.info("skipped: see the problems above");
  } else if (namespaceExists) {
    await cluster.apply(manifest, "the chart", { dryRun: true }).catch((err: KubernetesApplyError) => {
      add("admission", options.namespace, `${err.message}\n${err.logTail ?? ""}`);
    });
  } else if (options.dryRun) {
    add(
      "cluster",
      `namespace ${options.namespace}`,
      "does not exist; a server-side dry run of namespaced objects needs it (a dry run creates nothing)",
      `create it: kubectl create namespace ${options.namespace} && kubectl label namespace ${options.namespace} pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted`,
    );
  } else {
    reporter.info(`namespace ${options.namespace} does not exist yet: it is created first, then dry-run again`);
  }
  if (problems.length > 0) throw new PreflightError(problems);
  if (options.dryRun) {
    reporter.info(`the API server accepted all ${objects.length} objects (dry run: nothing was changed)`);
    return { ...summary, outcome: "validated", notes: [...summary.notes, NO_KUBELET_NOTE] };
  }

  reporter.step(
    `apply: namespace ${options.namespace}, secret, ${objects.length} objects (kubectl apply --server-side)`,
  );
  ensureProjectRoot({ ...state, root: join(options.stateDir, options.release) });
  const { secrets } = ensureSecrets(state.secretsFile);
  reporter = maskingReporter(reporter, Object.values(secrets));
  ensureProjectRoot(state);
  await cluster.apply(namespaceManifest(options.namespace), `namespace ${options.namespace}`, { dryRun: false });
  if (!warnedBefore) {
    reporter.info(`namespace ${options.namespace} now warns PodSecurity restricted: server-side dry run again`);
    await cluster.apply(manifest, "the chart", { dryRun: true });
  }
  await cluster.apply(secretManifest(chart.values.secrets.name, secrets), "the Secret", { dryRun: false });
  const previous = lastSuccessful(state);
  const id = new Date().toISOString();
  // From here on the cluster has changed: every failure is recorded and rolled back, none escapes half-applied.
  const timeoutS = options.rolloutTimeoutS ?? 600;
  const failure: Failure | undefined =
    (await cluster.apply(manifest, "the chart", { dryRun: false }).then(
      () => undefined,
      (err: unknown): Failure => ({ workload: "apply", detail: errorDetail(err) }),
    )) ?? (await rollout(cluster, objects, timeoutS, reporter));
  const smoke = failure
    ? []
    : await kubeSmoke(model, cluster, secrets, reporter).catch((err: unknown): SmokeResult[] => [
        { check: "smoke", ok: false, detail: errorDetail(err) },
      ]);
  const failedSmoke = smoke.filter((s) => !s.ok);
  if (!failure && failedSmoke.length === 0) {
    writeFileSync(state.applied, manifest, { mode: 0o600 });
    appendRecord(state, { id, at: id, profile: model.profile, images: summary.images, outcome: "succeeded" });
    return { ...summary, outcome: "deployed", smoke };
  }

  const why = maskText(
    failure
      ? `${failure.workload}: ${failure.detail}`
      : failedSmoke.map((s) => `smoke ${s.check}: ${s.detail}`).join("\n"),
    Object.values(secrets),
  );
  appendRecord(state, {
    id,
    at: id,
    profile: model.profile,
    images: summary.images,
    outcome: "failed",
    note: why.slice(0, 2000),
  });
  const failing = failure?.workload ?? `smoke ${failedSmoke.map((s) => s.check).join(", ")}`;
  const inspect =
    failure?.workload === "apply"
      ? "the log tail names each object the API server refused and why"
      : `inspect with kubectl -n ${options.namespace} describe ${failure ? failure.workload : "pods"}`;
  if (!previous || !existsSync(state.applied)) {
    throw new DeployFailedError(`deploy failed: ${failing}; this is the first deployment, nothing to roll back to`, {
      context: { namespace: options.namespace, failing },
      logTail: why,
      hint: `${inspect}; fix the cause and deploy again`,
    });
  }
  reporter.step(`rollback: re-applying the last good render (deployment of ${previous.at})`);
  const back = await rollBack(cluster, manifest, readFileSync(state.applied, "utf8"), timeoutS, reporter);
  if (!back.failed) {
    const at = new Date().toISOString();
    appendRecord(state, { id: at, at, profile: model.profile, images: previous.images, outcome: "rolled-back-to" });
  }
  const removed = back.removed.length
    ? `; removed ${back.removed.length} object(s) only in the failed render: ${back.removed.join(", ")}`
    : "";
  throw new DeployFailedError(
    back.failed
      ? `deploy failed: ${failing}; the rollback failed too (${back.failed.workload}): the stack is NOT healthy${removed}`
      : `deploy failed: ${failing}; rolled back to the deployment of ${previous.at}${removed}`,
    {
      context: {
        namespace: options.namespace,
        failing,
        rolledBack: !back.failed,
        ...(back.removed.length ? { removed: back.removed.join(", ") } : {}),
      },
      logTail: back.failed
        ? `${why}\nrollback: ${maskText(`${back.failed.workload}: ${back.failed.detail}`, Object.values(secrets))}`
        : why,
      hint: inspect,
    },
  );
}

/** The short summary for a terminal (stderr). */
export function renderKubernetesSummary(s: KubernetesDeploySummary, seconds: number): string {
  const what = {
    rendered: "rendered the chart (nothing applied)",
    validated: "server-side dry run passed (nothing applied)",
    deployed: "deployed",
  }[s.outcome];
  const lines = [
    `kubernetes: ${what} in ${seconds.toFixed(1)}s`,
    `  chart    ${s.chartDir} (profile ${s.profile}, release ${s.release}, namespace ${s.namespace})`,
    ...(s.objects.length ? [`  objects  ${s.objects.length}: ${s.objects.join(", ")}`] : []),
    ...s.smoke.map((r) => `  smoke    ${r.ok ? "ok  " : "FAIL"} ${r.check}: ${r.detail}`),
    ...s.notes.map((n) => `  note     ${n}`),
  ];
  return `${lines.join("\n")}\n`;
}
