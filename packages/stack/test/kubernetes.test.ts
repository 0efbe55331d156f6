// The Kubernetes chart, rendered from the model: pinned digests, secrets only by reference, GPU scheduling, and clear
// typed errors for bad input. (helm lint/template and the API server's dry run need the lab's kube: see the
// integration suite once it exists; these checks need no tools.)
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { KubernetesChartError, renderChart } from "../src/render/kubernetes/index.js";
import { rendered } from "./fixtures.js";

describe("renderChart", () => {
  it("pins every service's image by digest in values.yaml, the same references compose uses", () => {
    const { model, images } = rendered("production");
    const values = parse(renderChart(model, images).files.get("values.yaml")!) as { images: Record<string, string> };
    expect(values.images).toEqual(Object.fromEntries(images));
    for (const ref of Object.values(values.images)) expect(ref).toMatch(/@sha256:[a-f0-9]{64}$/);
  });

  it("never writes a secret reference's value: env comes from secretKeyRef or $(E2E3D_SECRET_*)", () => {
    const { model, images } = rendered("production");
    const { files } = renderChart(model, images);
    const text = [...files.values()].join("\n");
    expect(text).not.toMatch(/\$\{E2E3D_SECRET_/);
    expect(text).toMatch(/secretKeyRef/);
    expect(text).toMatch(/\$\(E2E3D_SECRET_POSTGRES_PASSWORD\)/);
  });

  it("gpu profile: the reconstruction pod requests nvidia.com/gpu and selects GPU nodes; production does not", () => {
    const gpu = rendered("gpu");
    const gpuTemplate = renderChart(gpu.model, gpu.images).files.get("templates/reconstruction.yaml")!;
    expect(gpuTemplate).toMatch(/nvidia\.com\/gpu: \{\{ int \.Values\.gpu\.count \}\}/);
    expect(gpuTemplate).toMatch(/nodeSelector:\n\{\{- toYaml \(\.Values\.gpu\.nodeSelector\)/);
    const prod = rendered("production");
    expect(renderChart(prod.model, prod.images).files.get("templates/reconstruction.yaml")).not.toMatch(/nvidia/);
  });

  it.each([
    ["an unknown service", { replicas: { nope: 2 } }, /replicas: unknown key\(s\) nope/],
    [
      "a secret value",
      { secrets: { name: "x", postgres_password: "hunter2hunter2" } },
      /secret value at secrets\.postgres_password/,
    ],
    ["an image by tag", { images: { redis: "127.0.0.1:5102/docker.io/library/redis:7" } }, /images\.redis: must be/],
    ["two reconstruction replicas on one-writer storage", { replicas: { reconstruction: 2 } }, /ReadWriteMany/],
  ])("refuses %s in the values with a KubernetesChartError", (_what, values, message) => {
    const { model, images } = rendered("production");
    const attempt = () => renderChart(model, images, { values });
    expect(attempt).toThrow(KubernetesChartError);
    expect(attempt).toThrow(message);
  });

  it("refuses a service without a digest", () => {
    const { model, images } = rendered("production");
    const partial = new Map(images);
    partial.delete("postgres");
    expect(() => renderChart(model, partial)).toThrow(/no image pinned by digest for postgres/);
  });
});
