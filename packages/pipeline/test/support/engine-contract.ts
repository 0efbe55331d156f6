// The contract every engine adapter keeps, run against a real engine and a throwaway registry: it builds a context
// with build args, publishes to the reference it was given, and what it reports matches what the registry serves;
// a failing build throws an EngineError carrying the log tail and publishes nothing.
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Engine } from "../../src/engines/engine.js";
import { EngineError } from "../../src/errors.js";
import { ImageRegistry, splitRepository } from "../../src/registry.js";
import { seedBaseAndLock } from "../../src/testing/lab-fixture.js";
import { listTags, type RegistryServer, startRegistry } from "../../src/testing/registry-server.js";
import { captureLogger } from "./env.js";
import { readImageContents } from "./image-contents.js";

export interface BuildBench {
  /** The throwaway registry (loopback, plain HTTP) builds pull their base from and publish to. */
  registry: RegistryServer;
  client: ImageRegistry;
  /** A copy of test/fixtures/images: one directory per fixture context. */
  contexts: string;
  /** The lab's base, copied into the registry, by digest. */
  base: string;
}

/**
 * Registers beforeAll/afterAll that give a suite a throwaway registry seeded with the lab's base and a copy of the
 * fixture contexts, torn down even when a test fails. Read the fields inside tests (they are set in beforeAll).
 */
export function useBuildBench(): BuildBench {
  const bench = {} as BuildBench;
  beforeAll(async () => {
    bench.registry = await startRegistry();
    bench.client = new ImageRegistry();
    const { baseDigest } = await seedBaseAndLock(bench.registry.address);
    bench.base = `${bench.registry.address}/docker.io/library/debian@${baseDigest}`;
    bench.contexts = await mkdtemp(join(tmpdir(), "e2e3d-engine-"));
    await cp(join(import.meta.dirname, "..", "fixtures", "images"), bench.contexts, { recursive: true });
  });
  afterAll(async () => {
    await bench.client?.close();
    await bench.registry?.stop();
    if (bench.contexts) await rm(bench.contexts, { recursive: true, force: true });
  });
  return bench;
}

export function engineContract(makeEngine: () => Engine): void {
  const bench = useBuildBench();

  it("builds with build args and publishes to the given reference; the registry serves what it reports", async () => {
    const { log, text } = captureLogger();
    const engine = makeEngine();
    const publishTo = `${bench.registry.address}/e2e3d/contract:in-test`;
    const published = await engine.buildAndPublish(
      {
        name: "contract",
        contextDir: join(bench.contexts, "app"),
        dockerfile: "Dockerfile",
        buildArgs: { BASE_IMAGE: bench.base, GREETING: "contract" },
        publishTo,
        sourceDateEpoch: 1_700_000_000,
      },
      log,
    );
    const repo = splitRepository(`${bench.registry.address}/e2e3d/contract`);
    const served = await bench.client.head(repo, "in-test");
    expect(served, text()).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(published.digest).toBe(served);
    expect(published.reference).toBe(`${bench.registry.address}/e2e3d/contract@${served}`);
    // The build argument is observable in the image, not only in the engine's cache.
    const image = await readImageContents(bench.client.client, { ...repo, digest: served! }, ["opt/app/greeting"]);
    expect(image.files.get("opt/app/greeting")?.text).toBe("contract\n");
    expect(image.config.User).toBe("app");
  });

  it("throws an EngineError with the log tail on a failing build and publishes nothing", async () => {
    const { log } = captureLogger();
    const error = await makeEngine()
      .buildAndPublish(
        {
          name: "broken",
          contextDir: join(bench.contexts, "broken"),
          dockerfile: "Dockerfile",
          buildArgs: { BASE_IMAGE: bench.base },
          publishTo: `${bench.registry.address}/e2e3d/contract-broken:in-test`,
        },
        log,
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).tail.join("\n")).toContain("fixture: about to fail");
    expect(await listTags(bench.registry.address, "e2e3d/contract-broken")).toEqual([]);
  });
}
