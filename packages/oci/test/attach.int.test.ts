// attachArtifact against a real registry (Debian's docker-registry, distribution 2.8: no referrers API, so the
// tag-schema fallback index is what makes attachments findable) and a copy that carries them to a second registry.
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeUnless } from "../../../tools/skips/src/skip.js";
import { attachArtifact, readArtifact } from "../src/attach.js";
import { RegistryClient, referrersTag } from "../src/client.js";
import { copyImage } from "../src/copy.js";
import { NotFoundError } from "../src/errors.js";
import { promote } from "../src/promote.js";
import { parseReference, withDigest, withTag } from "../src/reference.js";
import { pushImage } from "./support/images.js";
import { registryAvailable, startRegistry, type TestRegistry } from "./support/registry.js";

const available = registryAvailable();

describeUnless(available.ok ? undefined : available.reason)("attachArtifact on a real registry", () => {
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

  it("attaches SBOM and provenance, listReferrers finds both, re-attaching changes nothing", async () => {
    const image = await pushImage(client, `${a.host}/e2e3d/app`, { tag: "1", layers: [512], docker: true });
    const subject = withDigest(parseReference(`${a.host}/e2e3d/app`), image.descriptor.digest);
    const sbom = { artifactType: "application/vnd.cyclonedx+json", content: Buffer.from('{"components":[]}') };
    const provenance = { artifactType: "application/vnd.in-toto+json", content: Buffer.from('{"_type":"x"}') };

    const first = await attachArtifact(client, subject, sbom);
    expect(first).toMatchObject({
      manifestPushed: true,
      index: { kind: "fallback-tag", tag: referrersTag(image.descriptor.digest), updated: true },
      subject: image.descriptor,
    });
    const second = await attachArtifact(client, subject, provenance);
    expect(second.index).toMatchObject({ kind: "fallback-tag", updated: true });

    const listed = await client.listReferrers(subject, image.descriptor.digest);
    expect(listed.api).toBe(false);
    expect(listed.referrers.map((r) => [r.artifactType, r.digest])).toEqual([
      [sbom.artifactType, first.descriptor.digest],
      [provenance.artifactType, second.descriptor.digest],
    ]);
    const indexBefore = listed.fallbackIndex!.digest;

    // Identical content again: same digests, nothing written, no duplicate entry.
    const again = await attachArtifact(client, subject, sbom);
    expect(again.descriptor.digest).toBe(first.descriptor.digest);
    expect(again).toMatchObject({ manifestPushed: false, index: { kind: "fallback-tag", updated: false } });
    const after = await client.listReferrers(subject, image.descriptor.digest);
    expect(after.referrers).toHaveLength(2);
    expect(after.fallbackIndex!.digest).toBe(indexBefore);

    // Read back verbatim.
    const read = await readArtifact(client, subject, first.descriptor);
    expect(read.content.equals(sbom.content)).toBe(true);
    expect(read.manifest.parsed.subject?.digest).toBe(image.descriptor.digest);
  });

  it("re-creates a fallback index that was lost while the referrer manifest stayed", async () => {
    const image = await pushImage(client, `${a.host}/e2e3d/lost`, { tag: "1", layers: [256] });
    const subject = withDigest(parseReference(`${a.host}/e2e3d/lost`), image.descriptor.digest);
    const spec = { artifactType: "application/vnd.cyclonedx+json", content: Buffer.from("{}") };
    const first = await attachArtifact(client, subject, spec);
    const tagRef = withTag(subject, referrersTag(image.descriptor.digest));
    const index = await client.getManifest(tagRef);
    await client.deleteManifest(withDigest(subject, index.digest));
    expect((await client.listReferrers(subject, image.descriptor.digest)).referrers).toEqual([]);
    const again = await attachArtifact(client, subject, spec);
    expect(again).toMatchObject({ manifestPushed: false, index: { updated: true } });
    expect((await client.listReferrers(subject, image.descriptor.digest)).referrers.map((r) => r.digest)).toEqual([
      first.descriptor.digest,
    ]);
  });

  it("refuses a subject that is not in the registry, and a reference without a digest", async () => {
    const missing = parseReference(`${a.host}/e2e3d/none@sha256:${"0".repeat(64)}`);
    await expect(
      attachArtifact(client, missing, { artifactType: "application/x", content: Buffer.from("x") }),
    ).rejects.toThrow(NotFoundError);
    await expect(
      attachArtifact(client, parseReference(`${a.host}/e2e3d/none:1`), {
        artifactType: "application/x",
        content: Buffer.from("x"),
      }),
    ).rejects.toThrow(/attached to a digest/);
  });

  it("attachments travel with a copy (referrers: true) and stay attached to a retag of the same digest", async () => {
    const image = await pushImage(client, `${a.host}/e2e3d/travel`, { tag: "1", layers: [300] });
    const subject = withDigest(parseReference(`${a.host}/e2e3d/travel`), image.descriptor.digest);
    const attached = await attachArtifact(client, subject, {
      artifactType: "application/vnd.in-toto+json",
      content: Buffer.from('{"predicateType":"https://slsa.dev/provenance/v1"}'),
    });
    await copyImage(client, `${a.host}/e2e3d/travel:1`, `${b.host}/e2e3d/travel:1`, { referrers: true });
    const target = parseReference(`${b.host}/e2e3d/travel`);
    const copied = await client.listReferrers(target, image.descriptor.digest);
    expect(copied.referrers.map((r) => r.digest)).toEqual([attached.descriptor.digest]);
    // Promotion is a retag of the same digest in the same repository: the referrers hang off the digest.
    await client.putManifest(withTag(target, "v1.0.0"), image.bytes, image.descriptor.mediaType);
    const promoted = await client.headManifest(withTag(target, "v1.0.0"));
    expect((await client.listReferrers(target, promoted!.digest)).referrers).toHaveLength(1);
    // Promotion into another repository copies the referrers along with the digest.
    await promote(client, {
      from: withDigest(target, image.descriptor.digest),
      to: `${b.host}/e2e3d/releases`,
      tags: ["v1.0.0"],
    });
    const released = parseReference(`${b.host}/e2e3d/releases`);
    expect((await client.listReferrers(released, image.descriptor.digest)).referrers.map((r) => r.digest)).toEqual([
      attached.descriptor.digest,
    ]);
  });
});
