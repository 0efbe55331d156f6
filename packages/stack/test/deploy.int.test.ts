// Deploy on the lab, for real: compose, containers, health, smoke, rollback, down. While the first-party images
// (reconstruction, airflow) and the S3 stand-in are not all available, this suite deploys the part of the lab
// profile whose images exist (gateway, prometheus, statsd-exporter, redis, postgres) through the same code path;
// the full-stack run is in fullstack.int.test.ts.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LockFile } from "@e2e3d/oci";
import { afterAll, expect, it } from "vitest";
import { describeUnless } from "../../../tools/skips/src/skip.js";
import { projectContainers } from "../src/deploy/docker.js";
import { headBucket } from "../src/deploy/s3-head.js";
import { projectState, readRecords } from "../src/deploy/state.js";
import {
  DeployFailedError,
  type DeployOptions,
  deploy,
  down,
  ensureSecrets,
  PreflightError,
  silentReporter,
  stackStatus,
  terminalReporter,
} from "../src/index.js";
import { fakeDigest } from "./fixtures.js";
import { labImage, PRIVATE, UPSTREAM, uniqueProject } from "./lab.js";

const SUBSET = ["gateway", "prometheus", "statsd-exporter", "redis", "postgres", "objectstore"];
const SOURCES: Record<string, string> = {
  nginx: "docker.io/library/nginx",
  prometheus: "docker.io/prom/prometheus",
  "statsd-exporter": "docker.io/prom/statsd-exporter",
  redis: "docker.io/library/redis",
  postgres: "docker.io/library/postgres",
  minio: "quay.io/minio/minio",
};

/**
 * A lock of the lab images, all from one registry (the deploy pulls from one): the private registry when the mirror
 * has every one of them, else the lab upstream, which the lab fills with every stand-in (the test then treats the
 * upstream as the private registry: a real registry either way; only its role differs). A mirror that has only some
 * of them is therefore no reason to skip.
 */
async function labLock(): Promise<{ lock?: LockFile; registry?: string; reason?: string }> {
  const reasons: string[] = [];
  for (const where of ["private", "upstream"] as const) {
    const images: LockFile["images"] = {};
    const found = await Promise.all(
      Object.entries(SOURCES).map(async ([n, src]) => [n, src, await labImage(n, src, where)] as const),
    );
    const absent = found.find(([, , f]) => !f.ref);
    if (absent) {
      reasons.push(`${where}: ${absent[2].reason ?? `${absent[0]} not found`}`);
      continue;
    }
    for (const [name, source, { ref }] of found) {
      const digest = ref!.slice(ref!.indexOf("@") + 1);
      images[name] = {
        source,
        tag: "lab",
        digest,
        mediaType: "application/vnd.docker.distribution.manifest.v2+json",
        platforms: {},
        resolvedAt: new Date().toISOString(),
      };
    }
    return { lock: { version: 1, images }, registry: where === "private" ? PRIVATE : UPSTREAM };
  }
  return {
    reason: `the lab images are in neither lab registry (${reasons.join("; ")}): npx tsx tools/lab/src/cli.ts up`,
  };
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });

const found = await labLock();
// Unique per run, not just per process: PIDs wrap at 32768 here, and a stack left by a killed earlier run under the
// same name would turn this run's first deploy into an update of that stack.
const project = uniqueProject("e2e3d-it");
const stateDir = mkdtempSync(join(tmpdir(), "e2e3d-deploy-it-"));
const lockPath = join(stateDir, "lock.json");
const reportPath = join(stateDir, "build.json");
writeFileSync(reportPath, JSON.stringify({ status: "passed", images: [] }));
if (found.lock) writeFileSync(lockPath, JSON.stringify(found.lock));
const ports = { gateway: await freePort(), objectStore: await freePort() };

const options = (lockFile = lockPath): DeployOptions => ({
  lockFile,
  buildReport: reportPath,
  privateRegistry: found.registry ?? "127.0.0.1:5102",
  profile: "lab",
  project,
  stateDir,
  ports,
  only: SUBSET,
  reporter: process.env["E2E3D_TEST_VERBOSE"] ? terminalReporter() : silentReporter,
  smokeAttempts: 30,
});

const ids = async () => new Map((await projectContainers(project)).map((c) => [c.service, c.id]));

afterAll(async () => {
  if (found.lock) await down({ project, stateDir, volumes: true, reporter: silentReporter }).catch(() => undefined);
  rmSync(stateDir, { recursive: true, force: true });
});

describeUnless(found.reason)("deploy on the lab", () => {
  it("reaches healthy and passes its smoke checks", async () => {
    const summary = await deploy(options());
    expect(summary.outcome).toBe("deployed");
    expect(summary.applied).toBe(true);
    expect(summary.services.map((s) => s.service).sort()).toEqual([...SUBSET].sort());
    expect(summary.services.every((s) => s.change === "created" && s.state === "healthy")).toBe(true);
    expect(summary.smoke.map((s) => s.check)).toEqual(
      expect.arrayContaining(["gateway /prometheus/ → prometheus", "prometheus targets up"]),
    );
    expect(summary.smoke.every((s) => s.ok)).toBe(true);
    expect(summary.urls["Prometheus"]).toBe(`http://localhost:${ports.gateway}/prometheus/`);
    // Containers are named by compose after the project, never by a fixed name.
    for (const c of await projectContainers(project)) expect(c.name.startsWith(`${project}-`)).toBe(true);
    expect(summary.generatedSecrets).toBeGreaterThan(0);
  });

  it("signs S3 requests the object store accepts (the smoke test's bucket check)", async () => {
    const secrets = ensureSecrets(projectState(stateDir, project).secretsFile).secrets;
    const endpoint = `http://127.0.0.1:${ports.objectStore}`;
    const good = { accessKey: secrets.objectstore_access_key, secretKey: secrets.objectstore_secret_key };
    // Correctly signed: the bucket simply does not exist. Wrongly signed: refused.
    expect(await headBucket(endpoint, "e2e3d-no-such-bucket", good)).toBe(404);
    expect(await headBucket(endpoint, "e2e3d-no-such-bucket", { ...good, secretKey: `${good.secretKey}x` })).toBe(403);
  });

  it("changes nothing when deployed again unchanged", async () => {
    const before = await ids();
    const summary = await deploy(options());
    expect(summary.outcome).toBe("unchanged");
    // Every container already matched its configuration: compose up was not even run.
    expect(summary.applied).toBe(false);
    expect(summary.generatedSecrets).toBe(0);
    expect(await ids()).toEqual(before);
  });

  it("stops in preflight on a missing digest, before touching the running stack", async () => {
    const before = await ids();
    const compose = readFileSync(join(projectState(stateDir, project).currentDir, "compose.yaml"), "utf8");
    const broken = structuredClone(found.lock!);
    broken.images["prometheus"]!.digest = fakeDigest("not-mirrored");
    const brokenPath = join(stateDir, "broken-lock.json");
    writeFileSync(brokenPath, JSON.stringify(broken));
    const error = await deploy(options(brokenPath)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PreflightError);
    const problems = (error as PreflightError).problems;
    expect(problems.some((p) => p.check === "image" && p.subject.includes("prometheus"))).toBe(true);
    expect(await ids()).toEqual(before);
    expect(readFileSync(join(projectState(stateDir, project).currentDir, "compose.yaml"), "utf8")).toBe(compose);
  });

  it("rolls back to the previous images when a changed service never gets healthy", async () => {
    // The redis image given to statsd-exporter cannot run the exporter's command: it crash-loops, never healthy.
    const broken = structuredClone(found.lock!);
    broken.images["statsd-exporter"] = { ...broken.images["redis"]! };
    const brokenPath = join(stateDir, "crashing-lock.json");
    writeFileSync(brokenPath, JSON.stringify(broken));
    const before = await ids();
    // No shortened health timeout: the crash loop is recognised by its restart count within seconds, and a shorter
    // limit would also apply to the rollback, which must get the exporter healthy again on a loaded machine.
    const error = await deploy(options(brokenPath)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeployFailedError);
    expect((error as Error).message).toMatch(/rolled back to the deployment of .*healthy again/);
    expect((error as DeployFailedError).logTail).toMatch(/statsd-exporter: crash loop|statsd-exporter: exited/);
    const exporter = (await projectContainers(project)).find((c) => c.service === "statsd-exporter")!;
    expect(exporter.image).toContain(`${SOURCES["statsd-exporter"]}@${found.lock!.images["statsd-exporter"]!.digest}`);
    expect(exporter.health).toBe("healthy");
    // A changed image replaces just that service: every other container is the one that was running before.
    const after = await ids();
    for (const service of SUBSET.filter((s) => s !== "statsd-exporter"))
      expect(after.get(service)).toBe(before.get(service));
    expect(after.get("statsd-exporter")).not.toBe(before.get("statsd-exporter"));
    const outcomes = readRecords(projectState(stateDir, project)).map((r) => r.outcome);
    expect(outcomes.slice(-2)).toEqual(["failed", "rolled-back-to"]);
  });

  it("--status: as deployed after the rollback, and a stopped service is named", async () => {
    const status = await stackStatus({ project, stateDir });
    expect(status.services.filter((s) => s.verdict !== "ok")).toEqual([]);
    expect(status.ok).toBe(true);
    expect(status.deployment?.outcome).toBe("rolled-back-to");

    const redis = (await projectContainers(project)).find((c) => c.service === "redis")!;
    execFileSync("/usr/bin/docker", ["stop", "-t", "10", redis.id]);
    const stopped = await stackStatus({ project, stateDir });
    expect(stopped.ok).toBe(false);
    expect(stopped.services.find((s) => s.service === "redis")).toMatchObject({ verdict: "stopped" });
    expect(stopped.services.filter((s) => s.verdict !== "ok").map((s) => s.service)).toEqual(["redis"]);
  });

  it("--down removes the containers and keeps the named volumes", async () => {
    const result = await down({ project, stateDir, volumes: false, reporter: silentReporter });
    expect(result.removedContainers).toBe(SUBSET.length);
    expect(await projectContainers(project)).toEqual([]);
    const volumes = execFileSync("/usr/bin/docker", [
      "volume",
      "ls",
      "-q",
      "--filter",
      `label=com.docker.compose.project=${project}`,
    ])
      .toString()
      .trim()
      .split("\n");
    expect(volumes).toContain(`${project}_postgres-data`);
  });
});
