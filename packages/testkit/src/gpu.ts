// Is there a GPU this engine can hand to a container? Two probes, both must pass: the engine lists the nvidia
// runtime, and `docker run --gpus all <image> true` succeeds. Anything else is "no usable GPU", with the reason,
// so a GPU suite skips with that reason instead of failing or, worse, passing without a GPU.
import { docker } from "./docker.js";

export interface GpuProbe {
  usable: boolean;
  reason: string;
  runtimes: string[];
}

export function parseRuntimes(json: string): string[] {
  try {
    return Object.keys(JSON.parse(json) as Record<string, unknown>).sort();
  } catch {
    return [];
  }
}

export async function probeGpu(image: string): Promise<GpuProbe> {
  const info = await docker(["info", "--format", "{{json .Runtimes}}"], { timeoutMs: 30_000 });
  if (info.code !== 0) return { usable: false, reason: `docker info failed: ${info.stderr.trim()}`, runtimes: [] };
  const runtimes = parseRuntimes(info.stdout.trim());
  if (!runtimes.includes("nvidia")) {
    return {
      usable: false,
      reason: `the Docker engine has no nvidia runtime (runtimes: ${runtimes.join(", ") || "none"}): no GPU can be handed to a container`,
      runtimes,
    };
  }
  const run = await docker(["run", "--rm", "--gpus", "all", "--network", "none", "--entrypoint", "true", image], {
    timeoutMs: 300_000,
  });
  if (run.code !== 0) {
    return {
      usable: false,
      reason: `docker run --gpus all failed: ${(run.stderr || run.stdout).trim().split("\n").slice(-2).join(" | ")}`,
      runtimes,
    };
  }
  return { usable: true, reason: "the nvidia runtime is present and `docker run --gpus all` works", runtimes };
}
