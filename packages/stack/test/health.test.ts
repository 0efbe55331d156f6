// How deploy reads a container's state: a one-shot must exit 0, a service must be healthy; a crash loop or a stopped
// container fails at once instead of sitting out its timeout; the reason shown while waiting is the last probe's.
import { describe, expect, it } from "vitest";
import type { ContainerState } from "../src/deploy/docker.js";
import { judge, serviceTimeoutS } from "../src/deploy/health.js";
import { buildModel, S } from "../src/index.js";

const model = buildModel({ profile: "lab" });
const service = (name: string) => model.services.find((s) => s.name === name)!;
const container = (over: Partial<ContainerState>): ContainerState => ({
  id: "c1",
  name: "p-x-1",
  service: "x",
  image: "i",
  status: "running",
  health: "starting",
  exitCode: 0,
  restartCount: 0,
  startedAt: "2026-11-29T00:00:00Z",
  lastProbe: undefined,
  oneShot: false,
  configHash: undefined,
  configUser: "",
  bindings: [],
  ...over,
});

describe("judging a service from its container", () => {
  it("waits for a container that does not exist yet (its dependencies come first)", () => {
    expect(judge(service(S.redis), undefined)).toMatchObject({ done: false, reason: "waiting for its dependencies" });
  });

  it("accepts a one-shot only when it exited 0", () => {
    const init = service(S.airflowInit);
    expect(judge(init, container({ status: "exited", exitCode: 0 }))).toMatchObject({ done: true, ok: true });
    expect(judge(init, container({ status: "exited", exitCode: 3 }))).toMatchObject({
      done: true,
      ok: false,
      state: "exited 3",
    });
    expect(judge(init, container({ status: "running" }))).toMatchObject({ done: false });
  });

  it("accepts a service only when healthy; shows the last probe while it is not", () => {
    const redis = service(S.redis);
    expect(judge(redis, container({ health: "healthy" }))).toMatchObject({ done: true, ok: true });
    expect(judge(redis, container({ health: "unhealthy", lastProbe: "exit 1: NOAUTH" }))).toMatchObject({
      done: false,
      reason: "exit 1: NOAUTH",
    });
  });

  it("fails at once on a crash loop or a stopped service", () => {
    const redis = service(S.redis);
    expect(judge(redis, container({ status: "restarting", restartCount: 3, exitCode: 1 }))).toMatchObject({
      done: true,
      ok: false,
    });
    expect(judge(redis, container({ status: "exited", exitCode: 137 }))).toMatchObject({ done: true, ok: false });
  });

  it("gives each service a timeout that covers its start period and every retry", () => {
    const api = service(S.airflowApi);
    const h = api.healthcheck!;
    expect(serviceTimeoutS(api)).toBeGreaterThanOrEqual(h.startPeriodS + h.intervalS * h.retries);
    expect(serviceTimeoutS(api, 2)).toBe(serviceTimeoutS(api) * 2);
    expect(serviceTimeoutS(service(S.redis))).toBeGreaterThanOrEqual(60);
  });
});

describe("masking", () => {
  it("never lets a secret value through the reporter or a failure text", async () => {
    const { maskingReporter, maskText } = await import("../src/deploy/progress.js");
    const lines: string[] = [];
    const secret = "s3cretValueThatIsLong";
    const reporter = maskingReporter(
      { step: (l) => lines.push(l), info: (l) => lines.push(l), warn: (l) => lines.push(l) },
      [secret],
    );
    reporter.warn(`redis://:${secret}@redis:6379/0 refused`);
    reporter.info(`log: password=${secret}; again ${secret}`);
    expect(lines.join("\n")).not.toContain(secret);
    expect(lines[0]).toBe("redis://:***@redis:6379/0 refused");
    expect(maskText(`x ${secret} y`, [secret])).toBe("x *** y");
  });
});
