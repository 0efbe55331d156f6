// Resolving the images file against live registries into the lock, and checking the lock for drift.
// Digests are only ever written here, from what a registry answered: never typed by hand.
import { access } from "node:fs/promises";
import pLimit from "p-limit";
import type { RegistryClient } from "../client.js";
import { type Platform, platformKey } from "../descriptor.js";
import { LockFileError, LockFileMissingError, NotFoundError, OciError } from "../errors.js";
import { formatReference, parseReference, type Reference, withDigest } from "../reference.js";
import { type RemapRule, remapReference } from "../remap.js";
import { readImagesFile, readLockFile, writeLockFile } from "./files.js";
import type { ImageSpec, LockEntry, LockFile } from "./schema.js";

/** The canonical source written to the lock: fully qualified (docker.io/library/redis), what mirrors are keyed by. */
export function canonicalSource(source: string): string {
  const ref = parseReference(source);
  return `${ref.registry}/${ref.repository}`;
}

/** Where the resolver actually asks: the source repository at its tag, through the remap rules. */
export function upstreamReference(
  source: string,
  tagOrDigest: { tag?: string; digest?: string },
  rules: readonly RemapRule[],
): Reference {
  const ref = parseReference(source);
  return remapReference(
    { registry: ref.registry, repository: ref.repository, tag: tagOrDigest.tag, digest: tagOrDigest.digest },
    rules,
  );
}

/** Resolves one image: digest and media type of its tag, and the digests of the wanted platforms. */
export async function resolveImage(
  client: RegistryClient,
  spec: ImageSpec,
  rules: readonly RemapRule[],
  now = new Date(),
): Promise<LockEntry> {
  const ref = upstreamReference(spec.source, { tag: spec.tag }, rules);
  const manifest = await client.getManifest(ref).catch((err: unknown) => {
    if (err instanceof NotFoundError) {
      throw new NotFoundError(`${spec.name}: ${spec.source}:${spec.tag} not found at ${formatReference(ref)}`, {
        reference: formatReference(ref),
        registry: ref.registry,
        operation: "resolve tag",
        status: 404,
        hint: "check the tag exists upstream (tags are never replaced by latest); in the lab, check the lab upstream was seeded",
      });
    }
    throw err;
  });
  const platforms: Record<string, string> = {};
  if (manifest.parsed.isIndex) {
    const available = new Map<string, string>();
    for (const child of manifest.parsed.manifests) {
      if (child.platform && child.platform.os !== "unknown") available.set(platformKey(child.platform), child.digest);
    }
    for (const wanted of spec.platforms) {
      // An os/arch without a variant matches that arch's entry with a variant (linux/arm64 is linux/arm64/v8).
      const digest =
        available.get(wanted) ??
        [...available.entries()].find(([key]) => wanted.split("/").length === 2 && key.startsWith(`${wanted}/`))?.[1];
      if (!digest) {
        throw new LockFileError(
          `${spec.name}: ${spec.source}:${spec.tag} has no ${wanted} image (it has ${[...available.keys()].join(", ") || "none"})`,
          {
            reference: formatReference(ref),
            operation: "resolve platforms",
            hint: "fix the platforms list in the images file, or pick a tag that is built for that platform",
          },
        );
      }
      platforms[wanted] = digest;
    }
  } else {
    // A single-platform image: its config says which platform it is; it must be the one (and only) wanted.
    const config = manifest.parsed.raw.config;
    if (config) {
      const body = JSON.parse(
        (await client.getBlob(withDigest(ref, manifest.digest), config)).toString("utf8"),
      ) as Partial<Platform>;
      const actual =
        body.os && body.architecture
          ? platformKey({ os: body.os, architecture: body.architecture, variant: body.variant })
          : undefined;
      const unmatched = spec.platforms.filter(
        (p) => p !== actual && !(actual && p === actual.split("/").slice(0, 2).join("/")),
      );
      if (actual && unmatched.length > 0) {
        throw new LockFileError(
          `${spec.name}: ${spec.source}:${spec.tag} is a single ${actual} image; wanted ${spec.platforms.join(", ")}`,
          {
            reference: formatReference(ref),
            operation: "resolve platforms",
            hint: "fix the platforms list in the images file",
          },
        );
      }
    }
  }
  return {
    source: canonicalSource(spec.source),
    tag: spec.tag,
    digest: manifest.digest,
    mediaType: manifest.mediaType,
    platforms,
    resolvedAt: now.toISOString(),
  };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export interface UpdateOptions {
  imagesPath: string;
  lockPath: string;
  /** Only these names; every name when empty. */
  names?: readonly string[];
  rules?: readonly RemapRule[];
  concurrency?: number;
  onResolved?: (name: string, entry: LockEntry, changed: boolean) => void;
}

export interface UpdateResult {
  lock: LockFile;
  changed: string[];
  unchanged: string[];
  removed: string[];
}

/** Resolves and writes the lock; any failure leaves the old lock untouched. Unresolved names keep their old entry. */
export async function updateLock(client: RegistryClient, options: UpdateOptions): Promise<UpdateResult> {
  const images = await readImagesFile(options.imagesPath);
  const previous = (await exists(options.lockPath))
    ? await readLockFile(options.lockPath)
    : { version: 1 as const, images: {} };
  const names = options.names ?? [];
  const known = new Set(images.images.map((i) => i.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new LockFileError(`no image named ${unknown.join(", ")} in ${options.imagesPath}`, {
      context: { file: options.imagesPath },
      hint: `known names: ${[...known].join(", ")}`,
    });
  }
  const selected = images.images.filter((i) => names.length === 0 || names.includes(i.name));
  const limit = pLimit(options.concurrency ?? 4);
  const now = new Date();
  const resolved = await Promise.all(
    selected.map((spec) =>
      limit(async () => [spec.name, await resolveImage(client, spec, options.rules ?? [], now)] as const),
    ),
  );
  const next: LockFile = { version: 1, images: {} };
  const result: UpdateResult = { lock: next, changed: [], unchanged: [], removed: [] };
  for (const spec of images.images) {
    const fresh = resolved.find(([name]) => name === spec.name)?.[1];
    const old = previous.images[spec.name];
    if (fresh) {
      const same =
        old &&
        old.digest === fresh.digest &&
        old.source === fresh.source &&
        old.tag === fresh.tag &&
        JSON.stringify(old.platforms) === JSON.stringify(fresh.platforms);
      // An unchanged pin keeps its old resolvedAt so that a no-op update leaves the file byte-identical.
      next.images[spec.name] = same ? old : fresh;
      (same ? result.unchanged : result.changed).push(spec.name);
      options.onResolved?.(spec.name, next.images[spec.name]!, !same);
    } else if (old) {
      next.images[spec.name] = old;
    }
  }
  result.removed = Object.keys(previous.images).filter((name) => !known.has(name));
  await writeLockFile(options.lockPath, next);
  return result;
}

export type DriftKind = "missing" | "changed-spec" | "moved" | "extra" | "error";

export interface DriftItem {
  name: string;
  kind: DriftKind;
  detail: string;
  locked?: string;
  upstream?: string;
}

export interface CheckResult {
  /** clean: nothing to do; drift: the lock is behind the images file or upstream; error: could not check. */
  status: "clean" | "drift" | "error";
  lockMissing: boolean;
  items: DriftItem[];
  checked: number;
}

/** Reports drift between the images file, the lock and upstream; changes nothing. HEAD requests only upstream. */
export async function checkLock(
  client: RegistryClient,
  options: { imagesPath: string; lockPath: string; rules?: readonly RemapRule[]; concurrency?: number },
): Promise<CheckResult> {
  const images = await readImagesFile(options.imagesPath);
  let lock: LockFile;
  try {
    lock = await readLockFile(options.lockPath);
  } catch (err) {
    if (!(err instanceof LockFileMissingError)) throw err;
    return {
      status: "drift",
      lockMissing: true,
      checked: 0,
      items: images.images.map((spec) => ({ name: spec.name, kind: "missing" as const, detail: "no lock file" })),
    };
  }
  const items: DriftItem[] = [];
  const limit = pLimit(options.concurrency ?? 4);
  let checked = 0;
  await Promise.all(
    images.images.map((spec) =>
      limit(async () => {
        const entry = lock.images[spec.name];
        if (!entry) {
          items.push({ name: spec.name, kind: "missing", detail: "in the images file but not in the lock" });
          return;
        }
        if (entry.source !== canonicalSource(spec.source) || entry.tag !== spec.tag) {
          items.push({
            name: spec.name,
            kind: "changed-spec",
            detail: `lock has ${entry.source}:${entry.tag}, images file wants ${canonicalSource(spec.source)}:${spec.tag}`,
          });
          return;
        }
        try {
          const ref = upstreamReference(spec.source, { tag: spec.tag }, options.rules ?? []);
          const head = await client.headManifest(ref);
          checked++;
          if (!head)
            items.push({
              name: spec.name,
              kind: "error",
              detail: `${formatReference(ref)} no longer exists upstream`,
              locked: entry.digest,
            });
          else if (head.digest !== entry.digest)
            items.push({
              name: spec.name,
              kind: "moved",
              detail: `tag ${spec.tag} moved upstream`,
              locked: entry.digest,
              upstream: head.digest,
            });
        } catch (err) {
          items.push({
            name: spec.name,
            kind: "error",
            detail: err instanceof OciError ? err.message : String(err),
            locked: entry.digest,
          });
        }
      }),
    ),
  );
  const known = new Set(images.images.map((i) => i.name));
  for (const name of Object.keys(lock.images))
    if (!known.has(name)) items.push({ name, kind: "extra", detail: "in the lock but no longer in the images file" });
  items.sort((a, b) => a.name.localeCompare(b.name));
  const status = items.some((i) => i.kind === "error") ? "error" : items.length > 0 ? "drift" : "clean";
  return { status, lockMissing: false, items, checked };
}
