// Typed errors of the release path. Each says what was refused, where (context) and how to fix it (hint).

export interface ReleaseErrorDetails {
  context?: Record<string, string | number | undefined>;
  hint?: string;
  cause?: unknown;
}

export class ReleaseError extends Error {
  readonly context: Record<string, string | number | undefined>;
  readonly hint: string | undefined;

  constructor(message: string, details: ReleaseErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.context = details.context ?? {};
    this.hint = details.hint;
  }
}

/** A report file is missing, not JSON, or not of the expected shape. */
export class ReportError extends ReleaseError {}

/** The gate said no: the digests to promote did not all pass the suites (each reason is listed). */
export class PromotionRefusedError extends ReleaseError {
  readonly reasons: string[];

  constructor(reasons: string[], details: ReleaseErrorDetails = {}) {
    super(`promotion refused:\n${reasons.map((r) => `  - ${r}`).join("\n")}`, details);
    this.reasons = reasons;
  }
}

/** A release tag already points at another digest: release tags are immutable. */
export class ReleaseTagConflictError extends ReleaseError {}

/** One readable block for a terminal or a CI log: message, context, hint. */
export function formatReleaseError(err: unknown): string {
  if (!(err instanceof ReleaseError)) return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const lines = [`error: ${err.message}`];
  for (const [key, value] of Object.entries(err.context)) if (value !== undefined) lines.push(`  ${key}: ${value}`);
  if (err.hint) lines.push(`  hint: ${err.hint}`);
  return lines.join("\n");
}
