// Media types, descriptors and the parts of manifests the copy needs (children, blobs, subject).
// Manifests are kept as the exact bytes the registry served; parsing here only reads them, never re-encodes.
import { createHash } from "node:crypto";
import { z } from "zod";
import { ManifestError } from "./errors.js";

export const MediaType = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociArtifact: "application/vnd.oci.artifact.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociEmpty: "application/vnd.oci.empty.v1+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  dockerForeignLayer: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
} as const;

/**
 * Every manifest type we understand, for the Accept header. A registry that is not offered the index and list
 * types answers 404 for an index or down-converts a list to schema 1 with a new digest (distribution 2.8).
 */
export const MANIFEST_ACCEPT = [
  MediaType.ociIndex,
  MediaType.dockerList,
  MediaType.ociManifest,
  MediaType.dockerManifest,
  MediaType.ociArtifact,
].join(", ");

export const INDEX_TYPES: ReadonlySet<string> = new Set([MediaType.ociIndex, MediaType.dockerList]);
export const IMAGE_TYPES: ReadonlySet<string> = new Set([MediaType.ociManifest, MediaType.dockerManifest]);

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export const Platform = z.object({
  os: z.string(),
  architecture: z.string(),
  variant: z.string().optional(),
  "os.version": z.string().optional(),
});
export type Platform = z.infer<typeof Platform>;

export const Descriptor = z.object({
  mediaType: z.string(),
  digest: z.string().regex(DIGEST_RE, "expected sha256:<64 hex>"),
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  platform: Platform.optional(),
  artifactType: z.string().optional(),
});
export type Descriptor = z.infer<typeof Descriptor>;

/** One schema for every manifest kind: the fields are disjoint enough that `looseObject` reads all of them. */
const ManifestShape = z.looseObject({
  schemaVersion: z.number().optional(),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  config: Descriptor.optional(),
  layers: z.array(Descriptor).optional(),
  /** The deprecated OCI artifact manifest lists its content as `blobs`. */
  blobs: z.array(Descriptor).optional(),
  manifests: z.array(Descriptor).optional(),
  subject: Descriptor.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ManifestShape = z.infer<typeof ManifestShape>;

export interface ParsedManifest {
  mediaType: string;
  isIndex: boolean;
  /** Child manifests (index / list). */
  manifests: Descriptor[];
  /** Blobs: config first, then layers (or artifact blobs). */
  blobs: Descriptor[];
  subject: Descriptor | undefined;
  raw: ManifestShape;
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

export function isDigest(value: string): boolean {
  return DIGEST_RE.test(value);
}

/**
 * Reads a manifest's structure. `contentType` is what the registry said; the document's own mediaType wins when
 * present (they agree on every registry we know; the document is what the digest covers).
 */
export function parseManifest(
  bytes: Uint8Array,
  contentType?: string,
  context: { reference?: string } = {},
): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (cause) {
    throw new ManifestError("manifest is not valid JSON", {
      reference: context.reference,
      cause,
      operation: "parse manifest",
    });
  }
  const parsed = ManifestShape.safeParse(json);
  if (!parsed.success) {
    throw new ManifestError(
      `manifest does not have the expected shape: ${parsed.error.issues[0]?.message ?? "unknown"}`,
      {
        reference: context.reference,
        operation: "parse manifest",
        context: { path: parsed.error.issues[0]?.path.join(".") },
      },
    );
  }
  const raw = parsed.data;
  const mediaType =
    raw.mediaType ?? normaliseContentType(contentType) ?? (raw.manifests ? MediaType.ociIndex : MediaType.ociManifest);
  if (raw.schemaVersion === 1 || mediaType.includes("distribution.manifest.v1")) {
    throw new ManifestError("Docker schema 1 manifests are not supported (they cannot be copied digest-preserving)", {
      reference: context.reference,
      operation: "parse manifest",
      hint: "the registry down-converted because our Accept header was ignored, or the image is ancient; re-push it as schema 2 or OCI",
    });
  }
  const isIndex = INDEX_TYPES.has(mediaType) || (raw.manifests !== undefined && raw.config === undefined);
  const blobs = [...(raw.config ? [raw.config] : []), ...(raw.layers ?? []), ...(raw.blobs ?? [])];
  return { mediaType, isIndex, manifests: raw.manifests ?? [], blobs, subject: raw.subject, raw };
}

export function normaliseContentType(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const type = contentType.split(";")[0]!.trim();
  return type === "" || type === "application/json" || type === "text/plain" ? undefined : type;
}

export function platformKey(platform: Platform): string {
  return `${platform.os}/${platform.architecture}${platform.variant ? `/${platform.variant}` : ""}`;
}

/** Layers that registries must not redistribute (Windows foreign layers): they are fetched from their URLs, never copied. */
export function isForeignLayer(descriptor: Descriptor): boolean {
  return (
    descriptor.mediaType === MediaType.dockerForeignLayer ||
    (descriptor.urls !== undefined && descriptor.urls.length > 0 && descriptor.mediaType.includes("nondistributable"))
  );
}
