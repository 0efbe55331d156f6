// The running stack against the last deployment record: every verdict, without an engine (compareWithRecord is pure).
// The same comparison runs against real containers in deploy.int.test.ts.
import { describe, expect, it } from "vitest";
import type { ContainerState } from "../src/deploy/docker.js";
import type { DeploymentRecord } from "../src/deploy/state.js";
import { compareWithRecord, renderStackStatus } from "../src/deploy/status.js";

const REDIS = "127.0.0.1:5102/docker.io/library/redis@sha256:aaaa";
const INIT = "127.0.0.1:5102/e2e3d/airflow@sha256:bbbb";
const record: DeploymentRecord = {
  id: "2026-11-29T03:59:25.176Z",
  at: "2026-11-29T03:59:25.176Z",
  profile: "lab",
  images: { redis: REDIS, "airflow-init": INIT },
  outcome: "succeeded",
};
const container = (overrides: Partial<ContainerState>): ContainerState => ({
  id: "c1",
  name: "e2e3d-lab-redis-1",
  service: "redis",
  image: REDIS,
  status: "running",
  health: "healthy",
  exitCode: 0,
  restartCount: 0,
  startedAt: "2026-11-29T03:59:30Z",
  lastProbe: undefined,
  oneShot: false,
  configHash: undefined,
  configUser: "",
  bindings: [],
  ...overrides,
});
const init = (overrides: Partial<ContainerState> = {}) =>
  container({ name: "e2e3d-lab-airflow-init-1", service: "airflow-init", image: INIT, oneShot: true, ...overrides });
const verdicts = (containers: ContainerState[]) =>
  Object.fromEntries(compareWithRecord("e2e3d-lab", record, containers).services.map((s) => [s.service, s.verdict]));

describe("compareWithRecord", () => {
  it("is ok when every recorded service runs its recorded image, healthy, and one-shots completed", () => {
    const status = compareWithRecord("e2e3d-lab", record, [
      container({}),
      init({ status: "exited", health: undefined }),
    ]);
    expect(status.ok).toBe(true);
    expect(status.services.map((s) => `${s.service} ${s.verdict} ${s.detail}`)).toEqual([
      "redis ok healthy",
      "airflow-init ok completed",
    ]);
  });

  it.each([
    ["drifted", container({ image: "127.0.0.1:5102/docker.io/library/redis@sha256:cccc" })],
    ["stopped", container({ status: "exited", exitCode: 137 })],
    ["unhealthy", container({ health: "unhealthy", lastProbe: "Could not connect to Redis" })],
    ["starting", container({ health: "starting" })],
  ])("says %s, and the stack is not ok", (verdict, redis) => {
    const status = compareWithRecord("e2e3d-lab", record, [redis, init({ status: "exited" })]);
    expect(status.ok).toBe(false);
    expect(status.services.find((s) => s.service === "redis")?.verdict).toBe(verdict);
  });

  it("names a missing service, a failed one-shot and a container the record does not know", () => {
    const stray = container({ name: "e2e3d-lab-debug-1", service: "debug", image: "busybox" });
    expect(verdicts([init({ status: "exited", exitCode: 1 }), stray])).toEqual({
      redis: "missing",
      "airflow-init": "stopped",
      debug: "unexpected",
    });
  });

  it("is not ok without a deployment record, and says so", () => {
    const status = compareWithRecord("e2e3d-lab", undefined, [container({})]);
    expect(status.ok).toBe(false);
    expect(renderStackStatus(status)).toBe(
      "e2e3d-lab: never deployed from this state dir (1 container(s) of that name run)\n",
    );
  });

  it("renders one line per service with its verdict and why", () => {
    const text = renderStackStatus(
      compareWithRecord("e2e3d-lab", record, [container({ status: "exited", exitCode: 1 })]),
    );
    expect(text).toContain("e2e3d-lab (lab, deployed 2026-11-29T03:59:25.176Z): NOT as deployed");
    expect(text).toContain("  stopped    redis         exited (exit 1)");
    expect(text).toContain("  missing    airflow-init  no container: removed, or never created");
  });
});
