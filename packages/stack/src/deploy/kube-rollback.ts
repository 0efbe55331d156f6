// After a failed Kubernetes deploy: wait for workloads, and roll back to the last good render. A rollback is the last
// good render applied again (server-side apply), then the objects that only the failed render has are deleted: apply
// never prunes, so a new Job (its name carries a spec hash), Deployment or ConfigMap would otherwise stay and keep
// running the failed release.
import { StackError } from "../errors.js";
import { type Cluster, type ManifestObject, manifestObjects, staleObjects } from "./kube-tools.js";
import type { Reporter } from "./progress.js";

const WORKLOADS = ["Deployment", "StatefulSet", "Job"];

export interface Failure {
  /** The workload that did not get ready, or the step that failed ("apply", "smoke"). */
  workload: string;
  detail: string;
}

/** An error's message and log tail, for a failure's detail. */
export const errorDetail = (err: unknown): string =>
  err instanceof StackError
    ? `${err.message}\n${err.logTail ?? ""}`.trim()
    : err instanceof Error
      ? err.message
      : String(err);

/** Waits for every workload under one deadline; the first that does not get ready, with why. */
export async function rollout(
  cluster: Cluster,
  objects: ManifestObject[],
  timeoutS: number,
  reporter: Reporter,
): Promise<Failure | undefined> {
  const deadline = Date.now() + timeoutS * 1000;
  for (const object of objects.filter((o) => WORKLOADS.includes(o.kind))) {
    const left = Math.max(1, Math.round((deadline - Date.now()) / 1000));
    reporter.info(`rollout: ${object.kind}/${object.name} (${left}s left)`);
    const result = await cluster.waitFor(object, left);
    if (!result.ok) {
      const workload = `${object.kind}/${object.name}`;
      const detail = `${result.output}\n${await cluster.diagnose(object)}`.trim();
      reporter.warn(`${workload} did not become ready:\n${detail}`);
      return { workload, detail };
    }
  }
  return undefined;
}

export interface RollbackResult {
  /** kind/name of the objects of the failed render deleted because the last good render does not have them. */
  removed: string[];
  /** Why the rollback failed (apply, delete or rollout), when it did. */
  failed?: Failure;
}

/** Re-applies the last good render, deletes what only the failed render has, waits for the rollout. Never throws. */
export async function rollBack(
  cluster: Cluster,
  failedRender: string,
  lastGood: string,
  timeoutS: number,
  reporter: Reporter,
): Promise<RollbackResult> {
  const removed: string[] = [];
  try {
    await cluster.apply(lastGood, "the last good render", { dryRun: false });
  } catch (err) {
    return { removed, failed: { workload: "apply of the last good render", detail: errorDetail(err) } };
  }
  const stale = staleObjects(failedRender, lastGood, cluster.namespace);
  if (stale.objects.length > 0) {
    const names = stale.objects.map((o) => `${o.kind}/${o.name}`);
    reporter.info(`rollback: deleting ${names.length} object(s) only in the failed render: ${names.join(", ")}`);
    try {
      await cluster.delete(stale.manifest, "the objects only in the failed render");
    } catch (err) {
      return { removed, failed: { workload: `delete of ${names.join(", ")}`, detail: errorDetail(err) } };
    }
    removed.push(...names);
  }
  const back = await rollout(cluster, manifestObjects(lastGood), timeoutS, reporter).catch(
    (err: unknown): Failure => ({ workload: "rollout of the last good render", detail: errorDetail(err) }),
  );
  return { removed, ...(back ? { failed: back } : {}) };
}
