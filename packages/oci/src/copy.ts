// Digest-preserving copy. An image or index is copied verbatim (same bytes, same digest, every platform),
// children before parents so that a tag never points at something incomplete; only missing blobs move (HEAD
// first), inside one registry they are mounted; a target that already has the digest costs one HEAD per side.
import pLimit from "p-limit";
import { addToReferrersIndex } from "./attach.js";
import type { Manifest, RegistryClient } from "./client.js";
import { type Descriptor, isForeignLayer } from "./descriptor.js";
import {
  InvalidReferenceError,
  NotFoundError,
  RegistryConnectionError,
  RegistryHttpError,
  VerificationError,
} from "./errors.js";
import { formatReference, parseReference, type Reference, withDigest, withTag } from "./reference.js";

export type CopyEvent =
  | { kind: "blob"; digest: string; size: number; action: "copied" | "skipped" | "mounted" }
  | { kind: "manifest"; digest: string; action: "copied" | "skipped" };

export interface CopyOptions {
  /** Also copy OCI referrers (signatures, SBOMs) of every copied manifest. */
  referrers?: boolean;
  /** Walk and repair the whole tree even when the target already has the root digest (regctl --force-recursive). */
  forceRecursive?: boolean;
  onEvent?: (event: CopyEvent) => void;
}

export interface CopyStats {
  source: string;
  target: string;
  digest: string;
  mediaType: string;
  /** The target already had this digest: nothing but HEADs happened. */
  upToDate: boolean;
  manifestsCopied: number;
  manifestsSkipped: number;
  blobsCopied: number;
  blobsSkipped: number;
  blobsMounted: number;
  referrersCopied: number;
  bytesMoved: number;
  seconds: number;
}

const toRef = (value: Reference | string): Reference => (typeof value === "string" ? parseReference(value) : value);

/** Copies `source` (tag or digest) to `target` (tag, digest, or repository with a tag) and verifies the target digest. */
export async function copyImage(
  client: RegistryClient,
  source: Reference | string,
  target: Reference | string,
  options: CopyOptions = {},
): Promise<CopyStats> {
  const started = performance.now();
  const src = toRef(source);
  const dst = toRef(target);
  const srcInfo = await client.headManifest(src);
  if (!srcInfo) {
    throw new NotFoundError(`source image ${formatReference(src)} does not exist`, {
      reference: formatReference(src),
      registry: src.registry,
      operation: "HEAD manifest",
      status: 404,
    });
  }
  const digest = srcInfo.digest;
  if (dst.digest && dst.digest !== digest) {
    throw new VerificationError(`target digest ${dst.digest} differs from the source digest ${digest}`, {
      reference: formatReference(dst),
      hint: "a copy preserves digests; drop the target digest or fix it",
    });
  }
  // Like crane: a target without tag or digest takes the source's tag; from a digest it stays digest-only.
  const targetTag = dst.tag ?? (dst.digest ? undefined : src.tag);
  const dstFinal: Reference = targetTag ? withTag(dst, targetTag) : withDigest(dst, digest);
  const stats: CopyStats = {
    source: formatReference(withDigest(src, digest)),
    target: formatReference(dstFinal),
    digest,
    mediaType: srcInfo.mediaType,
    upToDate: false,
    manifestsCopied: 0,
    manifestsSkipped: 0,
    blobsCopied: 0,
    blobsSkipped: 0,
    blobsMounted: 0,
    referrersCopied: 0,
    bytesMoved: 0,
    seconds: 0,
  };
  const existing = await client.headManifest(dstFinal);
  if (existing?.digest === digest && !options.forceRecursive) {
    stats.upToDate = true;
    stats.manifestsSkipped = 1;
    options.onEvent?.({ kind: "manifest", digest, action: "skipped" });
    stats.seconds = (performance.now() - started) / 1000;
    return stats;
  }
  const copier = new TreeCopier(client, src, dstFinal, stats, options);
  const root = await copier.copyTree(digest);
  // The parent last: only now may the tag point at it.
  await client.putManifest(dstFinal, root.bytes, root.mediaType);
  stats.manifestsCopied++;
  options.onEvent?.({ kind: "manifest", digest, action: "copied" });
  if (options.referrers) {
    // Signatures and SBOMs hang off the index or off one platform's manifest: look under every one we walked.
    const seen = new Set<string>();
    for (const d of [digest, ...copier.childDigests()]) await copier.copyReferrers(d, seen);
  }
  const after = await client.headManifest(dstFinal);
  if (after?.digest !== digest) {
    throw new VerificationError(`after the copy the target answers ${after?.digest ?? "nothing"}, expected ${digest}`, {
      reference: formatReference(dstFinal),
      registry: dstFinal.registry,
      operation: "verify copy",
    });
  }
  stats.seconds = (performance.now() - started) / 1000;
  return stats;
}

class TreeCopier {
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly blobs = new Map<string, Promise<void>>();
  private readonly manifests = new Map<string, Promise<void>>();
  private readonly sameRegistry: boolean;

  constructor(
    private readonly client: RegistryClient,
    private readonly src: Reference,
    private readonly dst: Reference,
    private readonly stats: CopyStats,
    private readonly options: CopyOptions,
  ) {
    this.limit = pLimit(client.concurrency);
    this.sameRegistry = src.registry === dst.registry;
  }

  childDigests(): string[] {
    return [...this.manifests.keys()];
  }

  /** Copies everything below a manifest (children manifests and blobs) and returns the manifest for the caller to PUT. */
  async copyTree(digest: string): Promise<Manifest> {
    const manifest = await this.client.getManifest(withDigest(this.src, digest));
    if (manifest.parsed.isIndex) {
      await Promise.all(manifest.parsed.manifests.map((child) => this.copyChild(child)));
    } else {
      await Promise.all(manifest.parsed.blobs.filter((b) => !isForeignLayer(b)).map((blob) => this.copyBlob(blob)));
    }
    return manifest;
  }

  private copyChild(child: Descriptor): Promise<void> {
    let job = this.manifests.get(child.digest);
    if (!job) {
      job = (async () => {
        const target = withDigest(this.dst, child.digest);
        if (!this.options.forceRecursive && (await this.client.headManifest(target))?.digest === child.digest) {
          this.stats.manifestsSkipped++;
          this.options.onEvent?.({ kind: "manifest", digest: child.digest, action: "skipped" });
          return;
        }
        const manifest = await this.copyTree(child.digest);
        await this.client.putManifest(target, manifest.bytes, manifest.mediaType);
        this.stats.manifestsCopied++;
        this.options.onEvent?.({ kind: "manifest", digest: child.digest, action: "copied" });
      })();
      this.manifests.set(child.digest, job);
    }
    return job;
  }

  private copyBlob(blob: Descriptor): Promise<void> {
    let job = this.blobs.get(blob.digest);
    if (!job) {
      job = this.limit(() => this.transferBlobWithRetry(blob));
      this.blobs.set(blob.digest, job);
    }
    return job;
  }

  /**
   * Requests are retried one by one in the transport, but an upload session that died half-way (a chunk PATCH
   * or the commit failed) can only be restarted as a whole: do that a couple of times before giving up.
   */
  private async transferBlobWithRetry(blob: Descriptor): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transferBlob(blob);
      } catch (err) {
        const transient =
          err instanceof RegistryConnectionError || (err instanceof RegistryHttpError && (err.status ?? 0) >= 500);
        if (!transient || attempt >= 3) throw err;
      }
    }
  }

  private async transferBlob(blob: Descriptor): Promise<void> {
    const { client, src, dst, stats } = this;
    if ((await client.headBlob(dst, blob.digest)) !== undefined) {
      stats.blobsSkipped++;
      this.options.onEvent?.({ kind: "blob", digest: blob.digest, size: blob.size, action: "skipped" });
      return;
    }
    let location: string | undefined;
    // Mount from the source repository inside one registry, or from wherever this client last saw the blob in
    // the target registry (another image of the same mirror sharing a base layer).
    const from =
      this.sameRegistry && src.repository !== dst.repository
        ? src.repository
        : client.knownBlobLocation(dst.registry, blob.digest);
    if (from && from !== dst.repository) {
      const mount = await client.mountBlob(dst, from, blob.digest);
      if (mount.mounted) {
        client.rememberBlob(dst.registry, dst.repository, blob.digest);
        stats.blobsMounted++;
        this.options.onEvent?.({ kind: "blob", digest: blob.digest, size: blob.size, action: "mounted" });
        return;
      }
      location = mount.location;
    }
    const sent = await client.uploadBlob(dst, blob, client.readBlob(src, blob), location);
    client.rememberBlob(dst.registry, dst.repository, blob.digest);
    stats.blobsCopied++;
    stats.bytesMoved += sent;
    this.options.onEvent?.({ kind: "blob", digest: blob.digest, size: blob.size, action: "copied" });
  }

  /** Copies the referrers of `digest` (and, recursively, theirs), keeping the fallback tag index in step. */
  async copyReferrers(digest: string, seen = new Set<string>()): Promise<void> {
    if (seen.has(digest)) return;
    seen.add(digest);
    const { referrers, fallbackIndex } = await this.client.listReferrers(this.src, digest);
    if (referrers.length === 0) return;
    let targetHasApi = false;
    for (const referrer of referrers) {
      const target = withDigest(this.dst, referrer.digest);
      if ((await this.client.headManifest(target))?.digest !== referrer.digest) {
        const manifest = await this.copyTree(referrer.digest);
        const put = await this.client.putManifest(target, manifest.bytes, manifest.mediaType);
        targetHasApi ||= put.referrersApi;
        this.stats.referrersCopied++;
      }
      await this.copyReferrers(referrer.digest, seen);
    }
    if (!targetHasApi) await this.updateFallbackTag(digest, referrers, fallbackIndex);
  }

  /** Keeps the target's `sha256-<hex>` tag listing every referrer; the source's index is reused verbatim when it fits. */
  private async updateFallbackTag(
    digest: string,
    referrers: Descriptor[],
    sourceIndex: Manifest | undefined,
  ): Promise<void> {
    await addToReferrersIndex(this.client, this.dst, digest, referrers, sourceIndex);
  }
}

export interface VerifyResult {
  reference: string;
  digest: string;
  ok: boolean;
  manifestsChecked: number;
  blobsChecked: number;
  /** What is absent or wrong, one line each. */
  problems: string[];
}

/**
 * Proves an image is complete in a registry: the root digest, every child manifest (bytes re-hashed) and every
 * blob (HEAD) are present. Reads manifests (small), never blob content.
 */
export async function verifyImage(
  client: RegistryClient,
  reference: Reference | string,
  options: { tag?: string } = {},
): Promise<VerifyResult> {
  const ref = toRef(reference);
  if (!ref.digest) {
    throw new InvalidReferenceError(`verify needs a digest reference, got ${JSON.stringify(formatReference(ref))}`, {
      reference: formatReference(ref),
      hint: "verify repo@sha256:<digest>",
    });
  }
  const result: VerifyResult = {
    reference: formatReference(ref),
    digest: ref.digest,
    ok: true,
    manifestsChecked: 0,
    blobsChecked: 0,
    problems: [],
  };
  const limit = pLimit(client.concurrency * 2);
  const seenBlobs = new Set<string>();
  const visit = async (digest: string, path: string): Promise<void> => {
    let manifest: Manifest;
    try {
      manifest = await client.getManifest(withDigest(ref, digest));
    } catch (err) {
      if (err instanceof NotFoundError) {
        result.problems.push(`manifest ${digest} missing (${path})`);
        return;
      }
      throw err;
    }
    result.manifestsChecked++;
    if (manifest.parsed.isIndex) {
      await Promise.all(
        manifest.parsed.manifests.map((child) =>
          visit(
            child.digest,
            `${path} → ${child.platform ? `${child.platform.os}/${child.platform.architecture}` : child.digest.slice(0, 19)}`,
          ),
        ),
      );
      return;
    }
    await Promise.all(
      manifest.parsed.blobs
        .filter((blob) => !isForeignLayer(blob) && !seenBlobs.has(blob.digest) && seenBlobs.add(blob.digest))
        .map((blob) =>
          limit(async () => {
            const size = await client.headBlob(ref, blob.digest);
            result.blobsChecked++;
            if (size === undefined) result.problems.push(`blob ${blob.digest} missing (${path})`);
            else if (size >= 0 && size !== blob.size)
              result.problems.push(`blob ${blob.digest} has ${size} bytes, manifest says ${blob.size} (${path})`);
          }),
        ),
    );
  };
  await visit(ref.digest, "root");
  if (options.tag) {
    const tagged = await client.headManifest(withTag(ref, options.tag));
    if (tagged?.digest !== ref.digest)
      result.problems.push(`tag ${options.tag} points at ${tagged?.digest ?? "nothing"}, expected ${ref.digest}`);
  }
  result.ok = result.problems.length === 0;
  return result;
}
