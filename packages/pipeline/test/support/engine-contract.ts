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

export function engineContract(makeEngine: () => Engine): void {
  let registry: RegistryServer;
  let client: ImageRegistry;
  let contexts: string;
  let base: string;

  beforeAll(async () => {
    registry = await startRegistry();
    client = new ImageRegistry();
    const { baseDigest } = await seedBaseAndLock(registry.address);
    base = `${registry.address}/docker.io/library/debian@${baseDigest}`;
    contexts = await mkdtemp(join(tmpdir(), "e2e3d-contract-"));
    await cp(join(import.meta.dirname, "..", "fixtures", "images"), contexts, { recursive: true });
  });
  afterAll(async () => {
    await client?.close();
    await registry?.stop();
    if (contexts) await rm(contexts, { recursive: true, force: true });
  });

  it("builds with build args and publishes to the given reference; the registry serves what it reports", async () => {
    const { log, text } = captureLogger();
    const engine = makeEngine();
    const publishTo = `${registry.address}/e2e3d/contract:in-test`;
    const published = await engine.buildAndPublish(
      {
        name: "contract",
        contextDir: join(contexts, "app"),
        dockerfile: "Dockerfile",
        buildArgs: { BASE_IMAGE: base, GREETING: "contract" },
        publishTo,
        sourceDateEpoch: 1_700_000_000,
      },
      log,
    );
    const repo = splitRepository(`${registry.address}/e2e3d/contract`);
    const served = await client.head(repo, "in-test");
    expect(served, text()).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(published.digest).toBe(served);
    expect(published.reference).toBe(`${registry.address}/e2e3d/contract@${served}`);
    // The build argument is observable in the image, not only in the engine's cache.
    const image = await readImageContents(client.client, { ...repo, digest: served! }, ["opt/app/greeting"]);
    expect(image.files.get("opt/app/greeting")?.text).toBe("contract\n");
    expect(image.config.User).toBe("app");
  });

  it("throws an EngineError with the log tail on a failing build and publishes nothing", async () => {
    const { log } = captureLogger();
    const error = await makeEngine()
      .buildAndPublish(
        {
          name: "broken",
          contextDir: join(contexts, "broken"),
          dockerfile: "Dockerfile",
          buildArgs: { BASE_IMAGE: base },
          publishTo: `${registry.address}/e2e3d/contract-broken:in-test`,
        },
        log,
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).tail.join("\n")).toContain("fixture: about to fail");
    expect(await listTags(registry.address, "e2e3d/contract-broken")).toEqual([]);
  });
}
