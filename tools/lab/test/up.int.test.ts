// `up` on a ready machine does nothing, `status --json` prints the endpoints, and failures read clearly.

import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
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
      "dagger engine",
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
        dagger: { up: true },
      },
      dagger: {
        version: expect.stringMatching(/^v\d+\.\d+\.\d+$/),
        container: expect.stringMatching(/^dagger-engine-v/),
      },
    });
    expect(status.dagger.engineVersion).toBe(status.dagger.version);
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

  // The lab as a user who is not root, with no engine answering. As root the CLI runs as user nobody, from a bundle
  // of it (esbuild: one file) in a directory every user can read, so it runs from a checkout nobody cannot read (a
  // clone under a 0700 directory, such as one made by mktemp -d). Not root, it runs as the user this test runs as.
  it("without root and without an engine, says exactly what to install", async () => {
    const home = join(stateDir, "home");
    await mkdir(home, { recursive: true });
    await chmod(stateDir, 0o755);
    await chmod(home, 0o777);
    const env = {
      PATH: process.env["PATH"],
      HOME: home,
      E2E3D_LAB_HOME: join(home, "lab"),
      DOCKER_HOST: "unix:///nonexistent/docker.sock",
    };
    const root = process.getuid?.() === 0;
    const cli = root ? await bundleCli(stateDir) : join(REPO_ROOT, "tools/lab/src/cli.ts");
    const result = root
      ? await runProcess(
          "setpriv",
          ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, cli, "up"],
          env,
          undefined,
          home,
        )
      : await runProcess(join(REPO_ROOT, "node_modules", ".bin", "tsx"), [cli, "up"], env, undefined, home);
    expect(result.stderr).toContain("error: no Docker engine answers and the lab cannot start one here");
    expect(result.stderr).toContain("root: no");
    expect(result.stderr).toContain("apt-get install docker.io");
    expect(result.code).toBe(1);
  });
});

/**
 * The lab CLI bundled into one ES module (its dependencies included) in `dir`, readable by every user: what user
 * nobody can run even when it cannot read the checkout. The bundle's own path stands in for the source tree's, which
 * the CLI reads only for steps after the engine (stand-in Dockerfiles, module directories).
 */
async function bundleCli(dir: string): Promise<string> {
  const outfile = join(dir, "lab-cli.mjs");
  await build({
    entryPoints: [join(REPO_ROOT, "tools/lab/src/cli.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    logLevel: "silent",
    // CommonJS dependencies (commander) call require() for Node's built-ins; an ES module has no require of its own.
    banner: {
      js: 'import { createRequire as __labRequire } from "node:module"; const require = __labRequire(import.meta.url);',
    },
  });
  await chmod(outfile, 0o644);
  return outfile;
}
