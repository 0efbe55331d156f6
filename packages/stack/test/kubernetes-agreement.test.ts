// Compose and Kubernetes render one model: service by service they must run the same image digest, command, env
// (keys, values, which secret), container ports and healthcheck. The real `helm template` output gets the same
// comparison in kubernetes.int.test.ts; here it is the renderer's objects, with images from the chart's values.yaml.
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { COMPOSE_FILE } from "../src/index.js";
import { kubernetesConfigFiles, renderChart } from "../src/render/kubernetes/index.js";
import { workload } from "../src/render/kubernetes/objects.js";
import { Templated } from "../src/render/kubernetes/template.js";
import { composeViews, disagreements, kubeViews } from "./agreement.js";
import { rendered } from "./fixtures.js";

function kubernetesSide(profile: "production" | "gpu" | "lab") {
  const { model, images, files } = rendered(profile);
  const chart = renderChart(model, images);
  const values = parse(chart.files.get("values.yaml")!) as { images: Record<string, string> };
  const configs = kubernetesConfigFiles(model);
  const objects = model.services.map((s) => workload(s, configs, new Templated(), {}));
  return { model, chart, compose: composeViews(files.get(COMPOSE_FILE)!), kube: kubeViews(objects, values.images) };
}

describe.each(["production", "gpu", "lab"] as const)("compose and Kubernetes agree (%s profile)", (profile) => {
  it("service by service: image digest, command, env, ports, probes", () => {
    const { compose, kube } = kubernetesSide(profile);
    expect(compose.size).toBeGreaterThan(8);
    expect(disagreements(compose, kube)).toEqual([]);
  });

  it("each workload's template takes its image from values.yaml by its own service name", () => {
    const { model, chart } = kubernetesSide(profile);
    for (const s of model.services) {
      expect(chart.files.get(`templates/${s.name}.yaml`)).toContain(`(index .Values.images "${s.name}")`);
    }
  });
});

describe("the agreement check itself", () => {
  // A check that cannot fail proves nothing: each of these changes on the Kubernetes side must be reported.
  it.each([
    [
      "a different digest",
      (v: { image: string }) => (v.image = v.image.replace(/sha256:.*/, `sha256:${"0".repeat(64)}`)),
      /image/,
    ],
    ["a missing env key", (v: { env: Record<string, string> }) => delete v.env.MINIO_PROMETHEUS_AUTH_TYPE, /env/],
    ["a changed probe", (v: { probe: { retries: number } }) => (v.probe.retries += 1), /probe/],
    ["a lost port", (v: { ports: number[] }) => v.ports.splice(0), /ports/],
  ])("reports %s", (_what, change, message) => {
    const { compose, kube } = kubernetesSide("production");
    // The object store: compose publishes its S3 port (compose lists no unpublished ports at all).
    change(kube.get("objectstore") as never);
    expect(disagreements(compose, kube).join("\n")).toMatch(message);
  });
});
