// Faults between us and a real registry: a flipped byte is detected and nothing is tagged; 429 Retry-After is
// honoured; 503 is retried; a connection dropped mid-blob resumes by Range; exhausted retries name the status.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeUnless } from "../../../tools/skips/src/skip.js";
import { RegistryClient } from "../src/client.js";
import { copyImage } from "../src/copy.js";
import { sha256Digest } from "../src/descriptor.js";
import { DigestMismatchError, RegistryHttpError } from "../src/errors.js";
import { parseReference } from "../src/reference.js";
import type { RetryEvent } from "../src/transport.js";
import { pushImage } from "./support/images.js";
import { type FaultProxy, firstN, startFaultProxy } from "./support/proxy.js";
import { registryAvailable, startRegistry, type TestRegistry } from "./support/registry.js";

const available = registryAvailable();

const isBlobGet = (digest: string) => (req: { method?: string; url?: string }) =>
  req.method === "GET" && (req.url ?? "").includes(`/blobs/${digest}`);

describeUnless(available.ok ? undefined : available.reason)("transport faults through a loopback proxy", () => {
  let src: TestRegistry;
  let dst: TestRegistry;
  let proxy: FaultProxy;
  let seed: RegistryClient;
  const layer = randomBytes(3 * 1024 * 1024);
  const layerDigest = sha256Digest(layer);
  let imageDigest = "";

  const client = (retries: RetryEvent[] = [], maxRetries = 5) =>
    new RegistryClient({
      credentials: async () => undefined,
      maxRetries,
      baseDelayMs: 20,
      onRetry: (e) => retries.push(e),
    });

  beforeAll(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
    proxy = await startFaultProxy(src.host);
    seed = client();
    imageDigest = (await pushImage(seed, `${src.host}/fault/app`, { layers: [layer, 1000], tag: "f1" })).descriptor
      .digest;
  });
  afterAll(async () => {
    await seed?.close();
    await proxy?.stop();
    await Promise.all([src?.stop(), dst?.stop()]);
  });

  it("detects a flipped byte in a blob and tags nothing", async () => {
    proxy.setRule(firstN(1, isBlobGet(layerDigest), { kind: "flip-byte" }));
    const c = client();
    try {
      await expect(copyImage(c, `${proxy.host}/fault/app:f1`, `${dst.host}/flip/app:f1`)).rejects.toBeInstanceOf(
        DigestMismatchError,
      );
      expect(await c.headManifest(parseReference(`${dst.host}/flip/app:f1`))).toBeUndefined();
      expect(await c.headBlob(parseReference(`${dst.host}/flip/app`), layerDigest)).toBeUndefined();
    } finally {
      await c.close();
    }
  });

  it("detects a flipped byte in a manifest", async () => {
    proxy.setRule(
      firstN(1, (req) => req.method === "GET" && (req.url ?? "").includes("/manifests/"), { kind: "flip-byte" }),
    );
    const c = client();
    try {
      await expect(c.getManifest(parseReference(`${proxy.host}/fault/app@${imageDigest}`))).rejects.toBeInstanceOf(
        DigestMismatchError,
      );
    } finally {
      await c.close();
    }
  });

  it("honours 429 Retry-After and retries 503, then copies", async () => {
    let step = 0;
    proxy.setRule((req) => {
      if (req.method !== "GET" || !(req.url ?? "").includes("/blobs/")) return undefined;
      step++;
      if (step === 1) return { kind: "status", status: 429, headers: { "retry-after": "1" } };
      if (step === 2 || step === 3) return { kind: "status", status: 503 };
      return undefined;
    });
    const retries: RetryEvent[] = [];
    const c = client(retries);
    try {
      const started = Date.now();
      const stats = await copyImage(c, `${proxy.host}/fault/app:f1`, `${dst.host}/retry/app:f1`);
      expect(stats.digest).toBe(imageDigest);
      // A lower bound the client's own 1 s wait guarantees (no upper bound: a slow machine only adds time); the
      // slack covers Node timers, which may fire up to a millisecond early against Date.now().
      expect(Date.now() - started).toBeGreaterThanOrEqual(990);
      expect(retries.map((r) => r.reason)).toEqual(expect.arrayContaining(["HTTP 429", "HTTP 503"]));
      expect(retries.find((r) => r.reason === "HTTP 429")?.delayMs).toBe(1000);
      expect(retries.filter((r) => r.reason === "HTTP 503")).toHaveLength(2);
    } finally {
      await c.close();
    }
  });

  it("resumes a blob by Range after the connection drops mid-body", async () => {
    proxy.setRule(firstN(1, isBlobGet(layerDigest), { kind: "drop-after", bytes: 1024 * 1024 }));
    const c = client();
    try {
      const stats = await copyImage(c, `${proxy.host}/fault/app:f1`, `${dst.host}/resume/app:f1`);
      expect(stats.digest).toBe(imageDigest);
      const ranged = proxy.log.filter((l) => l.includes(`/blobs/${layerDigest}`));
      expect(ranged.length).toBeGreaterThanOrEqual(2);
      expect(c.metrics.blobBytesDownloaded).toBeLessThan(layer.length + 1000 + 4096);
    } finally {
      await c.close();
    }
  });

  it("restarts a blob upload whose commit failed with 503 (not blindly resent by the transport)", async () => {
    const target = await startFaultProxy(dst.host);
    target.setRule(
      firstN(1, (req) => req.method === "PUT" && (req.url ?? "").includes("/blobs/uploads/"), {
        kind: "status",
        status: 503,
      }),
    );
    const c = client();
    try {
      const stats = await copyImage(c, `${src.host}/fault/app:f1`, `${target.host}/restart/app:f1`);
      expect(stats.digest).toBe(imageDigest);
      expect(target.log.filter((l) => l.startsWith("POST ")).length).toBeGreaterThan(stats.blobsCopied);
    } finally {
      await c.close();
      await target.stop();
    }
  });

  it("gives up on endless 503 with an error naming operation, reference, registry and status", async () => {
    proxy.setRule((req) => ((req.url ?? "").includes("/manifests/") ? { kind: "status", status: 503 } : undefined));
    const c = client([], 2);
    try {
      const error = await copyImage(c, `${proxy.host}/fault/app:f1`, `${dst.host}/never/app:f1`).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RegistryHttpError);
      expect(error).toMatchObject({ status: 503, registry: proxy.host, operation: "HEAD manifest" });
      expect((error as RegistryHttpError).reference).toContain("fault/app:f1");
    } finally {
      proxy.setRule(undefined);
      await c.close();
    }
  });
});
