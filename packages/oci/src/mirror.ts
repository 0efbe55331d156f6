// Mirroring the lock into the private registry (`<private>[/prefix]/<source>@<digest>` plus its tag) and proving
// it is complete. Deploy's preflight and the build's base-image lookup use `mirroredReference` and `verifyMirror`.
import pLimit from "p-limit";
import type { RegistryClient } from "./client.js";
import { type CopyStats, copyImage, type VerifyResult, verifyImage } from "./copy.js";
import { InvalidReferenceError, OciError } from "./errors.js";
import { canonicalSource, upstreamReference } from "./lock/resolve.js";
import type { LockEntry, LockFile } from "./lock/schema.js";
import { formatReference, parseReference, type Reference } from "./reference.js";
import type { RemapRule } from "./remap.js";

/** Normalises `registry[/prefix]` (no scheme, no trailing slash) and checks it parses. */
export function normalisePrivateRegistry(privateRegistry: string): string {
  const value = privateRegistry
    .trim()
    .replace(/^[a-z]+:\/\//, "")
    .replace(/\/+$/, "");
  const first = value.split("/")[0] ?? "";
  if (!value || !(first.includes(".") || first.includes(":") || first === "localhost")) {
    throw new InvalidReferenceError(
      `private registry ${JSON.stringify(privateRegistry)} must be host[:port][/prefix]`,
      {
        operation: "parse private registry",
        hint: "e.g. 127.0.0.1:5102 or registry.example.com/mirror",
      },
    );
  }
  return value;
}

/** The reference deploy pulls: `<private>[/prefix]/<source>@<digest>`. */
export function mirroredReference(entry: Pick<LockEntry, "source" | "digest">, privateRegistry: string): string {
  return `${normalisePrivateRegistry(privateRegistry)}/${canonicalSource(entry.source)}@${entry.digest}`;
}

/** The tag the mirror also sets, so humans can find the image: `<private>[/prefix]/<source>:<tag>`. */
export function mirroredTagReference(entry: Pick<LockEntry, "source" | "tag">, privateRegistry: string): Reference {
  return parseReference(`${normalisePrivateRegistry(privateRegistry)}/${canonicalSource(entry.source)}:${entry.tag}`);
}

export interface MirrorRecord {
  name: string;
  source: string;
  target: string;
  digest: string;
  status: "copied" | "up-to-date" | "would-copy" | "failed";
  blobsCopied: number;
  blobsSkipped: number;
  blobsMounted: number;
  manifestsCopied: number;
  bytesMoved: number;
  seconds: number;
  error?: string;
}

export interface SyncOptions {
  /** registry[/prefix] of the private registry. */
  to: string;
  rules?: readonly RemapRule[];
  /** Images copied at once (each copy also runs its blobs in parallel). */
  concurrency?: number;
  dryRun?: boolean;
  referrers?: boolean;
  /** Only these names; all when absent or empty. */
  names?: readonly string[];
  onRecord?: (record: MirrorRecord, done: number, total: number) => void;
}

/** Copies every locked image to the private registry by digest (and tag); one failure does not stop the others. */
export async function syncLock(client: RegistryClient, lock: LockFile, options: SyncOptions): Promise<MirrorRecord[]> {
  const entries = Object.entries(lock.images).filter(
    ([name]) => !options.names?.length || options.names.includes(name),
  );
  const limit = pLimit(options.concurrency ?? 3);
  let done = 0;
  const records = await Promise.all(
    entries.map(([name, entry]) =>
      limit(async (): Promise<MirrorRecord> => {
        const started = performance.now();
        const source = upstreamReference(entry.source, { digest: entry.digest }, options.rules ?? []);
        const target = mirroredTagReference(entry, options.to);
        const record: MirrorRecord = {
          name,
          source: formatReference(source),
          target: `${formatReference(target)}@${entry.digest}`,
          digest: entry.digest,
          status: "copied",
          blobsCopied: 0,
          blobsSkipped: 0,
          blobsMounted: 0,
          manifestsCopied: 0,
          bytesMoved: 0,
          seconds: 0,
        };
        try {
          if (options.dryRun) {
            const head = await client.headManifest(target);
            record.status = head?.digest === entry.digest ? "up-to-date" : "would-copy";
          } else {
            const stats: CopyStats = await copyImage(client, source, target, { referrers: options.referrers ?? false });
            record.status = stats.upToDate ? "up-to-date" : "copied";
            record.blobsCopied = stats.blobsCopied;
            record.blobsSkipped = stats.blobsSkipped;
            record.blobsMounted = stats.blobsMounted;
            record.manifestsCopied = stats.manifestsCopied;
            record.bytesMoved = stats.bytesMoved;
          }
        } catch (err) {
          record.status = "failed";
          record.error = err instanceof OciError ? err.message : String(err);
        }
        record.seconds = Number(((performance.now() - started) / 1000).toFixed(3));
        options.onRecord?.(record, ++done, entries.length);
        return record;
      }),
    ),
  );
  return records;
}

export interface MirrorVerifyReport {
  ok: boolean;
  images: (VerifyResult & { name: string })[];
}

/** Proves every locked digest, every child manifest and every blob is present in the private registry. */
export async function verifyMirror(
  client: RegistryClient,
  lock: LockFile,
  privateRegistry: string,
  options: { concurrency?: number } = {},
): Promise<MirrorVerifyReport> {
  const limit = pLimit(options.concurrency ?? 4);
  const images = await Promise.all(
    Object.entries(lock.images).map(([name, entry]) =>
      limit(async () => {
        const reference = mirroredReference(entry, privateRegistry);
        try {
          return { name, ...(await verifyImage(client, reference)) };
        } catch (err) {
          const problem = err instanceof OciError ? err.message : String(err);
          return {
            name,
            reference,
            digest: entry.digest,
            ok: false,
            manifestsChecked: 0,
            blobsChecked: 0,
            problems: [problem],
          };
        }
      }),
    ),
  );
  return { ok: images.every((i) => i.ok), images };
}
