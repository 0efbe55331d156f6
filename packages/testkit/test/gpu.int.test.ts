// GPU reconstruction smoke test: the reconstruction GPU image (or the CPU image when no GPU image was built) runs with
// a GPU device request (the compose file's deploy.resources.reservations.devices, as the gpu profile renders it) on a
// tiny synthetic set; the job must succeed and its report.json must say CUDA ran the dense stage. Probed first: with no
// usable GPU the suite is skipped with the probe's reason printed. It never passes without a GPU.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUCKETS, BUILD_NAMES, readBuildReport, S, type StackModel } from "@e2e3d/stack";
import { afterAll, describe, expect, it } from "vitest";
import { skipTest } from "../../../tools/skips/src/skip.js";
import {
  fetchOutputs,
  generateImageSet,
  note,
  objectStore,
  phaseTable,
  probeGpu,
  recordSkip,
  resolveStack,
  type StartedStack,
  startStack,
  suiteInputs,
  until,
  uploadImageSet,
} from "../src/index.js";

const inputs = await suiteInputs();
const built = readBuildReport(inputs.buildReportFile);
const gpuImageBuilt = built.has(BUILD_NAMES.reconstructionGpu);
// Without a GPU image, the CPU image gets the device request (its torch must then find CUDA, or the job fails).
const extraBuildImages: Record<string, string> = gpuImageBuilt
  ? {}
  : { [BUILD_NAMES.reconstructionGpu]: built.get(BUILD_NAMES.reconstruction)! };
if (!gpuImageBuilt) note("no reconstruction-gpu image in the build report: the CPU image runs with the GPU request");

/** The gpu profile's change (packages/stack applyGpu) on top of the chosen profile: profiles do not combine there. */
const withGpu = (model: StackModel): StackModel => ({
  ...model,
  services: model.services.map((s) =>
    s.name === S.reconstruction
      ? {
          ...s,
          image: { kind: "build", name: BUILD_NAMES.reconstructionGpu },
          environment: { ...s.environment, E2E3D_DEVICE: "cuda" },
          gpu: true,
        }
      : s,
  ),
});

const options = {
  ...inputs,
  only: [S.reconstruction, S.gateway],
  transformModel: withGpu,
  extraBuildImages,
  projectPrefix: "e2e3d-gpu",
};
const { images } = await resolveStack(options);
const image = images.get(S.reconstruction)!;
const probe = await probeGpu(image);
if (probe.usable) note(`GPU probe: ${probe.reason}`);
else recordSkip("gpu", probe.reason);

let stack: StartedStack | undefined;
// Made inside the test, once it knows it runs (skipped, it leaves nothing to remove).
let work: string | undefined;

afterAll(async () => {
  console.error(`phase times:\n${phaseTable()}`);
  await stack?.down();
  if (work) rmSync(work, { recursive: true, force: true });
}, 10 * 60_000);

describe("gpu", () => {
  it(
    "reconstructs a tiny set with CUDA doing the dense stage",
    async (ctx) => {
      if (!probe.usable) skipTest(ctx, probe.reason);
      work = mkdtempSync(join(tmpdir(), "e2e3d-gpu-"));
      const [started, generated] = await Promise.allSettled([
        startStack(options),
        generateImageSet(image, join(work, "set"), { views: 12 }),
      ]);
      // A started stack is kept even when the set generation failed, so afterAll takes it down.
      if (started.status === "rejected") throw started.reason;
      stack = started.value;
      if (generated.status === "rejected") throw generated.reason;
      const set = generated.value;
      const store = objectStore(
        stack.s3Url,
        stack.secrets.objectstore_access_key,
        stack.secrets.objectstore_secret_key,
      );
      const input = await uploadImageSet(store, `s3://${BUCKETS.input}/gpu-smoke/`, set.images);
      const output = `s3://${BUCKETS.output}/gpu-smoke/`;
      const api = `${stack.gatewayUrl}/api/v1/jobs`;
      const submitted = (await (
        await fetch(api, {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": `gpu-smoke-${Date.now()}` },
          body: JSON.stringify({ input, output, options: { device: "cuda" } }),
          signal: AbortSignal.timeout(30_000),
        })
      ).json()) as { id: string };
      const job = await until(
        `GPU job ${submitted.id}`,
        async () => {
          const j = (await (await fetch(`${api}/${submitted.id}`, { signal: AbortSignal.timeout(30_000) })).json()) as {
            state: string;
            error?: unknown;
          };
          return ["succeeded", "failed", "cancelled"].includes(j.state)
            ? { value: j, reason: "" }
            : { reason: j.state };
        },
        { timeoutMs: 20 * 60_000, intervalMs: 5000 },
      );
      expect(job, JSON.stringify(job)).toMatchObject({ state: "succeeded" });
      const outputs = await fetchOutputs(store, output);
      expect(String(outputs.report["device"])).toMatch(/^cuda/);
      note(
        `GPU job report: device ${outputs.report["device"]}, stages ${JSON.stringify(outputs.report["stage_seconds"])}`,
      );
    },
    40 * 60_000,
  );
});
