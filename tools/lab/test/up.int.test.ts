// `up` on a ready machine does nothing, `status --json` prints the endpoints, and failures read clearly.

import { spawnSync } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labRegistryPid } from "../src/registries.js";
import { readLabState } from "../src/state.js";
import { REPO_ROOT, runLab, runProcess } from "./lab-process.js";

describe("lab up / status", () => {
  it("a second `up` finds everything in place and does no work", async () => {
    const first = await runLab(["up"]);
    expect(first.code, first.stderr).toBe(0);
    const before = await readLabState();
    const pids = [labRegistryPid(before.registries.upstream), labRegistryPid(before.registries.private)];
    expect(pids.every((pid) => pid !== undefined)).toBe(true);

    const second = await runLab(["up"]);
    expect(second.code, second.stderr).toBe(0);
    const after = await readLabState();
    // Observable facts, not timings: every step reports no work, the same registry processes serve, same base digest.
    expect(after.lastUp.steps.map((step) => step.name)).toEqual([
      "engine",
      "compose",
      "registries",
      "base image",
      "stand-in images",
    ]);
    expect(after.lastUp.steps.filter((step) => step.changed)).toEqual([]);
    expect(second.stderr).toContain("nothing to do, everything was in place");
    expect([labRegistryPid(after.registries.upstream), labRegistryPid(after.registries.private)]).toEqual(pids);
    expect(after.baseImage.digest).toBe(before.baseImage.digest);
    expect(after.lastUp.at).not.toBe(before.lastUp.at);
    console.log(`second up took ${after.lastUp.seconds.toFixed(2)}s`);
  });

  it("`status --json` prints the endpoints and that each part answers", async () => {
    const result = await runLab(["status", "--json"]);
    const status = JSON.parse(result.stdout);
    expect(status).toMatchObject({
      upstream: "127.0.0.1:5101",
      private: "127.0.0.1:5102",
      engine: { dockerClient: expect.stringMatching(/docker$/), host: expect.any(String) },
      compose: { kind: expect.stringMatching(/^v2-plugin|v1-shim$/), version: expect.any(String) },
      baseImage: { digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) },
      grafana: expect.stringContaining("not available on this machine"),
      live: {
        engine: { up: true },
        compose: { up: true },
        upstream: { up: true },
        private: { up: true },
        baseImage: { present: true },
      },
    });
    expect(result.code).toBe(status.ready ? 0 : 3);
  });
});

describe("lab errors", () => {
  let stateDir: string;
  let blocker: Server;
  let blockedPort: number;
  let freePort: number;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "lab-errors-"));
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    blockedPort = (blocker.address() as { port: number }).port;
    // A port that was free a moment ago for the private registry (not blockedPort + 1, which anything may hold).
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    freePort = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => blocker.close(resolve));
    await rm(stateDir, { recursive: true, force: true });
  });

  it("names a registry port that something else holds, without a stack trace", async () => {
    const result = await runLab(["up"], {
      E2E3D_LAB_HOME: stateDir,
      E2E3D_UPSTREAM_REGISTRY: `127.0.0.1:${blockedPort}`,
      E2E3D_PRIVATE_REGISTRY: `127.0.0.1:${freePort}`,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`error: port ${blockedPort} (lab upstream registry) is already taken`);
    expect(result.stderr).toContain(`fix: stop whatever listens on 127.0.0.1:${blockedPort}`);
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it("rejects a non-loopback registry override", async () => {
    const result = await runLab(["status"], {
      E2E3D_LAB_HOME: stateDir,
      E2E3D_UPSTREAM_REGISTRY: "registry.example.com:443",
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("E2E3D_UPSTREAM_REGISTRY");
    expect(result.stderr).toContain("loopback");
  });

  it("`status` before any `up` says to run `up` first", async () => {
    const result = await runLab(["status", "--json"], { E2E3D_LAB_HOME: join(stateDir, "never-up") });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("run `npx tsx tools/lab/src/cli.ts up` first");
  });

  // Dropping to an unprivileged user (nobody) needs root, and nobody must be able to read the checkout (a clone under
  // a 0700 directory, such as one made by mktemp -d, is not): otherwise this cannot stage "no engine" this way.
  const nobodyCannot = whyNobodyCannotRunTheLab();
  if (nobodyCannot) console.warn(`skipping the "without root" lab error test: ${nobodyCannot}`);
  it.skipIf(nobodyCannot !== undefined)(
    "without root and without an engine, says exactly what to install (needs root to drop to nobody)",
    async () => {
      await chmod(stateDir, 0o777);
      const result = await runProcess(
        "setpriv",
        [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          join(REPO_ROOT, "node_modules", ".bin", "tsx"),
          join(REPO_ROOT, "tools/lab/src/cli.ts"),
          "up",
        ],
        {
          PATH: process.env["PATH"],
          HOME: stateDir,
          E2E3D_LAB_HOME: join(stateDir, "nobody"),
          DOCKER_HOST: "unix:///nonexistent/docker.sock",
        },
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("error: no Docker engine answers and the lab cannot start one here");
      expect(result.stderr).toContain("root: no");
      expect(result.stderr).toContain("apt-get install docker.io");
    },
  );
});

/** Why user nobody cannot start the lab CLI from this checkout, or undefined when it can. */
function whyNobodyCannotRunTheLab(): string | undefined {
  if (process.getuid?.() !== 0) return "not root: cannot drop to user nobody";
  for (const file of [join(REPO_ROOT, "node_modules", ".bin", "tsx"), join(REPO_ROOT, "tools/lab/src/cli.ts")]) {
    const probe = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "test", "-r", file]);
    if (probe.error) return `setpriv cannot run: ${probe.error.message}`;
    if (probe.status !== 0) return `user nobody cannot read ${file} (a parent directory is not world-readable)`;
  }
  return undefined;
}
