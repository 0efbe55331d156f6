// Shared setup for the integration suites: why a suite must skip (printed), a throwaway registry seeded with the
// lab's base (from lab.json) under its origin path plus a lock naming it, and a git repository holding copies of the fixtures.
import { execFileSync } from "node:child_process";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type { ImageDefinition } from "../../src/build/images.js";
import { DEFAULT_DOCKER_CLIENT } from "../../src/config.js";
import { TerminalLogger } from "../../src/log/terminal.js";
import { labBaseUnavailableReason, seedBaseAndLock } from "../../src/testing/lab-fixture.js";
import { type RegistryServer, registryUnavailableReason, startRegistry } from "../../src/testing/registry-server.js";

export const DOCKER = process.env["E2E3D_DOCKER_CLIENT"] || DEFAULT_DOCKER_CLIENT;

export function dockerUnavailableReason(): string | undefined {
  try {
    execFileSync(DOCKER, ["version", "--format", "{{.Server.Version}}"], { stdio: "pipe" });
    return undefined;
  } catch (error) {
    return `no Docker engine answers through ${DOCKER}: ${(error as Error).message.split("\n")[0]}`;
  }
}

/** Why the Docker-engine suites cannot run here, or undefined when they can. */
export function integrationSkipReason(): string | undefined {
  return registryUnavailableReason() ?? dockerUnavailableReason() ?? labBaseUnavailableReason();
}

export interface Workspace {
  root: string;
  registry: RegistryServer;
  lockFile: string;
  table: ImageDefinition[];
  commit: string;
  cleanup(): Promise<void>;
}

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@e",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@e",
    },
  }).trim();

export async function createWorkspace(): Promise<Workspace> {
  const registry = await startRegistry();
  const root = await mkdtemp(join(tmpdir(), "e2e3d-build-ws-"));
  try {
    const { lockFile } = await seedBaseAndLock(registry.address);
    await cp(join(import.meta.dirname, "..", "fixtures", "images"), join(root, "images"), { recursive: true });
    git(root, "init", "-q", "-b", "main");
    git(root, "add", ".");
    git(root, "commit", "-q", "-m", "fixtures");
    const table: ImageDefinition[] = [
      {
        name: "app",
        dockerfile: "images/app/Dockerfile",
        context: "images/app",
        include: ["Dockerfile", "src", ".dockerignore"],
        base: "debian-bookworm",
        sourceProbe: "images/app/src/data.txt",
      },
      {
        name: "broken",
        dockerfile: "images/broken/Dockerfile",
        context: "images/broken",
        include: [],
        base: "debian-bookworm",
      },
      {
        name: "app-gpu",
        dockerfile: "images/app/Dockerfile",
        context: "images/app",
        include: ["Dockerfile", "src"],
        base: "cuda-runtime",
        optionalReason: "no CUDA base on this machine",
      },
    ];
    return {
      root,
      registry,
      lockFile,
      table,
      commit: git(root, "rev-parse", "HEAD"),
      cleanup: async () => {
        await registry.stop();
        await rm(root, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await registry.stop();
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}

/** A terminal logger whose output is kept for assertions (and printed when E2E3D_VERBOSE is set). */
export function captureLogger() {
  const out = new PassThrough();
  let text = "";
  out.on("data", (d: Buffer) => {
    text += d.toString();
    if (process.env["E2E3D_VERBOSE"]) process.stderr.write(d);
  });
  return { log: new TerminalLogger({ out, verbose: true }), text: () => text };
}
