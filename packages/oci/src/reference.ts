// Image references: parse, normalise and format, following Docker's rules (distribution/reference):
// "redis" → docker.io/library/redis, a first path component with a dot, a colon or "localhost" is a registry.
// Written by hand because no maintained npm package implements these rules; the grammar below is distribution's.
import { InvalidReferenceError } from "./errors.js";

export const DOCKER_HUB = "docker.io";
/** Docker Hub's API endpoint differs from its name. */
const DOCKER_HUB_API = "registry-1.docker.io";

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const REGISTRY =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::\d{1,5})?$/;

export interface Reference {
  /** Registry host[:port], normalised (index.docker.io → docker.io). */
  readonly registry: string;
  /** Repository path inside the registry, e.g. library/redis or docker.io/library/redis (lab layout). */
  readonly repository: string;
  readonly tag?: string | undefined;
  readonly digest?: string | undefined;
}

function fail(input: string, what: string, hint?: string): never {
  throw new InvalidReferenceError(`invalid image reference ${JSON.stringify(input)}: ${what}`, {
    reference: input,
    operation: "parse reference",
    hint: hint ?? "use [registry[:port]/]repository[:tag][@sha256:<64 hex>], e.g. docker.io/library/redis:7.2.4",
  });
}

/** Parses and normalises an image reference; throws InvalidReferenceError quoting the input. */
export function parseReference(input: string): Reference {
  const text = input.trim();
  if (text === "") fail(input, "it is empty");
  if (/\s/.test(text)) fail(input, "it contains whitespace");
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) {
      fail(input, `digest ${JSON.stringify(digest)} is not sha256:<64 lowercase hex>`);
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) fail(input, `tag ${JSON.stringify(tag)} is not valid (letters, digits, _ . -; at most 128)`);
  }
  if (rest === "") fail(input, "the repository name is missing");
  const parts = rest.split("/");
  let registry = DOCKER_HUB;
  const first = parts[0]!;
  if (
    parts.length > 1 &&
    (first.includes(".") || first.includes(":") || first === "localhost" || /[A-Z]/.test(first))
  ) {
    if (!REGISTRY.test(first)) fail(input, `registry ${JSON.stringify(first)} is not a valid host[:port]`);
    registry = first.toLowerCase();
    parts.shift();
  }
  if (registry === "index.docker.io" || registry === DOCKER_HUB_API) registry = DOCKER_HUB;
  if (parts.length === 0) fail(input, "the repository name is missing");
  for (const part of parts) {
    if (part === "") fail(input, "the repository path has an empty component (a doubled or trailing '/')");
    if (/[A-Z]/.test(part)) fail(input, `repository component ${JSON.stringify(part)} must be lowercase`);
    if (!COMPONENT.test(part)) {
      fail(
        input,
        `repository component ${JSON.stringify(part)} is not valid (lowercase letters, digits, separators . _ __ -)`,
      );
    }
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift("library");
  const repository = parts.join("/");
  if (repository.length > 255) fail(input, "the repository name is longer than 255 characters");
  return { registry, repository, tag, digest };
}

/** The canonical string form: registry/repository[:tag][@digest]. */
export function formatReference(ref: Reference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}

/** registry/repository, without tag or digest. */
export function repositoryName(ref: Reference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** What to ask the registry for in a manifest URL: the digest when pinned, else the tag. */
export function manifestSelector(ref: Reference): string {
  const selector = ref.digest ?? ref.tag;
  if (!selector) {
    throw new InvalidReferenceError(
      `reference ${JSON.stringify(formatReference(ref))} has neither a tag nor a digest`,
      {
        reference: formatReference(ref),
        hint: "add :<tag> or @sha256:<digest>; 'latest' is never assumed",
      },
    );
  }
  return selector;
}

export function withDigest(ref: Reference, digest: string): Reference {
  return { registry: ref.registry, repository: ref.repository, digest };
}

export function withTag(ref: Reference, tag: string): Reference {
  return { registry: ref.registry, repository: ref.repository, tag };
}

/** The host:port that serves the registry API. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/** Loopback registries speak plain HTTP by default, as Docker's own client allows. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith("[") ? registry.slice(0, registry.indexOf("]") + 1) : registry.split(":")[0]!;
  return host === "localhost" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === "[::1]";
}
