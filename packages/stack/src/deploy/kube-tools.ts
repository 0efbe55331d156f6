// helm and kubectl, pointed at one kubeconfig and namespace. Helm only lints and renders (`helm template`); every
// change to the cluster is `kubectl apply --server-side`, so the bytes a server-side dry run accepted are the bytes
// applied, and a rollback is the last good render applied again.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { tail } from "../errors.js";
import { type RunResult, run } from "../exec.js";
import { KubernetesApplyError } from "../render/kubernetes/errors.js";

/** The field manager of every apply: `kubectl get -o yaml --show-managed-fields` shows what deploy owns. */
export const FIELD_MANAGER = "e2e3d-deploy";

export interface KubeTools {
  helm: string;
  kubectl: string;
}

const executable = (path: string) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * helm and kubectl: $E2E3D_HELM / $E2E3D_KUBECTL, else the first on PATH, else the lab's (`kube up` builds them into
 * <lab state dir>/kube/bin). Undefined for one that is nowhere: preflight reports it.
 */
export function findKubeTools(labHome: string, env: NodeJS.ProcessEnv = process.env): Partial<KubeTools> {
  const dirs = [...(env["PATH"] ?? "").split(delimiter).filter(Boolean), join(labHome, "kube", "bin")];
  const find = (name: string, override?: string) =>
    override?.trim() || dirs.map((d) => join(d, name)).find((p) => executable(p));
  const helm = find("helm", env["E2E3D_HELM"]);
  const kubectl = find("kubectl", env["E2E3D_KUBECTL"]);
  return { ...(helm ? { helm } : {}), ...(kubectl ? { kubectl } : {}) };
}

export interface ManifestObject {
  apiVersion: string;
  kind: string;
  name: string;
  /** metadata.namespace when the document sets one; otherwise the namespace it is applied to. */
  namespace?: string;
}

/** The objects of a multi-document manifest (helm template's output), in order. */
export function manifestObjects(manifest: string): ManifestObject[] {
  return parseAllDocuments(manifest)
    .map((d) => d.toJS() as { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } })
    .filter((o): o is NonNullable<typeof o> => Boolean(o?.kind))
    .map((o) => ({
      apiVersion: o.apiVersion ?? "?",
      kind: o.kind!,
      name: o.metadata?.name ?? "?",
      ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}),
    }));
}

/** kind/namespace/name: one object in the cluster (an apiVersion change names the same object). */
export const objectKey = (o: ManifestObject, namespace: string) => `${o.kind}/${o.namespace ?? namespace}/${o.name}`;

/**
 * The objects of `failed` that are not in `lastGood` (by kind/namespace/name), and a manifest of them for
 * `kubectl delete -f -`: what a server-side apply of the last good render leaves behind (apply never prunes).
 */
export function staleObjects(
  failed: string,
  lastGood: string,
  namespace: string,
): { objects: ManifestObject[]; manifest: string } {
  const keep = new Set(manifestObjects(lastGood).map((o) => objectKey(o, namespace)));
  const objects = manifestObjects(failed).filter((o) => !keep.has(objectKey(o, namespace)));
  // Only what names each object: delete needs no spec (and a re-serialised spec could read differently).
  const names = objects.map(({ apiVersion, kind, name, namespace: ns }) =>
    stringify({ apiVersion, kind, metadata: { name, ...(ns ? { namespace: ns } : {}) } }),
  );
  return { objects, manifest: names.join("---\n") };
}

/** One cluster, one namespace. Every call has a deadline: an API server that stops answering must not hang deploy. */
export class Cluster {
  constructor(
    readonly tools: KubeTools,
    readonly kubeconfig: string,
    readonly namespace: string,
  ) {}

  kubectl(args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    return run(this.tools.kubectl, ["--kubeconfig", this.kubeconfig, ...args], {
      timeoutMs: options.timeoutMs ?? 120_000,
      ...(options.input !== undefined ? { input: options.input } : {}),
    });
  }

  /** undefined when the API server answers /readyz, else why not. */
  async unreachable(): Promise<string | undefined> {
    const r = await this.kubectl(["get", "--raw", "/readyz", "--request-timeout=10s"], { timeoutMs: 20_000 });
    if (r.code === 0) return undefined;
    return r.code === 124 ? "no answer within 20s" : tail(r.stderr || r.stdout, 3).trim();
  }

  /**
   * The namespace's labels, or undefined when it does not exist (the API server said NotFound). Any other failure
   * (Forbidden, Unauthorized, a timeout) says nothing about the namespace: a KubernetesApplyError with kubectl's stderr.
   */
  async namespaceLabels(): Promise<Record<string, string> | undefined> {
    const r = await this.kubectl(["get", "namespace", this.namespace, "-o", "jsonpath={.metadata.labels}"], {
      timeoutMs: 30_000,
    });
    if (r.code !== 0 && /\(NotFound\)/.test(r.stderr)) return undefined;
    if (r.code !== 0) {
      throw new KubernetesApplyError(`kubectl get namespace ${this.namespace} failed`, {
        context: { namespace: this.namespace, kubeconfig: this.kubeconfig },
        logTail: r.code === 124 ? "no answer within 30s" : tail(r.stderr || r.stdout, 5),
        hint: "deploy must read the namespace (get namespaces): check the kubeconfig's user and its RBAC",
      });
    }
    return r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, string>) : {};
  }

  /** `helm lint --strict`: undefined when clean, else its output. */
  async lint(chartDir: string): Promise<string | undefined> {
    const r = await run(this.tools.helm, ["lint", "--strict", chartDir], { timeoutMs: 120_000 });
    return r.code === 0 ? undefined : tail(`${r.stdout}\n${r.stderr}`, 20);
  }

  /** The chart's objects as the cluster will get them (`helm template`, no cluster access). */
  async template(release: string, chartDir: string): Promise<string> {
    const r = await run(this.tools.helm, ["template", release, chartDir, "--namespace", this.namespace], {
      timeoutMs: 120_000,
    });
    if (r.code !== 0) {
      throw new KubernetesApplyError("helm template refused the chart", {
        context: { chart: chartDir },
        logTail: tail(r.stderr || r.stdout),
        hint: "the chart was rendered by deploy from the model: check --values; otherwise this is a bug in the renderer",
      });
    }
    return r.stdout;
  }

  /** `kubectl apply --server-side` of a manifest (stdin), or its server-side dry run: schema, defaults, admission. */
  async apply(manifest: string, what: string, options: { dryRun: boolean }): Promise<string> {
    const r = await this.kubectl(
      [
        "apply",
        "--server-side",
        `--field-manager=${FIELD_MANAGER}`,
        // deploy owns these objects: a field someone changed by hand is taken back, as compose recreates a container.
        "--force-conflicts",
        // PodSecurity only warns about a Deployment's pod template (it enforces on pods, which controllers create
        // later): in the dry run a warning is a refusal, so a template that would never start a pod fails here.
        ...(options.dryRun ? ["--dry-run=server", "--warnings-as-errors"] : []),
        "--namespace",
        this.namespace,
        "-f",
        "-",
      ],
      { input: manifest, timeoutMs: 300_000 },
    );
    if (r.code !== 0) {
      throw new KubernetesApplyError(
        `the API server refused ${what}${options.dryRun ? " in a server-side dry run (nothing was changed)" : ""}`,
        {
          context: { namespace: this.namespace, kubeconfig: this.kubeconfig },
          logTail: tail(r.stderr || r.stdout),
          hint: "each line above names the object and the field the API server or an admission plugin refused",
        },
      );
    }
    return r.stdout;
  }

  /** `kubectl delete` of a manifest's objects (stdin); ones already gone are fine. */
  async delete(manifest: string, what: string): Promise<string> {
    const r = await this.kubectl(
      ["delete", "--ignore-not-found", "--wait=false", "--namespace", this.namespace, "-f", "-"],
      { input: manifest, timeoutMs: 300_000 },
    );
    if (r.code !== 0) {
      throw new KubernetesApplyError(`kubectl delete of ${what} failed`, {
        context: { namespace: this.namespace, kubeconfig: this.kubeconfig },
        logTail: tail(r.stderr || r.stdout),
        hint: `delete them by hand: kubectl -n ${this.namespace} delete <kind>/<name>`,
      });
    }
    return r.stdout;
  }

  /** Waits for a workload: `rollout status` for Deployments and StatefulSets, `wait --for=condition=complete` for Jobs. */
  async waitFor(object: ManifestObject, timeoutS: number): Promise<{ ok: boolean; output: string }> {
    const ref = `${object.kind.toLowerCase()}/${object.name}`;
    const args =
      object.kind === "Job"
        ? ["wait", "--for=condition=complete", ref, `--timeout=${timeoutS}s`]
        : ["rollout", "status", ref, `--timeout=${timeoutS}s`];
    const r = await this.kubectl([...args, "--namespace", this.namespace], { timeoutMs: (timeoutS + 30) * 1000 });
    return { ok: r.code === 0, output: tail(`${r.stdout}\n${r.stderr}`, 5).trim() };
  }

  /** Why a workload is not ready: its pods' phases and the namespace's latest warning events about it. */
  async diagnose(object: ManifestObject): Promise<string> {
    const pods = await this.kubectl(
      [
        "get",
        "pods",
        "--namespace",
        this.namespace,
        "-l",
        `app.kubernetes.io/name=${object.name.replace(/-[0-9a-f]{10}$/, "")}`,
        "-o",
        "wide",
      ],
      { timeoutMs: 30_000 },
    );
    const events = await this.kubectl(
      ["get", "events", "--namespace", this.namespace, "--field-selector", "type=Warning", "--sort-by=.lastTimestamp"],
      { timeoutMs: 30_000 },
    );
    const mine = events.stdout.split("\n").filter((l) => l.includes(object.name));
    const noPods = /No resources found/.test(pods.stdout + pods.stderr);
    return [
      noPods
        ? "no pod exists for it: nothing created one (a cluster without a running controller manager, like the lab's API server, never does)"
        : tail(pods.stdout || pods.stderr, 10),
      ...mine.slice(-8),
    ]
      .join("\n")
      .trim();
  }
}
