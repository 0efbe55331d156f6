// `down` stops the lab's registries (and never an engine it did not start); their data survives the next `up`.
// Runs on a private state dir and its own loopback ports, so the shared lab keeps serving other suites meanwhile.
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatAddress, type LabConfig } from "../src/config.js";
import { labDown } from "../src/down.js";
import { engineVersion, findDockerClient } from "../src/engine.js";
import { ensureRegistries, labRegistryPid, registryAnswers, registryPaths } from "../src/registries.js";

/** Distinct free loopback ports: all are bound (port 0) at once before any is released, so none repeats. */
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))));
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

async function pushBlob(url: string, repository: string, content: Buffer): Promise<string> {
  const digest = `sha256:${createHash("sha256").update(content).digest("hex")}`;
  const start = await fetch(`${url}/v2/${repository}/blobs/uploads/`, { method: "POST" });
  expect(start.status).toBe(202);
  const location = new URL(start.headers.get("location")!, url);
  location.searchParams.set("digest", digest);
  const put = await fetch(location, {
    method: "PUT",
    body: content,
    headers: { "Content-Type": "application/octet-stream" },
  });
  expect(put.status).toBe(201);
  return digest;
}

describe("lab down and restart", () => {
  let config: LabConfig;
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);

  beforeAll(async () => {
    const [upstreamPort, privatePort] = await freePorts(2);
    config = {
      stateDir: await mkdtemp(join(tmpdir(), "lab-restart-")),
      upstream: { host: "127.0.0.1", port: upstreamPort! },
      private: { host: "127.0.0.1", port: privatePort! },
    };
  });
  afterAll(async () => {
    await labDown(config, log);
    await rm(config.stateDir, { recursive: true, force: true });
  });

  it("stops only what it started and keeps registry data across a restart", async () => {
    const client = findDockerClient()!;
    const engineBefore = await engineVersion(client);
    const first = await ensureRegistries(config.stateDir, config, log);
    expect(first.changed).toBe(true);
    const url = first.value.upstream.url;
    const blob = randomBytes(64);
    const digest = await pushBlob(url, "e2e3d-lab-test/restart", blob);

    const { stopped } = await labDown(config, log);
    expect(stopped).toEqual(["upstream registry", "private registry"]);
    expect(await registryAnswers(url)).toBe(false);
    expect(labRegistryPid(registryPaths(config.stateDir, "upstream", config.upstream))).toBeUndefined();
    // This state dir never started dockerd, so the engine was left alone and still answers.
    expect(lines).toContain("engine: not started by the lab; left running");
    expect(await engineVersion(client)).toBe(engineBefore);

    const second = await ensureRegistries(config.stateDir, config, log);
    expect(second.changed).toBe(true);
    expect(second.value.upstream.address).toBe(formatAddress(config.upstream));
    const fetched = await fetch(`${url}/v2/e2e3d-lab-test/restart/blobs/${digest}`);
    expect(fetched.status).toBe(200);
    expect(Buffer.from(await fetched.arrayBuffer()).equals(blob)).toBe(true);

    const third = await ensureRegistries(config.stateDir, config, log);
    expect(third.changed).toBe(false);
  });
});
