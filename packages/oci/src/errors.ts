// Typed registry errors. Each names what failed (operation), on which image (reference) and registry, the HTTP status
// when there was one, and how to fix it, so pipelines print a readable message and exit non-zero.
// Nothing here ever carries a credential: callers pass references and statuses, never headers.

export interface OciErrorDetails {
  reference?: string | undefined;
  registry?: string | undefined;
  operation?: string | undefined;
  status?: number | undefined;
  /** Extra context: a file, a digest, a field. */
  context?: Record<string, string | number | undefined>;
  hint?: string | undefined;
  cause?: unknown;
}

export class OciError extends Error {
  readonly reference: string | undefined;
  readonly registry: string | undefined;
  readonly operation: string | undefined;
  readonly status: number | undefined;
  readonly context: Record<string, string | number | undefined>;
  readonly hint: string | undefined;

  constructor(message: string, details: OciErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.reference = details.reference;
    this.registry = details.registry;
    this.operation = details.operation;
    this.status = details.status;
    this.context = details.context ?? {};
    this.hint = details.hint;
  }
}

/** A reference string that does not parse; the message quotes the input. */
export class InvalidReferenceError extends OciError {}

/** A registry answered with an unexpected HTTP status (after retries where retrying made sense). */
export class RegistryHttpError extends OciError {}

/** A connection failed or timed out and retries ran out. */
export class RegistryConnectionError extends OciError {}

/** Authentication failed or no credentials were found for a registry that demands them. */
export class AuthError extends OciError {}

/** Content read from a registry does not hash to the digest it was asked for. */
export class DigestMismatchError extends OciError {}

/** A manifest, index or blob the operation needs does not exist. */
export class NotFoundError extends OciError {}

/** A manifest that does not parse, or a media type we do not understand. */
export class ManifestError extends OciError {}

/** After a copy or promotion, the target does not hold what it should. */
export class VerificationError extends OciError {}

/** Promotion would move an existing release tag to another digest. */
export class TagImmutableError extends OciError {}

/** An images file or lock file is missing or malformed. */
export class LockFileError extends OciError {}

/** The lock file does not exist at all (distinct so that `lock.ts check` can explain how it gets created). */
export class LockFileMissingError extends LockFileError {}

/** Formats any error for a terminal: message, context, cause and hint; a stack only for unexpected errors. */
export function formatError(err: unknown): string {
  if (err instanceof OciError) {
    const lines = [`error: ${err.message}`];
    const fields: Record<string, string | number | undefined> = {
      operation: err.operation,
      reference: err.reference,
      registry: err.registry,
      "http status": err.status,
      ...err.context,
    };
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined && value !== "") lines.push(`  ${key}: ${value}`);
    }
    if (err.cause instanceof Error) lines.push(`  cause: ${err.cause.message}`);
    if (err.hint) lines.push(`  fix: ${err.hint}`);
    return lines.join("\n");
  }
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return `error: unexpected failure (a bug; please report it with this output)\n${detail}`;
}
