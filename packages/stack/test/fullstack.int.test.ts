// The whole lab profile, deployed from the lab's real lock and the build report: every service healthy, every smoke
// check passing (gateway routes, reconstruction /readyz, buckets, Airflow health and DAG, Prometheus targets), then a
// second deploy that changes nothing. It needs every image: it skips, saying which are missing, until they exist.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, expect, it } from "vitest";
import { describeUnless } from "../../../tools/skips/src/skip.js";
import { projectContainers } from "../src/deploy/docker.js";
import { type DeployOptions, deploy, down, silentReporter, terminalReporter } from "../src/index.js";
import { LAB_LOCK, PRIVATE, uniqueProject } from "./lab.js";

const REPORT = resolve(
  process.env["E2E3D_BUILD_REPORT"] ?? join(import.meta.dirname, "..", "..", "..", "reports", "build.json"),
);
const NEEDED = ["reconstruction", "airflow"];

function missing(): string | undefined {
  if (!existsSync(LAB_LOCK)) return `no lab lock at ${LAB_LOCK} (run the lab and the lock pipeline)`;
  if (!existsSync(REPORT)) return `no build report at ${REPORT} (run the build pipeline)`;
  const report = JSON.parse(readFileSync(REPORT, "utf8")) as { images?: Array<{ name: string }> };
  const absent = NEEDED.filter((n) => !report.images?.some((i) => i.name === n));
  return absent.length ? `the build report lacks ${absent.join(", ")}` : undefined;
}

const reason = missing();

const freePort = () =>
  new Promise<number>((done) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => done(port));
    });
  });

// Unique per run (PIDs wrap): a stack left by a killed earlier run must not be taken for this one.
const project = uniqueProject("e2e3d-full");
const stateDir = mkdtempSync(join(tmpdir(), "e2e3d-full-"));
afterAll(async () => {
  if (!reason) await down({ project, stateDir, volumes: true, reporter: silentReporter }).catch(() => undefined);
  rmSync(stateDir, { recursive: true, force: true });
});

// Above deploy's own limits (each service's health timeout × healthTimeoutFactor, then the smoke retries), so a slow
// start fails with deploy's message naming the service, never with vitest's bare timeout while deploy still runs.
const DEPLOY_TEST_MS = 40 * 60_000;

describeUnless(reason)("full lab stack", () => {
  let options: DeployOptions | undefined;

  it("deploys every service healthy and passes every smoke check", { timeout: DEPLOY_TEST_MS }, async () => {
    options = {
      lockFile: LAB_LOCK,
      buildReport: REPORT,
      privateRegistry: PRIVATE,
      profile: "lab",
      project,
      stateDir,
      ports: { gateway: await freePort(), objectStore: await freePort() },
      reporter: process.env["E2E3D_TEST_VERBOSE"] ? terminalReporter() : silentReporter,
      // Two cores for four Airflow processes: give the health checks room.
      healthTimeoutFactor: 3,
      smokeAttempts: 40,
    };
    const summary = await deploy(options);
    expect(summary.services.every((s) => s.state === "healthy" || s.state === "completed")).toBe(true);
    const checks = summary.smoke.map((s) => s.check);
    for (const expected of [
      "reconstruction ready",
      "bucket e2e3d-input",
      "bucket e2e3d-output",
      "airflow api healthy",
      "dag e2e3d_reconstruction loaded",
      "prometheus targets up",
      "gateway /api/ → reconstruction",
      "gateway /airflow/ → airflow-api-server",
    ]) {
      expect(checks).toContain(expected);
    }
    expect(summary.smoke.filter((s) => !s.ok)).toEqual([]);
  });

  it("changes nothing when deployed again", { timeout: DEPLOY_TEST_MS }, async () => {
    if (!options) throw new Error("the first deploy did not run: nothing to deploy again");
    const before = (await projectContainers(project)).map((c) => c.id).sort();
    const summary = await deploy(options);
    expect(summary.outcome).toBe("unchanged");
    expect((await projectContainers(project)).map((c) => c.id).sort()).toEqual(before);
  });
});
