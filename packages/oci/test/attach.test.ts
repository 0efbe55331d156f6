// The referrer manifest is a pure function of subject and content: the property that makes re-attaching a no-op.
import { describe, expect, it } from "vitest";
import { artifactManifest, EMPTY_CONFIG_DESCRIPTOR } from "../src/attach.js";
import { MediaType, parseManifest, sha256Digest } from "../src/descriptor.js";

const subject = { mediaType: MediaType.dockerManifest, digest: `sha256:${"a".repeat(64)}`, size: 1234 };

describe("artifactManifest", () => {
  it("is an OCI image manifest with artifactType, empty config, one layer and the subject", () => {
    const content = Buffer.from('{"bomFormat":"CycloneDX"}');
    const { bytes, blob } = artifactManifest(subject, {
      artifactType: "application/vnd.cyclonedx+json",
      content,
      annotations: { "z.last": "1", "a.first": "2" },
    });
    const parsed = parseManifest(bytes);
    expect(parsed.mediaType).toBe(MediaType.ociManifest);
    expect(parsed.raw.artifactType).toBe("application/vnd.cyclonedx+json");
    expect(parsed.raw.config).toEqual(EMPTY_CONFIG_DESCRIPTOR);
    expect(EMPTY_CONFIG_DESCRIPTOR.digest).toBe(sha256Digest(Buffer.from("{}")));
    expect(parsed.raw.layers).toEqual([
      { mediaType: "application/vnd.cyclonedx+json", digest: sha256Digest(content), size: content.length },
    ]);
    expect(blob.digest).toBe(sha256Digest(content));
    expect(parsed.subject).toEqual(subject);
    // Annotations are written in key order, whatever order the caller used.
    expect(Object.keys(parsed.raw.annotations ?? {})).toEqual(["a.first", "z.last"]);
  });

  it("gives the same bytes for the same inputs and different bytes for different content or subject", () => {
    const spec = { artifactType: "application/vnd.in-toto+json", content: Buffer.from("x") };
    const a = artifactManifest(subject, spec).bytes;
    expect(artifactManifest(subject, { ...spec, content: Buffer.from("x") }).bytes.equals(a)).toBe(true);
    expect(artifactManifest(subject, { ...spec, content: Buffer.from("y") }).bytes.equals(a)).toBe(false);
    expect(artifactManifest({ ...subject, digest: `sha256:${"b".repeat(64)}` }, spec).bytes.equals(a)).toBe(false);
  });
});
