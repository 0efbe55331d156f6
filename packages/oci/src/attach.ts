// Attaching an artifact (SBOM, provenance, signature) to an image as an OCI referrer: an image manifest whose
// `subject` is the image, with an empty config and one layer holding the content (OCI image spec 1.1 "artifact"
// guidance). Registries without the referrers API (distribution 2.8) learn about it through the tag-schema
// fallback: an index under `sha256-<hex>` listing every referrer, kept in step here exactly as copy.ts keeps it.
// Everything is content-addressed and nothing carries a time, so attaching identical content again is a no-op.
import { type Manifest, type RegistryClient, referrersTag } from "./client.js";
import { type Descriptor, MediaType, sha256Digest } from "./descriptor.js";
import { InvalidReferenceError, NotFoundError } from "./errors.js";
import { formatReference, type Reference, withDigest, withTag } from "./reference.js";

/** The OCI empty descriptor's content: `{}`. */
export const EMPTY_CONFIG = Buffer.from("{}");
export const EMPTY_CONFIG_DESCRIPTOR: Descriptor = {
  mediaType: MediaType.ociEmpty,
  digest: sha256Digest(EMPTY_CONFIG),
  size: EMPTY_CONFIG.length,
};

export interface ArtifactSpec {
  /** What the artifact is, e.g. application/vnd.cyclonedx+json; also the layer's media type unless `mediaType` says otherwise. */
  artifactType: string;
  content: Buffer;
  mediaType?: string;
  /** Manifest annotations (copied into the referrers list, so readers can summarise without fetching). Keep them deterministic. */
  annotations?: Record<string, string>;
}

export interface AttachResult {
  /** The referrer manifest: what listReferrers returns for the subject. */
  descriptor: Descriptor;
  /** The content blob. */
  blob: Descriptor;
  subject: Descriptor;
  /** False when the registry already had this exact referrer manifest. */
  manifestPushed: boolean;
  /** How the registry finds it: its own referrers API, or the fallback tag (`updated` says whether we wrote it). */
  index: { kind: "api" } | { kind: "fallback-tag"; tag: string; updated: boolean };
}

/** The referrer manifest bytes for an artifact; a pure function of its inputs (same inputs, same digest). */
export function artifactManifest(subject: Descriptor, spec: ArtifactSpec): { bytes: Buffer; blob: Descriptor } {
  const blob: Descriptor = {
    mediaType: spec.mediaType ?? spec.artifactType,
    digest: sha256Digest(spec.content),
    size: spec.content.length,
  };
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: spec.artifactType,
    config: EMPTY_CONFIG_DESCRIPTOR,
    layers: [blob],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    ...(spec.annotations && Object.keys(spec.annotations).length > 0
      ? { annotations: sortedRecord(spec.annotations) }
      : {}),
  };
  return { bytes: Buffer.from(JSON.stringify(manifest)), blob };
}

/** Attaches `spec` to the manifest `subject` (a digest reference) and makes it findable by listReferrers. */
export async function attachArtifact(
  client: RegistryClient,
  subject: Reference,
  spec: ArtifactSpec,
): Promise<AttachResult> {
  if (!subject.digest) {
    throw new InvalidReferenceError(`an artifact is attached to a digest, got ${formatReference(subject)}`, {
      reference: formatReference(subject),
      hint: "pass the image as repository@sha256:<digest>",
    });
  }
  const info = await client.headManifest(subject);
  if (!info) {
    throw new NotFoundError(`cannot attach ${spec.artifactType}: ${formatReference(subject)} is not in the registry`, {
      reference: formatReference(subject),
      registry: subject.registry,
      operation: "attach artifact",
      status: 404,
      hint: "push the image first; an artifact needs its subject",
    });
  }
  const subjectDescriptor: Descriptor = { mediaType: info.mediaType, digest: info.digest, size: info.size };
  const { bytes, blob } = artifactManifest(subjectDescriptor, spec);
  const repo: Reference = { registry: subject.registry, repository: subject.repository };
  for (const [content, descriptor] of [
    [EMPTY_CONFIG, EMPTY_CONFIG_DESCRIPTOR],
    [spec.content, blob],
  ] as const) {
    if ((await client.headBlob(repo, descriptor.digest)) === undefined)
      await client.uploadBlob(repo, descriptor, content);
  }
  const descriptor: Descriptor = {
    mediaType: MediaType.ociManifest,
    digest: sha256Digest(bytes),
    size: bytes.length,
    artifactType: spec.artifactType,
    ...(spec.annotations && Object.keys(spec.annotations).length > 0
      ? { annotations: sortedRecord(spec.annotations) }
      : {}),
  };
  const target = withDigest(repo, descriptor.digest);
  let manifestPushed = false;
  let referrersApi = false;
  if ((await client.headManifest(target))?.digest !== descriptor.digest) {
    referrersApi = (await client.putManifest(target, bytes, MediaType.ociManifest)).referrersApi;
    manifestPushed = true;
  } else {
    // Pushed before: whether the registry indexes subjects itself is asked of the referrers endpoint.
    referrersApi = (await client.listReferrers(repo, info.digest)).api;
  }
  if (referrersApi) return { descriptor, blob, subject: subjectDescriptor, manifestPushed, index: { kind: "api" } };
  const updated = await addToReferrersIndex(client, repo, info.digest, [descriptor]);
  return {
    descriptor,
    blob,
    subject: subjectDescriptor,
    manifestPushed,
    index: { kind: "fallback-tag", tag: referrersTag(info.digest), updated },
  };
}

/**
 * Makes the `sha256-<hex>` fallback index of `subjectDigest` in `repo` list every one of `referrers` (create or
 * extend; entries already there are kept as they are, none is listed twice). When the tag does not exist yet and
 * `sourceIndex` (the same index in another registry) lists exactly what is needed, its bytes are pushed verbatim.
 * Returns whether the tag was written. Read-modify-write: two writers at the same moment can drop each other's entry.
 */
export async function addToReferrersIndex(
  client: RegistryClient,
  repo: Reference,
  subjectDigest: string,
  referrers: readonly Descriptor[],
  sourceIndex?: Manifest,
): Promise<boolean> {
  const tagRef = withTag(repo, referrersTag(subjectDigest));
  const existing = (await client.headManifest(tagRef)) ? await client.getManifest(tagRef) : undefined;
  const present = new Set(existing?.parsed.manifests.map((d) => d.digest) ?? []);
  const missing = referrers.filter(
    (r, i) => !present.has(r.digest) && referrers.findIndex((o) => o.digest === r.digest) === i,
  );
  if (missing.length === 0) return false;
  if (!existing && sourceIndex) {
    await client.putManifest(tagRef, sourceIndex.bytes, sourceIndex.mediaType);
    return true;
  }
  const merged = [...(existing?.parsed.manifests ?? []), ...missing];
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: merged }));
  await client.putManifest(tagRef, body, MediaType.ociIndex);
  return true;
}

/** Reads an attached artifact back: its manifest and the content of its single layer (verified by digest). */
export async function readArtifact(
  client: RegistryClient,
  repo: Reference,
  referrer: Pick<Descriptor, "digest">,
): Promise<{ manifest: Manifest; blob: Descriptor; content: Buffer }> {
  const manifest = await client.getManifest(withDigest(repo, referrer.digest));
  const layer = manifest.parsed.raw.layers?.[0] ?? manifest.parsed.raw.blobs?.[0];
  if (!layer) {
    throw new NotFoundError(`referrer ${referrer.digest} has no content layer`, {
      reference: formatReference(withDigest(repo, referrer.digest)),
      operation: "read artifact",
    });
  }
  return { manifest, blob: layer, content: await client.getBlob(repo, layer) };
}

function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
