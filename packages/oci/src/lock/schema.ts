// The images file (what we want) and the lock file (what that resolved to), as types parsed at the boundary.
// Shared contract: the mirror, the build (base images), the stack model and deploy all read the lock through here.
import { z } from "zod";

const digest = z.string().regex(/^sha256:[a-f0-9]{64}$/, "expected sha256:<64 hex>");
const platform = z.string().regex(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/, "expected os/arch[/variant]");

/** One wanted image: a stable name used everywhere else, the source repository (origin path), a tag. */
export const ImageSpec = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lowercase letters, digits and dashes"),
  source: z.string().min(1),
  tag: z
    .string()
    .min(1)
    .refine((t) => t !== "latest", "'latest' is refused: pin a version tag; the lock records its digest"),
  platforms: z.array(platform).min(1).default(["linux/amd64"]),
  description: z.string().optional(),
});
export type ImageSpec = z.infer<typeof ImageSpec>;

export const ImagesFile = z.object({
  version: z.literal(1),
  images: z.array(ImageSpec).min(1),
});
export type ImagesFile = z.infer<typeof ImagesFile>;

/** What one image resolved to, written only by the resolver from a live registry. */
export const LockEntry = z.object({
  source: z.string(),
  tag: z.string(),
  digest,
  mediaType: z.string(),
  /** Per-platform child manifest digests ("os/arch[/variant]" → digest); empty for a single manifest. */
  platforms: z.record(z.string(), digest),
  resolvedAt: z.string().datetime(),
});
export type LockEntry = z.infer<typeof LockEntry>;

export const LockFile = z.object({
  version: z.literal(1),
  images: z.record(z.string(), LockEntry),
});
export type LockFile = z.infer<typeof LockFile>;
