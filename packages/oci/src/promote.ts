// Promotion: point release tags at a digest that passed the suites. Same repository: manifest PUTs only, no blob
// traffic. Release tags are immutable: moving one to another digest is refused unless forced (with a loud warning).
// A gate (e.g. "requires a passing test report") wraps `promote` from outside; it takes the digest and the tags.
import type { RegistryClient } from "./client.js";
import { copyImage } from "./copy.js";
import { InvalidReferenceError, NotFoundError, TagImmutableError, VerificationError } from "./errors.js";
import { formatReference, parseReference, type Reference, withDigest, withTag } from "./reference.js";

export interface PromoteOptions {
  /** The tested image, by digest: repo@sha256:... */
  from: Reference | string;
  tags: readonly string[];
  /** Target repository (same registry); defaults to the source repository. */
  to?: Reference | string;
  force?: boolean;
  onWarning?: (message: string) => void;
}

export interface PromoteResult {
  digest: string;
  repository: string;
  tags: { tag: string; action: "created" | "unchanged" | "moved"; previous?: string }[];
}

const TAG = /^[\w][\w.-]{0,127}$/;

export async function promote(client: RegistryClient, options: PromoteOptions): Promise<PromoteResult> {
  const from = typeof options.from === "string" ? parseReference(options.from) : options.from;
  if (!from.digest) {
    throw new InvalidReferenceError(
      `promote needs the tested digest: ${JSON.stringify(formatReference(from))} has none`,
      {
        reference: formatReference(from),
        hint: "pass --from repo@sha256:<digest> (the digest the test suites ran against)",
      },
    );
  }
  const target = options.to ? (typeof options.to === "string" ? parseReference(options.to) : options.to) : from;
  const bad = options.tags.filter((t) => !TAG.test(t));
  if (options.tags.length === 0 || bad.length > 0) {
    throw new InvalidReferenceError(
      options.tags.length === 0 ? "no release tags given" : `invalid tag(s): ${bad.join(", ")}`,
      {
        operation: "promote",
        hint: "give tags like v1.2.3,1.2 (letters, digits, _ . -)",
      },
    );
  }
  const digest = from.digest;
  const manifestRef = withDigest(from, digest);
  if (!(await client.headManifest(manifestRef))) {
    throw new NotFoundError(`the digest to promote does not exist: ${formatReference(manifestRef)}`, {
      reference: formatReference(manifestRef),
      registry: from.registry,
      operation: "promote",
      status: 404,
    });
  }
  const result: PromoteResult = { digest, repository: `${target.registry}/${target.repository}`, tags: [] };
  // Decide for every tag before writing any, so a refused tag leaves all of them as they were.
  for (const tag of options.tags) {
    const current = await client.headManifest(withTag(target, tag));
    if (!current) result.tags.push({ tag, action: "created" });
    else if (current.digest === digest) result.tags.push({ tag, action: "unchanged" });
    else {
      if (!options.force) {
        throw new TagImmutableError(
          `release tag ${tag} already points at ${current.digest}; refusing to move it to ${digest}`,
          {
            reference: formatReference(withTag(target, tag)),
            registry: target.registry,
            operation: "promote",
            hint: "release tags are immutable: cut a new version, or pass --force if you really must rewrite history",
          },
        );
      }
      options.onWarning?.(
        `WARNING: moving release tag ${formatReference(withTag(target, tag))} from ${current.digest} to ${digest} (--force)`,
      );
      result.tags.push({ tag, action: "moved", previous: current.digest });
    }
  }
  if (target.registry !== from.registry || target.repository !== from.repository) {
    // Another repository needs the content first (mounted inside one registry), then tags are PUTs again. The
    // referrers (SBOM, provenance, signatures) go along: they belong to the digest, wherever it is promoted to.
    await copyImage(client, manifestRef, withDigest(target, digest), { referrers: true });
  }
  const manifest = await client.getManifest(manifestRef);
  for (const entry of result.tags) {
    if (entry.action !== "unchanged")
      await client.putManifest(withTag(target, entry.tag), manifest.bytes, manifest.mediaType);
  }
  for (const entry of result.tags) {
    const now = await client.headManifest(withTag(target, entry.tag));
    if (now?.digest !== digest) {
      throw new VerificationError(
        `after promotion tag ${entry.tag} points at ${now?.digest ?? "nothing"}, expected ${digest}`,
        {
          reference: formatReference(withTag(target, entry.tag)),
          operation: "verify promotion",
        },
      );
    }
  }
  return result;
}
