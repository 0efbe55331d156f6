// testcontainers-node drives `docker compose` (v2 CLI syntax) through the docker client on PATH: check that the
// compose the lab installed works with this client and daemon, from the lab base image.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DockerComposeEnvironment, type StartedDockerComposeEnvironment, Wait } from "testcontainers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LabState, readLabState } from "../src/state.js";
import { runProcess } from "./lab-process.js";

// The reaper image cannot be pulled here (no Docker Hub): tear down ourselves in afterAll.
process.env["TESTCONTAINERS_RYUK_DISABLED"] = "true";
process.env["TESTCONTAINERS_HOST_OVERRIDE"] = "localhost";

describe("compose through testcontainers", () => {
  let lab: LabState;
  let dir: string;
  let environment: StartedDockerComposeEnvironment | undefined;
  const project = `e2e3d-lab-compose-${process.pid}`;

  beforeAll(async () => {
    lab = await readLabState();
    dir = await mkdtemp(join(tmpdir(), "lab-compose-"));
    const compose = [
      "services:",
      "  probe:",
      `    image: ${lab.baseImage.reference}`,
      '    command: ["sh", "-c", "touch /tmp/ready; exec sleep 600"]',
      "    network_mode: none",
      "    healthcheck:",
      '      test: ["CMD", "test", "-f", "/tmp/ready"]',
      "      interval: 1s",
      "      retries: 30",
      "",
    ].join("\n");
    await writeFile(join(dir, "compose.yaml"), compose);
  });

  afterAll(async () => {
    await environment?.down({ removeVolumes: true, timeout: 0 });
    await rm(dir, { recursive: true, force: true });
  });

  it("brings a service up, waits for its healthcheck, and names containers the v2 way", async () => {
    if (lab.compose.kind !== "v2-plugin")
      console.log(`compose here is ${lab.compose.kind}: container names differ from v2`);
    environment = await new DockerComposeEnvironment(dir, "compose.yaml")
      .withProjectName(project)
      .withWaitStrategy("probe-1", Wait.forHealthCheck())
      // The wait ends on the healthcheck itself; the bound is for a small, loaded machine (testcontainers' 60 s is not).
      .withStartupTimeout(300_000)
      .up();
    const container = environment.getContainer("probe-1");
    const result = await container.exec(["cat", "/etc/debian_version"]);
    expect(result.exitCode).toBe(0);
    expect(result.output.trim()).toBe(lab.baseImage.debianVersion);
    const ps = await runProcess("docker", ["compose", "-p", project, "ps", "--format", "{{.Name}} {{.Health}}"]);
    expect(ps.code, ps.stderr).toBe(0);
    expect(ps.stdout.trim()).toBe(`${project}-probe-1 healthy`);
  });
});
