// Parts of the Kubernetes deploy that need no cluster: what a rollback must delete (the objects only the failed
// render has), and the smoke's port-forward when kubectl cannot even be started. (Against a real API server:
// kubernetes.int.test.ts.)
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { kubeSmoke } from "../src/deploy/kube-smoke.js";
import { Cluster, manifestObjects, staleObjects } from "../src/deploy/kube-tools.js";
import { buildModel, silentReporter } from "../src/index.js";

const doc = (kind: string, name: string, namespace?: string) =>
  stringify({ apiVersion: "v1", kind, metadata: { name, ...(namespace ? { namespace } : {}) }, data: { k: name } });
const manifest = (...docs: string[]) => `# Source: chart\n---\n${docs.join("---\n")}`;

describe("staleObjects: what a rollback deletes", () => {
  const lastGood = manifest(doc("Deployment", "api"), doc("Job", "migrate-aaaaaaaaaa"), doc("ConfigMap", "conf"));
  const failed = manifest(
    doc("Deployment", "api"),
    doc("Job", "migrate-bbbbbbbbbb"),
    doc("ConfigMap", "conf"),
    doc("Deployment", "worker"),
    doc("ConfigMap", "conf", "elsewhere"),
  );

  it("is the objects of the failed render that the last good one lacks, by kind/namespace/name", () => {
    const stale = staleObjects(failed, lastGood, "ns");
    expect(stale.objects.map((o) => `${o.kind}/${o.namespace ?? "-"}/${o.name}`)).toEqual([
      "Job/-/migrate-bbbbbbbbbb",
      "Deployment/-/worker",
      "ConfigMap/elsewhere/conf",
    ]);
    // The manifest handed to `kubectl delete -f -` names exactly those objects.
    expect(manifestObjects(stale.manifest)).toEqual(stale.objects);
  });

  it("an object in the namespace deploy applies to is the same object whether or not the document names it", () => {
    const named = manifest(doc("ConfigMap", "conf", "ns"));
    expect(staleObjects(named, manifest(doc("ConfigMap", "conf")), "ns").objects).toEqual([]);
    expect(staleObjects(named, manifest(doc("ConfigMap", "conf")), "other").objects).toHaveLength(1);
  });

  it("is nothing when the failed render has no object the last good one lacks", () => {
    const subset = manifest(doc("ConfigMap", "conf"), doc("Deployment", "api"));
    expect(staleObjects(subset, lastGood, "ns")).toEqual({ objects: [], manifest: "" });
  });
});

describe("kubeSmoke", () => {
  it("reports a kubectl that cannot be started as a failed port-forward check instead of crashing", async () => {
    const missing = "/nonexistent/e2e3d/kubectl";
    const cluster = new Cluster({ helm: "/nonexistent/helm", kubectl: missing }, "/nonexistent/kubeconfig", "ns");
    const results = await kubeSmoke(buildModel({ profile: "lab" }), cluster, {} as never, silentReporter);
    expect(results).toEqual([
      { check: "port-forward", ok: false, detail: expect.stringMatching(`could not start ${missing}: .*ENOENT`) },
    ]);
  });
});
