// Copy semantics against real registries (Debian's docker-registry, distribution 2.8), cross-checked with skopeo.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeUnless } from "../../../tools/skips/src/skip.js";
import { RegistryClient } from "../src/client.js";
import { copyImage, verifyImage } from "../src/copy.js";
import { MediaType, sha256Digest } from "../src/descriptor.js";
import { DigestMismatchError } from "../src/errors.js";
import { parseReference, withDigest } from "../src/reference.js";
import { pushImage, pushIndex, pushReferrer } from "./support/images.js";
import { registryAvailable, startRegistry, type TestRegistry } from "./support/registry.js";

const run = promisify(execFile);
const available = registryAvailable({ witness: true });

/** skopeo is the independent witness: its digest of a reference must equal ours. */
async function skopeoDigest(reference: string): Promise<string> {
  const { stdout } = await run("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${reference}`], {
    encoding: "buffer",
    maxBuffer: 8 << 20,
  });
  return sha256Digest(stdout);
}

describeUnless(available.ok ? undefined : available.reason)("copyImage between two real registries", () => {
  let a: TestRegistry;
  let b: TestRegistry;
  let client: RegistryClient;

  beforeAll(async () => {
    [a, b] = await Promise.all([startRegistry(), startRegistry()]);
    client = new RegistryClient({ credentials: async () => undefined });
  });
  afterAll(async () => {
    await client?.close();
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it("copies a 3-platform OCI index verbatim, children before parent, digest witnessed by skopeo", async () => {
    const index = await pushIndex(client, `${a.host}/multi/app`, {
      tag: "1.0",
      platforms: [
        { os: "linux", architecture: "amd64", layers: [2048, 4096] },
        { os: "linux", architecture: "arm64", variant: "v8", layers: [1024] },
        { os: "linux", architecture: "s390x", layers: [3000, 10] },
      ],
    });
    const stats = await copyImage(client, `${a.host}/multi/app:1.0`, `${b.host}/mirror/app:1.0`);
    expect(stats.digest).toBe(index.descriptor.digest);
    expect(stats.manifestsCopied).toBe(4);
    expect(stats.blobsCopied).toBe(8); // 5 layers + 3 configs
    const copied = await client.getManifest(parseReference(`${b.host}/mirror/app:1.0`));
    expect(copied.bytes.equals(index.bytes)).toBe(true);
    expect(await skopeoDigest(`${b.host}/mirror/app:1.0`)).toBe(index.descriptor.digest);
    for (const child of index.children) {
      expect(await skopeoDigest(`${b.host}/mirror/app@${child.digest}`)).toBe(child.digest);
    }
    const verified = await verifyImage(client, `${b.host}/mirror/app@${index.descriptor.digest}`);
    expect(verified).toMatchObject({ ok: true, manifestsChecked: 4, blobsChecked: 8 });
  });

  it("copies a Docker manifest list and a single Docker manifest without down-conversion", async () => {
    const list = await pushIndex(client, `${a.host}/docker/list`, {
      tag: "v2",
      docker: true,
      platforms: [
        { os: "linux", architecture: "amd64", layers: [500] },
        { os: "linux", architecture: "arm", variant: "v7", layers: [600] },
      ],
    });
    const single = await pushImage(client, `${a.host}/docker/single`, { layers: [700], docker: true, tag: "s1" });
    const listStats = await copyImage(client, `${a.host}/docker/list:v2`, `${b.host}/docker/list:v2`);
    const singleStats = await copyImage(client, `${a.host}/docker/single:s1`, `${b.host}/docker/single:s1`);
    expect(listStats.mediaType).toBe(MediaType.dockerList);
    expect(singleStats.mediaType).toBe(MediaType.dockerManifest);
    expect(await skopeoDigest(`${b.host}/docker/list:v2`)).toBe(list.descriptor.digest);
    expect(await skopeoDigest(`${b.host}/docker/single:s1`)).toBe(single.descriptor.digest);
    // A target without a tag takes the source's tag (as crane does).
    const retag = await copyImage(client, `${a.host}/docker/single:s1`, `${b.host}/retag/single`);
    expect(retag.target).toBe(`${b.host}/retag/single:s1`);
    // skopeo inspect (not raw) resolves the platform image and reads its config: the copy is a working image.
    const { stdout } = await run("skopeo", ["inspect", "--tls-verify=false", `docker://${b.host}/docker/single:s1`]);
    expect(JSON.parse(stdout)).toMatchObject({ Digest: single.descriptor.digest, Architecture: "amd64", Os: "linux" });
  });

  it("moves a 64 MiB blob in PATCH chunks and verifies it", async () => {
    const big = randomBytes(64 * 1024 * 1024 + 123);
    const image = await pushImage(client, `${a.host}/big/blob`, { layers: [big], tag: "large" });
    const before = { ...client.metrics.requests };
    const stats = await copyImage(client, `${a.host}/big/blob:large`, `${b.host}/big/blob:large`);
    const patches = (client.metrics.requests["PATCH upload"] ?? 0) - (before["PATCH upload"] ?? 0);
    expect(stats.bytesMoved).toBeGreaterThanOrEqual(big.length);
    expect(patches).toBeGreaterThanOrEqual(4); // 16 MiB chunks
    expect(await skopeoDigest(`${b.host}/big/blob:large`)).toBe(image.descriptor.digest);
    const layer = withDigest(parseReference(`${b.host}/big/blob`), sha256Digest(big));
    expect(await client.headBlob(layer, sha256Digest(big))).toBe(big.length);
  });

  it("mounts blobs across repositories inside one registry instead of uploading", async () => {
    const image = await pushImage(client, `${a.host}/mount/src`, { layers: [4096, 8192], tag: "m1" });
    const stats = await copyImage(client, `${a.host}/mount/src:m1`, `${a.host}/mount/dst:m1`);
    expect(stats).toMatchObject({ blobsMounted: 3, blobsCopied: 0, bytesMoved: 0, digest: image.descriptor.digest });
  });

  it("copies an artifact referrer with the image (tag-schema fallback on distribution 2.8)", async () => {
    const image = await pushImage(client, `${a.host}/signed/app`, { layers: [1000], tag: "r1" });
    const sbom = await pushReferrer(client, `${a.host}/signed/app`, image.descriptor, '{"sbom":"test"}');
    const stats = await copyImage(client, `${a.host}/signed/app:r1`, `${b.host}/signed/app:r1`, { referrers: true });
    expect(stats.referrersCopied).toBe(1);
    const listed = await client.listReferrers(parseReference(`${b.host}/signed/app`), image.descriptor.digest);
    expect(listed.api).toBe(false);
    expect(listed.referrers.map((r) => r.digest)).toEqual([sbom.descriptor.digest]);
    expect(await skopeoDigest(`${b.host}/signed/app@${sbom.descriptor.digest}`)).toBe(sbom.descriptor.digest);
  });

  it("a no-op re-copy costs one manifest HEAD per side and moves zero blob bytes", async () => {
    await pushIndex(client, `${a.host}/noop/app`, {
      tag: "n1",
      platforms: [
        { os: "linux", architecture: "amd64", layers: [5000] },
        { os: "linux", architecture: "arm64", layers: [5000] },
        { os: "linux", architecture: "ppc64le", layers: [5000] },
      ],
    });
    await copyImage(client, `${a.host}/noop/app:n1`, `${b.host}/noop/app:n1`);
    const fresh = new RegistryClient({ credentials: async () => undefined });
    try {
      const stats = await copyImage(fresh, `${a.host}/noop/app:n1`, `${b.host}/noop/app:n1`);
      expect(stats.upToDate).toBe(true);
      expect(fresh.metrics.requests).toEqual({ "HEAD manifest": 2 });
      expect(fresh.metrics.blobBytesDownloaded + fresh.metrics.blobBytesUploaded).toBe(0);
    } finally {
      await fresh.close();
    }
  });

  it("refuses to upload content that does not match its digest", async () => {
    const wrong = `sha256:${"0".repeat(64)}`;
    await expect(
      client.uploadBlob(parseReference(`${b.host}/verify/app`), { digest: wrong, size: 3 }, Buffer.from("abc")),
    ).rejects.toBeInstanceOf(DigestMismatchError);
  });
});
