// Builds test images by writing blobs and manifests straight into a registry with our own client (no Docker needed).
// Layer content is random bytes labelled as gzip layers: registries never decompress, and that is all a copy sees.
import { randomBytes } from "node:crypto";
import type { RegistryClient } from "../../src/client.js";
import { type Descriptor, MediaType, sha256Digest } from "../../src/descriptor.js";
import { parseReference, type Reference, withDigest, withTag } from "../../src/reference.js";

export interface PushedManifest {
  descriptor: Descriptor;
  bytes: Buffer;
}

export async function pushBlob(
  client: RegistryClient,
  repo: Reference,
  bytes: Buffer,
  mediaType: string,
): Promise<Descriptor> {
  const descriptor = { mediaType, digest: sha256Digest(bytes), size: bytes.length };
  if ((await client.headBlob(repo, descriptor.digest)) === undefined) await client.uploadBlob(repo, descriptor, bytes);
  return descriptor;
}

export interface ImageSpec {
  os?: string;
  architecture?: string;
  variant?: string;
  /** Sizes of random layers, or the layer contents themselves. */
  layers: (number | Buffer)[];
  /** Docker v2 schema 2 media types instead of OCI. */
  docker?: boolean;
  tag?: string;
}

export async function pushImage(client: RegistryClient, repository: string, spec: ImageSpec): Promise<PushedManifest> {
  const repo = parseReference(repository);
  const layerType = spec.docker ? MediaType.dockerLayerGzip : MediaType.ociLayerGzip;
  const layers: Descriptor[] = [];
  for (const layer of spec.layers)
    layers.push(await pushBlob(client, repo, typeof layer === "number" ? randomBytes(layer) : layer, layerType));
  const config = {
    architecture: spec.architecture ?? "amd64",
    os: spec.os ?? "linux",
    ...(spec.variant ? { variant: spec.variant } : {}),
    created: "2026-01-01T00:00:00Z",
    config: { Labels: { "org.e2e3d.test": randomBytes(4).toString("hex") } },
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) },
  };
  const configDescriptor = await pushBlob(
    client,
    repo,
    Buffer.from(JSON.stringify(config)),
    spec.docker ? MediaType.dockerConfig : MediaType.ociConfig,
  );
  const mediaType = spec.docker ? MediaType.dockerManifest : MediaType.ociManifest;
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, config: configDescriptor, layers }, null, 3));
  const digest = sha256Digest(bytes);
  await client.putManifest(spec.tag ? withTag(repo, spec.tag) : withDigest(repo, digest), bytes, mediaType);
  return { descriptor: { mediaType, digest, size: bytes.length }, bytes };
}

export interface IndexSpec {
  platforms: { os: string; architecture: string; variant?: string; layers: (number | Buffer)[] }[];
  docker?: boolean;
  tag: string;
}

/** A multi-platform index (OCI) or manifest list (Docker): children pushed by digest first, then the index by tag. */
export async function pushIndex(
  client: RegistryClient,
  repository: string,
  spec: IndexSpec,
): Promise<PushedManifest & { children: Descriptor[] }> {
  const repo = parseReference(repository);
  const children: Descriptor[] = [];
  for (const p of spec.platforms) {
    const child = await pushImage(client, repository, { ...p, ...(spec.docker ? { docker: true } : {}) });
    children.push({
      ...child.descriptor,
      platform: { os: p.os, architecture: p.architecture, ...(p.variant ? { variant: p.variant } : {}) },
    });
  }
  const mediaType = spec.docker ? MediaType.dockerList : MediaType.ociIndex;
  // Unusual whitespace on purpose: a copy that re-encodes instead of copying bytes would change the digest.
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests: children }, null, "\t"));
  await client.putManifest(withTag(repo, spec.tag), bytes, mediaType);
  return { descriptor: { mediaType, digest: sha256Digest(bytes), size: bytes.length }, bytes, children };
}

/**
 * An artifact (an OCI image manifest with artifactType and subject, as cosign/oras write them) attached to
 * `subject`, plus the tag-schema fallback index `sha256-<hex>` that registries without the referrers API need.
 */
export async function pushReferrer(
  client: RegistryClient,
  repository: string,
  subject: Descriptor,
  payload: string,
): Promise<PushedManifest> {
  const repo = parseReference(repository);
  const empty = await pushBlob(client, repo, Buffer.from("{}"), MediaType.ociEmpty);
  const layer = await pushBlob(client, repo, Buffer.from(payload), "application/vnd.e2e3d.test.sbom+json");
  const artifactType = "application/vnd.e2e3d.test.sbom";
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType,
      config: empty,
      layers: [layer],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    }),
  );
  const descriptor: Descriptor = {
    mediaType: MediaType.ociManifest,
    digest: sha256Digest(bytes),
    size: bytes.length,
    artifactType,
  };
  const put = await client.putManifest(withDigest(repo, descriptor.digest), bytes, MediaType.ociManifest);
  if (!put.referrersApi) {
    const index = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [descriptor] }),
    );
    await client.putManifest(withTag(repo, subject.digest.replace(":", "-")), index, MediaType.ociIndex);
  }
  return { descriptor, bytes };
}
